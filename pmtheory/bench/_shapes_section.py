"""The shapes section of ``pmtheory bench --shapes`` (issue 17): batched solves at every shape.

Users mostly solve many small problems at once. For N·K fixed (10⁶ by default,
``--shapes-total``; a K above it gets one row) and K in (3, 10, 100, 1000, 10⁶), each
divergence's exact solve of the
(N, K) batch (certificate included: ``optimal_policy`` enforces it) is timed interleaved with a
strict numpy floor, the row-wise log-softmax of log q + r/β over the same (N, K) array
(x − m − log Σ e^(x − m) with m the row maximum). The bars are issue 17's: reverse KL ≤ 3.5×
the floor, every other divergence ≤ 8×, at every shape; they are reported with PASS/FAIL and
never change the exit status. Off unless ``--shapes`` is given (about a minute at N·K = 10⁶).
"The module doc" below is that of :mod:`pmtheory.bench`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pmtheory.bench._common import _Settings, _time_calls
from pmtheory.bench._output import _Column, _format_number

SHAPE_KS = (3, 10, 100, 1000, 10**6)
# Issue 17's bars: exact / floor at every shape (certificate included).
SHAPE_BAR_REVERSE_KL = 3.5
SHAPE_BAR_OTHERS = 8.0


def _row_log_softmax(logits: np.ndarray) -> np.ndarray:
    """The floor: a plain numpy log-softmax of each row of (N, K) logits."""
    peak = logits.max(axis=-1, keepdims=True)
    return logits - (peak + np.log(np.exp(logits - peak).sum(axis=-1, keepdims=True)))


def shape_bar(divergence: str) -> float:
    """Issue 17's bar on exact / floor for ``divergence``."""
    return SHAPE_BAR_REVERSE_KL if divergence == "reverse_kl" else SHAPE_BAR_OTHERS


def _shapes_rows(settings: _Settings, progress: Callable[[str], None]) -> tuple[list[dict], list[dict]]:
    """One row per (divergence, K) with N = total // K rows, and a bar per row."""
    from pmtheory import optimal_policy

    if not settings.shapes:
        return [], []
    rows, bars = [], []
    generator = np.random.default_rng(settings.seed)
    for k in SHAPE_KS:
        n = max(settings.shapes_total // k, 1)
        rewards = generator.standard_normal((n, k)) * settings.reward_scale
        log_q = generator.standard_normal((n, k)) * settings.logit_std
        log_q = _row_log_softmax(log_q)
        logits = log_q + rewards / settings.beta
        for divergence in settings.divergences:
            progress(f"shapes: {divergence} at N × K = {n} × {k}")
            (_, floor), (solution, exact) = _time_calls(
                [lambda: _row_log_softmax(logits),
                 lambda divergence=divergence: optimal_policy(rewards, log_reference=log_q, divergence=divergence,
                                                              beta=settings.beta)],
                settings.repeats, settings.statistic)
            ratio = exact.seconds / floor.seconds
            limit = shape_bar(divergence)
            rows.append({"section": "shapes", "divergence": divergence, "n": n, "k": k, "status": "ok",
                         "floor_seconds": floor.seconds, "exact_seconds": exact.seconds, "ratio": ratio,
                         "bar": limit, "verdict": "PASS" if ratio <= limit else "FAIL",
                         "max_kkt_residual": float(np.max(solution.kkt_residual)), "iterations": solution.iterations})
            bars.append({"section": "shapes", "name": f"{divergence}: exact ≤ {limit:g}× floor at N×K = {n}×{k}",
                         "status": "PASS" if ratio <= limit else "FAIL", "measured": ratio, "threshold": limit,
                         "detail": f"{ratio:.2f}× floor ({exact.seconds:.3g} s vs {floor.seconds:.3g} s)"})
    return rows, bars


_SHAPES_COLUMNS = (
    _Column("divergence", 12, lambda row: str(row["divergence"])),
    _Column("N × K", 14, lambda row: f"{row['n']}×{row['k']}"),
    _Column("floor s", 9, lambda row: _format_number(row["floor_seconds"], ".3g")),
    _Column("exact s", 9, lambda row: _format_number(row["exact_seconds"], ".3g")),
    _Column("×floor", 7, lambda row: _format_number(row["ratio"], ".3g")),
    _Column("bar", 5, lambda row: _format_number(row["bar"], "g")),
    _Column("", 5, lambda row: row["verdict"]),
    _Column("max KKT", 8, lambda row: _format_number(row["max_kkt_residual"], ".1e")),
)


def _shapes_note(settings: _Settings) -> str:
    if not settings.shapes:
        return "off: pass --shapes (issue 17's table: N·K fixed, K = 3 … 10^6, every divergence against its bar)."
    return (f"N·K = {settings.shapes_total}; floor = row-wise numpy log-softmax of log q + r/β on the same (N, K) "
            "array, timed interleaved with the exact solve (certificate included); bars: reverse_kl ≤ 3.5×, others "
            "≤ 8× (issue 17).")
