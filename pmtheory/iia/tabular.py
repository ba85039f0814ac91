"""RLPO, DPO, IL and SLiC in a tabular parameterization on any finite message set (seed 002).

A reward or a log-probability per message; the reward and DPO losses are convex and solved by
Newton's method with a gradient-norm certificate; IL and SLiC are not convex and are minimized
locally. Where a loss has no minimizer the paper's convention applies: r̂ = 0 for RLPO's
reward and θ̂ = 0 (the uniform policy) for DPO. Results say which case occurred.

Shape letters: ``...`` a batch (datasets, grid points), ``n`` = |Y| messages per choice
set, ``K`` messages, ``N`` data.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §4 (eq 7-11, IL, SLiC), Props 4-5, Lemma 13.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from pmtheory._validation import as_float_array, check_finite, check_log_probabilities
from pmtheory.iia._common import _positive

__all__ = [
    "TabularFit",
    "dpo_loss_tabular",
    "fit_dpo_tabular",
    "fit_il_tabular",
    "fit_reward_tabular",
    "fit_slic_tabular",
    "il_loss_tabular",
    "policy_loss",
    "policy_loss_minimizer",
    "reward_loss_tabular",
    "slic_loss_tabular",
]


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

