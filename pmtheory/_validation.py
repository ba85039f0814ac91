"""Input checks shared by the public functions.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose message
names the argument, what was expected and what was received, so that a user can fix the
call without reading the source.
"""

from __future__ import annotations

import numpy as np

# How far a probability vector may be from summing to one (or a log-probability vector from
# log-summing to zero) and still count as normalized: a vector that was normalized in float64
# and then passed through a few arithmetic steps is off by O(K·eps); 1e-8 leaves room for
# float32 inputs that were normalized in float32 (eps32 ≈ 1.2e-7 per entry is too loose for
# K > 100, so such inputs should be renormalized by the caller, and the message says so).
NORMALIZATION_TOLERANCE = 1e-8


def as_float_array(value, name: str, *, min_ndim: int = 1) -> np.ndarray:
    """Return ``value`` as a float64 array with at least ``min_ndim`` dimensions."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a {type(value).__name__}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of real numbers ({error})") from None
    if array.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s) (..., K), got shape {array.shape}"
        )
    if array.ndim >= 1 and array.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one response (K >= 1), got shape {array.shape}")
    return array


def check_finite(array: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{name} must be finite, got {array[tuple(bad)]} at index {tuple(int(i) for i in bad)}"
        )


def check_positive_scalar(value, name: str) -> float:
    if isinstance(value, (bool, str, bytes)) or not np.isscalar(value):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_probabilities(array: np.ndarray, name: str, *, strictly_positive: bool) -> None:
    """Check that the last axis of ``array`` is a probability vector."""
    check_finite(array, name)
    if strictly_positive and np.any(array <= 0):
        raise ValueError(
            f"{name} must be strictly positive (min {array.min()!r}); pass log_reference for "
            "probabilities below float range, and drop responses whose probability is exactly 0"
        )
    if np.any(array < 0):
        raise ValueError(f"{name} must be non-negative, got min {array.min()!r}")
    total = array.sum(axis=-1)
    worst = float(np.max(np.abs(total - 1.0)))
    if worst > NORMALIZATION_TOLERANCE:
        raise ValueError(
            f"{name} must sum to 1 along its last axis (within {NORMALIZATION_TOLERANCE}), "
            f"got sums off by up to {worst:.3g}; divide by the sum first"
        )


def check_log_probabilities(array: np.ndarray, name: str) -> None:
    """Check that the last axis of ``array`` holds finite, normalized log-probabilities."""
    from scipy.special import logsumexp

    check_finite(array, name)
    total = logsumexp(array, axis=-1)
    worst = float(np.max(np.abs(total)))
    if worst > NORMALIZATION_TOLERANCE:
        raise ValueError(
            f"{name} must log-sum-exp to 0 along its last axis (within {NORMALIZATION_TOLERANCE}), "
            f"got up to {worst:.3g}; subtract scipy.special.logsumexp(x, axis=-1, keepdims=True)"
        )


def check_same_shape(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape (..., K), got {a.shape} and {b.shape}"
        )
