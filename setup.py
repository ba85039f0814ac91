"""The optional compiled kernel (issue 17): pmtheory/solvers/_fused.c, fused passes of the
reverse-KL solver and of the barrier solvers (forward KL, JS, Hellinger, alpha:0.5), with glibc's
vector exp, expm1, log and log1p (libmvec, glibc >= 2.35). Everything else is in pyproject.toml.

The build is optional: where there is no C compiler, no libmvec (it is Linux-only), or a flag
below is not understood, the extension is skipped with a warning and the solvers run their
numpy passes, the reference path (`pmtheory bench` says which path ran; CI requires the
kernel). Flags: -march=native, because the vector math is only as fast as numpy's with the
machine's widest vectors (AVX-512 here) and an editable or source install is built where it
runs; -fno-math-errno and -fopenmp-simd, so that GCC calls the vector exp (no -ffast-math: NaN,
inf and the order of operations keep IEEE semantics outside the reductions); no peeling for
alignment, so that a row's rounding does not depend on its address.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pmtheory.solvers._fused",
            sources=["pmtheory/solvers/_fused.c"],
            extra_compile_args=["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd",
                                "--param=vect-max-peeling-for-alignment=0"],
            libraries=["mvec", "m"],
            optional=True,
        )
    ]
)
