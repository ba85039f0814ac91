"""An independent high-precision reference for the f-regularized optimum.

This solver shares nothing with :mod:`pmtheory.solvers` but the definition of f: it works
in mpmath at many digits, uses the textbook form of MOD Lemma 1,

.. math::  π(y) = q(y)·(f')^{-1}(a(y) − Z),   a = r/β,

and finds Z by plain bisection on MOD Prop 1's bracket [t1, t2] (seed 004, App E.2), taking
(f')⁻¹ = +∞ above sup f' so that the bisection is well defined on the whole bracket. It is
slow (pure Python, O(K·digits) operations) and meant for tests, claim re-checks and the
accuracy column of the benchmark, on small K.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np

from pmtheory._validation import as_float_array, check_finite, check_log_probabilities, check_positive_scalar
from pmtheory.divergences import get_divergence

__all__ = ["high_precision_optimal_policy"]

# The fewest working digits accepted: the bisection resolves Z only to 10^(5 − digits) relative
# to the bracket, and a float64 answer (17 significant digits) needs that far below 1e-17.
_MIN_DIGITS = 30


def _inverse_derivative(name: str, alpha):
    """(f')⁻¹ as an mpmath function of u, +inf above sup f' (barriers), 0 below f'(0) (chi2)."""
    if name == "reverse_kl":
        return lambda u: mpmath.exp(u - 1)
    if name == "forward_kl":
        return lambda u: mpmath.inf if u >= 0 else -1 / u
    if name == "js":
        log2 = mpmath.log(2)
        return lambda u: mpmath.inf if u >= log2 else mpmath.exp(u) / (2 - mpmath.exp(u))
    if name == "hellinger":
        return lambda u: mpmath.inf if u >= 1 else 1 / (1 - u) ** 2
    if name == "chi2":
        return lambda u: max(mpmath.mpf(0), 1 + u / 2)
    if name.startswith("alpha:"):
        a = mpmath.mpf(alpha)
        return lambda u: mpmath.inf if u >= 1 / a else (1 - a * u) ** (-1 / a)
    raise ValueError(f"no high-precision reference for divergence {name!r} (tv is a linear program)")


def high_precision_optimal_policy(rewards, log_reference, *, divergence="reverse_kl", beta=1.0,
                                  digits: int | None = None) -> np.ndarray:
    """log π* for one prompt, from an mpmath bisection at ``digits`` significant digits.

    Source: seed 004, Lemma 1 and Prop 1 (bracket [t1, t2]).

    Args:
      rewards: shape (K,), finite.
      log_reference: shape (K,), normalized log-probabilities.
      divergence: any divergence except ``tv``.
      beta: β > 0.
      digits: working precision, an int ≥ 30; by default enough to resolve Z to 1e-30 relative
        even when the smallest reference probability is e^{min log_reference} (d ~ q_min at worst).

    Returns:
      log π*, shape (K,), float64 (each entry correctly rounded from the mpmath value).
    """
    div = get_divergence(divergence)
    rewards = as_float_array(rewards, "rewards")
    log_q = as_float_array(log_reference, "log_reference")
    if rewards.ndim != 1 or log_q.shape != rewards.shape:
        raise ValueError(f"rewards and log_reference must both have shape (K,), got {rewards.shape} and {log_q.shape}")
    check_finite(rewards, "rewards")
    check_log_probabilities(log_q, "log_reference")
    beta = check_positive_scalar(beta, "beta")
    if digits is None:
        largest = float(np.max(np.abs(rewards)))
        ratio = largest / beta  # max |a|; inf when beyond float range (mpmath below is not limited)
        spread = math.log10(ratio + 1.0) if math.isfinite(ratio) else math.log10(largest) - math.log10(beta)
        digits = 40 + int(-log_q.min() / math.log(10)) + int(spread)
    elif isinstance(digits, bool) or not isinstance(digits, (int, np.integer)):
        raise TypeError(f"digits must be an int (or None for the default), got {digits!r}")
    elif digits < _MIN_DIGITS:
        raise ValueError(f"digits must be at least {_MIN_DIGITS} for a float64 answer, got {digits}; "
                         "pass None for the default")
    digits = int(digits)  # a numpy integer too
    with mpmath.workdps(digits):
        inverse = _inverse_derivative(div.name, div.alpha)
        a = [mpmath.mpf(float(r)) / mpmath.mpf(beta) for r in rewards]
        q = [mpmath.exp(mpmath.mpf(float(lq))) for lq in log_q]
        total = mpmath.fsum(q)
        q = [x / total for x in q]  # renormalize at full precision
        f1 = mpmath.mpf(div.f_prime_at_one)  # exact for every member: 1, -1 or 0
        lo, hi = min(a) - f1, max(a) - f1  # Prop 1: φ(t1) ≥ 0 ≥ φ(t2)

        def phi(t):
            return mpmath.fsum(qi * inverse(ai - t) for qi, ai in zip(q, a)) - 1

        tolerance = mpmath.mpf(10) ** (-(digits - 5)) * (1 + abs(hi))
        while hi - lo > tolerance:
            mid = (lo + hi) / 2
            if phi(mid) > 0:
                lo = mid
            else:
                hi = mid
        z = (lo + hi) / 2
        policy = [qi * inverse(ai - z) for qi, ai in zip(q, a)]
        norm = mpmath.fsum(policy)
        return np.array([float(mpmath.log(p / norm)) if p > 0 else -np.inf for p in policy])
