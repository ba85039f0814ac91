"""RLPO's reward loss (7) under Assumption 2, and the policies of RLPO (8)-(9) and DPO (11) under
Assumption 3 (seed 002).

Under Assumptions 2 and 3 (two categories M1, M2; the reward is ψ_z on M_z and the policy
uniform within each category) every loss depends on the data only through the *composition
counts* ``counts[..., k, c-1]`` (how many data have k messages of M1 in their choice set and
their choice in M_c; see :func:`pmtheory.iia.data.composition_counts`), and reduces to a 1-D
problem, solved to machine precision by bisection on a bracket that comes from the math, with a
certificate (the derivative changes sign across adjacent floats).

Where a loss has no minimizer the paper's convention applies: ψ̂ = 0 for RLPO's reward
(so the policy is P_ref) and θ̂ = 0 for DPO (so the policy is uniform over M under
Assumption 3). Results say which case occurred.

Shape letters: ``...`` a batch (datasets, grid points), ``n`` = |Y| messages per choice
set, ``K`` messages, ``N`` data.

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §4 (eq 7-11), §5.1-5.4 (Assumptions 2-3,
Props 4-5), Appendix A.1-A.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from pmtheory._validation import as_float_array, check_finite
from pmtheory.iia._common import (
    _assumption3_inputs,
    _bisect,
    _category_sizes,
    _check_counts,
    _composition_logs,
    _positive,
    _unit,
)

__all__ = [
    "CategoryPolicyFit",
    "RewardGapFit",
    "dpo_loss_assumption3",
    "fit_dpo_assumption3",
    "fit_reward_assumption2",
    "fit_rlpo_assumption23",
    "reward_loss_assumption2",
    "rlpo_log_odds_m2",
]


# ---------------------------------------------------------------------------------------
# RLPO's reward loss (7) under Assumption 2
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardGapFit:
    """The fitted reward gap ψ̂2 − ψ̂1 of RLPO's reward loss (7) under Assumption 2."""

    gap: np.ndarray  # (...) ψ̂2 − ψ̂1; 0 where no minimizer exists (the paper's ψ̂ = 0)
    has_minimizer: np.ndarray  # (...) bool: the loss attains its infimum
    loss_is_constant: np.ndarray  # (...) bool: no set mixes the categories; every ψ minimizes (0 returned)
    bracket_width: np.ndarray  # (...) final bisection bracket (adjacent floats: ~1 ulp of the gap)
    gradient_residual: np.ndarray  # (...) |∂L/∂gap| at the gap, divided by the number of mixed data


def reward_loss_assumption2(gap, counts) -> np.ndarray:
    """RLPO's reward loss (7) at ψ = (0, gap) under Assumption 2, from composition counts.

    .. math:: L(ψ) = Σ_{(Y,y)∈D} [\\ln(k_1 e^{ψ_1} + k_2 e^{ψ_2}) − ψ_{c(y)}]

    Source: seed 002, eq (7); Assumption 2; proof of Lemma 9.

    Args:
      gap: (...) ψ2 − ψ1 (broadcast against the counts' batch shape).
      counts: (..., n+1, 2) composition counts.

    Returns:
      (...) the loss.
    """
    table, n = _check_counts(counts)
    gap = np.asarray(gap, dtype=np.float64)[..., None]
    log_k1, log_k2 = _composition_logs(n)
    log_norm = np.logaddexp(log_k1, log_k2 + gap)  # (..., n+1)
    loss = table[..., 0] * log_norm + table[..., 1] * (log_norm - gap)
    return np.where(table[..., 0] + table[..., 1] > 0, loss, 0.0).sum(axis=-1)


def _reward_gradient(gap: np.ndarray, table: np.ndarray, n: int) -> np.ndarray:
    """∂L/∂gap = Σ_k N_k σ(gap + ln(k2/k1)) − N2 over mixed compositions."""
    k1 = np.arange(1, n, dtype=np.float64)
    offsets = np.log(n - k1) - np.log(k1)
    mixed = table[..., 1:n, :]
    totals = mixed.sum(axis=-1)
    return (totals * expit(gap[..., None] + offsets)).sum(axis=-1) - mixed[..., 1].sum(axis=-1)


def _reward_root(table: np.ndarray, n: int):
    """Root of the reward gradient where it exists, with the bracket of the math."""
    mixed = table[..., 1:n, :]
    chose_1 = mixed[..., 0].sum(axis=-1)
    chose_2 = mixed[..., 1].sum(axis=-1)
    total = chose_1 + chose_2
    exists = (chose_1 > 0) & (chose_2 > 0)
    constant = total == 0
    # Σ N_k σ(d + b_k) = N2 with b_k = ln(k2/k1) ∈ [−ln(n−1), ln(n−1)]: the root lies in
    # [logit(N2/N) − ln(n−1), logit(N2/N) + ln(n−1)].
    with np.errstate(divide="ignore", invalid="ignore"):
        center = np.where(exists, np.log(chose_2) - np.log(chose_1), 0.0)
    spread = math.log(n - 1)
    lo, hi = center - spread, center + spread
    lo = np.nextafter(lo, -np.inf)  # strict: f(lo) < 0 <= f(hi)
    lo, hi = _bisect(lambda d: _reward_gradient(d, table, n), lo, hi)
    f_lo, f_hi = _reward_gradient(lo, table, n), _reward_gradient(hi, table, n)
    gap = np.where(np.abs(f_lo) < np.abs(f_hi), lo, hi)
    gap = np.where(exists, gap, 0.0)
    residual = np.abs(_reward_gradient(gap, table, n)) / np.maximum(total, 1.0)
    return gap, exists, constant, np.where(exists, hi - lo, 0.0), np.where(exists, residual, 0.0)


def fit_reward_assumption2(counts) -> RewardGapFit:
    """Exact minimizer of RLPO's reward loss (7) under Assumption 2 (the gap ψ̂2 − ψ̂1).

    The loss is invariant to shifting ψ, strictly convex in the gap when some choice set
    mixes the categories, and has a minimizer iff some mixed set has its choice in M1 and
    some in M2; the gap is then the root of Σ_k N_k σ(gap + ln(k2/k1)) = N2 (bisection to
    adjacent floats). Otherwise the paper's ψ̂ = 0 is returned (flagged).

    Source: seed 002, eq (7), Assumption 2, Prop 4 (the ψ̂ = 0 convention), Lemma 9.

    Args:
      counts: (..., n+1, 2) composition counts.

    Returns:
      A :class:`RewardGapFit` with fields shaped (...).
    """
    table, n = _check_counts(counts)
    gap, exists, constant, width, residual = _reward_root(table, n)
    return RewardGapFit(gap=gap, has_minimizer=exists | constant, loss_is_constant=constant,
                        bracket_width=width, gradient_residual=residual)



# ---------------------------------------------------------------------------------------
# Policies under Assumption 3: RLPO's policy step (8)-(9) and DPO (11)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryPolicyFit:
    """A fitted policy under Assumption 3, given by its category log-odds."""

    log_odds_m2: np.ndarray  # (...) t = ln P(M2)/P(M1) of the fitted policy
    p_m1: np.ndarray  # (...) P(M1) = σ(−t)
    has_minimizer: np.ndarray  # (...) bool: the loss attains its minimum (else the paper's convention)
    certificate: np.ndarray  # (...) the derivative's sign change is across this bracket width (0: convention)


def rlpo_log_odds_m2(reward_gap, *, p_ref_m1: float, num_data, beta: float) -> np.ndarray:
    """Log-odds ln P(M2)/P(M1) of the minimizer of the policy loss (8) under Assumption 3.

    By eq (9), P(x) ∝ P_ref(x) e^{r(x)|D|/β}, so t = ln((1−ζ)/ζ) + (ψ2 − ψ1)|D|/β.

    Source: seed 002, eq (8)-(9), Assumption 3, proof of Lemma 10.

    Args:
      reward_gap: (...) ψ2 − ψ1.
      p_ref_m1: ζ in (0, 1).
      num_data: |D| (scalar or (...)).
      beta: β > 0.

    Returns:
      (...) log-odds t.
    """
    zeta = _unit(p_ref_m1, "p_ref_m1", open_interval=True)
    beta = _positive(beta, "beta")
    gap = as_float_array(reward_gap, "reward_gap", min_ndim=0)
    check_finite(gap, "reward_gap")
    return math.log1p(-zeta) - math.log(zeta) + gap * np.asarray(num_data, dtype=np.float64) / beta


def fit_rlpo_assumption23(counts, *, p_ref_m1: float, beta: float) -> tuple[RewardGapFit, CategoryPolicyFit]:
    """RLPO under Assumptions 2-3: the reward fit (7), then the policy minimizing (8).

    Source: seed 002, §4.1, eq (7)-(9), Prop 4 (ψ̂ = 0 when (7) has no minimizer).

    Args:
      counts: (..., n+1, 2) composition counts; |D| is their sum.
      p_ref_m1: ζ in (0, 1).
      beta: β > 0.

    Returns:
      (the reward fit, the policy).
    """
    fit = fit_reward_assumption2(counts)
    num_data = np.asarray(counts).sum(axis=(-1, -2))
    t = rlpo_log_odds_m2(fit.gap, p_ref_m1=p_ref_m1, num_data=num_data, beta=beta)
    policy = CategoryPolicyFit(log_odds_m2=t, p_m1=expit(-t), has_minimizer=np.ones_like(t, dtype=bool),
                               certificate=np.zeros_like(t))
    return fit, policy


def _dpo_offset(zeta: float, m1_size, m2_size) -> np.ndarray:
    """ln P_ref(x ∈ M2-message) − ln P_ref(x ∈ M1-message) = ln((1−ζ)|M1| / (ζ|M2|))."""
    return math.log1p(-zeta) - math.log(zeta) + np.log(m1_size) - np.log(m2_size)


def dpo_loss_assumption3(theta_gap, counts, *, p_ref_m1: float, m1_size, m2_size, beta: float) -> np.ndarray:
    """DPO's loss (11) under Assumption 3 at θ = (0, theta_gap), from composition counts.

    The implicit reward of a message x ∈ M_z is (β/|D|) ln(P_θ(x)/P_ref(x)) with
    P_θ(x) = e^{θ_z}/(|M1|e^{θ1} + |M2|e^{θ2}); (11) is the cross-entropy of their softmax
    over each choice set.

    Source: seed 002, eq (11), Assumption 3.

    Args:
      theta_gap: (...) θ2 − θ1.
      counts: (..., n+1, 2) composition counts; |D| is their sum.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or (...)).
      beta: β > 0.

    Returns:
      (...) the loss.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    m1, m2 = _category_sizes(m1_size, m2_size)
    theta_gap = np.asarray(theta_gap, dtype=np.float64)
    num_data = table.sum(axis=(-1, -2))
    log_z = np.logaddexp(np.log(m1), np.log(m2) + theta_gap)
    implicit_1 = beta / num_data * (0.0 - log_z - (math.log(zeta) - np.log(m1)))
    implicit_2 = beta / num_data * (theta_gap - log_z - (math.log1p(-zeta) - np.log(m2)))
    log_k1, log_k2 = _composition_logs(n)
    log_norm = np.logaddexp(log_k1 + implicit_1[..., None], log_k2 + implicit_2[..., None])
    loss = table[..., 0] * (log_norm - implicit_1[..., None]) + table[..., 1] * (log_norm - implicit_2[..., None])
    return np.where(table[..., 0] + table[..., 1] > 0, loss, 0.0).sum(axis=-1)


def fit_dpo_assumption3(counts, *, p_ref_m1: float, m1_size, m2_size, beta: float) -> CategoryPolicyFit:
    """Exact minimizer of DPO's loss (11) under Assumption 3, by bisection on its derivative.

    ∂L/∂(θ2−θ1) = (β/|D|)[Σ_k N_k σ(a + ln(k2/k1)) − N2] with a = (β/|D|)(θ2−θ1 −
    ln((1−ζ)|M1|/(ζ|M2|))) is increasing; a minimizer exists iff some mixed set has its
    choice in M1 and some in M2. Otherwise the paper's θ̂ = 0 (the uniform policy over M).

    Source: seed 002, eq (11), Assumption 3, Prop 5 (θ̂ = 0 convention).

    Args:
      counts: (..., n+1, 2) composition counts; |D| is their sum.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or (...)).
      beta: β > 0.

    Returns:
      A :class:`CategoryPolicyFit`.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    m1, m2 = _category_sizes(m1_size, m2_size)
    num_data = table.sum(axis=(-1, -2))
    scale = beta / np.maximum(num_data, 1.0)
    offset = _dpo_offset(zeta, m1, m2) + np.zeros_like(scale)
    mixed = table[..., 1:n, :]
    chose_1, chose_2 = mixed[..., 0].sum(axis=-1), mixed[..., 1].sum(axis=-1)
    exists = (chose_1 > 0) & (chose_2 > 0)
    constant = (chose_1 + chose_2) == 0

    def derivative(theta_gap):
        return scale * _reward_gradient(scale * (theta_gap - offset), table, n)

    with np.errstate(divide="ignore", invalid="ignore"):
        center = np.where(exists, np.log(chose_2) - np.log(chose_1), 0.0)
    spread = math.log(n - 1)
    lo = np.nextafter((center - spread) / scale + offset, -np.inf)
    hi = (center + spread) / scale + offset
    lo, hi = _bisect(derivative, lo, hi)
    theta = np.where(np.abs(derivative(lo)) < np.abs(derivative(hi)), lo, hi)
    # No minimizer: θ̂ = 0. A constant loss: every θ minimizes; θ̂ = 0 (the minimum-norm one).
    theta = np.where(exists, theta, 0.0)
    t = theta + np.log(m2) - np.log(m1)
    return CategoryPolicyFit(log_odds_m2=t, p_m1=expit(-t), has_minimizer=exists | constant,
                             certificate=np.where(exists, hi - lo, 0.0))

