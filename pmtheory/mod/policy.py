"""Multi-objective decoding (MOD) on finite response sets, exactly.

Shape letters: ``M`` objectives (base policies), ``K`` responses, ``...`` batch (prompts or
prefixes).

Source: seed 004 (Shi et al. 2024), Lemma 1 / eq 3 (policy ↔ reward for a barrier f) and
Prop 1 (the optimum for Σ w_i R_i from the base policies alone).

Weights. Prop 1 states w in the simplex; everything here accepts any real w with Σ w_i = 1
(App G.2 uses w = (5, −4)). For every barrier f the implied reward β·Σ_i w_i ∇f(π_i/π_ref)
is finite, so the optimum for Σ_i w_i R_i exists and Prop 1's form with its normalizer Z
stays defined for any real weights; the proof's bracket [t1, t2] never uses w ≥ 0. What
can become undefined with a negative weight is the Z-free rule of Thm 5 (see
:mod:`pmtheory.mod.decoding`): its argument Σ w_i ∇f(π_i/π_ref) may exceed sup ∇f.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from pmtheory._torch_io import accepts_torch
from pmtheory._validation import (
    as_float_array,
    check_finite,
    check_log_probabilities,
    check_positive_scalar,
    check_probabilities,
)
from pmtheory.divergences import Divergence, get_divergence
from pmtheory.solvers import Solution
from pmtheory.solvers import optimal_policy as _regularized_optimum

__all__ = [
    "Prop1Normalizer",
    "check_weights",
    "implied_rewards",
    "optimal_log_policy",
    "optimal_policy",
    "prop1_bracket",
    "prop1_normalizer",
    "weighted_f_prime",
]

# How far Σ w_i may be from 1: weights normalized in float64 are off by O(M·eps); 1e-12
# leaves room for M up to ~10^3 while still rejecting weights that were never normalized.
_WEIGHT_SUM_TOLERANCE = 1e-12
# The advice for probabilities below float range: this module's log-space entry point.
_LOG_HINT = "use pmtheory.mod.optimal_log_policy with log-probabilities"


def _log_policies(policies, name: str) -> np.ndarray:
    policies = as_float_array(policies, name, min_ndim=2)
    if policies.ndim != 2:
        raise ValueError(f"{name} must have shape (M, K), got {policies.shape}")
    check_probabilities(policies, name, strictly_positive=True, log_hint=_LOG_HINT)
    return np.log(policies)


def check_weights(weights, m: int) -> np.ndarray:
    """Validate MOD preference weights: shape (M,), finite, real, summing to 1 (any sign).

    Raises:
      ValueError: wrong shape, a non-finite entry, or Σ w_i ≠ 1 (within 1e-12).
    """
    weights = as_float_array(weights, "weights")
    check_finite(weights, "weights")
    if weights.shape != (m,):
        raise ValueError(f"weights must have shape (M,) = ({m},), got {weights.shape}")
    if abs(weights.sum() - 1.0) > _WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"weights must sum to 1, got {weights.sum()!r}; divide by the sum first")
    return weights



@accepts_torch("policy", "reference")
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


def _barrier(divergence, what: str) -> Divergence:
    div = get_divergence(divergence)
    if not div.barrier:
        raise ValueError(f"{what} needs a barrier divergence (f'(0+) = -inf); {div.name} is not one")
    return div


def _broadcast_log_reference(log_policies: np.ndarray, log_reference) -> np.ndarray:
    """log π_ref validated and broadcast to the shape (..., K) of each log π_i in log_policies (M, ..., K)."""
    log_reference = as_float_array(log_reference, "log_reference")
    check_log_probabilities(log_reference, "log_reference")
    try:
        shape = np.broadcast_shapes(log_policies.shape[1:], log_reference.shape)
    except ValueError:
        raise ValueError(
            f"log_policies {log_policies.shape} (M, ..., K) and log_reference {log_reference.shape} "
            "(..., K) do not broadcast"
        ) from None
    if shape != log_policies.shape[1:]:
        raise ValueError(
            f"log_reference {log_reference.shape} must broadcast to log_policies[i] {log_policies.shape[1:]}"
        )
    return np.broadcast_to(log_reference, shape)


def _log_inputs(log_policies, weights, log_reference):
    """Validated (log π_i of shape (M, ..., K), w of shape (M,), log π_ref broadcast to (..., K))."""
    log_policies = as_float_array(log_policies, "log_policies", min_ndim=2)
    check_log_probabilities(log_policies, "log_policies")
    weights = check_weights(weights, log_policies.shape[0])
    return log_policies, weights, _broadcast_log_reference(log_policies, log_reference)


def _probability_inputs(policies, weights, reference) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (log π_i of shape (M, K), w of shape (M,), π_ref of shape (K,)) of Prop 1."""
    log_pi = _log_policies(policies, "policies")
    weights = check_weights(weights, log_pi.shape[0])
    reference = as_float_array(reference, "reference")
    check_probabilities(reference, "reference", strictly_positive=True, log_hint=_LOG_HINT)
    if reference.shape != log_pi.shape[1:]:
        raise ValueError(f"reference must have shape (K,) = {log_pi.shape[1:]}, got {reference.shape}")
    return log_pi, weights, reference


@accepts_torch("log_policies", "weights", "log_reference")
def weighted_f_prime(log_policies, weights, log_reference, *,
                     divergence: str | Divergence = "reverse_kl") -> np.ndarray:
    """The combined argument of MOD: u(y) = Σ_i w_i ∇f(π_i(y)/π_ref(y)), from log-probabilities.

    .. math::  u(y) = \\sum_i w_i \\nabla f\\big(π_i(y)/π_{ref}(y)\\big)

    By eq 3 this is Σ_i w_i R_i(y)/β up to a constant in y. Source: seed 004, Prop 1 and
    Thm 5 (eq 5).

    Args:
      log_policies: log π_i, shape (M, ..., K), each row normalized.
      weights: w, shape (M,), real, summing to 1.
      log_reference: log π_ref, shape (..., K) (broadcast against log_policies[i]).
      divergence: a barrier divergence.

    Returns:
      u, shape (..., K).
    """
    div = _barrier(divergence, "weighted_f_prime")
    log_policies, weights, log_reference = _log_inputs(log_policies, weights, log_reference)
    derivative = div.f_prime_of_log(log_policies - log_reference)
    return np.tensordot(weights, derivative, axes=1)


@accepts_torch("log_policies", "weights", "log_reference")
def optimal_log_policy(log_policies, weights, log_reference, *, divergence: str | Divergence = "reverse_kl",
                       beta: float = 1.0, check: bool = True) -> Solution:
    """MOD Prop 1 from log-probabilities, batched: the optimum for Σ_i w_i R_i under β·I_f.

    .. math::  π^*(y) = π_{ref}(y) · (∇f)^{-1}\\big(−Z + Σ_i w_i ∇f(π_i(y)/π_{ref}(y))\\big)

    Solved as the f-regularized optimum for the reward β·u (u from :func:`weighted_f_prime`),
    which equals Σ_i w_i R_i up to a constant in y (eq 3), by
    :func:`pmtheory.optimal_policy` with its KKT certificate. Works for sequence
    probabilities far below float range. Source: seed 004, Prop 1.

    Args:
      log_policies: shape (M, ..., K); weights: shape (M,), real, Σ = 1;
      log_reference: shape (..., K); divergence: a barrier divergence; beta: β > 0.
      check: enforce the certificate, as in :func:`pmtheory.optimal_policy` (raise
        :class:`pmtheory.SolverError` on a row that fails it); ``False`` returns the answer
        with its residuals.

    Returns:
      :class:`pmtheory.solvers.Solution` of shape (..., K); ``multiplier`` is β·Z.
    """
    div = _barrier(divergence, "MOD Prop 1")
    beta = check_positive_scalar(beta, "beta")
    combined = weighted_f_prime(log_policies, weights, log_reference, divergence=div)
    log_reference = np.broadcast_to(as_float_array(log_reference, "log_reference"), combined.shape)
    log_reference = log_reference - logsumexp(log_reference, axis=-1, keepdims=True)
    return _regularized_optimum(beta * combined, log_reference=log_reference, divergence=div, beta=beta,
                                check=check)


def prop1_bracket(policies, weights, reference, *, divergence: str | Divergence = "reverse_kl") -> tuple[float, float]:
    """MOD Prop 1's bracket [t1, t2] for the normalizer Z, as the paper states it.

    .. math::  t_{1,2} = −∇f(1) + \\min/\\max_y Σ_i w_i ∇f(π_i(y)/π_{ref}(y))

    Source: seed 004, App E.2, proof of Prop 1.

    Args:
      policies: shape (M, K), strictly positive rows summing to 1.
      weights: shape (M,), real, summing to 1.
      reference: shape (K,), strictly positive, summing to 1.

    Returns:
      (t1, t2), floats with t1 ≤ t2.
    """
    div = get_divergence(divergence)
    log_pi = _log_policies(policies, "policies")
    weights = check_weights(weights, log_pi.shape[0])
    reference = as_float_array(reference, "reference")
    check_probabilities(reference, "reference", strictly_positive=True)
    combined = weights @ div.f_prime_of_log(log_pi - np.log(reference))
    return float(-div.f_prime_at_one + combined.min()), float(-div.f_prime_at_one + combined.max())


@dataclass(frozen=True)
class Prop1Normalizer:
    """Z of MOD Prop 1 found by the paper's bisection on its bracket [t1, t2]."""

    z: float  # the root of φ(t) = Σ_y π_ref(y)(∇f)⁻¹(−t + u(y)) − 1
    t1: float  # the bracket's lower end, −∇f(1) + min_y u(y)
    t2: float  # the bracket's upper end, −∇f(1) + max_y u(y)
    phi_defined_at_t1: bool  # whether every argument −t1 + u(y) lies below sup ∇f (else φ(t1) = +∞)
    iterations: int  # bisection steps until the bracket reached adjacent floats


def prop1_normalizer(policies, weights, reference, *, divergence: str | Divergence = "reverse_kl") -> Prop1Normalizer:
    """Z of MOD Prop 1 by bisection of φ on the stated bracket [t1, t2], to adjacent floats.

    .. math::  φ(t) = Σ_y π_{ref}(y)\\,(∇f)^{-1}(−t + u(y)) − 1,\\qquad φ(t_1) ≥ 0 ≥ φ(t_2)

    with u = Σ_i w_i ∇f(π_i/π_ref). Where sup ∇f = S < ∞ (forward KL, JS, α, Hellinger) the
    argument may reach S inside the bracket; (∇f)⁻¹ is then taken as +∞ (its limit), which
    keeps φ monotone on the whole bracket, and ``phi_defined_at_t1`` records whether that
    extension was needed. Source: seed 004, App E.2, proof of Prop 1.

    Args:
      policies: shape (M, K); weights: shape (M,), Σ = 1; reference: shape (K,).
      divergence: a barrier divergence.

    Returns:
      :class:`Prop1Normalizer`.
    """
    div = _barrier(divergence, "MOD Prop 1")
    log_pi, weights, reference = _probability_inputs(policies, weights, reference)
    combined = weights @ div.f_prime_of_log(log_pi - np.log(reference))
    lo, hi = prop1_bracket(policies, weights, reference, divergence=div)
    t1, t2 = lo, hi

    def phi(t: float) -> float:
        argument = combined - t
        if np.any(argument >= div.sup_f_prime):
            return np.inf
        return float(np.sum(reference * div.f_prime_inverse(argument)) - 1.0)

    defined = bool(np.all(combined - t1 < div.sup_f_prime))
    iterations = 0
    # Each step halves [lo, hi] until the midpoint is one of its ends (adjacent floats):
    # at most ~1100 steps for any float64 bracket, ~60 for moderate ones.
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        iterations += 1
        if phi(mid) > 0:
            lo = mid
        else:
            hi = mid
    z = lo if abs(phi(lo)) <= abs(phi(hi)) else hi
    return Prop1Normalizer(z=float(z), t1=t1, t2=t2, phi_defined_at_t1=defined, iterations=iterations)


@accepts_torch("policies", "weights", "reference")
def optimal_policy(policies, weights, reference, *, divergence: str | Divergence = "reverse_kl",
                   beta: float = 1.0, check: bool = True) -> Solution:
    """The optimum for Σ_i w_i R_i from the base policies π_i alone (MOD Prop 1), exactly.

    .. math::  π^*(y) = π_{ref}(y) · (∇f)^{-1}(−Z + Σ_i w_i ∇f(π_i(y)/π_{ref}(y)))

    This is the f-regularized optimum for the reward β·Σ_i w_i ∇f(π_i/π_ref), which equals
    Σ_i w_i R_i up to a constant (eq 3), so it is solved by :func:`pmtheory.optimal_policy`
    with its certificate. Source: seed 004, Prop 1.

    Args:
      policies: shape (M, K), each row a strictly positive distribution.
      weights: shape (M,), real, summing to 1 (negative entries allowed: the formula with
        its Z stays defined for every barrier f, see the module doc; Prop 1 states w in
        the simplex).
      reference: shape (K,), strictly positive, summing to 1.
      divergence: a barrier divergence.
      beta: β > 0 (only rescales the implied reward; the policy does not depend on it).
      check: enforce the certificate, as in :func:`pmtheory.optimal_policy` (raise
        :class:`pmtheory.SolverError` when it fails); ``False`` returns the answer with its
        residuals.

    For probabilities below float range (a zero in float64) use :func:`optimal_log_policy`.

    Returns:
      :class:`pmtheory.solvers.Solution` of shape (K,); its ``multiplier`` is β·Z in the
      units of the implied reward.

    >>> sol = optimal_policy([[0.2, 0.8], [0.8, 0.2]], [0.5, 0.5], [0.5, 0.5])
    >>> [round(float(p), 6) for p in sol.policy]  # eq 7: ∝ √(π_1 π_2)
    [0.5, 0.5]
    """
    div = _barrier(divergence, "MOD Prop 1")
    beta = check_positive_scalar(beta, "beta")
    log_pi, weights, reference = _probability_inputs(policies, weights, reference)
    log_q = np.log(reference)
    log_q = log_q - logsumexp(log_q)
    return optimal_log_policy(log_pi - logsumexp(log_pi, axis=-1, keepdims=True), weights, log_q,
                              divergence=div, beta=beta, check=check)
