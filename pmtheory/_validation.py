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
# Inputs in a narrower float (float32, float16: torch.softmax output, say) were normalized
# in that precision: their sums are off by the rounding of a sum of K terms, which grows like
# a random walk, √K·eps (torch.softmax of K = 10^6 float32 entries measured 16·eps32 =
# 1.9e-6, its bound here 4·eps32·√K = 4.8e-4). The tolerance for them is 4·eps·√K (the factor
# 4 a margin over the measured errors), never below NORMALIZATION_TOLERANCE; for float64 it
# stays NORMALIZATION_TOLERANCE up to K ~ 10^11.
_RANDOM_WALK_MARGIN = 4.0


def input_epsilon(value) -> float:
    """eps of the float type ``value`` arrives in: float32's or float16's for such numpy arrays
    and torch tensors (anything with ``__array__``), float64's for everything else (Python
    numbers, lists, integers, float64 and wider). Every computation is in float64 anyway;
    this only sets how closely a given distribution must be normalized."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not isinstance(dtype, np.dtype) and hasattr(value, "__array__"):
        try:
            dtype = np.asarray(value).dtype  # torch CPU tensors: a view, no copy
        except (TypeError, ValueError, RuntimeError):
            return float(np.finfo(np.float64).eps)  # as_float_array reports the problem
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 8:
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


def normalization_tolerance(epsilon: float, k: int) -> float:
    """How far Σ over K entries given with machine epsilon ``epsilon`` may be from 1:
    max(NORMALIZATION_TOLERANCE, 4·eps·√K) (see _RANDOM_WALK_MARGIN)."""
    return max(NORMALIZATION_TOLERANCE, _RANDOM_WALK_MARGIN * epsilon * float(np.sqrt(max(k, 1))))


def as_float_array(value, name: str, *, min_ndim: int = 1) -> np.ndarray:
    """Return ``value`` as a float64 array with at least ``min_ndim`` dimensions."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a {type(value).__name__}")
    if getattr(getattr(value, "dtype", None), "kind", None) == "c":  # numpy would drop the imaginary part
        raise TypeError(f"{name} must be an array of real numbers, got complex dtype {value.dtype}; "
                        "pass .real if the imaginary part is zero")
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
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating)) or not np.isscalar(value):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_probabilities(array: np.ndarray, name: str, *, strictly_positive: bool,
                        tolerance: float = NORMALIZATION_TOLERANCE,
                        log_hint: str = "pass log_reference") -> None:
    """Check that the last axis of ``array`` is a probability vector (Σ = 1 within
    ``tolerance``; see :func:`normalization_tolerance` for inputs narrower than float64).
    ``log_hint`` is the advice for probabilities below float range: the log-space argument
    or function the caller accepts."""
    check_finite(array, name)
    if strictly_positive and np.any(array <= 0):
        raise ValueError(
            f"{name} must be strictly positive (min {float(array.min())!r}); {log_hint} for "
            "probabilities below float range, and drop responses whose probability is exactly 0"
        )
    if np.any(array < 0):
        raise ValueError(f"{name} must be non-negative, got min {float(array.min())!r}")
    total = array.sum(axis=-1)
    worst = float(np.max(np.abs(total - 1.0), initial=0.0))  # 0 for an empty batch
    if worst > tolerance:
        raise ValueError(
            f"{name} must sum to 1 along its last axis (within {tolerance:.3g}), "
            f"got sums off by up to {worst:.3g}; divide by the sum first"
        )


def logsumexp(values: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log Σ e^x along ``axis``: a lean numpy version (scipy's is ~2.7× slower at K = 10⁶).

    Rows that are entirely −inf give −inf; +inf entries give +inf.
    """
    peak = np.max(values, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore", over="ignore"):
        total = np.log(np.sum(np.exp(values - peak), axis=axis, keepdims=True)) + peak
    return total if keepdims else np.squeeze(total, axis=axis)


# Columns per block when summing e^x over a long last axis (see check_log_probabilities).
_BLOCK = 1 << 15


def check_log_probabilities(array: np.ndarray, name: str, tolerance: float = NORMALIZATION_TOLERANCE) -> None:
    """Check that the last axis of ``array`` holds finite, normalized log-probabilities.

    Σ e^x is summed without a shift, in cache-sized blocks: a normalized row has
    max x ≥ −log K, so its sum is ≥ 1/K and the entries that underflow change it by less
    than K·5e-324; an entry above log(max float) makes the sum inf and fails, as it should.
    """
    rows = array.reshape(-1, array.shape[-1]) if array.ndim else array.reshape(1, 1)
    total = np.zeros(rows.shape[0])
    smallest = np.inf
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for start in range(0, rows.shape[1], _BLOCK):
            block = rows[:, start:start + _BLOCK]
            smallest = min(smallest, float(block.min()))
            total += np.exp(block).sum(axis=-1)
    check_log_normalization(array, name, total, smallest, tolerance)


def check_log_normalization(array: np.ndarray, name: str, total: np.ndarray, smallest: float | None,
                            tolerance: float = NORMALIZATION_TOLERANCE) -> None:
    """The verdict of :func:`check_log_probabilities` from sums a caller accumulated itself
    (in a pass it makes anyway): ``total`` = Σ e^x along the last axis (unshifted, shape
    (B,)) and ``smallest`` = min x. NaN and +inf reach the totals; −inf (a zero
    probability) shows only in the minimum: with ``smallest`` None the caller takes on
    finding −inf entries itself."""
    if not (np.all(np.isfinite(total)) and (smallest is None or smallest > -np.inf)):
        check_finite(array, name)
    with np.errstate(divide="ignore"):
        worst = float(np.max(np.abs(np.log(total)), initial=0.0))
    if not worst <= tolerance:
        worst = float(np.max(np.abs(logsumexp(array, axis=-1)), initial=0.0))  # the exact size of the miss
    if worst > tolerance:
        raise ValueError(
            f"{name} must log-sum-exp to 0 along its last axis (within {tolerance:.3g}), "
            f"got up to {worst:.3g}; subtract scipy.special.logsumexp(x, axis=-1, keepdims=True)"
        )


def check_same_shape(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape (..., K), got {a.shape} and {b.shape}"
        )
