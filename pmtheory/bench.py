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
``--bridge-model none`` skips it; without torch the section says so and is skipped).

Shape letters: ``K`` is the number of responses.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import logsumexp

from pmtheory.divergences import DIVERGENCE_NAMES, get_divergence
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.solvers import kkt_residual, optimal_policy, regularized_objective

__all__ = ["main"]

# Each timing repeats the call back to back until it has lasted at least this long, so that
# perf_counter's resolution and per-call jitter stay below 1% even for the ~10 µs K = 100 calls.
_MIN_TIMING_SECONDS = 0.02

_DEFAULT_SIZES = (10**2, 10**3, 10**4, 10**5, 10**6)
_QUICK_SIZES = (10**2, 10**3, 10**4)
_DEFAULT_REPEATS = 5
# Largest K at which the mpmath reference is affordable (pure Python, O(K·digits) per step).
_HIGH_PRECISION_MAX_K = 100
# The cvxpy warm-up instance size (warms imports and code paths, not the instance).
_CVXPY_WARMUP_K = 100

_FLOOR = "numpy_log_softmax"
_EXACT = "exact"
_CVXPY_SOLVERS = {"cvxpy+clarabel": "CLARABEL", "cvxpy+scs": "SCS"}

# The speed bars. Ratios are seconds(exact) / seconds(floor) at K = 10⁶.
_FLOOR_BAR_K = 10**6
_FLOOR_BAR_CLOSED_FORM = 3.0  # reverse_kl: one logsumexp pass plus bookkeeping
_FLOOR_BAR_ROOT_FOUND = 8.0  # forward_kl, js, alpha, hellinger, chi2: a few Newton passes
_CVXPY_BAR_K = 10**4
_CVXPY_BAR_SPEEDUP = 100.0  # exact at least this many times faster than cvxpy+Clarabel


# --------------------------------------------------------------------------------------------
# Settings and problems
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    """What one benchmark run does (all of it goes into the JSON)."""

    sizes: tuple[int, ...]  # the K values, increasing
    divergences: tuple[str, ...]  # canonical divergence names
    repeats: int  # timings per (divergence, K) for the floor and the exact solver
    statistic: str  # "min" or "median" of the timings, the one reported as seconds
    cvxpy_repeats: int  # timings per (divergence, K, solver) for cvxpy
    max_cvxpy_k: int  # cvxpy is skipped above this K
    cvxpy_time_limit: float  # seconds allowed to one cvxpy solve (passed to the solver)
    seed: int  # numpy default_rng seed of every instance
    beta: float  # β > 0
    reward_scale: float  # rewards ~ N(0, 1)·reward_scale
    reference: str  # "softmax" (of N(0, σ²) logits) or "dirichlet" (concentration 1)
    logit_std: float  # σ of the reference logits for "softmax"
    bridge_model: str | None  # causal LM for the bridge section (None: the tiny OPT; "none": skip it)
    bridge_device: str  # its device
    bridge_dtype: str  # its dtype
    quick: bool  # --quick was given
    json_path: str | None  # where to write the JSON report, or None
    allocator: str  # "kept": glibc keeps freed blocks in the heap (module doc); "system": untouched


class _Problem(NamedTuple):
    """One random instance with K responses."""

    rewards: np.ndarray  # r, shape (K,)
    reference: np.ndarray  # q, shape (K,), strictly positive, sums to 1
    log_reference: np.ndarray  # log q, shape (K,), logsumexp = 0


def _make_problem(k: int, settings: _Settings) -> _Problem:
    """The instance for K = k: a fresh ``default_rng(seed)``, so it does not depend on which
    other sizes are run; the same instance serves every divergence."""
    rng = np.random.default_rng(settings.seed)
    rewards = rng.standard_normal(k) * settings.reward_scale
    if settings.reference == "dirichlet":
        with np.errstate(divide="ignore"):
            log_reference = np.log(rng.dirichlet(np.ones(k)))
        if not np.all(np.isfinite(log_reference)):
            raise ValueError(f"the Dirichlet draw at K={k} has a zero entry; try another --seed")
    else:
        log_reference = rng.standard_normal(k) * settings.logit_std
    log_reference = log_reference - logsumexp(log_reference)
    return _Problem(rewards, np.exp(log_reference), log_reference)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


class _Timing(NamedTuple):
    """Per-call seconds of a timed function."""

    seconds: float  # the reported statistic (min or median) of ``timings``
    minimum: float  # min of ``timings``
    median: float  # median of ``timings``
    timings: list[float]  # per-call seconds of each timing
    calls_per_timing: int  # back-to-back calls averaged in one timing


def _time_calls(calls: list[Callable[[], object]], repeats: int, statistic: str, *, warm_up: bool = True,
                batch: bool = True) -> list[tuple[object, _Timing]]:
    """(result of the last call, :class:`_Timing`) of each of ``calls``: a warm-up call of
    each, then ``repeats`` rounds in which each is timed once in turn (``calls_per_timing``
    back-to-back calls per timing). Interleaving puts the timings of different calls in the
    same stretch of machine load, so their ratio is steadier than that of separate runs."""
    results: list[object] = [None] * len(calls)
    numbers = [1] * len(calls)
    for index, call in enumerate(calls):
        if warm_up:
            start = time.perf_counter()
            results[index] = call()
            first = time.perf_counter() - start
            if batch:
                numbers[index] = int(min(10_000, max(1, math.ceil(_MIN_TIMING_SECONDS / max(first, 1e-9)))))
    timings: list[list[float]] = [[] for _ in calls]
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for index, call in enumerate(calls):
                start = time.perf_counter()
                for _ in range(numbers[index]):
                    results[index] = call()
                timings[index].append((time.perf_counter() - start) / numbers[index])
    finally:
        if enabled:
            gc.enable()
    measured = []
    for result, number, series in zip(results, numbers, timings):
        minimum, median = min(series), statistics.median(series)
        chosen = minimum if statistic == "min" else median
        measured.append((result, _Timing(chosen, minimum, median, series, number)))
    return measured


def _time_call(call: Callable[[], object], repeats: int, statistic: str, **options) -> tuple[object, _Timing]:
    """:func:`_time_calls` of one call."""
    return _time_calls([call], repeats, statistic, **options)[0]


# --------------------------------------------------------------------------------------------
# cvxpy
# --------------------------------------------------------------------------------------------


class _CvxpyResult(NamedTuple):
    """One cvxpy solve."""

    policy: np.ndarray | None  # π clipped at 0 and renormalized, shape (K,); None on failure
    status: str  # cvxpy's status, or "failed: <reason>"
    solver_seconds: float | None  # the solver's own solve time (cvxpy's solver_stats)
    iterations: int | None  # the solver's iteration count


def _cvxpy_solve(problem: _Problem, divergence: str, solver: str, beta: float,
                 time_limit: float) -> _CvxpyResult:
    """Build and solve the DCP program for ``divergence`` with ``solver`` (defaults, plus a
    time limit); a solver failure is returned in ``status``, never raised."""
    import cvxpy as cp

    from pmtheory.cvx import f_divergence_expression

    policy = cp.Variable(problem.rewards.size, nonneg=True)
    objective = problem.rewards @ policy - beta * f_divergence_expression(policy, problem.reference, divergence)
    program = cp.Problem(cp.Maximize(objective), [cp.sum(policy) == 1])
    options = {"time_limit": time_limit} if solver == "CLARABEL" else {"time_limit_secs": time_limit}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "solution may be inaccurate": kept in the status
            program.solve(solver=solver, **options)
    except (cp.error.SolverError, ValueError, ArithmeticError, MemoryError) as error:
        # cvxpy's message ("Solver 'X' failed. Try another solver, ...") hides the solver's
        # own status; its first sentence plus that status is what the row reports.
        reason = f"{type(error).__name__}: {str(error).split('. ')[0]}"
        raw = _raw_solver_status(program, solver) if isinstance(error, cp.error.SolverError) else None
        if raw is not None:
            reason += f" (solver status {raw})"
        return _CvxpyResult(None, f"failed: {reason}", None, None)
    stats = program.solver_stats
    solver_seconds = getattr(stats, "solve_time", None)
    iterations = getattr(stats, "num_iters", None)
    if program.status not in ("optimal", "optimal_inaccurate") or policy.value is None:
        return _CvxpyResult(None, f"failed: status {program.status}", solver_seconds, iterations)
    value = np.clip(np.asarray(policy.value, dtype=np.float64), 0.0, None)
    if not np.all(np.isfinite(value)) or value.sum() <= 0:
        return _CvxpyResult(None, "failed: returned π is not a finite non-negative vector", solver_seconds,
                            iterations)
    status = program.status
    if solver_seconds is not None and solver_seconds >= 0.99 * time_limit:
        status += f" (time limit {time_limit:g} s reached)"
    return _CvxpyResult(value / value.sum(), status, solver_seconds, iterations)


def _raw_solver_status(program, solver: str) -> str | None:
    """The solver's own status for a program cvxpy reported as failed, from an untimed
    re-solve of the same data (None if that is not available)."""
    try:
        data, chain, _ = program.get_problem_data(solver)
        raw = chain.solver.solve_via_data(data, False, False, {})
    except Exception:  # a diagnostic only: the failure itself is already recorded
        return None
    if hasattr(raw, "status"):  # Clarabel's DefaultSolution
        return str(raw.status)
    if isinstance(raw, dict) and isinstance(raw.get("info"), dict):  # SCS
        return str(raw["info"].get("status"))
    return None


# --------------------------------------------------------------------------------------------
# The solver section
# --------------------------------------------------------------------------------------------


class _Column(NamedTuple):
    """One column of a section's table."""

    header: str
    width: int
    cell: Callable[[dict], str]  # the text of a row's cell


class _Section(NamedTuple):
    """A benchmark section: ``run(settings, progress)`` returns (rows, bars)."""

    name: str
    run: Callable[[_Settings, Callable[[str], None]], tuple[list[dict], list[dict]]]
    columns: tuple[_Column, ...]
    note: Callable[[_Settings], str]  # the line under the section's table


def _accuracy(method_log_policy, method_policy, problem: _Problem, divergence: str, beta: float,
              reference_policy: np.ndarray | None, reference_objective: float) -> dict:
    """KKT residual, max |Δπ| and objective gap of one method's π (fields of a row)."""
    if method_log_policy is not None:
        residual = kkt_residual(rewards=problem.rewards, log_policy=method_log_policy,
                                log_reference=problem.log_reference, divergence=divergence, beta=beta)
    else:
        residual = kkt_residual(method_policy, problem.rewards, log_reference=problem.log_reference,
                                divergence=divergence, beta=beta)
    objective = regularized_objective(method_policy, problem.rewards, log_reference=problem.log_reference,
                                      divergence=divergence, beta=beta)
    fields = {
        "kkt_residual": float(residual),
        "objective_gap": float(reference_objective - objective),
        "max_abs_policy_error": None,
    }
    if reference_policy is not None:
        fields["max_abs_policy_error"] = float(np.max(np.abs(method_policy - reference_policy)))
    return fields


def _row(divergence, k, method, **fields) -> dict:
    row = {
        "section": "solvers",
        "divergence": divergence,
        "k": k,
        "method": method,
        "status": "ok",
        "seconds": None,
        "seconds_min": None,
        "seconds_median": None,
        "timings": 0,
        "calls_per_timing": None,
        "floor_seconds": None,
        "ratio_to_floor": None,
        "ratio_to_exact": None,
        "max_abs_policy_error": None,
        "objective_gap": None,
        "kkt_residual": None,
        "accuracy_metric": None,
        "ref": None,
        "iterations": None,
        "solver_seconds": None,
        "note": None,
    }
    row.update(fields)
    return row


def _timing_fields(timing: _Timing) -> dict:
    return {
        "seconds": timing.seconds,
        "seconds_min": timing.minimum,
        "seconds_median": timing.median,
        "timings": len(timing.timings),
        "calls_per_timing": timing.calls_per_timing,
    }


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """The speed floor, a plain numpy log-softmax: log π = x − m − log Σ e^(x − m) with
    m = max x, for logits x of shape (K,)."""
    peak = logits.max()
    return logits - (peak + np.log(np.exp(logits - peak).sum()))


def _reference_for(problem: _Problem, divergence: str, beta: float, exact_policy: np.ndarray):
    """(π_ref or None, label): mpmath for K ≤ 100 (not tv), else the exact solver's π.
    For tv no π reference is used (the optimum need not be unique)."""
    k = problem.rewards.size
    if divergence == "tv":
        return None, "exact (ΔJ)"
    if k <= _HIGH_PRECISION_MAX_K:
        log_policy = high_precision_optimal_policy(problem.rewards, problem.log_reference,
                                                   divergence=divergence, beta=beta)
        return np.exp(log_policy), "mpmath"
    return exact_policy, "exact"


def _solver_rows(settings: _Settings, progress: Callable[[str], None]) -> tuple[list[dict], list[dict]]:
    rows: list[dict] = []
    warmed_up: set[tuple[str, str]] = set()
    warmup_problem = _make_problem(_CVXPY_WARMUP_K, settings)
    for k in settings.sizes:
        problem = _make_problem(k, settings)
        logits = problem.log_reference + problem.rewards / settings.beta
        _, floor = _time_call(lambda: _log_softmax(logits), settings.repeats, settings.statistic)
        progress(f"K={k}: {_FLOOR} {floor.seconds:.3g} s")
        rows.append(_row(None, k, _FLOOR, floor_seconds=floor.seconds, ratio_to_floor=1.0, accuracy_metric="none",
                         note="speed floor: log-softmax of log q + r/β, no accuracy measured",
                         **_timing_fields(floor)))
        for divergence in settings.divergences:
            rows.extend(_divergence_rows(problem, divergence, settings, warmed_up, warmup_problem,
                                         progress))
    return rows, _solver_bars(rows, settings)


def _divergence_rows(problem: _Problem, divergence: str, settings: _Settings,
                     warmed_up: set, warmup_problem: _Problem, progress) -> list[dict]:
    k = problem.rewards.size
    beta = settings.beta
    metric = "objective_gap" if divergence == "tv" else "max_abs_policy_error"
    logits = problem.log_reference + problem.rewards / beta
    try:
        # The floor is timed again here, interleaved with the exact solver, so that ×floor
        # compares timings taken under the same machine load (the K's floor row is separate).
        (_, floor), (solution, timing) = _time_calls(
            [lambda: _log_softmax(logits),
             lambda: optimal_policy(problem.rewards, log_reference=problem.log_reference,
                                    divergence=divergence, beta=beta)],
            settings.repeats, settings.statistic)
    except Exception as error:  # an exact-solver exception is a bug: reported, then exit status 1
        progress(f"K={k} {divergence}: exact solver raised\n{traceback.format_exc()}")
        return [_row(divergence, k, _EXACT, status=f"failed: {type(error).__name__}: {error}",
                     internal_error=True)]
    progress(f"K={k} {divergence}: exact {timing.seconds:.3g} s ({timing.seconds / floor.seconds:.2f}× floor, "
             f"{solution.iterations} root passes)")
    reference_policy, ref_label = _reference_for(problem, divergence, beta, solution.policy)
    reference_objective = float(regularized_objective(
        reference_policy if reference_policy is not None else solution.policy, problem.rewards,
        log_reference=problem.log_reference, divergence=divergence, beta=beta))
    exact_row = _row(divergence, k, _EXACT, floor_seconds=floor.seconds,
                     ratio_to_floor=timing.seconds / floor.seconds, ratio_to_exact=1.0,
                     accuracy_metric=metric, ref=ref_label, iterations=int(solution.iterations),
                     **_timing_fields(timing),
                     **_accuracy(solution.log_policy, solution.policy, problem, divergence, beta,
                                 reference_policy, reference_objective))
    rows = [exact_row]
    for method, solver in _CVXPY_SOLVERS.items():
        if k > settings.max_cvxpy_k:
            rows.append(_row(divergence, k, method, status="skipped: K > max-cvxpy-k"))
            continue
        if (divergence, solver) not in warmed_up:
            _cvxpy_solve(warmup_problem, divergence, solver, beta, settings.cvxpy_time_limit)
            warmed_up.add((divergence, solver))
        result, cvx_timing = _time_call(
            lambda: _cvxpy_solve(problem, divergence, solver, beta, settings.cvxpy_time_limit),
            settings.cvxpy_repeats, settings.statistic, warm_up=False, batch=False)
        if result.policy is None:
            progress(f"K={k} {divergence}: {method} {result.status}")
            rows.append(_row(divergence, k, method, status=result.status, solver_seconds=result.solver_seconds,
                             iterations=result.iterations, **_timing_fields(cvx_timing)))
            continue
        progress(f"K={k} {divergence}: {method} {cvx_timing.seconds:.3g} s ({result.status})")
        fields = _accuracy(None, result.policy, problem, divergence, beta, reference_policy, reference_objective)
        notes = [f"cvxpy status {result.status}; π clipped at 0 and renormalized"]
        if not math.isfinite(fields["kkt_residual"]):
            notes.append("KKT residual is infinite: π has exact zeros where f'(0+) = −∞")
            fields["kkt_residual"] = None
        rows.append(_row(divergence, k, method, floor_seconds=floor.seconds,
                         ratio_to_floor=cvx_timing.seconds / floor.seconds,
                         ratio_to_exact=cvx_timing.seconds / timing.seconds, accuracy_metric=metric,
                         ref=ref_label, iterations=result.iterations, solver_seconds=result.solver_seconds,
                         note="; ".join(notes), **_timing_fields(cvx_timing), **fields))
    return rows


def _find(rows, divergence, k, method):
    for row in rows:
        if row["divergence"] == divergence and row["k"] == k and row["method"] == method:
            return row
    return None


def _bar(name, status, measured, threshold, detail) -> dict:
    return {"section": "solvers", "name": name, "status": status, "measured": measured,
            "threshold": threshold, "detail": detail}


def _solver_bars(rows: list[dict], settings: _Settings) -> list[dict]:
    """The floor bars at K = 10⁶ and the cvxpy+Clarabel bars at K = 10⁴ (module doc)."""
    bars = []
    for divergence in settings.divergences:
        if divergence == "tv":
            continue  # no bar was set for tv; its ratio is in the table
        closed = divergence == "reverse_kl"
        limit = _FLOOR_BAR_CLOSED_FORM if closed else _FLOOR_BAR_ROOT_FOUND
        name = f"{divergence}: exact ≤ {limit:g}× log-softmax floor at K=10^6"
        row = _find(rows, divergence, _FLOOR_BAR_K, _EXACT)
        if _FLOOR_BAR_K not in settings.sizes:
            bars.append(_bar(name, "N/A", None, limit, "K=10^6 not in --sizes"))
        elif row is None or row["status"] != "ok":
            bars.append(_bar(name, "FAIL", None, limit, "the exact solver failed"))
        else:
            ratio = row["ratio_to_floor"]
            bars.append(_bar(name, "PASS" if ratio <= limit else "FAIL", ratio, limit,
                             f"{ratio:.2f}× floor ({row['seconds']:.3g} s, {row['iterations']} root passes)"))
    for divergence in settings.divergences:
        name = f"{divergence}: exact ≥ {_CVXPY_BAR_SPEEDUP:g}× faster than cvxpy+Clarabel at K=10^4, and more accurate"
        exact = _find(rows, divergence, _CVXPY_BAR_K, _EXACT)
        clarabel = _find(rows, divergence, _CVXPY_BAR_K, "cvxpy+clarabel")
        if _CVXPY_BAR_K not in settings.sizes:
            bars.append(_bar(name, "N/A", None, _CVXPY_BAR_SPEEDUP, "K=10^4 not in --sizes"))
            continue
        if exact is None or exact["status"] != "ok":
            bars.append(_bar(name, "FAIL", None, _CVXPY_BAR_SPEEDUP, "the exact solver failed"))
            continue
        if clarabel is None or clarabel["status"] != "ok":
            reason = clarabel["status"] if clarabel is not None else "not run"
            bars.append(_bar(name, "N/A", None, _CVXPY_BAR_SPEEDUP, f"cvxpy+Clarabel has no answer ({reason})"))
            continue
        speedup = clarabel["seconds"] / exact["seconds"]
        metric = exact["accuracy_metric"]
        exact_error = abs(exact[metric])
        clarabel_error = abs(clarabel[metric]) if clarabel[metric] is not None else math.inf
        clarabel_kkt = clarabel["kkt_residual"] if clarabel["kkt_residual"] is not None else math.inf
        faster = speedup >= _CVXPY_BAR_SPEEDUP
        tighter = exact["kkt_residual"] < clarabel_kkt
        closer = exact_error <= clarabel_error
        label = "|ΔJ|" if metric == "objective_gap" else "max|Δπ|"
        detail = (f"{speedup:.0f}× faster; KKT {exact['kkt_residual']:.1e} vs {clarabel_kkt:.1e}; "
                  f"{label} {exact_error:.1e} vs {clarabel_error:.1e} (against {exact['ref']}, so the "
                  f"exact solver's own {label} is 0 by construction: time and KKT decide)")
        bars.append(_bar(name, "PASS" if faster and tighter and closer else "FAIL", speedup, _CVXPY_BAR_SPEEDUP,
                         detail))
    return bars


def _format_number(value, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


def _accuracy_cell(row: dict) -> str:
    metric = row["accuracy_metric"]
    if metric in (None, "none"):
        return "-"
    return _format_number(row[metric], ".1e")


_SOLVER_COLUMNS = (
    _Column("divergence", 11, lambda row: row["divergence"] or "(floor)"),
    _Column("K", 8, lambda row: str(row["k"])),
    _Column("method", 18, lambda row: row["method"]),
    _Column("seconds", 9, lambda row: _format_number(row["seconds"], ".3g")),
    _Column("×floor", 8, lambda row: _format_number(row["ratio_to_floor"], ".3g")),
    _Column("×exact", 8, lambda row: _format_number(row["ratio_to_exact"], ".3g")),
    _Column("max|Δπ|", 8, _accuracy_cell),
    _Column("KKT", 8, lambda row: _format_number(row["kkt_residual"], ".1e")),
    _Column("ref", 12, lambda row: row["ref"] or "-"),
)

def _solver_note(settings: _Settings) -> str:
    return (
        f"seconds: {settings.statistic} of {settings.repeats} timings (cvxpy: {settings.cvxpy_repeats}) after a "
        "warm-up; ×floor = seconds / the floor timed interleaved with the exact solver; ×exact = seconds / exact's "
        "seconds; KKT = scaled KKT residual of each method's π; max|Δπ| against the 'ref' solution (for tv: the "
        "objective gap J(π_exact) − J(π))."
    )


# --------------------------------------------------------------------------------------------
# The bridge section: sequence log-prob throughput, batched vs the per-sequence loop
# --------------------------------------------------------------------------------------------


def _bridge_rows(settings: _Settings, progress: Callable[[str], None]) -> tuple[list[dict], list[dict]]:
    """One row per (device, dtype): pmtheory.bridge.bench.sequence_log_prob_throughput."""
    base = {"section": "bridge", "model": settings.bridge_model or "tiny-opt", "device": settings.bridge_device,
            "dtype": settings.bridge_dtype}
    if settings.bridge_model == "none":
        return [], []
    try:
        import torch  # noqa: F401  (the bridge's optional dependency)

        from pmtheory.bridge.bench import sequence_log_prob_throughput
    except ModuleNotFoundError as error:
        return [{**base, "status": f"skipped: {error.name} is not installed (pip install -e '.[bridge]')"}], []
    progress(f"bridge: sequence log-prob throughput on {base['model']} ({settings.bridge_device}, "
             f"{settings.bridge_dtype})")
    result = sequence_log_prob_throughput(model_path=settings.bridge_model, device=settings.bridge_device,
                                          dtype=settings.bridge_dtype, pairs=16 if settings.quick else 64,
                                          repeats=1 if settings.quick else 3, seed=settings.seed)
    return [{**base, **result.to_dict(), "status": "ok"}], []


_BRIDGE_COLUMNS = (
    _Column("model", 14, lambda row: str(row["model"])[-14:]),
    _Column("device", 7, lambda row: row["device"]),
    _Column("dtype", 9, lambda row: row["dtype"]),
    _Column("pairs", 6, lambda row: str(row["pairs"])),
    _Column("tokens", 7, lambda row: str(row["tokens"])),
    _Column("batched tok/s", 13, lambda row: _format_number(row["batched_tokens_per_second"], ".4g")),
    _Column("loop tok/s", 10, lambda row: _format_number(row["loop_tokens_per_second"], ".4g")),
    _Column("speedup", 7, lambda row: _format_number(row["speedup"], ".3g")),
    _Column("max|Δ|", 8, lambda row: _format_number(row["max_abs_difference"], ".1e")),
)


def _bridge_note(settings: _Settings) -> str:
    return ("tokens: prompt + response tokens of the pairs (padding excluded); tok/s = tokens / best of the timed "
            "runs after a warm-up; max|Δ| = batched vs loop log-probability (accumulated in float64); "
            "--bridge-model none skips this section.")


# The benchmark's sections, run in order; each contributes rows, bars and a table.
_SECTIONS: tuple[_Section, ...] = (
    _Section("solvers", _solver_rows, _SOLVER_COLUMNS, _solver_note),
    _Section("bridge", _bridge_rows, _BRIDGE_COLUMNS, _bridge_note),
)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _format_table(section: _Section, rows: list[dict], settings: _Settings) -> list[str]:
    header = "  ".join(column.header.rjust(column.width) if i >= 3 else column.header.ljust(column.width)
                       for i, column in enumerate(section.columns))
    lines = [f"== {section.name} ==", header, "-" * len(header)]
    for row in rows:
        cells = []
        for i, column in enumerate(section.columns):
            if row["status"] != "ok" and i == 3:
                cells.append(row["status"])
                break
            text = column.cell(row)
            cells.append(text.rjust(column.width) if i >= 3 else text.ljust(column.width))
        lines.append("  ".join(cells).rstrip())
    lines.append(section.note(settings))
    return lines


def _format_bars(bars: list[dict]) -> list[str]:
    lines = ["== speed bars (reported, not enforced) =="]
    for bar in bars:
        lines.append(f"{bar['status']:<4}  {bar['name']}: {bar['detail']}")
    return lines


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _keep_freed_memory() -> str:
    """Make glibc's malloc serve every block below 1 GiB from the heap and never return freed
    heap memory to the kernel, for the rest of this process (module doc, "Allocator").
    Returns what was done, for the report."""
    import ctypes
    import ctypes.util

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return f"system (not glibc: {platform.system()} {platform.libc_ver()[0] or 'unknown libc'})"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError) as error:
        return f"system (mallopt unavailable: {error})"
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    if mallopt(_M_MMAP_THRESHOLD, 1 << 30) != 1 or mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) != 1:
        return "system (mallopt refused the thresholds)"
    return "kept (glibc mallopt: mmap threshold 1 GiB, trim threshold 2 GiB)"


def _machine() -> dict:
    import scipy

    try:
        import cvxpy

        cvxpy_version = cvxpy.__version__
    except ImportError:  # pragma: no cover - cvxpy is a dependency
        cvxpy_version = None
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "cvxpy": cvxpy_version,
    }


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pmtheory")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _json_safe(value):
    """Non-finite floats become None (JSON has no inf/nan); rows say why in their note."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _write_json_atomically(path: str, report: dict) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".bench-", suffix=".json.tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(_json_safe(report), stream, indent=1, allow_nan=False, ensure_ascii=False)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


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
    parser.add_argument("--quick", action="store_true",
                        help="sizes 100,1000,10000 and 1 repeat unless given explicitly (for tests and CI)")
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
    allocator = _keep_freed_memory() if settings.allocator == "kept" else "system (--allocator system)"

    def progress(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    progress(f"allocator: {allocator}")

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
    print("\n".join(tables + [f"allocator: {allocator}", ""] + _format_bars(all_bars)))
    if settings.json_path is not None:
        report = {
            "pmtheory_version": _version(),
            "machine": {**_machine(), "allocator": allocator},
            "settings": asdict(settings),
            "rows": all_rows,
            "bars": all_bars,
        }
        _write_json_atomically(settings.json_path, report)
        progress(f"wrote {settings.json_path}")
    return 1 if internal_error else 0
