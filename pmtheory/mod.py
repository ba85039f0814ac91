"""Multi-objective decoding (MOD) on finite response sets, exactly.

Shape letters: ``M`` objectives (base policies), ``K`` responses.

Source: seed 004 (Shi et al. 2024), Lemma 1 / eq 3 (policy ↔ reward for a barrier f) and
Prop 1 (the optimum for Σ w_i R_i from the base policies alone).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from pmtheory._validation import as_float_array, check_finite, check_positive_scalar, check_probabilities
from pmtheory.divergences import Divergence, get_divergence
from pmtheory.solvers import Solution
from pmtheory.solvers import optimal_policy as _regularized_optimum

__all__ = ["implied_rewards", "optimal_policy", "prop1_bracket"]


def _log_policies(policies, name: str) -> np.ndarray:
    policies = as_float_array(policies, name, min_ndim=2)
    if policies.ndim != 2:
        raise ValueError(f"{name} must have shape (M, K), got {policies.shape}")
    check_probabilities(policies, name, strictly_positive=True)
    return np.log(policies)


def implied_rewards(policy, reference, *, divergence: str | Divergence = "reverse_kl", beta: float = 1.0) -> np.ndarray:
    """The reward a barrier-regularized optimum reveals, up to a constant: β·f'(π/π_ref).

    .. math::  R(y) = β ∇f(π(y)/π_{ref}(y)) + β Z   (seed 004, eq 3, Lemma 1)

    Args:
      policy: shape (..., K), strictly positive, summing to 1.
      reference: shape (K,) or (..., K), strictly positive, summing to 1.

    Returns:
      shape (..., K): β·f'(π/π_ref); the true reward differs by a per-prompt constant βZ.
    """
    div = get_divergence(divergence)
    if not div.barrier:
        raise ValueError(
            f"divergence {div.name} is not a barrier (f'(0+) = {div.f_prime_at_zero}): a zero "
            "probability does not determine the reward, so eq 3 does not invert"
        )
    beta = check_positive_scalar(beta, "beta")
    policy = as_float_array(policy, "policy")
    reference = as_float_array(reference, "reference")
    check_probabilities(policy, "policy", strictly_positive=True)
    check_probabilities(reference, "reference", strictly_positive=True)
    return beta * div.f_prime_of_log(np.log(policy) - np.log(reference))


def prop1_bracket(policies, weights, reference, *, divergence: str | Divergence = "reverse_kl") -> tuple[float, float]:
    """MOD Prop 1's bracket [t1, t2] for the normalizer Z, as the paper states it.

    .. math::  t_{1,2} = −∇f(1) + \\min/\\max_y Σ_i w_i ∇f(π_i(y)/π_{ref}(y))

    Source: seed 004, App E.2, proof of Prop 1.
    """
    div = get_divergence(divergence)
    log_pi = _log_policies(policies, "policies")
    weights = _check_weights(weights, log_pi.shape[0])
    reference = as_float_array(reference, "reference")
    check_probabilities(reference, "reference", strictly_positive=True)
    combined = weights @ div.f_prime_of_log(log_pi - np.log(reference))
    return float(-div.f_prime_at_one + combined.min()), float(-div.f_prime_at_one + combined.max())


def _check_weights(weights, m: int) -> np.ndarray:
    weights = as_float_array(weights, "weights")
    check_finite(weights, "weights")
    if weights.shape != (m,):
        raise ValueError(f"weights must have shape (M,) = ({m},), got {weights.shape}")
    if abs(weights.sum() - 1.0) > 1e-12:
        raise ValueError(f"weights must sum to 1, got {weights.sum()!r}")
    return weights


def optimal_policy(policies, weights, reference, *, divergence: str | Divergence = "reverse_kl",
                   beta: float = 1.0) -> Solution:
    """The optimum for Σ_i w_i R_i from the base policies π_i alone (MOD Prop 1), exactly.

    .. math::  π^*(y) = π_{ref}(y) · (∇f)^{-1}(−Z + Σ_i w_i ∇f(π_i(y)/π_{ref}(y)))

    This is the f-regularized optimum for the reward β·Σ_i w_i ∇f(π_i/π_ref), which equals
    Σ_i w_i R_i up to a constant (eq 3), so it is solved by :func:`pmtheory.optimal_policy`
    with its certificate. Source: seed 004, Prop 1.

    Args:
      policies: shape (M, K), each row a strictly positive distribution.
      weights: shape (M,), real, summing to 1 (negative entries allowed for barrier f whose
        ∇f is finite on (0, ∞); Prop 1 states w in the simplex).
      reference: shape (K,), strictly positive, summing to 1.
      divergence: a barrier divergence.
      beta: β > 0 (only rescales the implied reward; the policy does not depend on it).

    Returns:
      :class:`pmtheory.solvers.Solution` of shape (K,); its ``multiplier`` is β·Z in the
      units of the implied reward.
    """
    div = get_divergence(divergence)
    if not div.barrier:
        raise ValueError(f"MOD Prop 1 needs a barrier divergence; {div.name} is not one")
    beta = check_positive_scalar(beta, "beta")
    log_pi = _log_policies(policies, "policies")
    weights = _check_weights(weights, log_pi.shape[0])
    reference = as_float_array(reference, "reference")
    check_probabilities(reference, "reference", strictly_positive=True)
    if reference.shape != log_pi.shape[1:]:
        raise ValueError(f"reference must have shape (K,) = {log_pi.shape[1:]}, got {reference.shape}")
    log_q = np.log(reference)
    log_q = log_q - logsumexp(log_q)
    rewards = beta * (weights @ div.f_prime_of_log(log_pi - log_q))
    return _regularized_optimum(rewards, log_reference=log_q, divergence=div, beta=beta)
