"""Closed forms of RLHF optima on a finite response set, as the papers state them, and the
exact binary preferences of f-divergence RLHF.

Shape letters: ``K`` responses, ``...`` batch (prompts).

Two kinds of function live here, and the names say which: the formulas *as the paper prints
them* (``kl_rlhf_log_policy`` for eq 5.1, ``renormalized_product_preference`` for eq 5.2,
``eq53_*`` for eq 5.3), which are what the claim checks test; and the *exact* binary
preferences of the f-RLHF optimum (``f_rlhf_*``), computed from the exact solver
:func:`pmtheory.solvers.optimal_policy`, which the checks test them against (together with an
mpmath reference and cvxpy), never with themselves.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), Prop 5.1, eq (5.1)-(5.3),
§5.2, App A.3.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit, logsumexp

from pmtheory._validation import as_float_array, check_finite, check_log_probabilities, check_positive_scalar
from pmtheory.divergences import get_divergence
from pmtheory.solvers import optimal_policy

__all__ = [
    "eq53_binary_preference",
    "eq53_defined",
    "eq53_log_odds",
    "f_rlhf_binary_preference",
    "f_rlhf_pair_log_odds",
    "f_rlhf_pair_preference",
    "kl_rlhf_log_policy",
    "kl_rlhf_pm_log_reference",
    "preference_collapse_limit",
    "renormalized_product_preference",
    "tempered_preference",
]


def kl_rlhf_log_policy(rewards, log_reference, beta: float = 1.0) -> np.ndarray:
    """log π_rlhf for KL RLHF, the closed form of seed 001 Prop 5.1 (eq 5.1).

    .. math::  π_{rlhf}(y) = π_{ref}(y) e^{r(y)/β} / Σ_j π_{ref}(y_j) e^{r(y_j)/β}

    Args:
      rewards: shape (..., K), finite.
      log_reference: log π_ref, shape (..., K), normalized.
      beta: β > 0.

    Returns:
      log π_rlhf, shape (..., K), evaluated in log space.
    """
    rewards = as_float_array(rewards, "rewards")
    log_reference = as_float_array(log_reference, "log_reference")
    check_finite(rewards, "rewards")
    check_log_probabilities(log_reference, "log_reference")
    beta = check_positive_scalar(beta, "beta")
    logits = log_reference + (rewards - rewards.max(axis=-1, keepdims=True)) / beta
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def kl_rlhf_pm_log_reference(rewards, beta: float = 1.0) -> np.ndarray:
    """The references for which KL RLHF is preference matching: log π_ref = log softmax((1 − 1/β) r).

    .. math::  π_{ref}(y) e^{r(y)/β} ∝ e^{r(y)} \\iff π_{ref}(y) ∝ e^{(1 − 1/β) r(y)}

    The KL-RLHF optimum (5.1) equals the PM policy (3.2) for the reward r exactly when
    log π_ref − (1 − 1/β) r is constant over the responses; for every reward at once only
    when β = 1 and π_ref is uniform (Example 3). Source: seed 001, Prop 3.7, eq (5.1), (3.2).

    Args:
      rewards: shape (..., K), finite.
      beta: β > 0.

    Returns:
      log π_ref, shape (..., K), normalized.
    """
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    beta = check_positive_scalar(beta, "beta")
    logits = (1.0 - 1.0 / beta) * (rewards - rewards.max(axis=-1, keepdims=True))
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def renormalized_product_preference(p_reward, p_ref) -> np.ndarray:
    """Eq (5.2) as printed: p_ref·p_reward / (p_ref·p_reward + (1 − p_ref)(1 − p_reward)).

    .. math::  p_{rlhf}(y_1) = \\frac{p_{ref}(y_1) p_{reward}(y_1)}
               {p_{ref}(y_1) p_{reward}(y_1) + p_{ref}(y_2) p_{reward}(y_2)}

    evaluated as σ(logit p_ref + logit p_reward). In §5.1 ``p_reward`` is the *tempered*
    preference e^{r_1/β}/(e^{r_1/β} + e^{r_2/β}); with the reward model's own BTL preference
    σ(r_1 − r_2) (eq 2.1, the x-axis of Figs 2 and 9) pass ``σ(logit(p)/β)``, see
    :func:`tempered_preference`. Eq (5.3) has the same form with p^f_reward.

    Source: seed 001, §5.1, eq (5.2); §5.2 (the cases p_ref ∈ {0, 1}).

    Args:
      p_reward: shape (...), in [0, 1].
      p_ref: shape broadcastable, in [0, 1].

    Returns:
      p_rlhf(y₁), the broadcast shape.

    Raises:
      ValueError: a probability outside [0, 1], or a 0/0 (p_ref = 0 with p_reward = 1, or
        p_ref = 1 with p_reward = 0).

    >>> round(float(renormalized_product_preference(0.5, 0.25)), 12)
    0.25
    """
    p_reward = as_float_array(p_reward, "p_reward", min_ndim=0)
    p_ref = as_float_array(p_ref, "p_ref", min_ndim=0)
    for value, name in ((p_reward, "p_reward"), (p_ref, "p_ref")):
        check_finite(value, name)
        if np.any((value < 0) | (value > 1)):
            raise ValueError(f"{name} must be a probability in [0, 1], got range [{value.min()!r}, {value.max()!r}]")
    with np.errstate(divide="ignore"):
        logit_ref = np.log(p_ref) - np.log1p(-p_ref)
        logit_reward = np.log(p_reward) - np.log1p(-p_reward)
    with np.errstate(invalid="ignore"):
        total = logit_ref + logit_reward
    if np.any(np.isnan(total)):
        raise ValueError("eq (5.2) is 0/0 where p_ref and p_reward are 0 and 1 (or 1 and 0)")
    return expit(total)


def tempered_preference(p_reward, beta: float) -> np.ndarray:
    """σ(logit(p)/β): the BTL preference of r/β given that of r (seed 001, §5.1's p_reward).

    Args:
      p_reward: σ(r₁ − r₂), shape (...), in [0, 1].
      beta: β > 0.
    """
    p_reward = as_float_array(p_reward, "p_reward", min_ndim=0)
    check_finite(p_reward, "p_reward")
    if np.any((p_reward < 0) | (p_reward > 1)):
        raise ValueError("p_reward must be a probability in [0, 1]")
    beta = check_positive_scalar(beta, "beta")
    with np.errstate(divide="ignore"):
        logit = np.log(p_reward) - np.log1p(-p_reward)
    return expit(logit / beta)


def _pair_indices(pair, k: int) -> tuple[int, int]:
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(i, (int, np.integer)) for i in pair)):
        raise TypeError(f"pair must be a tuple of two response indices, got {pair!r}")
    i, j = int(pair[0]), int(pair[1])
    if i == j or not (0 <= i < k and 0 <= j < k):
        raise ValueError(f"pair must be two different indices in 0..{k - 1}, got {pair!r}")
    return i, j


def f_rlhf_pair_log_odds(rewards, log_reference, *, divergence="reverse_kl", beta: float = 1.0,
                         pair=(0, 1)) -> np.ndarray:
    """log π*(y_i) − log π*(y_j) for the exact f-RLHF optimum π* (any K), shape (...).

    .. math::  π^* = \\arg\\max_π Σ_y π(y) r(y) − β I_f(π ‖ π_{ref}),\\qquad
               \\operatorname{logit} p^f_{rlhf}(y_i) = \\log π^*(y_i) − \\log π^*(y_j)

    π* comes from :func:`pmtheory.solvers.optimal_policy` (exact, with its multiplier), so the
    binary preference on a pair depends on all K responses through the multiplier; eq (5.3)
    drops that dependence (see :func:`eq53_log_odds`).

    Source: seed 001, §5.1 (p_rlhf on a pair) and the f-divergence RLHF of §5.1-§5.2.

    Args:
      rewards: shape (..., K), finite.
      log_reference: log π_ref, shape (..., K), normalized.
      divergence: a name from :mod:`pmtheory.divergences`.
      beta: β > 0.
      pair: (i, j), the two responses compared.

    Returns:
      shape (...); ±inf where one of the two has zero mass (chi2, tv can put exactly 0).

    Raises:
      ValueError: both responses of the pair have zero mass (the preference is 0/0).
    """
    solution = optimal_policy(rewards, log_reference=log_reference, divergence=divergence, beta=beta)
    i, j = _pair_indices(pair, solution.log_policy.shape[-1])
    li, lj = solution.log_policy[..., i], solution.log_policy[..., j]
    if np.any(np.isneginf(li) & np.isneginf(lj)):
        raise ValueError(f"the {solution.divergence} optimum puts zero mass on both responses of pair {pair}: "
                         "their binary preference is 0/0")
    with np.errstate(invalid="ignore"):
        return np.where(np.isneginf(li), -np.inf, np.where(np.isneginf(lj), np.inf, li - lj))


def f_rlhf_binary_preference(rewards, log_reference, *, divergence="reverse_kl", beta: float = 1.0,
                             pair=(0, 1)) -> np.ndarray:
    """p^f_rlhf(y_i | y_i, y_j) = π*(y_i)/(π*(y_i) + π*(y_j)) of the exact f-RLHF optimum, (...).

    Source: seed 001, §5.1-§5.2. Args as :func:`f_rlhf_pair_log_odds`.
    """
    return expit(f_rlhf_pair_log_odds(rewards, log_reference, divergence=divergence, beta=beta, pair=pair))


def _pair_instance(reward_gap, ref_log_odds):
    gap = as_float_array(reward_gap, "reward_gap", min_ndim=0)
    odds = as_float_array(ref_log_odds, "ref_log_odds", min_ndim=0)
    check_finite(gap, "reward_gap")
    check_finite(odds, "ref_log_odds")
    gap, odds = np.broadcast_arrays(gap, odds)
    rewards = np.stack([gap, np.zeros_like(gap)], axis=-1)
    log_reference = np.stack([log_expit(odds), log_expit(-odds)], axis=-1)
    return rewards, log_reference


def f_rlhf_pair_preference(reward_gap, ref_log_odds, *, divergence="reverse_kl", beta: float = 1.0) -> np.ndarray:
    """Exact p^f_rlhf(y₁) for two responses with r₁ − r₂ = ``reward_gap`` and logit p_ref(y₁) = ``ref_log_odds``.

    The K = 2 instance of :func:`f_rlhf_binary_preference`, batched: rewards (gap, 0) and
    π_ref = (σ(t), σ(−t)) with t = ``ref_log_odds``, so p_ref(y₁) can be 1e-300 or 1 − 1e-300.
    With BTL reward preference p = σ(gap): ``reward_gap = logit(p)``.

    Source: seed 001, §5.1 (Fig 2, Fig 9), §5.2 (preference collapse).

    Args:
      reward_gap: r(y₁) − r(y₂), shape (...), finite.
      ref_log_odds: log(p_ref(y₁)/p_ref(y₂)), broadcastable, finite.
      divergence, beta: as in :func:`pmtheory.solvers.optimal_policy`.

    Returns:
      p^f_rlhf(y₁), the broadcast shape.
    """
    rewards, log_reference = _pair_instance(reward_gap, ref_log_odds)
    return f_rlhf_binary_preference(rewards, log_reference, divergence=divergence, beta=beta)


def _log_f_prime_inverse(div, u: np.ndarray) -> np.ndarray:
    """log (f')⁻¹(u) elementwise (−inf where (f')⁻¹(u) = 0); u below sup f' is checked by the caller."""
    if div.name == "reverse_kl":
        return u - 1.0  # (f')⁻¹(u) = e^{u−1}, kept in log space for |u| beyond float range of exp
    with np.errstate(divide="ignore"):
        return np.log(div.f_prime_inverse(u))


def eq53_defined(rewards, *, divergence="reverse_kl", beta: float = 1.0, pair=(0, 1)) -> np.ndarray:
    """Where eq (5.3) can be evaluated: (f')⁻¹(r/β) exists on both responses and not both are 0.

    (f')⁻¹ is defined on the range of f' only: u < sup f' (e.g. u < 0 for forward KL, u < 1/a
    for alpha:<a>, u < log 2 for js); TV has no inverse of f' (f' is a step); χ² maps
    u ≤ −2 to 0, and two zeros make (5.3) a 0/0. Source: seed 001, eq (5.3).

    Args:
      rewards: shape (..., K), finite. divergence, beta, pair: as in :func:`eq53_log_odds`.

    Returns:
      boolean, shape (...).
    """
    div = get_divergence(divergence)
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    beta = check_positive_scalar(beta, "beta")
    i, j = _pair_indices(pair, rewards.shape[-1])
    if div.name == "tv":
        return np.zeros(rewards.shape[:-1], dtype=bool)
    u = rewards[..., [i, j]] / beta
    inside = np.all(u < div.sup_f_prime, axis=-1)
    if div.barrier:
        return inside
    return inside & np.any(u > div.f_prime_at_zero, axis=-1)


def eq53_log_odds(rewards, log_reference, *, divergence="reverse_kl", beta: float = 1.0, pair=(0, 1)) -> np.ndarray:
    """Eq (5.3)'s prediction of logit p^f_rlhf(y_i): log(π_ref,i/π_ref,j) + log((f')⁻¹(r_i/β)/(f')⁻¹(r_j/β)).

    .. math::  p^f_{rlhf}(y_i) = \\frac{p_{ref}(y_i) p^f_{reward}(y_i)}
               {\\sum_{l ∈ \\{i,j\\}} p_{ref}(y_l) p^f_{reward}(y_l)},
               \\quad p^f_{reward}(y_i) ∝ (f')^{-1}(r(y_i)/β)

    This is the formula as the paper prints it. The exact optimum is π* = π_ref·(f')⁻¹(r/β − Z)
    with the multiplier Z of Σπ = 1 (seed 004, Lemma 1), which (5.3) omits: the two agree for
    reverse KL ((f')⁻¹ = exp(· − 1) turns the shift by Z into a common factor) and on ties, and
    in general not otherwise (compare :func:`f_rlhf_pair_log_odds`).

    Source: seed 001, §5.1, eq (5.3).

    Args:
      rewards: shape (..., K), finite.
      log_reference: log π_ref, shape (..., K), normalized (only the pair's ratio is used).
      divergence: a name from :mod:`pmtheory.divergences`; ``tv`` has no (f')⁻¹.
      beta: β > 0.
      pair: (i, j).

    Returns:
      shape (...); ±inf where (f')⁻¹ is 0 on one of the two (χ²).

    Raises:
      ValueError: (5.3) is undefined on some instance (see :func:`eq53_defined`).
    """
    div = get_divergence(divergence)
    rewards = as_float_array(rewards, "rewards")
    log_reference = as_float_array(log_reference, "log_reference")
    check_log_probabilities(log_reference, "log_reference")
    defined = eq53_defined(rewards, divergence=div, beta=beta, pair=pair)
    if not np.all(defined):
        if div.name == "tv":
            raise ValueError("eq (5.3) is undefined for tv: f'(t) = sign(t − 1)/2 has no inverse")
        raise ValueError(
            f"eq (5.3) is undefined for {div.name} on some instance: (f')⁻¹(r/β) needs r/β < sup f' = "
            f"{div.sup_f_prime} (and for chi2 not both r/β ≤ f'(0) = {div.f_prime_at_zero})"
        )
    beta = check_positive_scalar(beta, "beta")
    i, j = _pair_indices(pair, rewards.shape[-1])
    log_h_i = _log_f_prime_inverse(div, rewards[..., i] / beta)
    log_h_j = _log_f_prime_inverse(div, rewards[..., j] / beta)
    ratio = log_reference[..., i] - log_reference[..., j]
    with np.errstate(invalid="ignore"):
        return np.where(np.isneginf(log_h_i), -np.inf, np.where(np.isneginf(log_h_j), np.inf,
                                                                 ratio + log_h_i - log_h_j))


def eq53_binary_preference(rewards, log_reference, *, divergence="reverse_kl", beta: float = 1.0,
                           pair=(0, 1)) -> np.ndarray:
    """Eq (5.3)'s predicted p^f_rlhf(y_i), σ of :func:`eq53_log_odds` (seed 001, eq 5.3)."""
    return expit(eq53_log_odds(rewards, log_reference, divergence=divergence, beta=beta, pair=pair))


def preference_collapse_limit(reward_gap, *, divergence="reverse_kl", beta: float = 1.0) -> np.ndarray:
    """lim_{p_ref(y₁)→0} p^f_rlhf(y₁) for two responses with r₁ − r₂ = ``reward_gap`` (K = 2).

    With Δ = (r₁ − r₂)/β, S = sup f' and h = (f')⁻¹, the exact optimum π_i = q_i·h(a_i − Z)
    gives, as q₁ = p_ref(y₁) → 0,

    .. math::  \\lim p^f_{rlhf}(y_1) = \\begin{cases} 0 & Δ ≤ S − f'(1) \\\\
               1 − h(S − Δ) & Δ > S − f'(1) \\end{cases}

    (if π₁ stays positive then h(a₁ − Z) → ∞, so Z → a₁ − S and π₂ → h(S − Δ), which is < 1
    iff Δ > S − f'(1)). For f' unbounded (reverse KL, χ²) the limit is 0: preference collapse.
    For the barrier members with finite S (forward KL: S − f'(1) = 1, limit 1 − 1/Δ; js, α,
    Hellinger) it is positive once Δ exceeds the threshold: no collapse. TV (a linear
    program, f' a step): the optimum moves all of y₂'s mass to y₁ when Δ > 1 whatever q₁ is,
    so the limit is 1 for Δ > 1 and 0 for Δ ≤ 1. The limit as p_ref(y₁) → 1 is
    1 − ``preference_collapse_limit(−reward_gap)``.

    Source: seed 001, §5.2 (preference collapse); the optimum's form from seed 004, Lemma 1.

    Args:
      reward_gap: r(y₁) − r(y₂), shape (...), finite.
      divergence: a name from :mod:`pmtheory.divergences`.
      beta: β > 0.

    Returns:
      the limit, shape (...).
    """
    div = get_divergence(divergence)
    gap = as_float_array(reward_gap, "reward_gap", min_ndim=0)
    check_finite(gap, "reward_gap")
    beta = check_positive_scalar(beta, "beta")
    delta = gap / beta
    if div.name == "tv":
        return np.where(delta > 1.0, 1.0, 0.0)
    if not np.isfinite(div.sup_f_prime):
        return np.zeros_like(delta)
    threshold = div.sup_f_prime - div.f_prime_at_one
    above = delta > threshold
    with np.errstate(divide="ignore"):
        log_h = div.log_ratio_at_distance(np.log(np.where(above, delta, threshold + 1.0)))
    return np.where(above, -np.expm1(log_h), 0.0)
