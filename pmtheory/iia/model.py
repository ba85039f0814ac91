"""RLHF losses of seed 002 §4 and their minimizers, population limits and simulations.

The losses: RLPO's reward loss (7) followed by the policy loss (8), DPO (11), inclusive
learning (IL) and SLiC with margin δ. Each is minimized exactly

- under Assumptions 2 and 3 (two categories M1, M2; the reward is ψ_z on M_z and the policy
  uniform within each category), where every loss depends on the data only through the
  *composition counts* ``counts[..., k, c-1]`` (how many data have k messages of M1 in
  their choice set and their choice in M_c; see :func:`pmtheory.iia.data.composition_counts`),
  and reduces to a 1-D problem, solved to machine precision by bisection on a bracket that
  comes from the math, with a certificate (the derivative changes sign across adjacent
  floats); and
- in a tabular parameterization on any finite message set (a reward or a log-probability
  per message), where the reward and DPO losses are convex and solved by Newton's method
  with a gradient-norm certificate.

Where a loss has no minimizer the paper's convention applies: ψ̂ = 0 for RLPO's reward
(so the policy is P_ref) and θ̂ = 0 for DPO (so the policy is uniform over M under
Assumption 3). Results say which case occurred.

Population limits (|D| → ∞) are computed by summing over the finite distribution of
choice-set compositions (|Y ∩ M1| ~ Binomial(|Y|, P_ref(M1)) under Assumption 1), never by
sampling; :func:`reward_gap_sign_law` gives the *exact* finite-|D| law of the sign of RLPO's
fitted reward gap by an N-fold convolution of the per-datum score at ψ2 − ψ1 = 0.

Shape letters: ``...`` a batch (datasets, grid points), ``n`` = |Y| messages per choice
set, ``K`` messages, ``N`` data.

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §4 (eq 7-11, IL, SLiC),
§5.1-5.5 (Assumptions 1-3, Props 4-7, eq 12-16), §6, §7, Appendix A.
"""

from __future__ import annotations

import numbers
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.special import expit, gammaln, log_expit, logsumexp

from pmtheory._validation import as_float_array, check_finite, check_log_probabilities
from pmtheory.iia.choice import _check_unit_interval

__all__ = [
    "CategoryPolicyFit",
    "DpoLimit",
    "MessageSetSweep",
    "PopulationLimit",
    "QueryFormatStudy",
    "RewardGapFit",
    "RlpoDpoSimulation",
    "SignLaw",
    "SlicLimit",
    "TabularFit",
    "composition_log_probabilities",
    "dpo_loss_assumption3",
    "dpo_loss_tabular",
    "exact_failure_threshold",
    "exact_fixed_composition_reward_ratio",
    "exact_reward_gap_sign",
    "failure_threshold",
    "fit_dpo_assumption3",
    "fit_dpo_tabular",
    "fit_il_assumption3",
    "fit_il_tabular",
    "fit_reward_assumption2",
    "fit_reward_tabular",
    "fit_rlpo_assumption23",
    "fit_slic_assumption3",
    "fit_slic_tabular",
    "fixed_composition_reward_gap",
    "il_loss_assumption3",
    "il_loss_tabular",
    "pairwise_conversion_counts",
    "policy_loss",
    "policy_loss_minimizer",
    "population_dpo_limit",
    "population_il_p_m1",
    "population_pairwise_reward_gap",
    "population_reward_gap",
    "population_reward_gap_grid",
    "population_rlpo_limit",
    "population_slic_limit",
    "reward_gap_sign_law",
    "reward_loss_assumption2",
    "reward_loss_tabular",
    "rho_gap_event_probability",
    "rlpo_log_odds_m2",
    "simulate_il",
    "simulate_pairwise_conversion",
    "simulate_query_format_study",
    "simulate_rlpo_dpo",
    "simulate_slic",
    "slic_loss_assumption3",
    "slic_loss_tabular",
]

# Grid points of the global 1-D search for the non-convex IL and SLiC problems (the data
# term is convex in t, the KL term is not). Every local minimum whose basin is wider than
# the grid spacing is found, then refined by bisection to adjacent floats.
GLOBAL_GRID_POINTS = 2049
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


# ---------------------------------------------------------------------------------------
# IL and SLiC under Assumption 3
# ---------------------------------------------------------------------------------------


def _kl_category(t: np.ndarray, zeta: float) -> np.ndarray:
    """KL(P_π ‖ P_ref) under Assumption 3 with P_ref uniform within categories: the KL of
    the category distribution (1−q, q), q = σ(t), against (ζ, 1−ζ)."""
    q = expit(t)
    return q * (log_expit(t) - math.log1p(-zeta)) + (1 - q) * (log_expit(-t) - math.log(zeta))


def _kl_category_slope(t: np.ndarray, zeta: float) -> np.ndarray:
    """d KL / dt = σ(t)σ(−t)(t − c) with c = ln((1−ζ)/ζ)."""
    center = math.log1p(-zeta) - math.log(zeta)
    return expit(t) * expit(-t) * (t - center)


def _il_parts(table: np.ndarray, n: int):
    k1 = np.arange(1, n, dtype=np.float64)
    return np.log(k1), np.log(n - k1), table[..., 1:n, 0], table[..., 1:n, 1]


def il_loss_assumption3(log_odds_m2, counts, *, p_ref_m1: float, m1_size, m2_size, beta: float) -> np.ndarray:
    """The inclusive-learning loss under Assumption 3 at policy log-odds t = ln P(M2)/P(M1).

    .. math:: L_{IL}(π) = −Σ_{(Y,y)} \\ln \\frac{P_π(y)}{Σ_{y'∈Y} P_π(y')} + β\\,KL(P_π ‖ P_{ref})

    Source: seed 002, §4.3 (L_IL), Assumption 3, eq (24).

    Args:
      log_odds_m2: (...) t.
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or (...)).
      beta: β > 0.

    Returns:
      (...) the loss.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    m1, m2 = _category_sizes(m1_size, m2_size)
    t, u = _policy_and_message_log_odds(log_odds_m2, m1, m2)
    return _il_value(t, u, table, n, zeta, beta)


def _policy_and_message_log_odds(log_odds_m2, m1: np.ndarray, m2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t, u): the policy's category log-odds t and the per-message log-odds u = t − ln(|M2|/|M1|)."""
    t = np.asarray(log_odds_m2, dtype=np.float64)
    return t, t - (np.log(m2) - np.log(m1))


def _il_value(t, u, table, n, zeta, beta):
    log_k1, log_k2, chose_1, chose_2 = _il_parts(table, n)
    log_norm = np.logaddexp(log_k1, log_k2 + u[..., None])
    data = (chose_1 * log_norm).sum(axis=-1) + (chose_2 * (log_norm - u[..., None])).sum(axis=-1)
    pure = (table[..., 0, 1] + table[..., n, 0]) * math.log(n)
    return data + pure + beta * _kl_category(t, zeta)


def _il_slope(t, u, table, n, zeta, beta):
    log_k1, log_k2, chose_1, chose_2 = _il_parts(table, n)
    offsets = log_k2 - log_k1
    data = ((chose_1 * expit(u[..., None] + offsets)).sum(axis=-1)
            - (chose_2 * expit(-u[..., None] - offsets)).sum(axis=-1))
    return data + beta * _kl_category_slope(t, zeta)


def _slic_terms(u, table, n, delta):
    """Hinge arguments and their u-derivatives for mixed compositions (k1 = 1..n-1)."""
    k1 = np.arange(1, n, dtype=np.float64)
    k2 = n - k1
    with np.errstate(divide="ignore"):
        log_k1m, log_k2m = np.log(k1 - 1), np.log(k2 - 1)
    u = u[..., None]
    # Choice in M1: P(Y\{y})/P(y) = (k1 − 1) + k2 e^u.
    arg_1 = np.logaddexp(log_k1m, np.log(k2) + u) + delta
    slope_1 = expit(u + np.log(k2) - log_k1m)
    # Choice in M2: P(Y\{y})/P(y) = k1 e^{-u} + (k2 − 1).
    arg_2 = np.logaddexp(np.log(k1) - u, log_k2m) + delta
    slope_2 = -expit(np.log(k1) - u - log_k2m)
    return arg_1, slope_1, arg_2, slope_2


def slic_loss_assumption3(log_odds_m2, counts, *, p_ref_m1: float, m1_size, m2_size, beta: float,
                          delta: float) -> np.ndarray:
    """The SLiC loss under Assumption 3 at policy log-odds t = ln P(M2)/P(M1).

    .. math:: L_{SLiC}(π) = Σ_{(Y,y)} (\\ln \\frac{P_π(Y∖\\{y\\})}{P_π(y)} + δ)_+ + β\\,KL(P_π‖P_{ref})

    Defined here for every |Y| >= 2 (the paper states it for |Y| = 2), with P_π(Y∖{y}) the
    probability of the other members of the (multi)set.

    Source: seed 002, §4.3 (L_SLiC), Assumption 3, proof of Lemma 17.

    Args:
      log_odds_m2: (...) t.
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or (...)).
      beta: β > 0.
      delta: the margin δ > 0.

    Returns:
      (...) the loss.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    delta = _positive(delta, "delta")
    m1, m2 = _category_sizes(m1_size, m2_size)
    t, u = _policy_and_message_log_odds(log_odds_m2, m1, m2)
    return _slic_value(t, u, table, n, zeta, beta, delta)


def _slic_value(t, u, table, n, zeta, beta, delta):
    arg_1, _, arg_2, _ = _slic_terms(u, table, n, delta)
    chose_1, chose_2 = table[..., 1:n, 0], table[..., 1:n, 1]
    data = (chose_1 * np.maximum(arg_1, 0.0)).sum(axis=-1) + (chose_2 * np.maximum(arg_2, 0.0)).sum(axis=-1)
    pure = (table[..., 0, 1] + table[..., n, 0]) * max(math.log(n - 1) + delta, 0.0)
    return data + pure + beta * _kl_category(t, zeta)


def _slic_slope(t, u, table, n, zeta, beta, delta):
    """A derivative in t that is the right-derivative at kinks (used only for its sign changes)."""
    arg_1, slope_1, arg_2, slope_2 = _slic_terms(u, table, n, delta)
    chose_1, chose_2 = table[..., 1:n, 0], table[..., 1:n, 1]
    data = (chose_1 * np.where(arg_1 >= 0, slope_1, 0.0)).sum(axis=-1) + \
        (chose_2 * np.where(arg_2 > 0, slope_2, 0.0)).sum(axis=-1)
    return data + beta * _kl_category_slope(t, zeta)


def _tail_bracket(table, n, zeta, beta, log_m, lo_extra, hi_extra, a_lo, a_hi):
    """[T_lo, T_hi] outside of which the loss's t-derivative has a fixed sign.

    With c = ln((1−ζ)/ζ): for t ≤ min(0, c) the KL slope is ≤ −β(c−t)e^t/4 and the data
    slope's positive part is ≤ A_lo e^t, so the derivative is negative for t < c − 4A_lo/β;
    symmetrically for t ≥ max(0, c). ``lo_extra``/``hi_extra`` add the kinks below / above
    which hinge terms are inactive.
    """
    center = math.log1p(-zeta) - math.log(zeta)
    lo = np.minimum(np.minimum(0.0, center - 4.0 * a_lo / beta), lo_extra) - 1.0
    hi = np.maximum(np.maximum(0.0, center + 4.0 * a_hi / beta), hi_extra) + 1.0
    return lo, hi, center


def _global_minimize(value, slope, lo, hi, center, grid_points=GLOBAL_GRID_POINTS):
    """Global minimizer of a 1-D function on [lo, hi] (per batch row), whose derivative is
    negative at lo and positive at hi.

    A grid in asinh(t − center) locates every sign change − → + of the derivative (each a
    local minimum); each is refined by bisection to adjacent floats; the lowest value wins.
    ``value(t, rows)`` and ``slope(t, rows)`` evaluate at points t of rows ``rows``.

    Returns (t*, bracket width).
    """
    batch = lo.shape[0]
    rows = np.arange(batch)
    s = np.linspace(np.arcsinh(lo - center), np.arcsinh(hi - center), grid_points, axis=-1)
    grid = center[:, None] + np.sinh(s)
    grid[:, 0], grid[:, -1] = lo, hi
    slopes = slope(grid, rows[:, None])
    negative = slopes < 0
    starts = negative[:, :-1] & ~negative[:, 1:]
    starts[:, 0] |= ~negative[:, 0]  # a non-negative slope at lo (not expected): keep lo as a candidate
    row_index, cell = np.nonzero(starts)
    a = grid[row_index, cell]
    b = grid[row_index, cell + 1]
    a = np.where(negative[row_index, cell], a, np.nextafter(a, -np.inf))
    a, b = _bisect(lambda x: slope(x, row_index), a, b)
    candidates = np.where(np.abs(slope(a, row_index)) < np.abs(slope(b, row_index)), a, b)
    values = value(candidates, row_index)
    order = np.lexsort((values, row_index))  # by row, then by value: the first per row is its lowest
    rows_sorted = row_index[order]
    first = order[np.r_[True, rows_sorted[1:] != rows_sorted[:-1]]]
    if first.size != batch or np.any(~np.isfinite(values[first])):
        raise RuntimeError("the global 1-D search found no finite local minimum in some row; the bracket is wrong")
    return candidates[first], (b - a)[first]


def _global_category_fit(loss_value, loss_slope, flat, log_m, batch_shape, lo, hi, center) -> CategoryPolicyFit:
    """The global minimizer in t of a loss under Assumption 3, one flattened batch row at a time.

    ``loss_value(t, u, tables)`` and ``loss_slope(t, u, tables)`` evaluate the loss and its
    t-derivative at policy log-odds t with per-message log-odds u = t − ln m, for the rows'
    count tables; [lo, hi] is the bracket of :func:`_tail_bracket` and ``center`` its c.
    """
    center = np.full(flat.shape[0], center)

    def value(t, rows):
        return loss_value(t, t - log_m[rows], flat[rows])

    def slope(t, rows):
        return loss_slope(t, t - log_m[rows], flat[rows])

    t, width = _global_minimize(value, slope, lo, hi, center)
    t = t.reshape(batch_shape)
    return CategoryPolicyFit(log_odds_m2=t, p_m1=expit(-t), has_minimizer=np.ones(batch_shape, dtype=bool),
                             certificate=width.reshape(batch_shape))


def _batched_params(table, m1_size, m2_size):
    batch_shape = table.shape[:-2]
    m1 = np.broadcast_to(_size(m1_size, "m1_size"), batch_shape).reshape(-1)
    m2 = np.broadcast_to(_size(m2_size, "m2_size"), batch_shape).reshape(-1)
    flat = table.reshape((-1,) + table.shape[-2:])
    return batch_shape, flat, np.log(m2) - np.log(m1)


def fit_il_assumption3(counts, *, p_ref_m1: float, m1_size, m2_size, beta: float) -> CategoryPolicyFit:
    """Global minimizer of the IL loss under Assumption 3 (a 1-D problem in t).

    The data term is convex in t but β·KL is not, so the minimizer is found globally: every
    stationary point lies in a bracket from the math (below it the derivative is negative,
    above it positive), a grid locates the local minima, bisection refines each to adjacent
    floats, and the lowest wins. β > 0 makes a minimizer exist for every dataset.

    Source: seed 002, §4.3 (L_IL), Assumption 3, Prop 6, Lemma 15.

    Args:
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or broadcastable to (...)).
      beta: β > 0.

    Returns:
      A :class:`CategoryPolicyFit`.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    batch_shape, flat, log_m = _batched_params(table, m1_size, m2_size)
    k1 = np.arange(1, n, dtype=np.float64)
    # σ(u + b) <= e^{u+b} and σ(−u−b) <= e^{−u−b}, b = ln(k2/k1), u = t − ln m.
    a_lo = (flat[:, 1:n, 0] * (n - k1) / k1).sum(axis=-1) * np.exp(-log_m)
    a_hi = (flat[:, 1:n, 1] * k1 / (n - k1)).sum(axis=-1) * np.exp(log_m)
    lo, hi, center = _tail_bracket(flat, n, zeta, beta, log_m, np.inf, -np.inf, a_lo, a_hi)
    return _global_category_fit(lambda t, u, tables: _il_value(t, u, tables, n, zeta, beta),
                                lambda t, u, tables: _il_slope(t, u, tables, n, zeta, beta),
                                flat, log_m, batch_shape, lo, hi, center)


def fit_slic_assumption3(counts, *, p_ref_m1: float, m1_size, m2_size, beta: float, delta: float) -> CategoryPolicyFit:
    """Global minimizer of the SLiC loss under Assumption 3 (a 1-D problem in t).

    As :func:`fit_il_assumption3`; the hinge kinks are handled by bisecting on the sign of
    the (right-)derivative, which converges to a kink when the minimum sits there.

    Source: seed 002, §4.3 (L_SLiC), Assumption 3, Prop 7, Lemma 17.

    Args:
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2|.
      beta: β > 0.
      delta: δ > 0.

    Returns:
      A :class:`CategoryPolicyFit`.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    delta = _positive(delta, "delta")
    batch_shape, flat, log_m = _batched_params(table, m1_size, m2_size)
    k1 = np.arange(1, n, dtype=np.float64)
    k2 = n - k1
    with np.errstate(divide="ignore", invalid="ignore"):
        # Always-active hinge terms decay exponentially; k1 = 1 (k2 = 1) terms switch off
        # below (above) their kink.
        ratio_lo = np.where(k1 >= 2, k2 / (k1 - 1), 0.0)
        ratio_hi = np.where(k2 >= 2, k1 / (k2 - 1), 0.0)
    a_lo = (flat[:, 1:n, 0] * ratio_lo).sum(axis=-1) * np.exp(-log_m)
    a_hi = (flat[:, 1:n, 1] * ratio_hi).sum(axis=-1) * np.exp(log_m)
    log_spread = math.log(n - 1)
    lo, hi, center = _tail_bracket(flat, n, zeta, beta, log_m, log_m - delta - log_spread,
                                   log_m + delta + log_spread, a_lo, a_hi)
    return _global_category_fit(lambda t, u, tables: _slic_value(t, u, tables, n, zeta, beta, delta),
                                lambda t, u, tables: _slic_slope(t, u, tables, n, zeta, beta, delta),
                                flat, log_m, batch_shape, lo, hi, center)


# ---------------------------------------------------------------------------------------
# Query formats: fixed compositions and the pairwise conversion of §7
# ---------------------------------------------------------------------------------------


def fixed_composition_reward_gap(m1_in_set: int, m2_in_set: int, p_star_1: float) -> float:
    """Population ψ̂2 − ψ̂1 when every choice set holds k1 messages of M1 and k2 of M2.

    The logit fit matches the choice probabilities: k2 e^d/(k1 + k2 e^d) = 1 − p, so
    d = ln(k1(1 − p) / (k2 p)).

    Source: seed 002, eq (12)-(13) (and §6: one concise + three informative responses).

    Args:
      m1_in_set: k1 >= 1.
      m2_in_set: k2 >= 1.
      p_star_1: p in (0, 1).

    Returns:
      The gap.
    """
    p = _unit(p_star_1, "p_star_1", open_interval=True)
    for value, name in ((m1_in_set, "m1_in_set"), (m2_in_set, "m2_in_set")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return math.log(m1_in_set) - math.log(m2_in_set) + math.log1p(-p) - math.log(p)


def exact_fixed_composition_reward_ratio(m1_in_set: int, m2_in_set: int, p_star_1) -> Fraction:
    """e^{ψ̂2 − ψ̂1} = k1(1 − p)/(k2 p) in exact arithmetic (see :func:`fixed_composition_reward_gap`).

    Source: seed 002, eq (12)-(13).
    """
    p = Fraction(p_star_1)
    if not 0 < p < 1:
        raise ValueError(f"p_star_1 must be strictly between 0 and 1, got {p}")
    return Fraction(m1_in_set) * (1 - p) / (Fraction(m2_in_set) * p)


def pairwise_conversion_counts(counts, *, conversion: str = "all-pairs", seed: int | None = None) -> np.ndarray:
    """Convert each k-way datum into pairwise comparisons; return their |Y| = 2 counts.

    ``"all-pairs"``: the choice beats every other member of its set (n − 1 pairs per datum);
    ``"one-random"``: the choice beats one other member drawn uniformly (one pair per datum;
    needs ``seed``).

    Source: seed 002, §7 (the heuristic conversion to pairwise choices).

    Args:
      counts: (..., n+1, 2) composition counts.
      conversion: "all-pairs" or "one-random".
      seed: numpy seed for "one-random".

    Returns:
      (..., 3, 2) composition counts of the pairs.
    """
    table, n = _check_counts(counts)
    k1 = np.arange(n + 1, dtype=np.float64)
    k2 = n - k1
    chose_1, chose_2 = table[..., 0], table[..., 1]
    out = np.zeros(table.shape[:-2] + (3, 2))
    if conversion == "all-pairs":
        out[..., 1, 0] = (chose_1 * k2).sum(axis=-1)  # M1 chosen over each M2 member
        out[..., 2, 0] = (chose_1 * np.maximum(k1 - 1, 0)).sum(axis=-1)  # M1 over M1
        out[..., 1, 1] = (chose_2 * k1).sum(axis=-1)  # M2 chosen over each M1 member
        out[..., 0, 1] = (chose_2 * np.maximum(k2 - 1, 0)).sum(axis=-1)  # M2 over M2
    elif conversion == "one-random":
        if seed is None:
            raise ValueError("conversion='one-random' needs a seed")
        rng = np.random.default_rng(seed)
        n_chose_1 = chose_1.astype(np.int64)
        n_chose_2 = chose_2.astype(np.int64)
        # A choice in M1 (k1 >= 1) has k2 of its n − 1 other members in M2; cells that cannot
        # occur (k1 = 0 with a choice in M1) hold 0 counts, and their probability is clipped.
        cross_1 = rng.binomial(n_chose_1, np.broadcast_to(np.minimum(k2 / (n - 1), 1.0), n_chose_1.shape))
        cross_2 = rng.binomial(n_chose_2, np.broadcast_to(np.minimum(k1 / (n - 1), 1.0), n_chose_2.shape))
        out[..., 1, 0] = cross_1.sum(axis=-1)
        out[..., 2, 0] = (n_chose_1 - cross_1).sum(axis=-1)
        out[..., 1, 1] = cross_2.sum(axis=-1)
        out[..., 0, 1] = (n_chose_2 - cross_2).sum(axis=-1)
    else:
        raise ValueError(f"conversion must be 'all-pairs' or 'one-random', got {conversion!r}")
    return out.astype(np.int64)


def population_pairwise_reward_gap(choice_set_size: int, p_ref_m1: float, p_star_1: float) -> float:
    """Population ψ̂2 − ψ̂1 of RLPO fitted to the pairwise conversion of k-way data (§7).

    Either conversion gives cross-category pairs M1 ≻ M2 and M2 ≻ M1 in the proportion
    p·E[k2; mixed] : (1 − p)·E[k1; mixed] (same-category pairs do not move the gap), so the
    pairwise logit fit is d = ln((1 − p) E[k1; mixed] / (p E[k2; mixed])).

    Source: seed 002, §7.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1).
      p_star_1: p in (0, 1).

    Returns:
      The gap (positive: the pairwise reward favours M2).
    """
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1", open_interval=True)
    p = _unit(p_star_1, "p_star_1", open_interval=True)
    weights, _ = _mixed_weights(n, zeta)
    k1 = np.arange(1, n, dtype=np.float64)
    return float(math.log1p(-p) - math.log(p) + math.log(weights @ k1) - math.log(weights @ (n - k1)))


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


# ---------------------------------------------------------------------------------------
# Exact finite-|D| laws (N-fold convolutions)
# ---------------------------------------------------------------------------------------


def _datum_score_pmf(n: int, zeta: float, p: float, *, only_chose_2: bool = False) -> np.ndarray:
    """P(v) of one datum's v = k2 − n·1(choice ∈ M2) = n·∂ℓ/∂gap at gap 0, on v = −(n−1)..(n−1).

    Pure sets give v = 0; a mixed set with k1 = k gives n − k (choice in M1, prob p) or −k.
    With ``only_chose_2`` the (sub-)probabilities of data whose choice is in M2.
    """
    logs = composition_log_probabilities(n, zeta)
    probs = np.exp(logs)
    pmf = np.zeros(2 * n - 1)
    offset = n - 1
    if only_chose_2:
        pmf[offset] += probs[0]  # a pure-M2 set: v = 0, choice in M2
    else:
        pmf[offset] += probs[0] + probs[n]
    for k in range(1, n):
        if not only_chose_2:
            pmf[offset + (n - k)] += probs[k] * p
        pmf[offset - k] += probs[k] * (1 - p)
    return pmf


def _convolution_power(pmf: np.ndarray, power: int) -> np.ndarray:
    """The law of a sum of ``power`` i.i.d. draws with (sub-)probabilities ``pmf`` (by FFT).

    FFT round-off is ~1e-16 × the total mass per entry; negative round-off is clipped.
    """
    from scipy import fft

    length = (pmf.size - 1) * power + 1
    size = fft.next_fast_len(length, real=True)
    transform = fft.rfft(pmf, size) ** power
    return np.clip(fft.irfft(transform, size)[:length], 0.0, None)


def _sign_law_inputs(choice_set_size, p_ref_m1, p_star_1, num_data) -> tuple[int, float, float]:
    """(n, ζ, p), checked along with |D| (an integer >= 1) for the exact finite-|D| laws."""
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1", open_interval=True)
    p = _unit(p_star_1, "p_star_1")
    if isinstance(num_data, bool) or not isinstance(num_data, (int, np.integer)) or num_data < 1:
        raise ValueError(f"num_data must be an integer >= 1, got {num_data!r}")
    return n, zeta, p


@dataclass(frozen=True)
class SignLaw:
    """Exact law of the sign of RLPO's fitted reward gap for |D| i.i.d. data (Assumption 1)."""

    favours_m2: float  # P(a minimizer exists and ψ̂2 − ψ̂1 > 0)
    favours_m1: float  # P(a minimizer exists and ψ̂2 − ψ̂1 < 0)
    tie: float  # P(a unique minimizer with ψ̂2 − ψ̂1 = 0)
    no_minimizer: float  # P(every mixed choice in one category): ψ̂ = 0 by convention
    constant_loss: float  # P(no mixed set): every ψ minimizes


def reward_gap_sign_law(choice_set_size: int, p_ref_m1: float, p_star_1: float, num_data: int) -> SignLaw:
    """Exact law of sign(ψ̂2 − ψ̂1) for RLPO's reward fit on |D| data from Assumption 1.

    The reward gradient at gap 0 is Σ_i v_i / n with v = k2 − n·1(choice ∈ M2), an integer;
    the loss is convex in the gap, so ψ̂2 − ψ̂1 > 0 iff Σ v_i < 0 (when a minimizer exists).
    The law of Σ v_i is the |D|-fold convolution of the per-datum law (FFT, error ~1e-13);
    the no-minimizer events have closed forms: (1 − s p)^N − (1 − s)^N etc.

    Source: seed 002, Lemmas 9-12 (ρ_data − ρ_chosen = −Σ v_i/(n|D|)), Props 4-5.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1).
      p_star_1: p in [0, 1].
      num_data: |D| >= 1.

    Returns:
      A :class:`SignLaw` whose five probabilities sum to 1.
    """
    n, zeta, p = _sign_law_inputs(choice_set_size, p_ref_m1, p_star_1, num_data)
    law = _convolution_power(_datum_score_pmf(n, zeta, p), int(num_data))
    zero = (law.size - 1) // 2
    below, at, above = law[:zero].sum(), law[zero], law[zero + 1:].sum()
    _, log_mixed = _mixed_weights(n, zeta)
    s = math.exp(log_mixed)
    none_mixed = math.exp(num_data * math.log1p(-s)) if s < 1 else 0.0
    all_m2 = math.exp(num_data * math.log1p(-s * p)) - none_mixed if s * p < 1 else 0.0
    all_m1 = math.exp(num_data * math.log1p(-s * (1 - p))) - none_mixed if s * (1 - p) < 1 else 0.0
    return SignLaw(favours_m2=float(max(below - all_m2, 0.0)), favours_m1=float(max(above - all_m1, 0.0)),
                   tie=float(max(at - none_mixed, 0.0)), no_minimizer=float(all_m1 + all_m2),
                   constant_loss=float(none_mixed))


def rho_gap_event_probability(choice_set_size: int, p_ref_m1: float, p_star_1: float, num_data: int,
                              eta: float) -> float:
    """Exact P(E_η(D)) = P(ρ_data − ρ_chosen > η and ρ_chosen > 0) for |D| data (Assumption 1).

    n|D|(ρ_data − ρ_chosen) = −Σ v_i with v as in :func:`reward_gap_sign_law`; ρ_chosen = 0
    iff every choice is in M2, whose sub-law is convolved separately and subtracted.

    Source: seed 002, eq (19), Lemma 12.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1).
      p_star_1: p in [0, 1].
      num_data: |D| >= 1.
      eta: η >= 0.

    Returns:
      The probability.
    """
    n, zeta, p = _sign_law_inputs(choice_set_size, p_ref_m1, p_star_1, num_data)
    if not np.isfinite(eta) or eta < 0:
        raise ValueError(f"eta must be a finite number >= 0, got {eta}")
    law = _convolution_power(_datum_score_pmf(n, zeta, p), int(num_data))
    sub = _convolution_power(_datum_score_pmf(n, zeta, p, only_chose_2=True), int(num_data))
    values = np.arange(law.size) - (law.size - 1) // 2
    # ρ_data − ρ_chosen > η  ⟺  −Σv > nη|D|  ⟺  Σv < −nη|D| (integers: strict).
    event = values < -n * eta * num_data
    return float(max(law[event].sum() - sub[event].sum(), 0.0))


# ---------------------------------------------------------------------------------------
# Tabular parameterization (any finite message set)
# ---------------------------------------------------------------------------------------


def _log_probabilities(values, name: str) -> np.ndarray:
    """``values`` as a float array of normalized log-probabilities (checked)."""
    array = as_float_array(values, name)
    check_log_probabilities(array, name)
    return array


def _kl_tabular(log_pi: np.ndarray, log_q: np.ndarray):
    """KL(P_π ‖ P_ref) = Σ_x P_π(x) (ln P_π(x) − ln P_ref(x)) of tabular log-probabilities."""
    return np.exp(log_pi) @ (log_pi - log_q)


def _check_tabular_data(choice_sets, chosen_position, num_messages: int) -> tuple[np.ndarray, np.ndarray]:
    sets = np.asarray(choice_sets)
    positions = np.asarray(chosen_position)
    if sets.ndim != 2 or sets.shape[1] < 1 or not np.issubdtype(sets.dtype, np.integer):
        raise ValueError(f"choice_sets must be an (N, n) integer array of message indices, got {sets.shape}")
    if positions.shape != sets.shape[:1] or not np.issubdtype(positions.dtype, np.integer):
        raise ValueError(f"chosen_position must be an (N,) integer array, got {positions.shape}")
    if sets.min() < 0 or sets.max() >= num_messages:
        raise ValueError(f"choice_sets must hold indices in [0, {num_messages - 1}]")
    if positions.min() < 0 or positions.max() >= sets.shape[1]:
        raise ValueError(f"chosen_position must lie in [0, {sets.shape[1] - 1}]")
    return sets, positions


def reward_loss_tabular(rewards, choice_sets, chosen_position) -> float:
    """RLPO's reward loss (7) for a tabular reward r ∈ R^K (choice sets are multisets).

    .. math:: L(r) = −Σ_{(Y,y)∈D} [r(y) − \\ln Σ_{y'∈Y} e^{r(y')}]

    Source: seed 002, eq (7).

    Args:
      rewards: (K,) r.
      choice_sets: (N, n) message indices.
      chosen_position: (N,) position of each choice in its set.

    Returns:
      The loss.
    """
    r = as_float_array(rewards, "rewards")
    check_finite(r, "rewards")
    sets, positions = _check_tabular_data(choice_sets, chosen_position, r.size)
    scores = r[sets]
    return float((logsumexp(scores, axis=1) - scores[np.arange(sets.shape[0]), positions]).sum())


def _choice_loss_derivatives(scores_of_messages: np.ndarray, sets: np.ndarray, positions: np.ndarray):
    """Value, gradient and Hessian in the per-message scores of −Σ ln softmax_Y(score)[y]."""
    k = scores_of_messages.size
    scores = scores_of_messages[sets]
    log_norm = logsumexp(scores, axis=1)
    rows = np.arange(sets.shape[0])
    value = float((log_norm - scores[rows, positions]).sum())
    probs = np.exp(scores - log_norm[:, None])
    gradient = np.zeros(k)
    np.add.at(gradient, sets, probs)
    np.add.at(gradient, sets[rows, positions], -1.0)
    one_hot = np.zeros(sets.shape + (k,))
    np.put_along_axis(one_hot, sets[..., None], 1.0, axis=-1)
    weighted = np.einsum("nj,njk->nk", probs, one_hot)  # Σ_j π_j e_{x_j}
    hessian = np.einsum("nj,nja,njb->ab", probs, one_hot, one_hot) - np.einsum("na,nb->ab", weighted, weighted)
    return value, gradient, hessian


def _luce_minimizer_exists(sets: np.ndarray, positions: np.ndarray, num_messages: int) -> tuple[bool, np.ndarray]:
    """Whether −Σ ln softmax has a minimizer, and the weak components of the messages.

    It does iff every weakly connected component of the "beats" graph (an edge from each
    choice to every other distinct message of its set) is strongly connected.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows = np.arange(sets.shape[0])
    winners = np.repeat(sets[rows, positions], sets.shape[1])
    losers = sets.reshape(-1)
    keep = winners != losers
    graph = coo_matrix((np.ones(keep.sum()), (winners[keep], losers[keep])), shape=(num_messages, num_messages)).tocsr()
    _, weak = connected_components(graph, directed=True, connection="weak")
    strong_count, strong = connected_components(graph, directed=True, connection="strong")
    # Strongly connected within every weak component ⟺ the two partitions coincide.
    same = all(np.unique(strong[weak == w]).size == 1 for w in np.unique(weak))
    return bool(same), weak


@dataclass(frozen=True)
class TabularFit:
    """A tabular minimizer (one value per message) with its certificate."""

    values: np.ndarray  # (K,) the fitted rewards (or log-probabilities of the fitted policy)
    has_minimizer: bool  # whether the loss attains its infimum (False: the paper's convention was used)
    gradient_norm: float  # max |∂L| at the returned point (the certificate; 0 for the convention)
    iterations: int  # Newton iterations used


def _newton_choice_minimizer(scale_to_scores, sets, positions, k, *, max_iterations=200):
    """Minimize −Σ ln softmax over scores = scale·x by damped Newton (convex in x); returns x
    of minimum norm per weak component (scores of unused messages stay 0)."""
    x = np.zeros(k)
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        value, gradient, hessian = _choice_loss_derivatives(scale_to_scores * x, sets, positions)
        gradient, hessian = scale_to_scores * gradient, scale_to_scores**2 * hessian
        if np.max(np.abs(gradient)) <= 1e-13 * max(1.0, sets.shape[0]):
            break
        step = -np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        step_size = 1.0
        while step_size > 1e-12:
            trial = x + step_size * step
            trial_value = _choice_loss_derivatives(scale_to_scores * trial, sets, positions)[0]
            if trial_value <= value + 1e-4 * step_size * (gradient @ step):
                break
            step_size /= 2
        x = x + step_size * step
    _, gradient, _ = _choice_loss_derivatives(scale_to_scores * x, sets, positions)
    return x, float(np.max(np.abs(scale_to_scores * gradient))), iterations


def _center_components(x: np.ndarray, components: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """x shifted to mean 0 on the messages of each weak component that the data show; 0 elsewhere."""
    used = np.zeros(x.size, dtype=bool)
    used[np.unique(sets)] = True
    centered = np.array(x)
    for w in np.unique(components):
        members = (components == w) & used
        if members.any():
            centered[members] -= centered[members].mean()
    centered[~used] = 0.0
    return centered


def fit_reward_tabular(choice_sets, chosen_position, num_messages: int) -> TabularFit:
    """Exact minimizer of RLPO's reward loss (7) with one reward per message.

    The loss is convex; it has a minimizer iff each weakly connected component of the
    "beats" graph is strongly connected (then unique up to a constant per component; the
    minimum-norm one, mean 0 per component and 0 on unseen messages, is returned). Damped
    Newton with a pseudo-inverse; certificate: max |gradient|. Without a minimizer the
    paper's convention r̂ = 0 is returned.

    Source: seed 002, eq (7), Prop 4 (ψ̂ = 0 convention).

    Args:
      choice_sets: (N, n) message indices.
      chosen_position: (N,) position of each choice.
      num_messages: K.

    Returns:
      A :class:`TabularFit` of rewards.
    """
    sets, positions = _check_tabular_data(choice_sets, chosen_position, num_messages)
    exists, components = _luce_minimizer_exists(sets, positions, num_messages)
    if not exists:
        return TabularFit(np.zeros(num_messages), False, 0.0, 0)
    x, gradient_norm, iterations = _newton_choice_minimizer(1.0, sets, positions, num_messages)
    return TabularFit(_center_components(x, components, sets), True, gradient_norm, iterations)


def policy_loss(log_policy, rewards, log_ref, *, num_data: int, beta: float) -> float:
    """RLPO's policy loss (8): −|D| Σ_x P_π(x) r(x) + β KL(P_π ‖ P_ref).

    Source: seed 002, eq (8).

    Args:
      log_policy: (K,) log P_π.
      rewards: (K,) r.
      log_ref: (K,) log P_ref.
      num_data: |D|.
      beta: β > 0.

    Returns:
      The loss.
    """
    log_pi = _log_probabilities(log_policy, "log_policy")
    r = as_float_array(rewards, "rewards")
    log_q = _log_probabilities(log_ref, "log_ref")
    beta = _positive(beta, "beta")
    return float(-num_data * (np.exp(log_pi) @ r) + beta * _kl_tabular(log_pi, log_q))


def policy_loss_minimizer(rewards, log_ref, *, num_data: int, beta: float) -> np.ndarray:
    """The minimizer of (8) in closed form: P_π(x) = P_ref(x) e^{r(x)|D|/β} / Z (eq 9).

    Source: seed 002, eq (9).

    Args:
      rewards: (..., K) r.
      log_ref: (..., K) log P_ref.
      num_data: |D| >= 1.
      beta: β > 0.

    Returns:
      (..., K) log P_π.
    """
    r = as_float_array(rewards, "rewards")
    check_finite(r, "rewards")
    log_q = _log_probabilities(log_ref, "log_ref")
    beta = _positive(beta, "beta")
    logits = log_q + r * (float(num_data) / beta)
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def dpo_loss_tabular(log_policy, log_ref, choice_sets, chosen_position, *, num_data: int, beta: float) -> float:
    """DPO's loss (11) for a tabular policy.

    .. math:: L_{DPO}(π) = −Σ_{(Y,y)} \\ln
              \\frac{(P_π(y)/P_{ref}(y))^{β/|D|}}{Σ_{y'∈Y}(P_π(y')/P_{ref}(y'))^{β/|D|}}

    Source: seed 002, eq (11).

    Args:
      log_policy: (K,) log P_π (unnormalized log-probabilities give the same loss).
      log_ref: (K,) log P_ref.
      choice_sets: (N, n) message indices.
      chosen_position: (N,).
      num_data: |D| (the β/|D| of (11)).
      beta: β > 0.

    Returns:
      The loss.
    """
    log_pi = as_float_array(log_policy, "log_policy")
    check_finite(log_pi, "log_policy")
    log_q = as_float_array(log_ref, "log_ref")
    check_finite(log_q, "log_ref")
    beta = _positive(beta, "beta")
    return reward_loss_tabular(beta / num_data * (log_pi - log_q), choice_sets, chosen_position)


def fit_dpo_tabular(log_ref, choice_sets, chosen_position, *, beta: float) -> TabularFit:
    """Exact minimizer of DPO's loss (11) over tabular policies (|D| = the number of data).

    In the logits θ (P_π = softmax θ), (11) is a multinomial-logit loss of the scores
    (β/|D|)(θ − ln P_ref), convex in θ, minimized by damped Newton; it has a minimizer iff
    the reward loss (7) does. Messages the data never show keep θ = ln P_ref; without a
    minimizer the convention θ̂ = 0 (uniform policy) is returned.

    Source: seed 002, eq (11), Prop 5 (θ̂ = 0 convention), Lemma 13.

    Args:
      log_ref: (K,) log P_ref.
      choice_sets: (N, n).
      chosen_position: (N,).
      beta: β > 0.

    Returns:
      A :class:`TabularFit` of normalized log-probabilities.
    """
    log_q = _log_probabilities(log_ref, "log_ref")
    beta = _positive(beta, "beta")
    k = log_q.size
    sets, positions = _check_tabular_data(choice_sets, chosen_position, k)
    exists, components = _luce_minimizer_exists(sets, positions, k)
    if not exists:
        return TabularFit(np.full(k, -math.log(k)), False, 0.0, 0)
    scale = beta / sets.shape[0]
    # Newton in the deviation x = θ − ln P_ref (the loss depends on θ only through it).
    x, gradient_norm, iterations = _newton_choice_minimizer(scale, sets, positions, k)
    theta = log_q + _center_components(x, components, sets)
    return TabularFit(theta - logsumexp(theta), True, gradient_norm, iterations)


def il_loss_tabular(log_policy, log_ref, choice_sets, chosen_position, *, beta: float) -> float:
    """The IL loss for a tabular policy: −Σ ln(P_π(y)/Σ_{y'∈Y} P_π(y')) + β KL(P_π‖P_ref).

    Source: seed 002, §4.3 (L_IL).

    Args:
      log_policy: (K,) normalized log P_π.
      log_ref: (K,) log P_ref.
      choice_sets: (N, n).
      chosen_position: (N,).
      beta: β > 0.

    Returns:
      The loss.
    """
    log_pi = _log_probabilities(log_policy, "log_policy")
    log_q = _log_probabilities(log_ref, "log_ref")
    beta = _positive(beta, "beta")
    return reward_loss_tabular(log_pi, choice_sets, chosen_position) + beta * float(_kl_tabular(log_pi, log_q))


def fit_il_tabular(log_ref, choice_sets, chosen_position, *, beta: float) -> TabularFit:
    """A stationary point of the IL loss over tabular policies (L-BFGS in the logits).

    The IL loss is not convex in the logits (β·KL is not) nor in P_π (the log-sum over a
    choice set is concave), so this is a local minimizer; the certificate is the gradient
    norm at the returned point (first-order stationarity only).

    Source: seed 002, §4.3 (L_IL).

    Args:
      log_ref: (K,) log P_ref.
      choice_sets: (N, n).
      chosen_position: (N,).
      beta: β > 0.

    Returns:
      A :class:`TabularFit` of normalized log-probabilities (has_minimizer: a stationary point was reached).
    """
    from scipy.optimize import minimize

    log_q = _log_probabilities(log_ref, "log_ref")
    beta = _positive(beta, "beta")
    k = log_q.size
    sets, positions = _check_tabular_data(choice_sets, chosen_position, k)

    def objective(theta):
        log_pi = theta - logsumexp(theta)
        value, gradient_scores, _ = _choice_loss_derivatives(log_pi, sets, positions)
        pi = np.exp(log_pi)
        kl_terms = log_pi - log_q
        kl = float(pi @ kl_terms)
        # d/dθ of Σ_j g_j log π_j with Σ g = 0 (the choice loss is shift-invariant) is g;
        # d/dθ KL(softmax θ ‖ q) = π ⊙ (kl_terms − KL).
        gradient = gradient_scores + beta * pi * (kl_terms - kl)
        return value + beta * kl, gradient

    result = minimize(objective, log_q.copy(), jac=True, method="L-BFGS-B",
                      options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15})
    theta = result.x - logsumexp(result.x)
    _, gradient = objective(theta)
    return TabularFit(theta, bool(np.max(np.abs(gradient)) < 1e-6 * max(1.0, sets.shape[0])),
                      float(np.max(np.abs(gradient))), int(result.nit))


def slic_loss_tabular(log_policy, log_ref, choice_sets, chosen_position, *, beta: float, delta: float) -> float:
    """The SLiC loss for a tabular policy: Σ (ln(P_π(Y∖{y})/P_π(y)) + δ)_+ + β KL(P_π‖P_ref).

    Source: seed 002, §4.3 (L_SLiC; |Y| = 2 there, any |Y| >= 2 here).

    Args:
      log_policy: (K,) normalized log P_π.
      log_ref: (K,) log P_ref.
      choice_sets: (N, n) with n >= 2.
      chosen_position: (N,).
      beta: β > 0.
      delta: δ > 0.

    Returns:
      The loss.
    """
    log_pi = _log_probabilities(log_policy, "log_policy")
    log_q = _log_probabilities(log_ref, "log_ref")
    beta, delta = _positive(beta, "beta"), _positive(delta, "delta")
    sets, positions = _check_tabular_data(choice_sets, chosen_position, log_pi.size)
    if sets.shape[1] < 2:
        raise ValueError("slic_loss_tabular needs choice sets of at least 2 messages")
    scores = log_pi[sets]
    rows = np.arange(sets.shape[0])
    others = np.ones(sets.shape, dtype=bool)
    others[rows, positions] = False
    log_rest = logsumexp(np.where(others, scores, -np.inf), axis=1)
    hinge = np.maximum(log_rest - scores[rows, positions] + delta, 0.0)
    return float(hinge.sum() + beta * _kl_tabular(log_pi, log_q))


# ---------------------------------------------------------------------------------------
# Simulations (Assumption 1 data, 100 seeds by default; vectorized over seeds)
# ---------------------------------------------------------------------------------------


def _categories(m1_size: int, m2_size: int) -> np.ndarray:
    return np.r_[np.ones(int(m1_size), dtype=np.int64), np.full(int(m2_size), 2, dtype=np.int64)]


def _growing_counts(choice_set_size, sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size, m2_size):
    """(S, D, n+1, 2) composition counts of the first |D| data of one dichotomy dataset per
    seed, for each |D| in ``sizes`` (one dataset of max(sizes) data; its prefixes give the rest)."""
    from pmtheory.iia.data import cumulative_composition_counts, sample_dichotomy_data

    data = sample_dichotomy_data(seed, num_datasets=num_seeds, num_data=int(sizes.max()),
                                 choice_set_size=choice_set_size, m1_size=m1_size, m2_size=m2_size,
                                 p_ref_m1=p_ref_m1, p_star_1=p_star_1)
    return cumulative_composition_counts(data, _categories(m1_size, m2_size), sizes)


@dataclass(frozen=True)
class RlpoDpoSimulation:
    """RLPO and DPO fitted on growing datasets from Assumption 1 (one dataset per seed)."""

    data_sizes: np.ndarray  # (D,) |D|
    reward_gap: np.ndarray  # (S, D) RLPO's ψ̂2 − ψ̂1 (0 where the convention applies)
    reward_has_minimizer: np.ndarray  # (S, D) bool: (7) attains its minimum (a constant loss counts)
    p_m1_rlpo: np.ndarray  # (S, D) RLPO's P(M1)
    p_m1_dpo: np.ndarray  # (S, D) DPO's P(M1)


def simulate_rlpo_dpo(*, choice_set_size: int, data_sizes, num_seeds: int = 100, seed: int = 0,
                      p_ref_m1: float = 0.8, p_star_1: float = 0.6, m1_size: int = 10, m2_size: int = 100,
                      beta: float = 1.0) -> RlpoDpoSimulation:
    """RLPO and DPO on dichotomy data, P(M1) against |D| (the setup of §5.3 by default).

    Each seed draws one dataset of max(data_sizes) data; its prefixes give the smaller |D|.

    Source: seed 002, §5.3-5.4, Fig 2.

    Args:
      choice_set_size: |Y|.
      data_sizes: (D,) increasing |D| values.
      num_seeds: S datasets.
      seed: numpy seed.
      p_ref_m1, p_star_1, m1_size, m2_size, beta: the setup (defaults: §5.3).

    Returns:
      A :class:`RlpoDpoSimulation`.
    """
    sizes = np.asarray(data_sizes, dtype=np.int64)
    counts = _growing_counts(choice_set_size, sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size, m2_size)
    fit, rlpo = fit_rlpo_assumption23(counts, p_ref_m1=p_ref_m1, beta=beta)
    dpo = fit_dpo_assumption3(counts, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=m2_size, beta=beta)
    return RlpoDpoSimulation(sizes, fit.gap, fit.has_minimizer, rlpo.p_m1, dpo.p_m1)


@dataclass(frozen=True)
class MessageSetSweep:
    """IL or SLiC fitted on one dataset per seed, for each |M2| (the data's compositions do
    not depend on |M2| under Assumption 1, so the same data serve every |M2|)."""

    m2_sizes: np.ndarray  # (M,) |M2|
    p_m1: np.ndarray  # (S, M) the fitted policy's P(M1)
    counts: np.ndarray  # (S, n+1, 2) the composition counts of each seed's dataset


def _sweep_counts(choice_set_size, num_data, m2_sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size):
    """(|M2| values (M,), each seed's counts (S, n+1, 2), those counts repeated per |M2| (S, M, n+1, 2))."""
    from pmtheory.iia.data import composition_counts, sample_dichotomy_data

    sizes = np.asarray(m2_sizes, dtype=np.float64)
    data = sample_dichotomy_data(seed, num_datasets=num_seeds, num_data=num_data, choice_set_size=choice_set_size,
                                 m1_size=m1_size, m2_size=1, p_ref_m1=p_ref_m1, p_star_1=p_star_1)
    counts = composition_counts(data, _categories(m1_size, 1))
    return sizes, counts, np.broadcast_to(counts[:, None], (counts.shape[0], sizes.size) + counts.shape[1:])


def simulate_il(*, choice_set_size: int, num_data: int, m2_sizes, num_seeds: int = 100, seed: int = 0,
                p_ref_m1: float = 0.8, p_star_1: float = 0.6, m1_size: int = 10, beta: float = 1.0) -> MessageSetSweep:
    """IL on dichotomy data, P(M1) against |M2|.

    Source: seed 002, §5.5, Fig 3, Prop 6.
    """
    sizes, counts, batch = _sweep_counts(choice_set_size, num_data, m2_sizes, num_seeds, seed, p_ref_m1, p_star_1,
                                         m1_size)
    fit = fit_il_assumption3(batch, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=sizes, beta=beta)
    return MessageSetSweep(sizes, fit.p_m1, counts)


def simulate_slic(*, choice_set_size: int, num_data: int, m2_sizes, num_seeds: int = 100, seed: int = 0,
                  p_ref_m1: float = 0.8, p_star_1: float = 0.6, m1_size: int = 10, beta: float = 1.0,
                  delta: float = 1.0) -> MessageSetSweep:
    """SLiC on dichotomy data, P(M1) against |M2|.

    Source: seed 002, §5.5, Prop 7.
    """
    sizes, counts, batch = _sweep_counts(choice_set_size, num_data, m2_sizes, num_seeds, seed, p_ref_m1, p_star_1,
                                         m1_size)
    fit = fit_slic_assumption3(batch, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=sizes, beta=beta, delta=delta)
    return MessageSetSweep(sizes, fit.p_m1, counts)


def simulate_pairwise_conversion(*, choice_set_size: int, data_sizes, conversion: str = "all-pairs",
                                 num_seeds: int = 100, seed: int = 0, p_ref_m1: float = 0.8, p_star_1: float = 0.6,
                                 m1_size: int = 10, m2_size: int = 100, beta: float = 1.0) -> RlpoDpoSimulation:
    """RLPO fitted to the pairwise conversion (§7) of k-way dichotomy data.

    The policy step uses |D| = the number of pairs RLPO is trained on. DPO on the same pairs
    is reported in ``p_m1_dpo``.

    Source: seed 002, §7.
    """
    sizes = np.asarray(data_sizes, dtype=np.int64)
    counts = _growing_counts(choice_set_size, sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size, m2_size)
    pairs = pairwise_conversion_counts(counts, conversion=conversion, seed=seed + 1)
    fit, rlpo = fit_rlpo_assumption23(pairs, p_ref_m1=p_ref_m1, beta=beta)
    dpo = fit_dpo_assumption3(pairs, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=m2_size, beta=beta)
    return RlpoDpoSimulation(sizes, fit.gap, fit.has_minimizer, rlpo.p_m1, dpo.p_m1)


@dataclass(frozen=True)
class QueryFormatStudy:
    """The §6 analogue: a linear reward model trained on k-way queries, tested on pairs."""

    informative_per_query: int  # informative (GPT-4-like) responses per training query; one concise (GPT-3.5-like)
    test_accuracy: np.ndarray  # (S,) fraction of test pairs where the higher score is the annotator's choice
    p_informative_scores_higher: np.ndarray  # (S,) fraction of test pairs scoring the informative response higher
    reward_direction: np.ndarray  # (S,) w·(μ_informative − μ_concise): > 0 when the model favours informative
    gradient_norm: np.ndarray  # (S,) max |∇| of the regularized training loss at the returned weights


def simulate_query_format_study(*, informative_per_query: int, num_seeds: int = 100, seed: int = 0,
                                p_informative: float = 0.7, num_train_queries: int = 800,
                                num_test_pairs: int = 1000, responses_per_model: int = 100, feature_dim: int = 8,
                                separation: float = 2.0, noise: float = 1.0, ridge: float = 1e-3) -> QueryFormatStudy:
    """A synthetic analogue of §6: concise vs informative responses, dichotomy annotators.

    Responses are feature vectors: informative ones around +separation/2·e1, concise ones
    around −separation/2·e1, with N(0, noise²) noise in every coordinate; each model has
    ``responses_per_model`` training and as many test responses. A training query holds one
    concise and ``informative_per_query`` distinct informative responses; an annotator is
    "informative" with probability ``p_informative`` (choosing uniformly among the
    informative responses) and "concise" otherwise. The reward model r_w(x) = w·φ(x) is
    fitted by the cross-entropy (7) with a ridge term ``ridge``/2·|w|² (damped Newton,
    vectorized over seeds). Test data are pairs (one of each) with annotators as above.

    Source: seed 002, §6 (Fig 4), §6.1-6.3.

    Returns:
      A :class:`QueryFormatStudy`.
    """
    if informative_per_query < 1 or informative_per_query > responses_per_model:
        raise ValueError(f"informative_per_query must be in [1, {responses_per_model}], got {informative_per_query}")
    p_inf = _unit(p_informative, "p_informative")
    rng = np.random.default_rng(seed)
    s, q, k, d, r = num_seeds, num_train_queries, informative_per_query, feature_dim, responses_per_model
    axis = np.zeros(d)
    axis[0] = separation / 2

    def pool():
        return axis + noise * rng.standard_normal((s, r, d)), -axis + noise * rng.standard_normal((s, r, d))

    train_inf, train_con = pool()
    test_inf, test_con = pool()
    seeds_index = np.arange(s)[:, None, None]
    informative = np.argpartition(rng.random((s, q, r)), k - 1, axis=-1)[..., :k]  # k distinct per query
    concise = rng.integers(0, r, size=(s, q))
    features = np.concatenate([train_con[seeds_index, concise[..., None]], train_inf[seeds_index, informative]], axis=2)
    chooses_informative = rng.random((s, q)) < p_inf
    chosen = np.where(chooses_informative, 1 + rng.integers(0, k, size=(s, q)), 0)  # position 0: the concise one
    one_hot = np.zeros((s, q, k + 1))
    np.put_along_axis(one_hot, chosen[..., None], 1.0, axis=-1)

    w = np.zeros((s, d))
    for _ in range(100):
        scores = np.einsum("sqnd,sd->sqn", features, w)
        probs = np.exp(scores - logsumexp(scores, axis=-1, keepdims=True))
        gradient = np.einsum("sqn,sqnd->sd", probs - one_hot, features) + ridge * w
        if np.max(np.abs(gradient)) < 1e-10:
            break
        mean_features = np.einsum("sqn,sqnd->sqd", probs, features)
        hessian = np.einsum("sqn,sqnd,sqne->sde", probs, features, features) - \
            np.einsum("sqd,sqe->sde", mean_features, mean_features) + ridge * np.eye(d)
        w = w - np.linalg.solve(hessian, gradient[..., None])[..., 0]  # the loss is strongly convex
    scores = np.einsum("sqnd,sd->sqn", features, w)
    probs = np.exp(scores - logsumexp(scores, axis=-1, keepdims=True))
    gradient = np.einsum("sqn,sqnd->sd", probs - one_hot, features) + ridge * w

    pair_inf = rng.integers(0, r, size=(s, num_test_pairs))
    pair_con = rng.integers(0, r, size=(s, num_test_pairs))
    score_inf = np.einsum("std,sd->st", test_inf[np.arange(s)[:, None], pair_inf], w)
    score_con = np.einsum("std,sd->st", test_con[np.arange(s)[:, None], pair_con], w)
    annotator_informative = rng.random((s, num_test_pairs)) < p_inf
    predicts_informative = score_inf > score_con
    return QueryFormatStudy(
        informative_per_query=k,
        test_accuracy=(predicts_informative == annotator_informative).mean(axis=1),
        p_informative_scores_higher=predicts_informative.mean(axis=1),
        reward_direction=w @ (2 * axis),
        gradient_norm=np.max(np.abs(gradient), axis=1),
    )


def fit_slic_tabular(log_ref, choice_sets, chosen_position, *, beta: float, delta: float) -> TabularFit:
    """A local minimizer of the SLiC loss over tabular policies (derivative-free, in the logits).

    The loss is neither smooth (hinge) nor convex (β·KL in the logits, the log of a sum of
    probabilities in P_π), so this is a local search (Powell, from P_ref). The certificate in
    ``gradient_norm`` is the steepest descent slope found along ± each coordinate at step
    1e-7 from the returned point (0 at a local minimum, up to the step's resolution).

    Source: seed 002, §4.3 (L_SLiC).

    Args:
      log_ref: (K,) log P_ref.
      choice_sets: (N, n) with n >= 2.
      chosen_position: (N,).
      beta: β > 0.
      delta: δ > 0.

    Returns:
      A :class:`TabularFit` of normalized log-probabilities (has_minimizer: no descent direction found).
    """
    from scipy.optimize import minimize

    log_q = _log_probabilities(log_ref, "log_ref")
    beta, delta = _positive(beta, "beta"), _positive(delta, "delta")
    sets, positions = _check_tabular_data(choice_sets, chosen_position, log_q.size)

    def objective(theta):
        return slic_loss_tabular(theta - logsumexp(theta), log_q, sets, positions, beta=beta, delta=delta)

    result = minimize(objective, log_q.copy(), method="Powell",
                      options={"xtol": 1e-10, "ftol": 1e-13, "maxiter": 20000})
    theta = result.x - logsumexp(result.x)
    base = objective(theta)
    step = 1e-7
    descent = 0.0
    for index in range(theta.size):
        for sign in (1.0, -1.0):
            moved = theta.copy()
            moved[index] += sign * step
            descent = max(descent, (base - objective(moved)) / step)
    return TabularFit(theta, bool(descent < 1e-5 * max(1.0, sets.shape[0])), float(descent), int(result.nit))
