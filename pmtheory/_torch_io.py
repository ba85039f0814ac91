"""torch tensors in and out of the exact solvers (issue 16, section 1).

A call whose array arguments include a torch tensor is solved by the numpy solvers, in float64
on the host, and its arrays come back as torch tensors on the device of the first tensor
argument, in its floating dtype (float64 stays float64; float32 and float16 give float32). The
certificate is taken and enforced in float64 before the answer is cast, exactly as for numpy
inputs, and a tensor in a narrower float is held to the normalization tolerance of its own
precision (:func:`pmtheory._validation.normalization_tolerance`).

Why one implementation and not the array-API namespace of the input or a backend table: the
solvers' speed comes from numpy machinery that has no torch counterpart of the same cost (passes
in cache-sized blocks with ``out=`` ufuncs, dot products handed to BLAS in chunks), and their
certificates were fuzzed at 10^5 adversarial inputs (``tests/fuzz_solvers.py``). A second,
torch implementation would need the same fuzzing to be trusted. The cost is the copy to the host
and back, measured by ``pmtheory bench --torch`` against a torch log-softmax floor on the same
device.

bfloat16 tensors are refused with the fix (numpy has no bfloat16 to carry their rounding into the
tolerance): upcast with ``.float()`` and renormalize, e.g. ``torch.log_softmax(logits.float(), -1)``.

torch is imported only when a tensor is passed (an object whose type comes from the ``torch``
package), so the solvers never import it themselves.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import fields, is_dataclass, replace

import numpy as np

__all__ = ["accepts_torch", "is_tensor"]


def is_tensor(value) -> bool:
    """Whether ``value`` is a torch tensor (checked without importing torch)."""
    return type(value).__module__.split(".", 1)[0] == "torch" and hasattr(value, "detach")


def _to_numpy(value, name: str):
    import torch

    if value.dtype == torch.bfloat16:
        raise TypeError(f"{name} is a bfloat16 tensor, which numpy cannot hold with its rounding; pass "
                        f"{name}.float() (and renormalize it, e.g. torch.log_softmax(logits.float(), -1))")
    if value.is_complex():
        raise TypeError(f"{name} must be a real tensor, got {value.dtype}; pass {name}.real if the imaginary "
                        "part is zero")
    return value.detach().cpu().numpy()


def _to_tensor(value, device, dtype):
    import torch

    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return torch.as_tensor(value, dtype=dtype, device=device)
    if isinstance(value, np.floating):
        return torch.as_tensor(float(value), dtype=dtype, device=device)
    return value


def _output_dtype(tensors):
    import torch

    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def accepts_torch(*names: str):
    """Decorator: let the arguments ``names`` of a numpy solver be torch tensors.

    Tensors among them are converted to numpy (their own dtype, on the host) before the call;
    the result (an array, or a dataclass of arrays such as :class:`pmtheory.solvers.Solution`)
    comes back as tensors on the first tensor's device, in float64 if any tensor was float64,
    else float32. Calls without tensors are passed through untouched.
    """

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            # The common numpy call pays one type check per argument, not a signature binding.
            if not any(map(is_tensor, args)) and not any(map(is_tensor, kwargs.values())):
                return function(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            tensors = [(name, bound.arguments[name]) for name in names
                       if name in bound.arguments and is_tensor(bound.arguments[name])]
            if not tensors:
                return function(*args, **kwargs)
            for name, value in tensors:
                bound.arguments[name] = _to_numpy(value, name)
            device = tensors[0][1].device
            dtype = _output_dtype([value for _, value in tensors])
            result = function(*bound.args, **bound.kwargs)
            if is_dataclass(result):
                return replace(result, **{f.name: _to_tensor(getattr(result, f.name), device, dtype)
                                          for f in fields(result) if f.init})
            return _to_tensor(result, device, dtype)

        return wrapper

    return decorate
