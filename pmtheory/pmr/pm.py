"""Preference-matching (PM) regularization on a finite response set.

Shape letters: ``K`` responses, ``...`` batch (prompts). Every policy is taken along the last
axis. All closed forms are evaluated in log space.

Source: seed 001 (shared/seeds/001_c8a06c444314e79a.txt) (Xiao et al. 2024, PMR), §3 (the PM
regularizer, eq 3.8, Theorems 1-3, eq 3.14), §4 (conditional PM RLHF, eq 4.1, Theorem 4,
Definition 4.1) and Table 1 (max-entropy RLHF).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.special import log_softmax, logsumexp, xlogy

from pmtheory._validation import (
    as_float_array,
    check_finite,
    check_log_probabilities,
    check_positive_scalar,
    check_probabilities,
    check_same_shape,
)

__all__ = [
    "ConditionalPMSolution",
    "conditional_pm_log_policy",
    "conditional_pm_objective",
    "conditional_pm_optimal_policy",
    "generalized_pm_log_policy",
    "generalized_pm_optimal_policy",
    "generalized_pm_regularizer",
    "max_entropy_log_policy",
    "max_entropy_objective",
    "pm_log_policy",
    "pm_objective",
    "pm_optimal_value",
    "pm_regularizer",
    "pm_regularizer_from_log",
]


def _check_rewards(rewards) -> np.ndarray:
    """Rewards as a finite float array (..., K)."""
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    return rewards


def pm_log_policy(rewards) -> np.ndarray:
    """log π* of the PM policy, the PL model of the rewards (eq 3.2): a log-softmax.

    .. math::  π^*(y) = e^{r(y)} / Σ_{y'} e^{r(y')}

    Source: seed 001, Definition 3.2, eq 3.2.

    Args:
      rewards: r, shape (..., K), finite.

    Returns:
      log π*, shape (..., K).

    >>> np.round(np.exp(pm_log_policy([0.0, np.log(3.0)])), 12).tolist()
    [0.25, 0.75]
    """
    rewards = _check_rewards(rewards)
    return log_softmax(rewards, axis=-1)


def max_entropy_log_policy(rewards, tau: float) -> np.ndarray:
    """log π of max-entropy RLHF, argmax_π E_π r + τ·H(π) = softmax(r/τ).

    .. math::  π_τ(y) = e^{r(y)/τ} / Σ_{y'} e^{r(y')/τ}

    Source: seed 001, §3.2 Example 1 and Table 1 (maximum-entropy RLHF with a weight τ on
    the entropy; PM exactly when τ = 1).

    Args:
      rewards: r, shape (..., K), finite.
      tau: the entropy weight τ > 0.

    Returns:
      log π_τ, shape (..., K).
    """
    rewards = _check_rewards(rewards)
    tau = check_positive_scalar(tau, "tau")
    return log_softmax((rewards - rewards.max(axis=-1, keepdims=True)) / tau, axis=-1)


def _check_alpha(alpha) -> float:
    if isinstance(alpha, (bool, str, bytes)) or not np.isscalar(alpha):
        raise TypeError(f"alpha must be a real number >= 0 (the threshold on π_ref), got {alpha!r}")
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha < 0.0:
        raise ValueError(f"alpha must be a finite number >= 0 (the threshold on π_ref), got {alpha}")
    return alpha


def conditional_pm_log_policy(rewards, log_reference, *, alpha: float) -> np.ndarray:
    """log π* of conditional PM RLHF (Definition 4.1): ∝ e^r on M, ∝ π_ref·e^r off M.

    .. math::  M = \\{y : π_{ref}(y) ≥ α\\},\\quad
               π^*(y) ∝ e^{r(y)}\\,[y ∈ M] + π_{ref}(y)\\,e^{r(y)}\\,[y ∉ M]

    This is the exact maximizer of E_π[r − log π·1(y∈M) − log(π/π_ref)·1(y∉M)]: the
    objective is −KL(π‖π*) + log Z with π* as above (eq 4.1 with ε(x, y) = π_ref(y|x)).
    Membership is decided in log space, ``log_reference >= log(alpha)``, so it is exact for
    references below float range. α = 0 gives M = all responses (PM RLHF, softmax r);
    α > max π_ref gives M = ∅ (KL RLHF with β = 1).

    Source: seed 001, §4.2, Definition 4.1 (and eq 4.1, Theorem 4).

    Args:
      rewards: r, shape (..., K), finite.
      log_reference: log π_ref, shape (..., K), normalized.
      alpha: the threshold α ≥ 0 defining M.

    Returns:
      log π*, shape (..., K).
    """
    rewards = as_float_array(rewards, "rewards")
    log_reference = as_float_array(log_reference, "log_reference")
    check_finite(rewards, "rewards")
    check_log_probabilities(log_reference, "log_reference")
    check_same_shape(rewards, "rewards", log_reference, "log_reference")
    alpha = _check_alpha(alpha)
    with np.errstate(divide="ignore"):
        log_alpha = np.log(alpha)  # −inf for α = 0: every response is in M
    in_set = log_reference >= log_alpha
    logits = (rewards - rewards.max(axis=-1, keepdims=True)) + np.where(in_set, 0.0, log_reference)
    return log_softmax(logits, axis=-1)


# ---------------------------------------------------------------------------------------
# The PM regularizer (eq 3.8, Theorem 2) and the PM objective.


def _broadcast_constant(value, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A finite constant (scalar, per response (K,), or per prompt (..., 1)) broadcast to shape."""
    array = as_float_array(value, name, min_ndim=0)
    check_finite(array, name)
    try:
        return np.broadcast_to(array, shape)
    except ValueError:
        raise ValueError(
            f"{name} must be a scalar, one value per response (shape (K,)) or per prompt "
            f"(shape (..., 1)) broadcastable to {shape}, got shape {array.shape}"
        ) from None


def _check_unit_interval_policy(policy: np.ndarray, name: str) -> None:
    check_finite(policy, name)
    if np.any(policy <= 0.0) or np.any(policy > 1.0):
        bad = policy[(policy <= 0.0) | (policy > 1.0)].flat[0]
        raise ValueError(
            f"{name} must lie in (0, 1] (R(π) has log π and C2/π, undefined at π = 0), got {bad!r}; "
            "pass log probabilities to pm_regularizer_from_log for values below float range"
        )


def pm_regularizer(policy, *, c1=0.0, c2=0.0) -> np.ndarray:
    """The PM regularizer R(π) = −log π + C1 + C2/π, elementwise (eq 3.8).

    .. math::  R_{x,y}(π) = -\\log π + C_{1,x} + C_{2,x,y}/π

    Source: seed 001, §3.2 eq 3.8 and Theorem 1 (scalar C2); §3.3 Theorem 2 (C2 depending on
    the response).

    Args:
      policy: probabilities π(y), shape (..., K), each in (0, 1] (need not sum to 1: R acts
        on one probability at a time).
      c1: C1, a scalar or per prompt (shape (..., 1)).
      c2: C2, a scalar, per response (shape (K,)) or per prompt and response (..., K).

    Returns:
      R(π), shape (..., K).
    """
    policy = as_float_array(policy, "policy")
    _check_unit_interval_policy(policy, "policy")
    c1 = _broadcast_constant(c1, "c1", policy.shape)
    c2 = _broadcast_constant(c2, "c2", policy.shape)
    return -np.log(policy) + c1 + c2 / policy


def pm_regularizer_from_log(log_policy, *, c1=0.0, c2=0.0) -> np.ndarray:
    """R(π) = −log π + C1 + C2·e^{−log π}, from log π (eq 3.8 in log space).

    For C2 = 0 this is exact for probabilities far below float range; for C2 ≠ 0 and
    π < C2·1e-308 the value overflows to ±inf, which is the value's true size in float64.

    Source: seed 001, §3.2 eq 3.8; §3.3 Theorem 2.

    Args:
      log_policy: log π(y), shape (..., K), finite, ≤ 0.
      c1: C1, as in :func:`pm_regularizer`.
      c2: C2, as in :func:`pm_regularizer`.

    Returns:
      R(π), shape (..., K).
    """
    log_policy = as_float_array(log_policy, "log_policy")
    check_finite(log_policy, "log_policy")
    if np.any(log_policy > 0.0):
        raise ValueError(f"log_policy must be <= 0 (a log probability), got max {log_policy.max()!r}")
    c1 = _broadcast_constant(c1, "c1", log_policy.shape)
    c2 = _broadcast_constant(c2, "c2", log_policy.shape)
    with np.errstate(over="ignore"):
        inverse = np.exp(-log_policy)
    term = np.where(c2 == 0.0, 0.0, c2 * np.where(c2 == 0.0, 1.0, inverse))
    return -log_policy + c1 + term


def _check_policy_simplex(policy, name: str = "policy") -> np.ndarray:
    policy = as_float_array(policy, name)
    check_probabilities(policy, name, strictly_positive=False)
    return policy


def _check_policy_and_rewards(policy, rewards, log_policy=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(π on the simplex, finite rewards, log π) of one shape (..., K), for evaluating an
    objective at π given as ``policy`` or (exactly one of them) ``log_policy``, whose −inf
    entries are the zeros: it keeps the support of probabilities that underflow in float64."""
    if (policy is None) == (log_policy is None):
        raise ValueError("give exactly one of policy and log_policy")
    if log_policy is None:
        policy = _check_policy_simplex(policy)
        with np.errstate(divide="ignore"):
            log_policy = np.log(policy)
    else:
        log_policy = as_float_array(log_policy, "log_policy")
        if np.any(np.isnan(log_policy)) or np.any(log_policy == np.inf):
            raise ValueError("log_policy must be finite or -inf (a zero probability), without NaN")
        total = logsumexp(log_policy, axis=-1)
        if np.any(np.abs(total) > 1e-8):
            raise ValueError("log_policy must log-sum-exp to 0 along its last axis, "
                             f"got up to {np.abs(total).max():.3g}")
        policy = np.exp(log_policy)
    rewards = _check_rewards(rewards)
    check_same_shape(policy, "policy", rewards, "rewards")
    return policy, rewards, log_policy


def pm_objective(policy=None, rewards=None, *, log_policy=None, c1=0.0, c2=0.0) -> np.ndarray:
    """The PM objective E_{y∼π}[r(y) + R(π(y))] with R of eq 3.8, per prompt.

    .. math::  J(π) = \\sum_{y:\\,π(y)>0} π(y)\\big(r(y) - \\log π(y) + C_1\\big)
               + \\sum_{y:\\,π(y)>0} C_{2,y}

    The expectation runs over responses y ∼ π, so responses with π(y) = 0 contribute
    nothing: the C2 term is Σ over the support of π, k·C2 only for full-support π (Remark
    3.4 states k·C2). 0·log 0 = 0.

    Source: seed 001, §3.2 eq 3.9 (Definition 3.5), Remark 3.4; §3.3 eq 3.11, Remark 3.6.

    Args:
      policy: π, shape (..., K), a probability vector along the last axis (zeros allowed).
      rewards: r, shape (..., K), finite.
      log_policy: log π instead of ``policy`` (−inf for zeros), which keeps the support of
        probabilities below float range (they count in the C2 term).
      c1: C1, scalar or per prompt (..., 1).
      c2: C2, scalar, per response (K,) or (..., K).

    Returns:
      J(π), shape (...).
    """
    if rewards is None:
        raise ValueError("rewards is required")
    policy, rewards, log_policy = _check_policy_and_rewards(policy, rewards, log_policy)
    c1 = _broadcast_constant(c1, "c1", policy.shape)
    c2 = _broadcast_constant(c2, "c2", policy.shape)
    support = log_policy > -np.inf
    value = policy * (rewards + c1) - np.where(support, policy * np.where(support, log_policy, 0.0), 0.0)
    value += np.where(support, c2, 0.0)
    return value.sum(axis=-1)


def pm_optimal_value(rewards, *, c1=0.0, c2=0.0) -> np.ndarray:
    """The PM objective at the PL policy: log Σ e^r + C1 + Σ_y C2,y (proof of Theorem 1).

    .. math::  J(π^*) = \\log Z + C_1 + \\sum_y C_{2,y},\\quad Z = \\sum_y e^{r(y)}

    Source: seed 001, §3.5 (the last display of the proof of Theorem 1).

    Args:
      rewards: r, shape (..., K), finite.
      c1: C1, scalar or per prompt (..., 1).
      c2: C2, scalar, per response (K,) or (..., K).

    Returns:
      J(π*), shape (...).
    """
    rewards = _check_rewards(rewards)
    c1 = _broadcast_constant(c1, "c1", rewards.shape)
    c2 = _broadcast_constant(c2, "c2", rewards.shape)
    return logsumexp(rewards, axis=-1) + c1[..., 0] + c2.sum(axis=-1)


def max_entropy_objective(policy, rewards, tau: float) -> np.ndarray:
    """Max-entropy RLHF objective E_π r + τ·H(π), per prompt.

    .. math::  J_τ(π) = \\sum_y π(y) r(y) - τ \\sum_y π(y) \\log π(y)

    Source: seed 001, §3.2 Example 1 (τ = 1 is eq 3.10) and Table 1.

    Args:
      policy: π, shape (..., K), a probability vector (zeros allowed, 0·log 0 = 0).
      rewards: r, shape (..., K), finite.
      tau: τ > 0.

    Returns:
      J_τ(π), shape (...).
    """
    policy, rewards, _ = _check_policy_and_rewards(policy, rewards)
    tau = check_positive_scalar(tau, "tau")
    return (policy * rewards - tau * xlogy(policy, policy)).sum(axis=-1)


# ---------------------------------------------------------------------------------------
# Conditional PM RLHF (eq 4.1, Theorem 4).


@dataclass(frozen=True)
class ConditionalPMSolution:
    """The exact maximizer of the conditional PM objective (4.1), with its certificate."""

    log_policy: np.ndarray  # log π*, shape (..., K): r + 1(y∉M)·log ε − log Z
    policy: np.ndarray  # π*, shape (..., K)
    log_conditional_in_set: np.ndarray  # log π*(y | M) for y ∈ M, −inf off M (all −inf if M = ∅), (..., K)
    mass_in_set: np.ndarray  # π*(M), shape (...); 0 where M = ∅
    objective: np.ndarray  # the value of (4.1) at π*: log Z + C1 + Σ_y C2,y, shape (...)
    kkt_residual: np.ndarray  # scaled stationarity + normalization violation of π*, shape (...)


def _check_in_set_mask(in_set_mask, rewards: np.ndarray) -> np.ndarray:
    """The membership mask of M: booleans of the rewards' shape (..., K)."""
    mask = np.asarray(in_set_mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"in_set_mask must be an array of booleans, got dtype {mask.dtype}")
    check_same_shape(rewards, "rewards", mask, "in_set_mask")
    return mask


def _log_epsilon(epsilon, log_epsilon, shape) -> np.ndarray:
    if (epsilon is None) == (log_epsilon is None):
        raise ValueError("give exactly one of epsilon (ε > 0) and log_epsilon (log ε)")
    if epsilon is not None:
        eps = as_float_array(epsilon, "epsilon", min_ndim=0)
        check_finite(eps, "epsilon")
        if np.any(eps <= 0.0):
            raise ValueError(f"epsilon must be > 0 (the relaxation ε of eq 4.1), got min {eps.min()!r}")
        return _broadcast_constant(np.log(eps), "epsilon", shape)
    return _broadcast_constant(log_epsilon, "log_epsilon", shape)


def conditional_pm_optimal_policy(rewards, in_set_mask, epsilon=None, *, log_epsilon=None, c1=0.0,
                                  c2=0.0) -> ConditionalPMSolution:
    """Exact maximizer of conditional PM RLHF (4.1) for any set M and relaxation ε > 0.

    .. math::

        \\max_π E_π\\big[r - \\log π\\,1(y∈M) - \\log(π/ε)\\,1(y∉M) + C_1 + C_2/π\\big]
        = \\max_π -KL(π\\|π^*) + \\log Z + C_1 + \\sum_y C_{2,y},

        π^*(y) = e^{r(y) + 1(y∉M)\\log ε(y)}/Z

    for full-support π (the identity of §3.5 with rewards r + 1(y∉M) log ε). So π*(·|M) is
    softmax of r over M for every ε > 0, and π*(M) = Z_M/(Z_M + Σ_{y∉M} ε(y)e^{r(y)}) → 1
    as ε → 0 (M ≠ ∅). ε may depend on the response (Definition 4.1 takes ε = π_ref).

    Source: seed 001, §4.1 eq 4.1 and Theorem 4; App B.2.

    Args:
      rewards: r, shape (..., K), finite.
      in_set_mask: booleans, shape (..., K): True for y ∈ M(x).
      epsilon: ε > 0, scalar or broadcastable to (..., K).
      log_epsilon: log ε instead of ``epsilon`` (for ε below float range), finite.
      c1: C1, scalar or per prompt (..., 1).
      c2: C2, scalar, per response (K,) or (..., K).

    Returns:
      :class:`ConditionalPMSolution`.
    """
    rewards = _check_rewards(rewards)
    mask = _check_in_set_mask(in_set_mask, rewards)
    log_eps = _log_epsilon(epsilon, log_epsilon, rewards.shape)
    c1 = _broadcast_constant(c1, "c1", rewards.shape)
    c2 = _broadcast_constant(c2, "c2", rewards.shape)
    logits = rewards + np.where(mask, 0.0, log_eps)
    top = logits.max(axis=-1, keepdims=True)
    log_z = (top + logsumexp(logits - top, axis=-1, keepdims=True))
    log_policy = logits - log_z
    policy = np.exp(log_policy)
    in_set_logits = np.where(mask, log_policy, -np.inf)
    any_in_set = mask.any(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        log_mass = np.where(any_in_set, logsumexp(np.where(any_in_set, in_set_logits, 0.0), axis=-1,
                                                  keepdims=True), -np.inf)
        log_conditional = np.where(mask, in_set_logits - np.where(any_in_set, log_mass, 0.0), -np.inf)
    # Stationarity of the Lagrangian: r + 1(∉M) log ε − log π is the same (log Z) for every y.
    spread = logits - log_policy - log_z
    scale = 1.0 + np.abs(logits).max(axis=-1)
    residual = np.maximum(np.abs(spread).max(axis=-1) / scale, np.abs(policy.sum(axis=-1) - 1.0))
    return ConditionalPMSolution(
        log_policy=log_policy,
        policy=policy,
        log_conditional_in_set=log_conditional,
        mass_in_set=np.exp(log_mass[..., 0]),
        objective=log_z[..., 0] + c1[..., 0] + c2.sum(axis=-1),
        kkt_residual=residual,
    )


def conditional_pm_objective(policy, rewards, in_set_mask, epsilon=None, *, log_epsilon=None, c1=0.0,
                             c2=0.0, log_policy=None) -> np.ndarray:
    """The conditional PM objective (4.1) at a policy, per prompt.

    .. math::  J(π) = \\sum_{π(y)>0} π(y)\\big(r(y) - \\log π(y) + 1(y∉M)\\log ε(y) + C_1\\big)
               + \\sum_{π(y)>0} C_{2,y}

    Source: seed 001, §4.1 eq 4.1.

    Args:
      policy: π, shape (..., K), a probability vector (zeros allowed); None with ``log_policy``.
      rewards, in_set_mask, epsilon, log_epsilon, c1, c2: as in
        :func:`conditional_pm_optimal_policy`.
      log_policy: log π instead of ``policy`` (see :func:`pm_objective`).

    Returns:
      J(π), shape (...).
    """
    policy, rewards, log_policy = _check_policy_and_rewards(policy, rewards, log_policy)
    mask = _check_in_set_mask(in_set_mask, rewards)
    log_eps = _log_epsilon(epsilon, log_epsilon, rewards.shape)
    shifted = rewards + np.where(mask, 0.0, log_eps)
    return pm_objective(rewards=shifted, log_policy=log_policy, c1=c1, c2=c2)


# ---------------------------------------------------------------------------------------
# Generalized PL model (§3.4, Theorem 3, eq 3.14).

PI_SYMBOL = sp.Symbol("pi", positive=True)


def _link_parts(g, variable, inverse, antiderivative, *, need_antiderivative: bool = True):
    """(u, g(u), g⁻¹(π), G(u)) as sympy objects, checked: g(g⁻¹(π)) = π and G' = g."""
    if isinstance(g, str):
        g = sp.sympify(g, locals={variable: sp.Symbol(variable, real=True)})
    if isinstance(inverse, str):
        inverse = sp.sympify(inverse)
    if isinstance(antiderivative, str):
        antiderivative = sp.sympify(antiderivative)
    return _cached_link_parts(g, variable, inverse, antiderivative, need_antiderivative)


@functools.lru_cache(maxsize=64)
def _cached_link_parts(g, variable, inverse, antiderivative, need_antiderivative):
    if isinstance(g, str):
        g = sp.sympify(g, locals={variable: sp.Symbol(variable, real=True)})
    if not isinstance(g, sp.Expr):
        raise TypeError(f"g must be a sympy expression (or string) in {variable!r}, got {type(g).__name__}")
    symbols = {s for s in g.free_symbols if s.name == variable}
    if len(symbols) != 1 or len(g.free_symbols) != 1:
        raise ValueError(f"g must be an expression in the single variable {variable!r}, got free symbols "
                         f"{sorted(s.name for s in g.free_symbols)}")
    (u,) = symbols
    if inverse is None:
        candidates = [c for c in sp.solve(sp.Eq(g, PI_SYMBOL), u)
                      if sp.simplify(g.subs(u, c) - PI_SYMBOL) == 0 and c.is_real is not False]
        if not candidates:
            raise ValueError(f"sympy found no inverse of g = {g}; pass inverse= (an expression in 'pi')")
        inverse = candidates[0]
    else:
        inverse = sp.sympify(inverse).subs(sp.Symbol("pi"), PI_SYMBOL)
    probe = [sp.Rational(1, 7), sp.Rational(1, 2), sp.Rational(9, 10)]
    for p in probe:
        if abs(float(sp.N(g.subs(u, inverse.subs(PI_SYMBOL, p)) - p, 30))) > 1e-20:
            raise ValueError(f"inverse {inverse} is not the inverse of g = {g} at pi = {p}")
    if not need_antiderivative:
        return u, g, inverse, None
    if antiderivative is None:
        antiderivative = sp.integrate(g, u)
        if antiderivative.has(sp.Integral):
            raise ValueError(f"sympy found no antiderivative of g = {g}; pass antiderivative= (in {variable!r})")
    else:
        antiderivative = sp.sympify(antiderivative).subs(sp.Symbol(variable), u)
    if sp.simplify(sp.expand_func(sp.diff(antiderivative, u) - g)) != 0:
        raise ValueError(f"antiderivative {antiderivative} does not differentiate to g = {g}")
    return u, g, inverse, antiderivative


def generalized_pm_regularizer(g, *, variable: str = "u", c1=0, c2=0, inverse=None,
                               antiderivative=None) -> sp.Expr:
    """Eq 3.14 for a link g: R(π) = −g⁻¹(π) + C1 + (G(g⁻¹(π)) + C2)/π, as a sympy expression.

    .. math::  R(π) = -g^{-1}(π) + C_1 + \\frac{G(g^{-1}(π)) + C_2}{π},\\quad G' = g

    This is the paper's formula, not a claim that it is PM: Theorem 3 says it is, and
    :mod:`pmtheory.pmr.claims_general` checks that (it is for g = a·e^{bu} only).

    Source: seed 001, §3.4, Theorem 3, eq 3.14.

    Args:
      g: the link, a positive increasing sympy expression (or string) in ``variable``.
      variable: the name of g's variable.
      c1, c2: the constants C1, C2 (numbers or sympy expressions).
      inverse: g⁻¹ as an expression in ``pi`` (default: solved by sympy, checked).
      antiderivative: G in ``variable`` (default: integrated by sympy, checked).

    Returns:
      R as a sympy expression in the positive symbol ``pi``.
    """
    _, _, inv, big_g = _link_parts(g, variable, inverse, antiderivative)
    u = [s for s in big_g.free_symbols if s.name == variable]
    g_of_inverse = big_g.subs(u[0], inv) if u else big_g
    return -inv + sp.sympify(c1) + (g_of_inverse + sp.sympify(c2)) / PI_SYMBOL


def generalized_pm_log_policy(rewards, g, *, variable: str = "u") -> np.ndarray:
    """log of the generalized-PL (PM target) policy g(r)/Σ g(r).

    .. math::  π_g(y) = g(r(y)) / \\sum_{y'} g(r(y'))

    Source: seed 001, §3.4 (generalized PL model).

    Args:
      rewards: r, shape (..., K), finite, inside g's domain (g(r) > 0).
      g: the link, a sympy expression (or string) in ``variable``.
      variable: the name of g's variable.

    Returns:
      log π_g, shape (..., K).
    """
    rewards = _check_rewards(rewards)
    if isinstance(g, str):
        g = sp.sympify(g, locals={variable: sp.Symbol(variable, real=True)})
    (u,) = [s for s in g.free_symbols if s.name == variable] or [sp.Symbol(variable)]
    log_g = sp.lambdify(u, sp.log(g), modules="numpy")
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(log_g(rewards), dtype=np.float64), rewards.shape)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"rewards must lie where g = {g} is positive and finite")
    return log_softmax(values, axis=-1)


@functools.lru_cache(maxsize=64)
def _link_functions(u, g_expr, inv):
    """numpy callables for g and g⁻¹."""
    return sp.lambdify(u, g_expr, modules="numpy"), sp.lambdify(PI_SYMBOL, inv, modules="numpy")


def generalized_pm_optimal_policy(rewards, g, *, variable: str = "u", inverse=None, lower=-np.inf) -> np.ndarray:
    """Exact maximizer of Σ_i π_i (r_i + R(π_i)) with R of eq 3.14 for a link g.

    (πR)' = −g⁻¹(π) + C1 (the G term cancels), so each term is concave and the KKT
    conditions give π_i = g(r_i + c) where r_i + c > ``lower`` (g's domain starts at
    ``lower``, g(lower+) = 0) and π_i = 0 otherwise, with c the root of Σπ_i(c) = 1.
    The bracket comes from the math: c ∈ [g⁻¹(1/K) − max r, g⁻¹(1) − max r]. This is a
    shifted g(r), a rescaled g(r) (the target of Theorem 3) only for g = a·e^{bu}.

    Source: seed 001, §3.4, Theorem 3, eq 3.14 (the objective it regularizes, eq 3.5).

    Args:
      rewards: r, shape (K,), finite.
      g: the link, a sympy expression (or string) in ``variable``.
      variable: the name of g's variable.
      inverse: g⁻¹ in ``pi`` (default: solved by sympy).
      lower: the lower end of g's domain (−inf, or e.g. 0 for g = u^p on u > 0).

    Returns:
      π, shape (K,).
    """
    from scipy.optimize import brentq

    rewards = _check_rewards(rewards)
    if rewards.ndim != 1:
        raise ValueError(f"rewards must have shape (K,), got {rewards.shape}")
    g_num, inv_num = _link_functions(*_link_parts(g, variable, inverse, None, need_antiderivative=False)[:3])
    k = rewards.size

    def policy_at(c):
        x = rewards + c
        with np.errstate(all="ignore"):
            values = np.where(x > lower, np.asarray(g_num(np.where(x > lower, x, lower + 1.0)), dtype=float), 0.0)
        return values

    top = rewards.max()
    lo, hi = float(inv_num(1.0 / k)) - top, float(inv_num(1.0)) - top
    if k == 1:
        return np.ones(1)
    def excess(c):
        return policy_at(c).sum() - 1.0

    # Mathematically excess(lo) ≤ 0 ≤ excess(hi); an end point where rounding gives the wrong
    # sign is a root to rounding (e.g. ties at lo, where every term is exactly 1/K).
    if excess(lo) >= 0.0:
        c = lo
    elif excess(hi) <= 0.0:
        c = hi
    else:
        c = brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    policy = policy_at(c)
    return policy / policy.sum()
