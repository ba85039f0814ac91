"""The bridge section of ``pmtheory bench``: the sequence log-probability throughput of
:func:`pmtheory.bridge.sequence_log_probs` (batched, padded) against the per-sequence loop.

In tokens/s, on the tiny OPT by default or on ``--bridge-model PATH`` (``--bridge-device cuda
--bridge-dtype bfloat16`` on a GPU; ``--bridge-model none`` skips it; without torch the
section says so and is skipped). "The module doc" below is that of :mod:`pmtheory.bench`.
"""

from __future__ import annotations

from typing import Callable

from pmtheory.bench._common import _Settings
from pmtheory.bench._output import _Column, _format_number

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
