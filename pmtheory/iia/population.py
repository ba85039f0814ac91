"""Population limits (|D| → ∞) of RLPO, DPO, IL and SLiC under Assumptions 1-3 (seed 002).

Computed by summing over the finite distribution of choice-set compositions
(|Y ∩ M1| ~ Binomial(|Y|, P_ref(M1)) under Assumption 1), never by sampling.

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), Props 4-7, Lemmas 9-13, 17, §5.5
(eq 15-16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.special import expit, gammaln, log_expit, logsumexp

from pmtheory._validation import as_float_array
from pmtheory.iia._common import _bisect, _category_sizes, _choice_set_size, _positive, _unit
from pmtheory.iia.compositions import _mixed_weights, exact_reward_gap_sign
from pmtheory.iia.il_slic import _slic_terms

__all__ = [
    "DpoLimit",
    "PopulationLimit",
    "SlicLimit",
    "population_dpo_limit",
    "population_il_p_m1",
    "population_reward_gap",
    "population_reward_gap_grid",
    "population_rlpo_limit",
    "population_slic_limit",
]


# ---------------------------------------------------------------------------------------
# Population limits
# ---------------------------------------------------------------------------------------


def population_reward_gap(choice_set_size: int, p_ref_m1: float, p_star_1: float) -> float:
    """Population limit of RLPO's fitted reward gap ψ̂2 − ψ̂1 under Assumptions 1-2.

    The large-|D| minimizer of (7)/|D|: the root in d of
    Σ_{k=1}^{n-1} w_k σ(−d − ln(k2/k1)) = p, with w_k = P(|Y∩M1| = k | mixed); solved in
    log space by bisection on the bracket [−logit p − ln(n−1), −logit p + ln(n−1)].
    Its sign is that of F(P_ref(M1)) − p*(1) (see :func:`exact_reward_gap_sign`).

    Source: seed 002, Props 4-5, Lemmas 9-12 (the population version of their argument).

    Args:
      choice_set_size: n = |Y| >= 2.
      p_ref_m1: ζ = P_ref(M1).
      p_star_1: p = p*(1).

    Returns:
      The gap (positive: the reward favours M2); never NaN.

    Raises:
      ValueError: no minimizer exists: p is 0 or 1 (every mixed choice falls in one
        category, so the population loss decreases without bound in one direction), or ζ
        is 0 or 1 (no choice set mixes the categories: the loss does not depend on the gap).
    """
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1")
    p = _unit(p_star_1, "p_star_1")
    if zeta in (0.0, 1.0):
        raise ValueError(
            f"no population minimizer is identified at p_ref_m1 = {zeta}: no choice set meets both categories, so "
            "the population reward loss does not depend on ψ2 − ψ1"
        )
    if p in (0.0, 1.0):
        side = "M2" if p == 0.0 else "M1"
        raise ValueError(
            f"the population reward loss has no minimizer at p_star_1 = {p}: every mixed choice is in {side}, so the "
            f"loss keeps decreasing as the reward of {side} grows (the paper's convention then sets ψ̂ = 0)"
        )
    return float(_population_gap_array(n, np.array([zeta]), np.array([p]))[0])


def population_reward_gap_grid(choice_set_size: int, p_ref_m1, p_star_1) -> np.ndarray:
    """:func:`population_reward_gap` vectorized over arrays of ζ and p (broadcast together).

    Source: seed 002, Props 4-5 (the population version of their argument).

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: (...) ζ, strictly between 0 and 1.
      p_star_1: (...) p, strictly between 0 and 1.

    Returns:
      (...) gaps; never NaN.

    Raises:
      ValueError: an entry is 0, 1 or outside [0, 1] (no minimizer there; see the scalar form).
    """
    n = _choice_set_size(choice_set_size)
    zeta = as_float_array(p_ref_m1, "p_ref_m1", min_ndim=0)
    p = as_float_array(p_star_1, "p_star_1", min_ndim=0)
    for array, name in ((zeta, "p_ref_m1"), (p, "p_star_1")):
        if np.any(~(array > 0)) or np.any(~(array < 1)):
            raise ValueError(f"{name} must lie strictly between 0 and 1 for a population minimizer; use "
                             "population_reward_gap on a single point to see why an end point has none")
    return _population_gap_array(n, zeta, p)


def _population_gap_array(n: int, zeta: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Vectorized population gap for ζ, p in (0, 1) (arrays of one shape): the root in d of
    Σ_k w_k σ(−d − b_k) = p, solved as ln Σ_k w_k σ(−d − b_k) = ln p where p <= 1/2 and as
    ln Σ_k w_k σ(d + b_k) = ln(1 − p) otherwise (no cancellation at either end)."""
    zeta, p = np.broadcast_arrays(np.asarray(zeta, dtype=np.float64), np.asarray(p, dtype=np.float64))
    k1 = np.arange(1, n, dtype=np.float64)
    log_binomial = gammaln(n + 1) - gammaln(k1 + 1) - gammaln(n - k1 + 1)
    logs = log_binomial + k1 * np.log(zeta)[..., None] + (n - k1) * np.log1p(-zeta)[..., None]
    log_w = logs - logsumexp(logs, axis=-1, keepdims=True)  # (..., n-1): P(k | mixed)
    offsets = np.log(n - k1) - np.log(k1)
    log_p, log_q = np.log(p), np.log1p(-p)
    low_side = p <= 0.5

    def function(d):  # increasing in d on both branches
        lower = logsumexp(log_w + log_expit(-d[..., None] - offsets), axis=-1) - log_p
        upper = logsumexp(log_w + log_expit(d[..., None] + offsets), axis=-1) - log_q
        return np.where(low_side, -lower, upper)

    spread = math.log(n - 1)
    center = log_q - log_p
    lo, hi = np.nextafter(center - spread, -np.inf), center + spread
    lo, hi = _bisect(function, lo, hi)
    return np.where(np.abs(function(lo)) < np.abs(function(hi)), lo, hi)


@dataclass(frozen=True)
class PopulationLimit:
    """The |D| → ∞ behaviour of RLPO's (or DPO's) P(M1) under Assumptions 1-3."""

    reward_gap: float | None  # population ψ̂2 − ψ̂1 (None when there is no population minimizer)
    p_m1_limit: float | None  # the limit of P(M1) in probability, or None when it has none
    law: str  # in words: "→ 0", "→ 1", "Bernoulli(1/2) in distribution", or the convention's value
    reason: str  # why


def population_rlpo_limit(choice_set_size: int, p_ref_m1, p_star_1) -> PopulationLimit:
    """The |D| → ∞ limit of RLPO's P(M1) under Assumptions 1-3, for any β > 0.

    With the population gap d*: P(M1) = σ(logit ζ − |D| ψ̂gap/β) → 0 if d* > 0 and → 1 if
    d* < 0. At d* = 0 (p*(1) = F(ζ)), √|D|·ψ̂gap is asymptotically a centred normal, so P(M1)
    converges in distribution to a fair coin on {0, 1} and has no limit in probability.
    At p*(1) ∈ {0, 1} the reward loss has no minimizer for any dataset with a mixed set, ψ̂ = 0
    and P(M1) = P_ref(M1) for every |D|. The sign is decided in exact rational arithmetic of the
    inputs (pass Fractions for exact thresholds).

    Source: seed 002, Prop 4, Lemma 10; the threshold case is this module's addition.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1) (float or Fraction).
      p_star_1: p in [0, 1] (float or Fraction).

    Returns:
      A :class:`PopulationLimit`.
    """
    n = _choice_set_size(choice_set_size)
    zeta, p = Fraction(p_ref_m1), Fraction(p_star_1)
    if not 0 < zeta < 1:
        raise ValueError(f"p_ref_m1 must be strictly between 0 and 1, got {zeta}")
    if not 0 <= p <= 1:
        raise ValueError(f"p_star_1 must be in [0, 1], got {p}")
    if p in (0, 1):
        return PopulationLimit(None, float(zeta), "= P_ref(M1) for every |D| (ψ̂ = 0)",
                               "no mixed choice in one category: (7) has no minimizer, the convention ψ̂ = 0 applies")
    gap = population_reward_gap(n, float(zeta), float(p))
    sign = exact_reward_gap_sign(n, zeta, p)
    if sign > 0:
        return PopulationLimit(gap, 0.0, "→ 0", "p*(1) < F(P_ref(M1)): the population reward favours M2")
    if sign < 0:
        return PopulationLimit(gap, 1.0, "→ 1", "p*(1) > F(P_ref(M1)): the population reward favours M1")
    return PopulationLimit(0.0, None, "Bernoulli(1/2) in distribution",
                           "p*(1) = F(P_ref(M1)): the population gap is 0 and √|D|·gap is asymptotically N(0, σ²)")


@dataclass(frozen=True)
class DpoLimit:
    """The |D| → ∞ behaviour of DPO's P(M1) under Assumptions 1 and 3."""

    limit: PopulationLimit  # as RLPO's when a minimizer exists (Lemma 13)
    convention_p_m1: float  # P(M1) under the θ̂ = 0 convention: |M1|/(|M1| + |M2|)


def population_dpo_limit(choice_set_size: int, p_ref_m1, p_star_1, *, m1_size: int, m2_size: int) -> DpoLimit:
    """The |D| → ∞ limit of DPO's P(M1): RLPO's where (11) has a minimizer (Lemma 13); at
    p*(1) ∈ {0, 1} the convention θ̂ = 0 gives the uniform policy, P(M1) = |M1|/|M|.

    Source: seed 002, Prop 5, Lemma 13.
    """
    limit = population_rlpo_limit(choice_set_size, p_ref_m1, p_star_1)
    m1, m2 = map(float, _category_sizes(m1_size, m2_size))
    uniform = m1 / (m1 + m2)
    if limit.reward_gap is None:
        limit = PopulationLimit(None, uniform, "= |M1|/|M| for every |D| (θ̂ = 0)",
                                "no mixed choice in one category: (11) has no minimizer, "
                                "the convention θ̂ = 0 applies")
    return DpoLimit(limit=limit, convention_p_m1=uniform)


def population_il_p_m1(choice_set_size: int, p_ref_m1: float, p_star_1: float, *, m1_size, m2_size) -> np.ndarray:
    """The |D| → ∞ limit of IL's P(M1) under Assumptions 1 and 3 (β fixed).

    The data term grows with |D| while β·KL stays bounded, so the minimizer tends to that of
    the population cross-entropy, which in the per-message odds e^u = P(x∈M2)/P(x∈M1) is
    RLPO's reward loss in the gap u: u* = d*, and P(M1) = 1/(1 + m e^{d*}), m = |M2|/|M1|.
    At p*(1) = 0 (1) the limit is 0 (1); with no mixed sets (ζ ∈ {0, 1}) it is ζ.

    Source: seed 002, §5.5, eq (15)-(16) (|Y| = 2 gives 15/(15 + |M2|) at the §5.3 values),
    Prop 6.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ.
      p_star_1: p.
      m1_size, m2_size: |M1|, |M2| (scalars or arrays).

    Returns:
      P(M1) limit, shaped like the broadcast sizes.
    """
    m1, m2 = _category_sizes(m1_size, m2_size)
    zeta, p = _unit(p_ref_m1, "p_ref_m1"), _unit(p_star_1, "p_star_1")
    log_m = np.log(m2) - np.log(m1)
    if zeta in (0.0, 1.0):
        return np.broadcast_to(zeta, log_m.shape).astype(np.float64)
    if p in (0.0, 1.0):
        return np.broadcast_to(p, log_m.shape).astype(np.float64)
    return expit(-population_reward_gap(choice_set_size, zeta, p) - log_m)


@dataclass(frozen=True)
class SlicLimit:
    """The |D| → ∞ minimizer set of SLiC under Assumptions 1 and 3 (β fixed)."""

    log_odds_low: float  # lower end of the argmin of the population hinge loss in u = ln e^u
    log_odds_high: float  # upper end (equal to the lower end when the minimizer is unique)
    p_m1_low: np.ndarray  # P(M1) at the upper end: 1/(1 + m e^{u_high})
    p_m1_high: np.ndarray  # P(M1) at the lower end: 1/(1 + m e^{u_low})


def population_slic_limit(choice_set_size: int, p_ref_m1: float, p_star_1: float, *, m1_size, m2_size,
                          delta: float) -> SlicLimit:
    """The |D| → ∞ minimizer of SLiC under Assumptions 1 and 3.

    The population hinge loss E[(ln P(Y∖{y})/P(y) + δ)_+] is convex in the per-message
    log-odds u (a sum over compositions); its argmin [u_lo, u_hi] is found by bisection on
    its right- and left-derivatives. P(M1) = 1/(1 + m e^u). For |Y| = 2: u* = −δ if p > 1/2,
    +δ if p < 1/2, and the whole [−δ, δ] at p = 1/2.

    Source: seed 002, §4.3 (L_SLiC), Prop 7, Lemma 17.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1).
      p_star_1: p in (0, 1).
      m1_size, m2_size: |M1|, |M2|.
      delta: δ > 0.

    Returns:
      A :class:`SlicLimit`.
    """
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1", open_interval=True)
    p = _unit(p_star_1, "p_star_1", open_interval=True)
    delta = _positive(delta, "delta")
    m1, m2 = _category_sizes(m1_size, m2_size)
    weights, _ = _mixed_weights(n, zeta)
    table = np.zeros((n + 1, 2))
    table[1:n, 0] = p * weights
    table[1:n, 1] = (1 - p) * weights

    def slope(u, right: bool):
        arg_1, slope_1, arg_2, slope_2 = _slic_terms(np.asarray(u, dtype=np.float64), table, n, delta)
        active_1 = arg_1 >= 0 if right else arg_1 > 0
        active_2 = arg_2 > 0 if right else arg_2 >= 0
        return (table[1:n, 0] * np.where(active_1, slope_1, 0.0)).sum(axis=-1) + \
            (table[1:n, 1] * np.where(active_2, slope_2, 0.0)).sum(axis=-1)

    # The slope runs from −(1−p)·(mass of active M2 terms) < 0 to p·(...) > 0; double the
    # bracket until it straddles the sign change (the slope is monotone, so this ends).
    width = delta + math.log(n) + 1.0
    while slope(np.array(-width), right=True) >= 0 or slope(np.array(width), right=False) <= 0:
        width *= 2.0
        if width > 1e6:
            raise RuntimeError("population_slic_limit: no sign change of the slope within |u| <= 1e6")
    lo_a, lo_b = _bisect(lambda u: slope(u, right=True), np.array(-width), np.array(width))
    # u_high = sup{u : left-slope(u) <= 0}: bisect on the sign of "left-slope > 0".
    hi_a, hi_b = _bisect(lambda u: np.where(slope(u, right=False) > 0, 1.0, -1.0), np.array(-width), np.array(width))
    u_low, u_high = float(lo_b), float(hi_a)
    log_m = np.log(m2) - np.log(m1)
    return SlicLimit(u_low, max(u_high, u_low), expit(-max(u_high, u_low) - log_m), expit(-u_low - log_m))

