"""Speed and accuracy benchmark of the exact solvers (``pmtheory bench``).

On seeded random instances it times, for each divergence and each number of responses K,

- ``numpy_log_softmax``: a plain numpy log-softmax ``x − m − log Σ e^(x − m)`` (m = max x) on
  the K logits ``x = log q + r/β`` in float64, the speed floor (one pass that any exact
  reverse-KL solve must at least make);
- ``exact``: :func:`pmtheory.solvers.optimal_policy`, given ``log_reference``;
- ``cvxpy+clarabel`` and ``cvxpy+scs``: the same problem

  .. math::  \\max_π Σ_y π(y) r(y) − β Σ_y q(y) f(π(y)/q(y))  s.t.  π ≥ 0, Σ π = 1

  as a DCP program (the forms of :func:`pmtheory.cvx.f_divergence_expression`), timed end to
  end (problem construction, cvxpy compilation and the solve) with the solvers' default
  tolerances, since that is what a user of cvxpy pays.

Every method's π is then certified on the same footing: the scaled KKT residual of
:func:`pmtheory.solvers.kkt_residual` (best multiplier for the candidate π), and max |Δπ|
against a reference: the mpmath solve of :func:`pmtheory.highprec.high_precision_optimal_policy`
for K ≤ 100, the exact solver's own π above that (the ``ref`` column says which). The tv optimum
need not be unique, so for tv the accuracy is the objective gap ΔJ = J(π_exact) − J(π) instead.

Timing: ``time.perf_counter``; one untimed warm-up call, then ``repeats`` timings, each of
enough back-to-back calls to last ``_MIN_TIMING_SECONDS`` (as :mod:`timeit` does, with the
garbage collector off); the reported seconds are the min of the timings (``--statistic``
switches to the median; the JSON has both). The exact solver's timings are interleaved with
a fresh set of floor timings, and ×floor divides by those, so that a burst of load from other
processes hits both sides of the ratio alike (the JSON row keeps that ``floor_seconds``). A cvxpy
solve costs 0.1 to 100 s, so cvxpy is
warmed up once per (divergence, solver) on a K = 100 instance and timed ``--cvxpy-repeats``
times (default 1), under a per-solve time limit.

Allocator. At K = 10⁶ every full-size array is 8 MB, and whether glibc's malloc hands back
memory the process already has or fresh pages from the kernel (2 048 page faults and their
zeroing per array) depends on its dynamic mmap and trim thresholds, that is on the history
of earlier allocations. On the bench machine the floor then measured 2.4 ms in one process
state and 4.4 ms in another, and every ratio to it moved with that (forward KL between 3.2×
and 5.6× from run to run). ``--allocator kept`` (the default) therefore tells
glibc, once at the start of ``main``, to serve and keep every block in the process heap
(``mallopt``: mmap threshold 1 GiB, trim threshold 2 GiB), so that neither side pays page
faults after the warm-up and the floor is timed at its fastest; ``--allocator system``
leaves malloc alone. Where malloc is not glibc's the setting cannot be made and the report
says so (``machine.allocator`` in the JSON, and the ``allocator:`` line above the bars).

The speed bars are reported with PASS/FAIL (N/A when their K was not run); they never change
the exit status, which is nonzero only for an internal error (the exact solver raising).

The output is organized in sections (:data:`_SECTIONS`), each a function that returns its
rows, its bars and its table columns: ``solvers`` (the above) and ``bridge``, the sequence
log-probability throughput of :func:`pmtheory.bridge.sequence_log_probs` (batched, padded)
against the per-sequence loop, in tokens/s, on the tiny OPT by default or on
``--bridge-model PATH`` (``--bridge-device cuda --bridge-dtype bfloat16`` on a GPU;
``--bridge-model none`` skips it; without torch the section says so and is skipped), and
``torch``, the exact solvers on torch tensors at batch 8 × K = 50 272 against a
``torch.log_softmax`` floor on the same device (``--torch-device``, default cpu), and, with
``--shapes``, ``shapes``: issue 17's table of batched solves at N·K = 10⁶ for K = 3 … 10⁶ against
a row-wise log-softmax floor, with its bars, and, with ``--checks``, ``checks``: every claim's
check run in this process as ``pmtheory verify`` runs it (full, or quick with ``--quick``), the
total against the 4-minute bar of issue 17 and the five slowest checks.

Shape letters: ``K`` is the number of responses.

Layout. ``pmtheory.bench`` is a package: this ``__init__`` holds the command line (:func:`main`,
its options, :data:`_SECTIONS`), and the rest sits in private topic modules: ``_common``
(settings and problems, timing), ``_solver_section``, ``_bridge_section``, ``_torch_section``,
``_shapes_section`` and ``_checks_section`` (one module per section), and ``_output`` (the table a section fills in,
the bars, the machine and the JSON report). A package rather than private sibling modules
(``pmtheory/_bench_*.py``) keeps the benchmark in one folder, where a new section is one more
module, with the import path unchanged.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict

from pmtheory.bench._bridge_section import _BRIDGE_COLUMNS, _bridge_note, _bridge_rows
from pmtheory.bench._checks_section import _CHECKS_COLUMNS, _checks_note, _checks_rows
from pmtheory.bench._common import _Settings
from pmtheory.bench._output import (
    _format_bars,
    _format_table,
    _keep_freed_memory,
    _machine,
    _Section,
    _version,
    _write_json_atomically,
)
from pmtheory.bench._shapes_section import _SHAPES_COLUMNS, _shapes_note, _shapes_rows
from pmtheory.bench._solver_section import _SOLVER_COLUMNS, _solver_note, _solver_rows
from pmtheory.bench._torch_section import _TORCH_COLUMNS, _torch_note, _torch_rows
from pmtheory.divergences import DIVERGENCE_NAMES, get_divergence

__all__ = ["main"]

_DEFAULT_SIZES = (10**2, 10**3, 10**4, 10**5, 10**6)
_QUICK_SIZES = (10**2, 10**3, 10**4)
_DEFAULT_REPEATS = 5


# The benchmark's sections, run in order; each contributes rows, bars and a table.
_SECTIONS: tuple[_Section, ...] = (
    _Section("solvers", _solver_rows, _SOLVER_COLUMNS, _solver_note),
    _Section("bridge", _bridge_rows, _BRIDGE_COLUMNS, _bridge_note),
    _Section("torch", _torch_rows, _TORCH_COLUMNS, _torch_note),
    _Section("shapes", _shapes_rows, _SHAPES_COLUMNS, _shapes_note),
    _Section("checks", _checks_rows, _CHECKS_COLUMNS, _checks_note),
)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _positive_int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(float(part)) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 100,1000, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be integers K >= 1, got {text!r}")
    return tuple(sorted(set(values)))


def _divergence_list(text: str) -> tuple[str, ...]:
    names = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            names.append(get_divergence(part).name)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated divergence names, got {text!r}")
    return tuple(dict.fromkeys(names))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmtheory bench",
        description="Time the exact f-regularized solvers against cvxpy (Clarabel, SCS) and a numpy "
                    "log-softmax floor, and certify every answer's accuracy.",
    )
    parser.add_argument("--sizes", type=_positive_int_list, default=None,
                        help="comma-separated K values (default 100,...,1000000; --quick: 100,1000,10000)")
    parser.add_argument("--divergences", type=_divergence_list, default=DIVERGENCE_NAMES,
                        help=f"comma-separated divergence names (default {','.join(DIVERGENCE_NAMES)})")
    parser.add_argument("--repeats", type=_positive_int, default=None,
                        help=f"timings of the floor and the exact solver (default {_DEFAULT_REPEATS}; --quick: 1)")
    parser.add_argument("--statistic", choices=("min", "median"), default="min",
                        help="which statistic of the timings is reported as seconds (default min)")
    parser.add_argument("--cvxpy-repeats", type=_positive_int, default=1,
                        help="timings of each cvxpy solve (default 1)")
    parser.add_argument("--max-cvxpy-k", type=int, default=10**5,
                        help="cvxpy is not run above this K (default 100000)")
    parser.add_argument("--cvxpy-time-limit", type=_positive_float, default=30.0,
                        help="seconds allowed to one cvxpy solve (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="numpy default_rng seed (default 0)")
    parser.add_argument("--beta", type=_positive_float, default=1.0, help="β (default 1)")
    parser.add_argument("--reward-scale", type=_positive_float, default=1.0,
                        help="rewards ~ N(0, 1)·scale (default 1)")
    parser.add_argument("--reference", choices=("softmax", "dirichlet"), default="softmax",
                        help="reference q: softmax of N(0, σ²) logits, or Dirichlet(1, ..., 1) (default softmax)")
    parser.add_argument("--logit-std", type=_positive_float, default=1.0,
                        help="σ of the reference logits for --reference softmax (default 1)")
    parser.add_argument("--bridge-model", default=None, metavar="PATH",
                        help="causal LM for the sequence log-prob throughput section (default: the tiny OPT, built "
                             "locally; 'none' skips the section)")
    parser.add_argument("--bridge-device", default="cpu", help="its device: cpu, cuda, mps or auto (default cpu)")
    parser.add_argument("--bridge-dtype", default="float32",
                        help="its dtype: float32, bfloat16, float16, float64 or auto (default float32)")
    parser.add_argument("--torch-device", default="cpu",
                        help="device of the torch section: the solvers on torch tensors at batch 8 × K 50272 "
                             "(default cpu; cuda on a GPU; none skips it)")
    parser.add_argument("--shapes", action="store_true",
                        help="also the shapes table (issue 17): N·K fixed, K = 3, 10, 100, 1000, 10^6, every "
                             "divergence against its bar (reverse_kl 3.5×, others 8× the floor); about a minute")
    parser.add_argument("--shapes-total", type=_positive_int, default=None, metavar="NK",
                        help="N·K of every shape in the shapes table (default 10^6; --quick: 10^5)")
    parser.add_argument("--checks", nargs="*", default=None, metavar="CLAIM",
                        help="also time the claims' checks as pmtheory verify runs them (full; --quick: the quick "
                             "checks): every claim, or those matching the given IDs or globs, with the total "
                             "against the 4-minute bar (all claims, full run) and the 5 slowest; minutes")
    parser.add_argument("--quick", action="store_true",
                        help="sizes 100,1000,10000 and 1 repeat unless given explicitly, and no cvxpy+scs "
                             "baseline (it often runs to its time limit); for tests and CI")
    parser.add_argument("--json", dest="json_path", default=None, metavar="FILE",
                        help="also write the full report as JSON to FILE (atomically)")
    parser.add_argument("--allocator", choices=("kept", "system"), default="kept",
                        help="kept: glibc malloc keeps freed memory in the heap for this process, so that "
                             "page faults do not enter the timings of either side; system: leave malloc as it "
                             "is (default kept; see the module doc)")
    return parser


def _settings_from(arguments: argparse.Namespace) -> _Settings:
    sizes = arguments.sizes or (_QUICK_SIZES if arguments.quick else _DEFAULT_SIZES)
    repeats = arguments.repeats or (1 if arguments.quick else _DEFAULT_REPEATS)
    return _Settings(
        sizes=tuple(sizes),
        divergences=tuple(arguments.divergences),
        repeats=repeats,
        statistic=arguments.statistic,
        cvxpy_repeats=arguments.cvxpy_repeats,
        max_cvxpy_k=arguments.max_cvxpy_k,
        cvxpy_time_limit=arguments.cvxpy_time_limit,
        seed=arguments.seed,
        beta=arguments.beta,
        reward_scale=arguments.reward_scale,
        reference=arguments.reference,
        logit_std=arguments.logit_std,
        bridge_model=arguments.bridge_model,
        bridge_device=arguments.bridge_device,
        bridge_dtype=arguments.bridge_dtype,
        torch_device=arguments.torch_device,
        shapes=arguments.shapes,
        shapes_total=arguments.shapes_total or (10**5 if arguments.quick else 10**6),
        checks=None if arguments.checks is None else tuple(arguments.checks),
        quick=arguments.quick,
        json_path=arguments.json_path,
        allocator=arguments.allocator,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (``pmtheory bench [options]``); see ``--help`` and the module doc.

    Prints a table per section and the speed bars on stdout, progress on stderr, and writes
    the JSON report {"pmtheory_version", "machine", "settings", "rows", "bars"} if ``--json``.

    Returns:
      0, whatever the bars say; 1 if the exact solver raised (an internal error); argparse's
      status (2) for bad options.
    """
    try:
        arguments = _parser().parse_args(argv)
    except SystemExit as exit_request:  # --help, or an invalid option (argparse printed why)
        return int(exit_request.code or 0)
    settings = _settings_from(arguments)
    if settings.checks:  # a typo in a claim pattern fails before anything is timed
        from pmtheory.claims import default_registry
        from pmtheory.claims.catalogue import UnknownClaimError, select_claim_ids

        try:
            select_claim_ids(settings.checks, default_registry().ids)
        except UnknownClaimError as error:
            print(f"pmtheory bench: error: --checks: {error}", file=sys.stderr)
            return 2
    allocator = _keep_freed_memory() if settings.allocator == "kept" else "system (--allocator system)"

    def progress(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    progress(f"allocator: {allocator}")
    from pmtheory.solvers._kernel import kernel_status

    kernel = kernel_status()
    progress(f"solver kernel: {kernel}")

    all_rows: list[dict] = []
    all_bars: list[dict] = []
    tables: list[str] = []
    for section in _SECTIONS:
        progress(f"section {section.name}")
        rows, bars = section.run(settings, progress)
        all_rows.extend(rows)
        all_bars.extend(bars)
        tables.extend(_format_table(section, rows, settings))
        tables.append("")
    internal_error = any(row.pop("internal_error", False) for row in all_rows)
    print("\n".join(tables + [f"allocator: {allocator}", f"solver kernel: {kernel}", ""] + _format_bars(all_bars)))
    if settings.json_path is not None:
        report = {
            "pmtheory_version": _version(),
            "machine": {**_machine(), "allocator": allocator, "solver_kernel": kernel},
            "settings": asdict(settings),
            "rows": all_rows,
            "bars": all_bars,
        }
        _write_json_atomically(settings.json_path, report)
        progress(f"wrote {settings.json_path}")
    return 1 if internal_error else 0
