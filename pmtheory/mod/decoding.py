"""MOD's decoding rules, each as its own function: the exact rule of Thm 5, eq 7, and the
formulas of the published inference code, so that the gap between them can be measured.

Shape letters: ``M`` objectives (base policies), ``K`` responses (or next tokens), ``...``
batch. Every rule here takes log-probabilities (the code works on ``logp``) and returns
log-scores of shape (..., K): the rule picks ``argmax`` over the last axis, and
:func:`sampling_policy` turns log-scores into the distribution ∝ exp(score) one would sample
from.

The rules (u = Σ_i w_i ∇f(π_i/π_ref), S = sup ∇f):

==========================  ================================================================
rule                         log-score of response y
==========================  ================================================================
Thm 5 (eq 5)                 log π_ref + log (∇f)⁻¹(u)  — no normalizer Z
eq 7 (reverse KL)            Σ_i w_i log π_i             — a linear combination of logits
code, reverse KL and JSD     Σ_i w_i log π_i             — JSD approximated by reverse KL
code, forward KL             −logsumexp_i(−log π_i + log w_i)  (terms with w_i = 0 dropped)
code, "<a> -divergence"      −logsumexp_i(−a·log π_i + log w_i)
==========================  ================================================================

What the code drops, in exact terms. For forward KL and the α family π_ref cancels from the
Thm 5 score: forward KL gives 1/Σ_i w_i/π_i, α gives (Σ_i w_i π_i^{−a})^{−1/a}; so the code's
forward-KL score is exactly the Thm 5 log-score, and its α score is a·(Thm 5 log-score):
the same argmax, but not a log-probability (sampling from it is at temperature 1/a). For JS
π_ref does not cancel, and the code replaces the rule by reverse KL's. All of them drop Z,
which Prop 1's optimal policy needs for every f but reverse KL.

Negative weights (App G.2). The Thm 5 rule needs u < S for every response; with a negative
weight u can reach S for forward KL, JS, α and Hellinger (S < ∞), and there the rule is
undefined (:func:`thm5_rule_defined`); for reverse KL (S = ∞) it is always defined. The
code's forward-KL and α branches take log w_i, undefined for w_i < 0.

Source: seed 004, Thm 5 (eq 5), eq 6-7, App D.2, App F (inference code), App G.2.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax

from pmtheory._validation import as_float_array, check_log_probabilities
from pmtheory.divergences import Divergence, get_divergence
from pmtheory.mod.policy import _barrier, _broadcast_log_reference, check_weights

__all__ = [
    "code_alpha_log_scores",
    "code_forward_kl_log_scores",
    "code_reverse_kl_log_scores",
    "prefix_thm5_log_scores",
    "product_rule_log_scores",
    "published_code_log_scores",
    "sampling_policy",
    "thm5_argmax",
    "thm5_log_scores",
    "thm5_rule_defined",
]


def _policies_and_weights(log_policies, weights):
    log_policies = as_float_array(log_policies, "log_policies", min_ndim=2)
    if np.any(np.isnan(log_policies)) or np.any(log_policies == np.inf):
        raise ValueError("log_policies must be finite or -inf, not NaN or +inf")
    weights = check_weights(weights, log_policies.shape[0])
    return log_policies, weights


def _with_reference(log_policies, weights, log_reference):
    log_policies, weights = _policies_and_weights(log_policies, weights)
    check_log_probabilities(log_policies, "log_policies")
    return log_policies, weights, _broadcast_log_reference(log_policies, log_reference)


def _log_inverse_argument(div: Divergence, log_ratios, weights):
    """(log (∇f)⁻¹(u), defined) for u = Σ_i w_i ∇f(ρ_i), from log ρ_i of shape (M, ..., K).

    For reverse KL, log (∇f)⁻¹(u) = Σ_i w_i log ρ_i exactly. For S < ∞ the distance
    S − u = Σ_i w_i (S − ∇f(ρ_i)) (Σ w = 1) is summed from the accurate per-model distances,
    so no cancellation S − u occurs; it is undefined where that sum is ≤ 0.
    """
    if div.name == "reverse_kl":
        return np.tensordot(weights, log_ratios, axes=1), np.ones(log_ratios.shape[1:], dtype=bool)
    log_distances = div.log_distance_at_log_ratio(log_ratios)
    b = np.broadcast_to(weights.reshape((-1,) + (1,) * (log_ratios.ndim - 1)), log_ratios.shape)
    with np.errstate(divide="ignore"):
        log_distance, sign = logsumexp(log_distances, axis=0, b=b, return_sign=True)
    defined = (sign > 0) & np.isfinite(log_distance)
    log_ratio = div.log_ratio_at_distance(np.where(defined, log_distance, 0.0))
    return log_ratio, defined


def thm5_rule_defined(log_policies, weights, log_reference, *,
                      divergence: str | Divergence = "reverse_kl") -> np.ndarray:
    """Where the Thm 5 rule is defined: Σ_i w_i ∇f(π_i/π_ref) < sup ∇f, shape (..., K).

    Always true for w in the simplex (a convex combination stays in the range of ∇f) and
    for reverse KL; may fail with a negative weight when sup ∇f < ∞. Source: seed 004,
    Thm 5 and App G.2 (negative weights).

    Args:
      log_policies: shape (M, ..., K); weights: shape (M,), real, Σ = 1;
      log_reference: shape (..., K); divergence: a barrier divergence.
    """
    div = _barrier(divergence, "the Thm 5 rule")
    log_policies, weights, log_reference = _with_reference(log_policies, weights, log_reference)
    return _log_inverse_argument(div, log_policies - log_reference, weights)[1]


def thm5_log_scores(log_policies, weights, log_reference, *, divergence: str | Divergence = "reverse_kl") -> np.ndarray:
    """Log-score of MOD's key rule (Thm 5, eq 5): log π_ref(y) + log (∇f)⁻¹(Σ_i w_i ∇f(π_i/π_ref)).

    .. math::  s(y) = \\log π_{ref}(y)
               + \\log (\\nabla f)^{-1}\\Big(\\sum_i w_i \\nabla f\\big(π_i(y)/π_{ref}(y)\\big)\\Big)

    No normalizer Z: its argmax is Thm 5's response; ``softmax(s)`` is in general not Prop 1's
    optimal policy (it is for reverse KL). Source: seed 004, Thm 5 / eq 5, eq 6 (token level
    with prefix probabilities).

    Args:
      log_policies: log π_i, shape (M, ..., K), normalized on the last axis.
      weights: shape (M,), real, summing to 1.
      log_reference: log π_ref, shape (..., K), normalized.
      divergence: a barrier divergence.

    Returns:
      s, shape (..., K).

    Raises:
      ValueError: the rule is undefined for some response (a negative weight pushed
        Σ w_i ∇f(π_i/π_ref) to or above sup ∇f); see :func:`thm5_rule_defined`.
    """
    div = _barrier(divergence, "the Thm 5 rule")
    log_policies, weights, log_reference = _with_reference(log_policies, weights, log_reference)
    return _scores(div, log_policies, weights, log_reference)


def prefix_thm5_log_scores(log_prefix_policies, weights, log_prefix_reference, *,
                           divergence: str | Divergence = "reverse_kl") -> np.ndarray:
    """eq 6: the Thm 5 log-score of extended prefixes, from prefix probabilities π(y_<t, s).

    .. math::  s(y_{<t}, s) = \\log π_{ref}(y_{<t}, s)
               + \\log (\\nabla f)^{-1}\\Big(\\sum_i w_i
                 \\nabla f\\Big(\\frac{π_i(y_{<t}, s)}{π_{ref}(y_{<t}, s)}\\Big)\\Big)

    The same formula as :func:`thm5_log_scores` on probabilities that need not sum to 1 over
    s (a prefix's continuations sum to the prefix's own probability). Source: seed 004, eq 6.

    Args:
      log_prefix_policies: log π_i(y_<t, s), shape (M, ..., K), finite.
      weights: shape (M,), real, summing to 1.
      log_prefix_reference: log π_ref(y_<t, s), shape (..., K), finite.
      divergence: a barrier divergence.

    Returns:
      shape (..., K). Raises ValueError where the rule is undefined (see :func:`thm5_log_scores`).
    """
    div = _barrier(divergence, "the Thm 5 rule")
    log_policies, weights = _policies_and_weights(log_prefix_policies, weights)
    log_reference = as_float_array(log_prefix_reference, "log_prefix_reference")
    if not (np.all(np.isfinite(log_policies)) and np.all(np.isfinite(log_reference))):
        raise ValueError("log_prefix_policies and log_prefix_reference must be finite (prefix probabilities > 0)")
    if np.any(log_policies > 0) or np.any(log_reference > 0):
        raise ValueError("prefix log-probabilities must be ≤ 0")
    try:
        shape = np.broadcast_shapes(log_policies.shape[1:], log_reference.shape)
    except ValueError:
        raise ValueError(f"log_prefix_policies {log_policies.shape} and log_prefix_reference "
                         f"{log_reference.shape} do not broadcast") from None
    if shape != log_policies.shape[1:]:
        raise ValueError(f"log_prefix_reference {log_reference.shape} must broadcast to {log_policies.shape[1:]}")
    return _scores(div, log_policies, weights, np.broadcast_to(log_reference, shape))


def _scores(div: Divergence, log_policies, weights, log_reference) -> np.ndarray:
    log_ratio, defined = _log_inverse_argument(div, log_policies - log_reference, weights)
    if not np.all(defined):
        bad = np.argwhere(~defined)[0]
        raise ValueError(
            f"the Thm 5 rule is undefined for {div.name} at index {tuple(int(i) for i in bad)}: "
            f"Σ w_i ∇f(π_i/π_ref) ≥ sup ∇f = {div.sup_f_prime} there (a negative weight); "
            "use pmtheory.mod.optimal_policy, whose normalizer Z keeps the argument in range"
        )
    return log_reference + log_ratio


def thm5_argmax(log_policies, weights, log_reference, *, divergence: str | Divergence = "reverse_kl") -> np.ndarray:
    """The response Thm 5 decodes: argmax_y of :func:`thm5_log_scores` (first on ties), shape (...)."""
    return np.argmax(thm5_log_scores(log_policies, weights, log_reference, divergence=divergence), axis=-1)


def product_rule_log_scores(log_policies, weights) -> np.ndarray:
    """eq 7: log Π_i π_i^{w_i} = Σ_i w_i log π_i, shape (M, ..., K) -> (..., K).

    .. math::  s(y) = \\sum_i w_i \\log π_i(y)

    Thm 5 for reverse KL (π_ref cancels when Σ w_i = 1); with logits instead of
    log-probabilities the scores move by a constant, so the argmax is a linear combination
    of logits. Source: seed 004, eq 7.
    """
    log_policies, weights = _policies_and_weights(log_policies, weights)
    with np.errstate(invalid="ignore"):  # 0·(−inf) for a zero weight on a zero probability
        terms = weights.reshape((-1,) + (1,) * (log_policies.ndim - 1)) * log_policies
    terms = np.where(weights.reshape((-1,) + (1,) * (log_policies.ndim - 1)) == 0, 0.0, terms)
    return np.sum(terms, axis=0)


def code_reverse_kl_log_scores(log_policies, weights) -> np.ndarray:
    """The published code's "reverse_kld" and "jsd" branch: Σ_i w_i log π_i, shape (..., K).

    Source: seed 004, App F (inference code; JSD "approximated same as Reverse KL").
    """
    return product_rule_log_scores(log_policies, weights)


def _code_log_weights(weights, branch: str) -> tuple[np.ndarray, np.ndarray]:
    if np.any(weights < 0):
        raise ValueError(
            f"the published code's {branch} branch adds log w_i, which is undefined for a negative "
            f"weight (got weights {weights.tolist()}; torch would give NaN)"
        )
    keep = weights != 0
    return keep, np.log(weights[keep])


def code_forward_kl_log_scores(log_policies, weights) -> np.ndarray:
    """The published code's "forward_kld" branch: −logsumexp_i(−log π_i + log w_i), w_i ≠ 0.

    .. math::  s(y) = −\\log \\sum_{i: w_i ≠ 0} w_i / π_i(y)

    Source: seed 004, App F. Raises ValueError for a negative weight (log w_i undefined).
    """
    log_policies, weights = _policies_and_weights(log_policies, weights)
    keep, log_w = _code_log_weights(weights, "forward_kld")
    terms = -log_policies[keep] + log_w.reshape((-1,) + (1,) * (log_policies.ndim - 1))
    return -logsumexp(terms, axis=0)


def code_alpha_log_scores(log_policies, weights, alpha: float) -> np.ndarray:
    """The published code's "<a> -divergence" branch: −logsumexp_i(−a·log π_i + log w_i), w_i ≠ 0.

    .. math::  s(y) = −\\log \\sum_{i: w_i ≠ 0} w_i π_i(y)^{−a}

    The exact Thm 5 log-score is s/a (π_ref cancels): same argmax, other temperature.
    Source: seed 004, App F. Raises ValueError for a negative weight (log w_i undefined).
    """
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    log_policies, weights = _policies_and_weights(log_policies, weights)
    keep, log_w = _code_log_weights(weights, f"'{alpha} -divergence'")
    terms = -alpha * log_policies[keep] + log_w.reshape((-1,) + (1,) * (log_policies.ndim - 1))
    return -logsumexp(terms, axis=0)


def published_code_log_scores(log_policies, weights, *, divergence: str | Divergence) -> np.ndarray:
    """The published inference code's score for ``divergence`` (no π_ref, no Z), shape (..., K).

    reverse_kl and js -> Σ w log π (js by the code's shortcut); forward_kl -> the
    −logsumexp form; alpha:<a> -> the "<a> -divergence" form. Hellinger is not a branch of
    the code (it is half of alpha:0.5: pass "alpha:0.5"). Source: seed 004, App F.
    """
    div = get_divergence(divergence)
    if div.name in ("reverse_kl", "js"):
        return code_reverse_kl_log_scores(log_policies, weights)
    if div.name == "forward_kl":
        return code_forward_kl_log_scores(log_policies, weights)
    if div.alpha is not None:
        return code_alpha_log_scores(log_policies, weights, div.alpha)
    raise ValueError(
        f"the published code has no branch for {div.name}; its branches are reverse_kld, jsd, "
        "forward_kld and '<a> -divergence' (hellinger is half of alpha:0.5)"
    )


def sampling_policy(log_scores) -> np.ndarray:
    """The distribution ∝ exp(score) over the last axis: what sampling from a rule draws.

    Args:
      log_scores: shape (..., K), finite or −inf (at least one finite per row).

    Returns:
      shape (..., K), summing to 1.
    """
    log_scores = as_float_array(log_scores, "log_scores")
    if np.any(np.isnan(log_scores)) or np.any(log_scores == np.inf):
        raise ValueError("log_scores must be finite or -inf, not NaN or +inf")
    if np.any(np.all(log_scores == -np.inf, axis=-1)):
        raise ValueError("log_scores has a row that is -inf everywhere; no distribution is proportional to it")
    return softmax(log_scores, axis=-1)
