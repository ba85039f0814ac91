"""What every section of ``pmtheory bench`` shares: the run's settings, the seeded random
instances, and the timer.

Timing: ``time.perf_counter``; one untimed warm-up call, then ``repeats`` timings, each of
enough back-to-back calls to last ``_MIN_TIMING_SECONDS`` (as :mod:`timeit` does, with the
garbage collector off); the reported seconds are the min of the timings (``--statistic``
switches to the median; the JSON has both).

Shape letters: ``K`` is the number of responses. "The module doc" below is that of
:mod:`pmtheory.bench`.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import logsumexp

# Each timing repeats the call back to back until it has lasted at least this long, so that
# perf_counter's resolution and per-call jitter stay below 1% even for the ~10 µs K = 100 calls.
_MIN_TIMING_SECONDS = 0.02


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
    torch_device: str  # device of the torch section ("none": skip it)
    shapes: bool  # run the shapes section (--shapes)
    shapes_total: int  # N·K of every shape in it
    checks: tuple[str, ...] | None  # claim IDs/globs of the checks section (--checks; () all), None: off
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
