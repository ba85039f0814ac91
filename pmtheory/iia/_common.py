"""Input validation and vectorized bisection shared by the IIA library modules (seed 002).

Checks of composition counts ``counts[..., k, c-1]`` (how many data have k messages of M1 in
their choice set and their choice in M_c; see :func:`pmtheory.iia.data.composition_counts`),
probabilities, sizes and positive parameters; and the bisection that solves every 1-D problem
to machine precision on a bracket that comes from the math, with a certificate (the
derivative changes sign across adjacent floats).

Shape letters: ``...`` a batch (datasets, grid points), ``n`` = |Y| messages per choice
set, ``K`` messages, ``N`` data.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §5.1-5.5 (Assumptions 1-3).
"""

from __future__ import annotations

import numbers

import numpy as np

from pmtheory.iia.choice import _check_unit_interval

# Bisection stops at adjacent floats, or at this fraction of the bracket's scale for roots
# at (or within it of) 0, where adjacent floats would take ~1000 halvings to reach.
_BISECTION_FLOOR = 1e-17



# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _check_counts(counts) -> tuple[np.ndarray, int]:
    array = np.asarray(counts)
    if array.ndim < 2 or array.shape[-1] != 2 or array.shape[-2] < 2:
        raise ValueError(f"counts must have shape (..., n+1, 2) with n >= 1, got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or np.any(array != np.round(array)):
            raise TypeError(f"counts must hold non-negative integers, got dtype {array.dtype}")
    if np.any(array < 0):
        raise ValueError("counts must be non-negative")
    n = array.shape[-2] - 1
    if np.any(array[..., 0, 0] != 0) or np.any(array[..., n, 1] != 0):
        raise ValueError(
            "counts[..., 0, 0] (a choice in M1 from a set without M1) and counts[..., n, 1] (a choice "
            "in M2 from a set without M2) must be 0"
        )
    return array.astype(np.float64), n


def _unit(value, name: str, *, open_interval: bool = False) -> float:
    value = _check_unit_interval(value, name)
    if open_interval and value in (0.0, 1.0):
        raise ValueError(f"{name} must be strictly between 0 and 1 (the KL term needs P_ref > 0), got {value}")
    return value


def _size(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if np.any(~np.isfinite(array)) or np.any(array < 1) or np.any(array != np.round(array)):
        raise ValueError(f"{name} must be integers >= 1, got {value!r}")
    return array


def _positive(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def _category_sizes(m1_size, m2_size) -> tuple[np.ndarray, np.ndarray]:
    """(|M1|, |M2|) as float arrays of integers >= 1."""
    return _size(m1_size, "m1_size"), _size(m2_size, "m2_size")


def _assumption3_inputs(counts, p_ref_m1, beta) -> tuple[np.ndarray, int, float, float]:
    """(counts as floats, n, ζ in (0, 1), β > 0): the inputs every Assumption-3 loss and fit checks."""
    table, n = _check_counts(counts)
    return table, n, _unit(p_ref_m1, "p_ref_m1", open_interval=True), _positive(beta, "beta")


def _choice_set_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"choice_set_size must be an integer >= 2, got {value!r}")
    return int(value)


def _composition_logs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(log k1, log k2) for k1 = 0..n, with log 0 = −inf."""
    k1 = np.arange(n + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(k1), np.log(n - k1)



# ---------------------------------------------------------------------------------------
# Vectorized bisection
# ---------------------------------------------------------------------------------------


def _bisect(function, lo: np.ndarray, hi: np.ndarray, *, increasing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Bisection of a monotone function on [lo, hi] (elementwise) down to adjacent floats.

    ``function(t)`` is evaluated on arrays shaped like ``lo``. For an increasing function the
    invariant is f(lo) < 0 <= f(hi) (decreasing: f(lo) > 0 >= f(hi)); the caller supplies
    such a bracket. Returns the final (lo, hi): adjacent floats that straddle the sign
    change, or, for a root within 1e-17 of the bracket's scale of 0, a bracket of that
    width (the function's own rounding, >= 1e-16 relative, cannot place it more finely).
    """
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    floor = _BISECTION_FLOOR * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    for _ in range(2100):  # 2100 halvings take any finite bracket down to adjacent floats
        if np.all((np.nextafter(lo, hi) >= hi) | (hi - lo <= floor)):
            break
        mid = lo + (hi - lo) / 2
        value = function(mid)
        right = value < 0 if increasing else value > 0
        lo = np.where(right, mid, lo)
        hi = np.where(right, hi, mid)
    return lo, hi

