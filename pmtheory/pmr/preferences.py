"""The BTL / Plackett-Luce preference models on a finite response set, in log space.

Shape letters: ``K`` responses of one prompt, ``...`` any batch shape (prompts).

- Binary (BTL) preference of a reward model, eq (2.1): p(y₁ ≻ y₂) = σ(r(y₁) − r(y₂)).
- Binary preference of a policy, §5.1 / §6.1: p_π(y₁) = π(y₁)/(π(y₁) + π(y₂)), from log π so
  that sequence probabilities such as e^{-1000} work.
- Plackett-Luce (App A.1): the choice probability on any subset C, e^{r(y)}/Σ_{y'∈C} e^{r(y')},
  and the probability of a full ranking (Assumption A.1).
- The population BTL maximum-likelihood reward fit of Prop A.2 (eq 2.2 in the population
  limit), a convex problem solved by damped Newton with a stationarity certificate.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), eq (2.1)-(2.2), §5.1,
App A.1 (Assumption A.1, eq A.1) and App A.2 (Prop A.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit, logsumexp

from pmtheory._validation import as_float_array, check_finite

__all__ = [
    "BTLFit",
    "btl_comparison_probabilities",
    "btl_log_preference",
    "btl_maximum_likelihood",
    "btl_population_loss",
    "btl_preference",
    "plackett_luce_log_choice",
    "plackett_luce_log_ranking",
    "policy_log_preference",
    "policy_preference",
]

# Newton on the BTL likelihood stops once its step (the error estimate of an exact-Hessian
# Newton iterate near the minimum) is below this many ulps of the rewards' size: the
# gradient alone is no criterion, since a pair compared with probability 1e-18 moves the
# gradient by 1e-18 while still fixing its reward gap.
_STEP_ULPS = 16.0
_MAX_NEWTON_STEPS = 200


def _two_arrays(x1, x2, name1, name2):
    x1 = as_float_array(x1, name1, min_ndim=0)
    x2 = as_float_array(x2, name2, min_ndim=0)
    try:
        np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"{name1} {x1.shape} and {name2} {x2.shape} must broadcast to one shape") from None
    return x1, x2


def btl_log_preference(rewards_1, rewards_2) -> np.ndarray:
    """log p(y₁ ≻ y₂) = log σ(r(y₁) − r(y₂)) under the BTL model, elementwise.

    .. math::  \\log \\frac{e^{r_1}}{e^{r_1} + e^{r_2}} = −\\log(1 + e^{−(r_1 − r_2)})

    Source: seed 001, eq (2.1).

    Args:
      rewards_1: r(x, y₁), any shape, finite.
      rewards_2: r(x, y₂), broadcastable, finite.

    Returns:
      log p(y₁ ≻ y₂), the broadcast shape; exact for gaps of any size (log_expit).

    >>> float(btl_log_preference(0.0, 0.0)) == float(np.log(0.5))
    True
    """
    r1, r2 = _two_arrays(rewards_1, rewards_2, "rewards_1", "rewards_2")
    check_finite(r1, "rewards_1")
    check_finite(r2, "rewards_2")
    return log_expit(r1 - r2)


def btl_preference(rewards_1, rewards_2) -> np.ndarray:
    """p(y₁ ≻ y₂) = σ(r(y₁) − r(y₂)) under the BTL model (eq 2.1), elementwise.

    Source: seed 001, eq (2.1). Args as :func:`btl_log_preference`.
    """
    r1, r2 = _two_arrays(rewards_1, rewards_2, "rewards_1", "rewards_2")
    check_finite(r1, "rewards_1")
    check_finite(r2, "rewards_2")
    return expit(r1 - r2)


def policy_log_preference(log_probs_1, log_probs_2) -> np.ndarray:
    """log p_π(y₁) = log π(y₁) − log(π(y₁) + π(y₂)): a policy's binary preference, in log space.

    .. math::  p_π(y_1) = \\frac{π(y_1|x)}{π(y_1|x) + π(y_2|x)}

    Source: seed 001, §5.1 (p_rlhf, p_ref) and §6.1 (p_llm).

    Args:
      log_probs_1: log π(y₁|x), any shape; finite, or −inf for a zero probability.
      log_probs_2: log π(y₂|x), broadcastable; not −inf where ``log_probs_1`` is.

    Returns:
      log p_π(y₁), the broadcast shape (0 where π(y₂) = 0 < π(y₁); −inf in the mirror case).

    >>> round(float(np.exp(policy_log_preference(-1000.0, -1000.0 - np.log(3.0)))), 12)
    0.75
    """
    l1, l2 = _two_arrays(log_probs_1, log_probs_2, "log_probs_1", "log_probs_2")
    for value, name in ((l1, "log_probs_1"), (l2, "log_probs_2")):
        if np.any(np.isnan(value)) or np.any(value == np.inf):
            raise ValueError(f"{name} must be finite or -inf (a zero probability), not NaN or +inf")
        if np.any(value > 1e-6):
            raise ValueError(f"{name} must be log-probabilities (≤ 0), got max {value.max()!r}")
    both_zero = np.isneginf(l1) & np.isneginf(l2)
    if np.any(both_zero):
        raise ValueError("log_probs_1 and log_probs_2 are both -inf for some pair: the binary preference "
                         "π(y₁)/(π(y₁) + π(y₂)) is 0/0 there")
    # log σ(l1 − l2): the difference of two sequence log-probabilities is exact when they are
    # close (Sterbenz), where l1 − logaddexp(l1, l2) would lose |l1|·eps.
    with np.errstate(invalid="ignore"):
        return np.where(np.isneginf(l1), -np.inf, np.where(np.isneginf(l2), 0.0, log_expit(l1 - l2)))


def policy_preference(log_probs_1, log_probs_2) -> np.ndarray:
    """p_π(y₁) = π(y₁)/(π(y₁) + π(y₂)) from log-probabilities (seed 001, §5.1, §6.1).

    Args as :func:`policy_log_preference`.
    """
    return np.exp(policy_log_preference(log_probs_1, log_probs_2))


def _subset_mask(subset, shape) -> np.ndarray:
    mask = np.asarray(subset)
    if mask.dtype != bool:
        raise TypeError(f"subset must be a boolean mask of shape (..., K), got dtype {mask.dtype}")
    try:
        mask = np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"subset {mask.shape} must broadcast to the rewards' shape {shape}") from None
    if not np.all(mask.any(axis=-1)):
        raise ValueError("subset must contain at least one response in every row")
    return mask


def plackett_luce_log_choice(rewards, subset=None) -> np.ndarray:
    """log P(y | C) = r(y) − logsumexp_{y'∈C} r(y') for y ∈ C, −inf off C (PL choice rule).

    .. math::  π(y | C, x) = \\frac{e^{r(x, y)}}{\\sum_{y' ∈ C} e^{r(x, y')}}

    Source: seed 001, App A.1 (the display after eq A.1; C = all responses gives eq A.1).

    Args:
      rewards: r, shape (..., K), finite.
      subset: boolean mask of C, shape broadcastable to (..., K), non-empty per row;
        ``None`` is the full set.

    Returns:
      log choice probabilities, shape (..., K).
    """
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    mask = np.ones(rewards.shape, dtype=bool) if subset is None else _subset_mask(subset, rewards.shape)
    logits = np.where(mask, rewards, -np.inf)
    return logits - logsumexp(logits, axis=-1, keepdims=True)


def plackett_luce_log_ranking(rewards, order) -> np.ndarray:
    """log P(τ) = Σ_i [r(y_τ(i)) − logsumexp_{j≥i} r(y_τ(j))] of a full ranking τ, best first.

    .. math::  P(τ | y_1..y_k, x) = \\prod_{i=1}^{k} \\frac{e^{r(x, y_{τ(i)})}}{\\sum_{j=i}^{k} e^{r(x, y_{τ(j)})}}

    Source: seed 001, App A.1, Assumption A.1.

    Args:
      rewards: r, shape (..., K), finite.
      order: τ as integer indices, shape (..., K) broadcastable with ``rewards``, a
        permutation of 0..K−1 in every row (τ[0] the most preferred response).

    Returns:
      log P(τ), shape (...).
    """
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    order = np.asarray(order)
    if not np.issubdtype(order.dtype, np.integer):
        raise TypeError(f"order must hold integer indices, got dtype {order.dtype}")
    try:
        shape = np.broadcast_shapes(rewards.shape, order.shape)
    except ValueError:
        raise ValueError(f"order {order.shape} and rewards {rewards.shape} "
                         "must broadcast to one shape (..., K)") from None
    rewards, order = np.broadcast_to(rewards, shape), np.broadcast_to(order, shape)
    k = rewards.shape[-1]
    if not np.all(np.sort(order, axis=-1) == np.arange(k)):
        raise ValueError(f"order must be a permutation of 0..{k - 1} in every row")
    ranked = np.take_along_axis(rewards, order, axis=-1)
    # logsumexp over the suffix j ≥ i: a cumulative logaddexp from the end.
    suffix = np.flip(np.logaddexp.accumulate(np.flip(ranked, axis=-1), axis=-1), axis=-1)
    return np.sum(ranked - suffix, axis=-1)


def btl_comparison_probabilities(rewards, pair_probabilities) -> np.ndarray:
    """P_comp(y_w = y_i, y_l = y_j) = μ_ij σ(r_i − r_j) for pairs drawn with probability μ.

    The comparison distribution of Prop A.2: an unordered pair {i, j} is shown with
    probability μ_ij (symmetric, zero diagonal) and labelled by the BTL model (2.1) of the
    true reward r.

    Source: seed 001, App A.2 (P_comp), eq (2.1).

    Args:
      rewards: the true reward r*, shape (..., K), finite.
      pair_probabilities: μ, shape (..., K, K), symmetric, non-negative, zero diagonal.

    Returns:
      C, shape (..., K, K): C[i, j] the probability that y_i wins against y_j.
    """
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    mu = _comparison_matrix(pair_probabilities, "pair_probabilities")
    if not np.allclose(mu, np.swapaxes(mu, -1, -2), rtol=0.0, atol=0.0):
        raise ValueError("pair_probabilities must be symmetric: μ_ij is the probability of the unordered pair")
    if mu.shape[-1] != rewards.shape[-1]:
        raise ValueError(f"pair_probabilities {mu.shape} must be (..., K, K) with K = {rewards.shape[-1]}")
    return mu * expit(rewards[..., :, None] - rewards[..., None, :])


def _comparison_matrix(value, name: str) -> np.ndarray:
    c = as_float_array(value, name, min_ndim=2)
    check_finite(c, name)
    if c.shape[-1] != c.shape[-2]:
        raise ValueError(f"{name} must have shape (..., K, K), got {c.shape}")
    if np.any(c < 0):
        raise ValueError(f"{name} must be non-negative, got min {c.min()!r}")
    if np.any(np.diagonal(c, axis1=-2, axis2=-1) != 0):
        raise ValueError(f"{name} must have a zero diagonal (a response is never compared with itself)")
    return c


def btl_population_loss(rewards, comparison_probabilities) -> np.ndarray:
    """Population BTL negative log-likelihood −Σ_{i,j} C_ij log σ(r_i − r_j), shape (...).

    .. math::  −\\mathbb{E}_{(x, y_w, y_l) ∼ P_{comp}} \\log σ(r(x, y_w) − r(x, y_l))

    Source: seed 001, eq (2.2) in the population limit, App A.2 (Prop A.2).

    Args:
      rewards: r, shape (..., K), finite.
      comparison_probabilities: C, shape (..., K, K), C[i, j] = P(y_w = y_i, y_l = y_j).
    """
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    c = _comparison_matrix(comparison_probabilities, "comparison_probabilities")
    gaps = rewards[..., :, None] - rewards[..., None, :]
    return -np.sum(np.where(c > 0, c * log_expit(gaps), 0.0), axis=(-2, -1))


@dataclass(frozen=True)
class BTLFit:
    """The population BTL maximum-likelihood reward (Prop A.2), with its certificate."""

    rewards: np.ndarray  # fitted r, shape (..., K); mean 0 on each connected component
    loss: np.ndarray  # population negative log-likelihood at ``rewards``, shape (...)
    gradient_norm: np.ndarray  # max |∂loss/∂r_i| at ``rewards``, shape (...): stationarity certificate
    newton_decrement: np.ndarray  # g·(H + P)⁻¹g at ``rewards``, shape (...): ≈ 2·(loss − min loss)
    components: np.ndarray  # connected component of each response in the comparison graph, (..., K) ints
    num_components: np.ndarray  # number of components per prompt, shape (...); 1 = identifiable up to a constant
    iterations: int  # Newton steps taken (the most over the prompts)


def _loss_grad_hessian(r, c):
    gaps = r[:, None] - r[None, :]
    win, lose = expit(gaps), expit(-gaps)
    loss = -np.sum(np.where(c > 0, c * log_expit(gaps), 0.0))
    grad = -np.sum(c * lose, axis=1) + np.sum(c.T * win, axis=1)
    weights = (c + c.T) * win * lose
    hessian = np.diag(weights.sum(axis=1)) - weights
    return loss, grad, hessian


def _log_odds_start(c: np.ndarray) -> np.ndarray:
    """Least-squares fit of r_i − r_j ≈ log(C_ij/C_ji) over pairs compared both ways.

    Exact for BTL data (then log(C_ij/C_ji) = r*_i − r*_j), so Newton starts at the answer up
    to rounding; for other data it is a start inside the basin of quadratic convergence.
    """
    k = c.shape[0]
    rows, cols = np.nonzero(np.triu((c > 0) & (c.T > 0), 1))
    if rows.size == 0:
        return np.zeros(k)
    design = np.zeros((rows.size, k))
    design[np.arange(rows.size), rows] = 1.0
    design[np.arange(rows.size), cols] = -1.0
    target = np.log(c[rows, cols]) - np.log(c[cols, rows])
    weight = np.sqrt(c[rows, cols] + c[cols, rows])
    solution, *_ = np.linalg.lstsq(design * weight[:, None], target * weight, rcond=None)
    return solution


def _fit_one(c: np.ndarray):
    k = c.shape[0]
    graph = (c + c.T) > 0
    n_weak, labels = connected_components(graph, directed=False)
    n_strong, _ = connected_components(c > 0, directed=True, connection="strong")
    if n_strong != n_weak:
        raise ValueError(
            "comparison_probabilities has no maximum-likelihood reward: within a connected set of "
            "responses some group never loses to the rest (the win graph is not strongly connected), "
            "so the likelihood keeps growing as their rewards go to +inf"
        )
    indicator = np.zeros((k, n_weak))
    indicator[np.arange(k), labels] = 1.0
    projector = indicator @ (indicator / indicator.sum(axis=0)).T  # onto per-component constants
    eps = np.finfo(np.float64).eps
    r = _log_odds_start(c)
    loss, grad, hessian = _loss_grad_hessian(r, c)
    steps = 0
    for steps in range(1, _MAX_NEWTON_STEPS + 1):
        if not np.any(grad):
            break
        try:
            direction = -np.linalg.solve(hessian + projector, grad)
        except np.linalg.LinAlgError:  # the Hessian underflowed (saturated comparisons)
            direction = -np.linalg.lstsq(hessian + projector, grad, rcond=None)[0]
        if np.max(np.abs(direction)) <= _STEP_ULPS * eps * (1.0 + np.max(np.abs(r))):
            break
        slope = float(grad @ direction)
        # Once the predicted decrease is below the loss's rounding, Armijo's test is noise:
        # take the full Newton step (the iterate is then in the quadratic-convergence region).
        resolved = -slope > _STEP_ULPS * eps * (1.0 + abs(loss))
        t = 1.0
        while t > 1e-12:
            candidate = r + t * direction
            new_loss, new_grad, new_hessian = _loss_grad_hessian(candidate, c)
            if not resolved or new_loss <= loss + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break  # no decrease at all: the gradient is at its rounding floor
        r, loss, grad, hessian = candidate, new_loss, new_grad, new_hessian
    # Centre each component (the loss only sees within-component differences).
    means = (indicator.T @ r) / indicator.sum(axis=0)
    r = r - indicator @ means
    loss, grad, hessian = _loss_grad_hessian(r, c)
    decrement = float(grad @ np.linalg.solve(hessian + projector, grad))
    return r, loss, float(np.max(np.abs(grad))), decrement, labels, n_weak, steps


def btl_maximum_likelihood(comparison_probabilities) -> BTLFit:
    """The population BTL MLE argmin_r −Σ_{i,j} C_ij log σ(r_i − r_j), per prompt.

    .. math::  \\hat r = \\arg\\min_r −\\mathbb{E}_{P_{comp}} \\log σ(r(x, y_w) − r(x, y_l))

    The loss is convex and depends on r only through differences within each connected
    component of the comparison graph (pairs with C_ij + C_ji > 0), so the minimizer is
    unique up to one additive constant per component; the returned one has mean 0 on each.
    Solved by Newton's method with Armijo backtracking on the exact Hessian (a weighted graph
    Laplacian, made invertible by adding the projector onto per-component constants); the
    certificate is the gradient norm (0 at the minimum of a convex function) and the Newton
    decrement.

    Source: seed 001, App A.2, Prop A.2 (and eq 2.2).

    Args:
      comparison_probabilities: C, shape (..., K, K); C[i, j] = P(y_w = y_i, y_l = y_j) ≥ 0,
        zero diagonal. Within each connected set of responses the win graph (i → j when
        C[i, j] > 0) must be strongly connected, otherwise no finite minimizer exists.

    Returns:
      :class:`BTLFit`.

    Raises:
      ValueError: no finite minimizer (see above), or malformed C.
    """
    c = _comparison_matrix(comparison_probabilities, "comparison_probabilities")
    batch, k = c.shape[:-2], c.shape[-1]
    flat = c.reshape(-1, k, k)
    results = [_fit_one(matrix) for matrix in flat]
    return BTLFit(
        rewards=np.array([res[0] for res in results]).reshape(*batch, k),
        loss=np.array([res[1] for res in results]).reshape(batch),
        gradient_norm=np.array([res[2] for res in results]).reshape(batch),
        newton_decrement=np.array([res[3] for res in results]).reshape(batch),
        components=np.array([res[4] for res in results]).reshape(*batch, k),
        num_components=np.array([res[5] for res in results]).reshape(batch),
        iterations=max(res[6] for res in results),
    )
