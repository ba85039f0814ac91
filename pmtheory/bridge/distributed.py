"""Data-parallel training across processes: the prompts sharded, the gradients summed.

:func:`pmtheory.bridge.training.train_on_response_set` runs in every process that
``accelerate launch`` (or ``torch.distributed.run``) starts; this module gives it the process
group and the three collective operations it needs.

Why ``torch.distributed`` directly and not accelerate's ``Accelerator``/DDP: the training loop
evaluates the objective in several forward passes per step (``batch_size`` pairs each) before
one backward pass, takes a Jacobian with one ``autograd.grad`` per log-probability (the natural
optimizer), and runs no-grad forward passes for the callback and the result. DistributedDataParallel
reduces gradients from hooks that fire during backward and expects one forward per backward
(else ``no_sync`` juggling and ``find_unused_parameters``); a process with an empty shard
(fewer prompts than processes) would not run backward at all and DDP would hang. Summing the
gradients explicitly after ``backward()`` needs none of that, works the same with or without
:class:`~pmtheory.bridge.training.MasterWeights` (the sum comes before ``gradients_to_masters``,
as DDP's would), and keeps accelerate an optional dependency: ``accelerate launch`` only sets
the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``),
and :func:`current_world` initializes the process group from it (``env://``; NCCL for CUDA
parameters, gloo otherwise) unless the script already has (e.g. through ``Accelerator()``).

The shards: process r of W takes the contiguous rows ``[r·N // W, (r+1)·N // W)`` of the
(N, K) problem (sizes differ by at most one; a process may get none). The objective is a mean
over the N prompts, so a process's loss is its shard's mean weighted by n_r/N, and the
all-reduce SUM of the gradients is the gradient of the full objective (no padding).

Source: none beyond the data-parallel identity ∇(1/N)Σ_x J_x = Σ_r (n_r/N)·∇(1/n_r)Σ_{x∈r} J_x.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["World", "current_world", "shard_rows"]

# Gradients are summed in flat buckets of at most this many elements (one all-reduce each).
_BUCKET_ELEMENTS = 1 << 24


def shard_rows(n: int, rank: int, size: int) -> slice:
    """The rows ``[rank·n // size, (rank+1)·n // size)`` of process ``rank`` of ``size``: contiguous,
    covering 0..n−1 exactly once over the ranks, sizes differing by at most one."""
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"rank must be in [0, size) with size >= 1, got rank {rank}, size {size}")
    return slice(rank * n // size, (rank + 1) * n // size)


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` training processes (rank 0 is the main process)."""

    rank: int = 0
    size: int = 1

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints and shows progress."""
        return self.rank == 0

    def rows(self, n: int) -> slice:
        """This process's shard of ``n`` prompts (:func:`shard_rows`)."""
        return shard_rows(n, self.rank, self.size)

    def gather_rows(self, shard: torch.Tensor, rows: slice, n: int) -> torch.Tensor:
        """The full (n, K) tensor from every process's (n_r, K) rows ``rows``, the same on every
        process (and bitwise exact: each entry is one process's value plus zeros)."""
        if not self.distributed:
            return shard
        full = torch.zeros((n, *shard.shape[1:]), dtype=shard.dtype, device=shard.device)
        full[rows] = shard
        torch.distributed.all_reduce(full, op=torch.distributed.ReduceOp.SUM)
        return full

    def sum_gradients(self, parameters) -> None:
        """Replace each parameter's ``.grad`` by its sum over the processes (in float32 at least,
        then cast back); a parameter none of the processes has a gradient for keeps ``None``, as
        in one process. Every process must call this at the same step."""
        if not self.distributed:
            return
        parameters = list(parameters)
        if not parameters:
            return
        device = parameters[0].device
        present = torch.tensor([p.grad is not None for p in parameters], dtype=torch.float32, device=device)
        torch.distributed.all_reduce(present, op=torch.distributed.ReduceOp.SUM)
        active = [p for p, flag in zip(parameters, present.tolist()) if flag > 0]
        dtype = torch.float64 if any(p.dtype == torch.float64 for p in active) else torch.float32
        bucket: list[torch.Tensor] = []
        count = 0
        for parameter in active:
            bucket.append(parameter)
            count += parameter.numel()
            if count >= _BUCKET_ELEMENTS:
                _sum_bucket(bucket, dtype)
                bucket, count = [], 0
        if bucket:
            _sum_bucket(bucket, dtype)

    def broadcast_from_main(self, tensors) -> None:
        """Overwrite ``tensors`` (in place) with the main process's values, as DDP does with the
        parameters when it starts."""
        if self.distributed:
            with torch.no_grad():
                for tensor in tensors:
                    torch.distributed.broadcast(tensor.data, src=0)

    def check_same(self, value: int, what: str, fix: str) -> None:
        """Raise ValueError on every process unless ``value`` is the same on all of them."""
        if not self.distributed:
            return
        both = torch.tensor([value, -value], dtype=torch.float64, device=_collective_device())
        torch.distributed.all_reduce(both, op=torch.distributed.ReduceOp.MAX)
        if both[0] != -both[1]:
            raise ValueError(f"the processes disagree on {what} (from {-float(both[1]):g} to {float(both[0]):g}); "
                             f"{fix}")


def _sum_bucket(parameters, dtype: torch.dtype) -> None:
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(dtype)
                      for p in parameters])
    torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
    offset = 0
    for parameter in parameters:
        n = parameter.numel()
        parameter.grad = flat[offset:offset + n].view_as(parameter).to(parameter.dtype).clone()
        offset += n


def _collective_device() -> torch.device:
    """Where the process group's backend wants small tensors: the current CUDA device for NCCL."""
    if torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def current_world(device: torch.device | str = "cpu") -> World:
    """This process's :class:`World`: one process unless launched with ``WORLD_SIZE`` > 1 (by
    ``accelerate launch`` or ``torch.distributed.run``) or an initialized process group.

    Initializes the default process group from the environment when the launcher set it up and
    nobody has initialized it yet: backend NCCL when ``device`` is a CUDA device (set as the
    current device first), gloo otherwise.

    Raises:
      RuntimeError: WORLD_SIZE > 1 but torch was built without torch.distributed.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return World(rank=torch.distributed.get_rank(), size=torch.distributed.get_world_size())
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    if not torch.distributed.is_available():
        raise RuntimeError(f"WORLD_SIZE is {size} but this torch has no torch.distributed; run a single process "
                           "(unset WORLD_SIZE) or install a torch build with distributed support")
    device = torch.device(device)
    if device.type == "cuda":
        if device.index is not None:
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend="nccl")
    else:
        torch.distributed.init_process_group(backend="gloo")
    return World(rank=torch.distributed.get_rank(), size=torch.distributed.get_world_size())
