"""The optional compiled kernel of the solvers (issue 17): fused passes in
``pmtheory/solvers/_fused.c`` of reverse KL's closed form and of the barrier divergences' root
iteration (its evaluations and its final pass, for forward KL, JS, Hellinger and alpha:0.5),
built by ``setup.py`` where a C compiler and glibc's vector math (libmvec) are found, and called
through ctypes. The numpy passes of :mod:`pmtheory.solvers._closed_forms` and
:mod:`pmtheory.solvers._barrier` are the reference; the kernel computes the same quantities in
the same order, entry by entry, with glibc's vector exp, expm1, log and log1p (≤ 4 ulps, against
numpy's ≤ 1) in place of numpy's, and its sums in another order, so that answers agree to a few
ulps and carry their own certificate.

``PMTHEORY_KERNEL=numpy`` in the environment (read at import; ``auto``, the default, uses the
kernel where it is built) or :func:`use_kernel` turns the kernel off; :func:`kernel_status` says
which path runs and, where the kernel is missing, why.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from contextlib import contextmanager

import numpy as np

_DOUBLE_P = ctypes.POINTER(ctypes.c_double)
_BYTE_P = ctypes.POINTER(ctypes.c_ubyte)


def _load():
    """(the ctypes library or None, why it is None or "")."""
    choice = os.environ.get("PMTHEORY_KERNEL", "auto")
    if choice not in ("auto", "numpy"):
        raise ValueError(f"PMTHEORY_KERNEL must be 'auto' (the compiled kernel where it is built) or 'numpy' "
                         f"(the numpy passes), got {choice!r}; unset it or set one of the two")
    if choice == "numpy":
        return None, "turned off (PMTHEORY_KERNEL=numpy)"
    spec = importlib.util.find_spec("pmtheory.solvers._fused")
    if spec is None or spec.origin is None:
        return None, ("not built (setup.py builds it at install where a C compiler and glibc's libmvec "
                      "are found; reinstall with `pip install -e .` to retry)")
    try:
        library = ctypes.CDLL(spec.origin)
    except OSError as error:
        return None, f"could not be loaded ({error})"
    library.pmt_cpu_supported.restype = ctypes.c_int
    if not library.pmt_cpu_supported():
        return None, ("built for another CPU (-march=native where it was installed); reinstall with "
                      "`pip install -e .` on this machine")
    size, diff = ctypes.c_size_t, ctypes.c_ssize_t
    library.pmt_reverse_kl_logits.argtypes = [_DOUBLE_P, diff, _DOUBLE_P, diff, size, size, _DOUBLE_P,
                                              ctypes.c_double, ctypes.c_int, _DOUBLE_P, _DOUBLE_P, _DOUBLE_P]
    library.pmt_reverse_kl_policy.argtypes = [_DOUBLE_P, diff, _DOUBLE_P, diff, size, size, _DOUBLE_P,
                                              ctypes.c_double, _DOUBLE_P, _BYTE_P, _DOUBLE_P, _DOUBLE_P,
                                              _DOUBLE_P]
    library.pmt_barrier_evaluate.argtypes = [ctypes.c_int, _DOUBLE_P, _DOUBLE_P, size, size, _DOUBLE_P,
                                             ctypes.c_int, _DOUBLE_P]
    library.pmt_barrier_final.argtypes = [ctypes.c_int, _DOUBLE_P, _DOUBLE_P, size, size, _DOUBLE_P,
                                          ctypes.c_double, _DOUBLE_P]
    for function in (library.pmt_reverse_kl_logits, library.pmt_reverse_kl_policy, library.pmt_barrier_evaluate,
                     library.pmt_barrier_final):
        function.restype = None
    return library, ""


_LIBRARY, _WHY = _load()
_ENABLED = _LIBRARY is not None


def kernel_status() -> str:
    """One line: which path the fused passes take, and why where it is numpy's."""
    if _LIBRARY is None:
        return f"numpy (compiled kernel {_WHY})"
    return "compiled kernel (fused C passes, glibc libmvec)" if _ENABLED else "numpy (compiled kernel turned off)"


@contextmanager
def use_kernel(enabled: bool):
    """Within the block, solvers use the compiled kernel if ``enabled`` (and it is built), else
    their numpy passes; for tests and benchmarks that compare the two."""
    global _ENABLED
    before = _ENABLED
    _ENABLED = bool(enabled) and _LIBRARY is not None
    try:
        yield _ENABLED
    finally:
        _ENABLED = before


def _rows(array):
    """(pointer, row stride in doubles) of a (B, K) float64 array whose rows are contiguous, or
    None (the kernel then does not apply)."""
    if array.dtype != np.float64 or array.ndim != 2 or (array.shape[1] > 1 and array.strides[1] != 8):
        return None
    if array.strides[0] % 8:
        return None
    return array.ctypes.data_as(_DOUBLE_P), array.strides[0] // 8


# The kernel takes rows of at least this many responses. Below, numpy's column-by-column
# passes (pmtheory.solvers._common._SHORT) are as fast or faster: at N·K = 10^6 reverse KL took
# 1.15× / 2.0× the floor by numpy and 2.0× / 2.1× by the kernel at K = 3 / 10 (whose per-row
# loop set-up and scalar tail dominate), and 2.5× against 1.75× at K = 16 (2026-12-04).
_MIN_K = 16


def reverse_kl_passes(rewards, log_q):
    """The kernel's reverse-KL passes for this (B, K) problem, or None where the numpy passes
    must run (kernel off or not built, K < ``_MIN_K``, or rows not contiguous). Which path runs
    depends on K and the layout alone, never on the values, so a row's answer does not depend on
    the rest of its batch."""
    if not _ENABLED or rewards.shape[-1] < _MIN_K:
        return None
    r, q = _rows(rewards), _rows(log_q)
    if r is None or q is None or 0 in rewards.shape:
        return None
    return _ReverseKLPasses(rewards.shape, r, q)


class _ReverseKLPasses:
    """Pass 1 and pass 2 of :func:`pmtheory.solvers._closed_forms._solve_reverse_kl` for one
    problem, each over the whole batch in one call."""

    def __init__(self, shape, rewards, log_q):
        self.shape, self.rewards, self.log_q = shape, rewards, log_q

    def logits(self, shift, beta, check, out, exp_out):
        """Writes x = (r − shift)/β + log q into ``out`` and e^x into ``exp_out`` (C-contiguous
        (B, K)); returns (max x, Σ e^x, Σ e^{log q} (zeros unless ``check``), min e^x), shapes (B,)."""
        rows, k = self.shape
        stats = np.empty((rows, 4))
        shift = np.ascontiguousarray(shift, dtype=np.float64)
        _LIBRARY.pmt_reverse_kl_logits(*self.rewards, *self.log_q, rows, k, shift.ctypes.data_as(_DOUBLE_P),
                                       float(beta), int(bool(check)), out.ctypes.data_as(_DOUBLE_P),
                                       exp_out.ctypes.data_as(_DOUBLE_P), stats.ctypes.data_as(_DOUBLE_P))
        return stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]

    def policy(self, shift, beta, log_norm, by_exp, logits, exps):
        """log π = x − L over ``logits`` and π over ``exps`` (e^x·e^{−L}, or e^{x − L} in the rows
        ``by_exp``); returns (Σπ, max scaled stationarity violation), shapes (B,)."""
        rows, k = self.shape
        stats = np.empty((rows, 2))
        shift = np.ascontiguousarray(shift, dtype=np.float64)
        log_norm = np.ascontiguousarray(log_norm, dtype=np.float64)
        flags = np.ascontiguousarray(by_exp, dtype=np.uint8)
        _LIBRARY.pmt_reverse_kl_policy(*self.rewards, *self.log_q, rows, k, shift.ctypes.data_as(_DOUBLE_P),
                                       float(beta), log_norm.ctypes.data_as(_DOUBLE_P), flags.ctypes.data_as(_BYTE_P),
                                       logits.ctypes.data_as(_DOUBLE_P), exps.ctypes.data_as(_DOUBLE_P),
                                       stats.ctypes.data_as(_DOUBLE_P))
        return stats[:, 0], stats[:, 1]


# The barrier divergences the kernel knows (enum family of _fused.c), by Divergence.name.
_FAMILIES = {"forward_kl": 0, "js": 1, "hellinger": 2, "alpha:0.5": 3}


def barrier_passes(div, gap, q):
    """The kernel's evaluations and final pass for the barrier divergence ``div`` on Δ = ``gap``
    and ``q``, shapes (B, K), or None where the numpy passes must run (kernel off or not built,
    a divergence it does not know, K < ``_MIN_K``, or arrays not C-contiguous float64). Depends on
    the divergence, K and the layout alone."""
    family = _FAMILIES.get(div.name)
    if not _ENABLED or family is None or gap.shape[-1] < _MIN_K or 0 in gap.shape:
        return None
    for array in (gap, q):
        if array.dtype != np.float64 or array.ndim != 2 or not array.flags.c_contiguous:
            return None
    return _BarrierPasses(family, div.sup_f_prime, gap, q)


class _BarrierPasses:
    """The evaluation and the final pass of :mod:`pmtheory.solvers._barrier` for one (B, K)
    pair of work arrays, each over the whole batch in one call."""

    def __init__(self, family, sup, gap, q):
        self.family, self.sup, self.gap, self.q = family, float(sup), gap, q

    def evaluate(self, d, curvature):
        """The three sums of :class:`pmtheory.solvers._barrier._Sums` (Σu, A, C), shapes (B,), at
        d (shape (B,)), u = q·h(Δ + d): A = Σu·h and C = Σ((u·h)·d)·h for forward KL and JS (a
        basis offset), A = Σu·y and C = Σ(u·y)·y with y = d/D for Hellinger and alpha:0.5; C is
        0 without ``curvature``."""
        rows, k = self.gap.shape
        d = np.ascontiguousarray(d, dtype=np.float64)
        out = np.empty((rows, 3))
        _LIBRARY.pmt_barrier_evaluate(self.family, self.gap.ctypes.data_as(_DOUBLE_P),
                                      self.q.ctypes.data_as(_DOUBLE_P), rows, k, d.ctypes.data_as(_DOUBLE_P),
                                      int(bool(curvature)), out.ctypes.data_as(_DOUBLE_P))
        return out[:, 0], out[:, 1], out[:, 2]

    def final(self, d):
        """π = q·h(Δ + d) over q and log π over gap; returns (Σπ, min π, max scaled stationarity
        violation), shapes (B,), as :func:`pmtheory.solvers._barrier._final_linear_pass`."""
        rows, k = self.gap.shape
        d = np.ascontiguousarray(d, dtype=np.float64)
        out = np.empty((rows, 3))
        _LIBRARY.pmt_barrier_final(self.family, self.gap.ctypes.data_as(_DOUBLE_P), self.q.ctypes.data_as(_DOUBLE_P),
                                   rows, k, d.ctypes.data_as(_DOUBLE_P), self.sup, out.ctypes.data_as(_DOUBLE_P))
        return out[:, 0], out[:, 1], out[:, 2]
