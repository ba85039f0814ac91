"""Choice-set compositions under Assumption 1 and the failure threshold F of Props 4-5 (seed 002).

|Y ∩ M1| ~ Binomial(|Y|, P_ref(M1)) under Assumption 1; F(ζ) = E[|Y ∩ M1| / n | Y meets both
categories], in floating point and in exact rational arithmetic, and the exact sign of RLPO's
population reward gap, sign(F(ζ) − p*(1)).

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), Assumption 1, Props 4-5, Lemma 12.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.special import gammaln, logsumexp

from pmtheory.iia._common import _choice_set_size, _unit

__all__ = [
    "composition_log_probabilities",
    "exact_failure_threshold",
    "exact_reward_gap_sign",
    "failure_threshold",
]


# ---------------------------------------------------------------------------------------
# Compositions and the failure threshold F
# ---------------------------------------------------------------------------------------


def composition_log_probabilities(choice_set_size: int, p_ref_m1: float) -> np.ndarray:
    """log P(|Y ∩ M1| = k) for k = 0..n under Assumption 1: Binomial(n, ζ).

    Source: seed 002, Assumption 1 and the proof of Lemma 12.

    Args:
      choice_set_size: n = |Y| >= 2.
      p_ref_m1: ζ = P_ref(M1) in [0, 1].

    Returns:
      (n+1,) log-probabilities (−inf where the probability is 0).
    """
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1")
    k = np.arange(n + 1, dtype=np.float64)
    log_binomial = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_z = np.where(k > 0, k * np.log(zeta) if zeta > 0 else -np.inf, 0.0)
        log_w = np.where(n - k > 0, (n - k) * np.log1p(-zeta) if zeta < 1 else -np.inf, 0.0)
    return log_binomial + log_z + log_w


def _mixed_weights(n: int, zeta: float) -> tuple[np.ndarray, float]:
    """Normalized probabilities of k = 1..n-1 given a mixed choice set, and log P(mixed)."""
    logs = composition_log_probabilities(n, zeta)[1:n]
    log_mixed = float(logsumexp(logs))
    if not np.isfinite(log_mixed):
        return np.zeros(n - 1), -np.inf
    return np.exp(logs - log_mixed), log_mixed


def failure_threshold(choice_set_size: int, p_ref_m1: float) -> float:
    """The threshold F of Props 4-5: F(ζ) = (ζ − ζ^n) / (1 − ζ^n − (1 − ζ)^n).

    Computed without cancellation as F(ζ) = E[|Y ∩ M1| / n | Y meets both categories].

    Source: seed 002, Props 4 and 5 (and Lemma 12, where the identity is shown).

    Args:
      choice_set_size: n = |Y| >= 2.
      p_ref_m1: ζ = P_ref(M1), strictly between 0 and 1 (F is 0/0 at the end points).

    Returns:
      F(ζ) in (1/n, (n−1)/n).
    """
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1")
    if zeta in (0.0, 1.0):
        raise ValueError(f"F is 0/0 at p_ref_m1 = {zeta}: no choice set meets both categories")
    weights, _ = _mixed_weights(n, zeta)
    return float(weights @ (np.arange(1, n) / n))


def exact_failure_threshold(choice_set_size: int, p_ref_m1) -> Fraction:
    """F(ζ) of Props 4-5 in exact rational arithmetic (ζ a Fraction, an int or a float,
    which is converted exactly).

    Source: seed 002, Props 4 and 5.
    """
    n = _choice_set_size(choice_set_size)
    zeta = Fraction(p_ref_m1)
    if not 0 < zeta < 1:
        raise ValueError(f"p_ref_m1 must be strictly between 0 and 1, got {zeta}")
    return (zeta - zeta**n) / (1 - zeta**n - (1 - zeta) ** n)


def exact_reward_gap_sign(choice_set_size: int, p_ref_m1, p_star_1) -> int:
    """The exact sign of the population reward gap ψ2 − ψ1 of RLPO: sign(F(ζ) − p*(1)).

    The population first-order condition h(x) = Σ_k w_k k/(k + (n−k)x) − p·s (x = e^{ψ2−ψ1},
    w_k the composition probabilities, s = P(mixed)) is strictly decreasing in x and equals
    s·(F(ζ) − p) at x = 1, so the gap is positive, zero or negative exactly as F − p is.

    Source: seed 002, Props 4-5 and the proof of Lemma 12 (this is the tight form).

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1), exact (Fraction / int / float converted exactly).
      p_star_1: p in (0, 1), exact.

    Returns:
      +1 (the reward favours M2), 0 (tie) or −1 (favours M1).
    """
    p = Fraction(p_star_1)
    if not 0 < p < 1:
        raise ValueError(f"p_star_1 must be strictly between 0 and 1 for a population minimizer, got {p}")
    difference = exact_failure_threshold(choice_set_size, p_ref_m1) - p
    return (difference > 0) - (difference < 0)

