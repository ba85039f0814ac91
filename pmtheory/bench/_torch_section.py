"""The torch section of ``pmtheory bench``: the exact solvers on torch tensors (issue 16).

At (batch 8, K = 50 272), the vocabulary of OPT: :func:`pmtheory.optimal_policy` on float64
torch tensors (which round-trips through the numpy solvers, see :mod:`pmtheory._torch_io`)
against a floor of ``torch.log_softmax`` on the same tensor and device, timed interleaved.
``--torch-device`` picks the device (default cpu; only measured numbers are reported, so a GPU
row appears only when one was there); ``--torch-device none`` skips the section, and without
torch it says so. "The module doc" below is that of :mod:`pmtheory.bench`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pmtheory.bench._common import _Settings, _time_calls
from pmtheory.bench._output import _Column, _format_number

_TORCH_SHAPE = (8, 50_272)  # a batch of 8 next-token distributions over OPT's vocabulary


def _torch_rows(settings: _Settings, progress: Callable[[str], None]) -> tuple[list[dict], list[dict]]:
    """One row per divergence: solves per second on torch tensors, and the ratio to the floor."""
    if settings.torch_device == "none":
        return [], []
    base = {"section": "torch", "device": settings.torch_device, "batch": _TORCH_SHAPE[0], "k": _TORCH_SHAPE[1]}
    try:
        import torch
    except ModuleNotFoundError as error:
        return [{**base, "status": f"skipped: {error.name} is not installed (pip install -e '.[bridge]')"}], []
    from pmtheory import optimal_policy

    try:
        device = torch.device(settings.torch_device)
        generator = np.random.default_rng(settings.seed)
        rewards = torch.as_tensor(generator.standard_normal(_TORCH_SHAPE) * settings.reward_scale, device=device)
        logits = torch.as_tensor(generator.standard_normal(_TORCH_SHAPE) * settings.logit_std, device=device)
    except (RuntimeError, ValueError) as error:
        return [{**base, "status": f"skipped: device {settings.torch_device!r} is not available ({error})"}], []
    log_reference = torch.log_softmax(logits, dim=-1)
    repeats = 1 if settings.quick else settings.repeats

    def synchronized(call):
        def run():
            result = call()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return result

        return run

    rows = []
    for divergence in settings.divergences:
        progress(f"torch: {divergence} at {_TORCH_SHAPE[0]} × {_TORCH_SHAPE[1]} on {device}")
        (_, floor), (solution, exact) = _time_calls(
            [synchronized(lambda: torch.log_softmax(logits, dim=-1)),
             synchronized(lambda divergence=divergence: optimal_policy(rewards, log_reference=log_reference,
                                                                       divergence=divergence, beta=settings.beta))],
            repeats, settings.statistic)
        rows.append({**base, "divergence": divergence, "status": "ok", "floor_seconds": floor.seconds,
                     "exact_seconds": exact.seconds, "solves_per_second": _TORCH_SHAPE[0] / exact.seconds,
                     "ratio": exact.seconds / floor.seconds,
                     "max_kkt_residual": float(solution.kkt_residual.max()),
                     "returned": f"{type(solution.policy).__module__}.{type(solution.policy).__name__} on "
                                 f"{solution.policy.device}"})
    return rows, []


_TORCH_COLUMNS = (
    _Column("divergence", 12, lambda row: str(row.get("divergence", "-"))),
    _Column("device", 7, lambda row: row["device"]),
    _Column("floor s", 9, lambda row: _format_number(row.get("floor_seconds"), ".3g")),
    _Column("exact s", 9, lambda row: _format_number(row.get("exact_seconds"), ".3g")),
    _Column("ratio", 7, lambda row: _format_number(row.get("ratio"), ".3g")),
    _Column("rows/s", 9, lambda row: _format_number(row.get("solves_per_second"), ".4g")),
    _Column("max KKT", 8, lambda row: _format_number(row.get("max_kkt_residual"), ".1e")),
)


def _torch_note(settings: _Settings) -> str:
    return (f"batch {_TORCH_SHAPE[0]} × K = {_TORCH_SHAPE[1]} float64 torch tensors; floor = torch.log_softmax on the "
            "same tensor and device; exact = pmtheory.optimal_policy on the tensors (solved by the numpy solvers on "
            "the host, certificate included, answer returned as tensors on the device); ratio = exact / floor; "
            "--torch-device none skips this section.")
