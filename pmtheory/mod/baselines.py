"""The baselines MOD is measured against, computed exactly on small finite problems.

- MORLHF: retrain for Σ_i w_i R_i, i.e. the exact f-regularized optimum for that reward.
- Rewarded soups (RS): merge the parameters of the base policies, θ = Σ_i λ_i θ_i, in a
  parameterized family: a softmax of a linear layer, and the 2-layer ReLU network of Thm 2(ii).
- Token-level MOD: decode an enumerable autoregressive model token by token (eq 6-7), against
  the sequence-level optimum (Prop 1 on the space of whole sequences).

Shape letters: ``M`` objectives, ``K`` responses, ``n`` network input size, ``H`` hidden
units, ``V`` vocabulary size, ``T`` sequence length. A distribution over sequences of length
T is a tensor of shape (V,)*T (axis t holds token t); a batch of M of them has shape (M,)+(V,)*T.

Source: seed 004, §4.1 and Thm 2 (parameter merging, Hypothesis 1), App G.1 (RS and MORLHF
as baselines), §3.2-3.3 and eq 6-7 (token-level decoding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax, logsumexp

from pmtheory._validation import as_float_array, check_finite, check_log_probabilities
from pmtheory.divergences import Divergence, f_divergence_from_log, get_divergence
from pmtheory.mod.decoding import prefix_thm5_log_scores, published_code_log_scores, sampling_policy
from pmtheory.mod.policy import check_weights, optimal_log_policy, weighted_f_prime
from pmtheory.solvers import Solution, optimal_policy, regularized_objective

__all__ = [
    "AutoregressiveInstance",
    "ParetoFronts",
    "ReluNetwork",
    "TokenLevelComparison",
    "autoregressive_instance",
    "compare_token_and_sequence_level",
    "merge_relu_networks",
    "morlhf_optimal_policy",
    "pareto_fronts",
    "prefix_log_marginals",
    "relu_network_log_policy",
    "relu_network_parameters",
    "rewarded_soup_relu",
    "rewarded_soup_softmax_linear",
    "token_greedy_decode",
    "token_level_log_policy",
    "token_log_conditionals",
]


def morlhf_optimal_policy(rewards, weights, reference, *, divergence: str | Divergence = "reverse_kl",
                          beta: float = 1.0) -> Solution:
    """MORLHF: the exact optimum of Σ_y π(y) Σ_i w_i R_i(y) − β·I_f(π‖π_ref) (retraining).

    .. math::  π_{MORLHF} = \\arg\\max_π\\; E_π\\big[\\textstyle\\sum_i w_i R_i\\big] − β I_f(π\\|π_{ref})

    Source: seed 004, App G.1 (MORLHF baseline) and Prop 1 (the problem MOD solves).

    Args:
      rewards: R, shape (M, K), finite.
      weights: w, shape (M,), real, summing to 1.
      reference: π_ref, shape (K,), strictly positive, summing to 1.
      divergence: any divergence of :mod:`pmtheory.divergences` (barrier or not).
      beta: β > 0.

    Returns:
      :class:`pmtheory.solvers.Solution` of shape (K,).
    """
    rewards = as_float_array(rewards, "rewards", min_ndim=2)
    check_finite(rewards, "rewards")
    if rewards.ndim != 2:
        raise ValueError(f"rewards must have shape (M, K), got {rewards.shape}")
    weights = check_weights(weights, rewards.shape[0])
    return optimal_policy(weights @ rewards, reference, divergence=divergence, beta=beta)


def _lambdas(lambdas, m: int) -> np.ndarray:
    """Merging coefficients λ: shape (M,), real, Σ λ_i = 1 (Hypothesis 1 takes λ in the simplex)."""
    return check_weights(lambdas, m)


def _log_policy_rows(log_policies) -> np.ndarray:
    log_policies = as_float_array(log_policies, "log_policies", min_ndim=2)
    if log_policies.ndim != 2:
        raise ValueError(f"log_policies must have shape (M, K), got {log_policies.shape}")
    check_log_probabilities(log_policies, "log_policies")
    return log_policies


def rewarded_soup_softmax_linear(log_policies, lambdas) -> np.ndarray:
    """RS in the family π_θ = softmax(W z0): merging W gives softmax(Σ_i λ_i log π_i).

    .. math::  \\log π_{RS}(y) = \\sum_i λ_i \\log π_i(y) − \\log Z_λ

    Each base policy is represented by a W_i with W_i z0 = log π_i + c_i (any z0 ≠ 0, any
    c_i); the merged logits Σ λ_i W_i z0 = Σ λ_i log π_i + const, whatever the choice.
    With λ = w this is the sampling policy of eq 7, which for reverse KL is MOD's optimum
    (§4.1: "if the last layer is linear projection, it is equivalent to MOD w.r.t. KL").
    Source: seed 004, §4.1, App G.1 (RS).

    Args:
      log_policies: log π_i, shape (M, K), normalized rows, finite.
      lambdas: λ, shape (M,), real, summing to 1.

    Returns:
      log π_RS, shape (K,).
    """
    log_policies = _log_policy_rows(log_policies)
    check_finite(log_policies, "log_policies")
    lambdas = _lambdas(lambdas, log_policies.shape[0])
    return log_softmax(lambdas @ log_policies)


@dataclass(frozen=True)
class ReluNetwork:
    """A 2-layer ReLU network h_θ(z0) = W2·ReLU(W1·z0) with input z0 = (1,) (n = 1)."""

    first_layer: np.ndarray  # W1, shape (H, 1)
    second_layer: np.ndarray  # W2, shape (K, H)


def relu_network_parameters(log_policy) -> ReluNetwork:
    """Parameters θ of the Thm 2(ii) network that represent π: W1 = √ℓ, W2 = diag(√ℓ).

    .. math::  ℓ = \\log π − \\min_y \\log π ≥ 0,\\quad
               h_θ(1) = \\mathrm{diag}(\\sqrt{ℓ})\\,\\mathrm{ReLU}(\\sqrt{ℓ}) = ℓ

    so softmax(h_θ(1)) = π. For π ∝ exp(e_i) this is exactly the paper's construction
    (W1 = e_i, W2 = e_i e_iᵀ). Merging two such networks gives logits (Σ_i λ_i √ℓ_i)²,
    not Σ_i λ_i ℓ_i. Source: seed 004, App E.5, proof of Thm 2(ii).

    Args:
      log_policy: log π, shape (K,), normalized, finite.

    Returns:
      :class:`ReluNetwork` with H = K.
    """
    log_policy = as_float_array(log_policy, "log_policy")
    if log_policy.ndim != 1:
        raise ValueError(f"log_policy must have shape (K,), got {log_policy.shape}")
    check_finite(log_policy, "log_policy")
    check_log_probabilities(log_policy, "log_policy")
    root = np.sqrt(log_policy - log_policy.min())
    return ReluNetwork(first_layer=root[:, None], second_layer=np.diag(root))


def merge_relu_networks(networks, lambdas) -> ReluNetwork:
    """Rewarded soups on parameters: θ = Σ_i λ_i θ_i, layer by layer. Source: seed 004, App G.1."""
    networks = list(networks)
    if not networks or not all(isinstance(n, ReluNetwork) for n in networks):
        raise TypeError("networks must be a non-empty sequence of ReluNetwork")
    shapes = {(n.first_layer.shape, n.second_layer.shape) for n in networks}
    if len(shapes) != 1:
        raise ValueError(f"networks must share their layer shapes, got {sorted(shapes)}")
    lambdas = _lambdas(lambdas, len(networks))
    first = sum(lam * n.first_layer for lam, n in zip(lambdas, networks))
    second = sum(lam * n.second_layer for lam, n in zip(lambdas, networks))
    return ReluNetwork(first_layer=np.asarray(first), second_layer=np.asarray(second))


def relu_network_log_policy(network: ReluNetwork) -> np.ndarray:
    """log softmax(W2·ReLU(W1·1)), shape (K,). Source: seed 004, Thm 2 (nn = softmax(h_θ(z0)))."""
    if not isinstance(network, ReluNetwork):
        raise TypeError(f"network must be a ReluNetwork, got {type(network).__name__}")
    hidden = np.maximum(network.first_layer @ np.ones(network.first_layer.shape[1]), 0.0)
    return log_softmax(network.second_layer @ hidden)


def rewarded_soup_relu(log_policies, lambdas) -> np.ndarray:
    """RS in the 2-layer ReLU family of Thm 2(ii): log π of the merged network, shape (K,).

    .. math::  \\log π_{RS} = \\log\\mathrm{softmax}\\big((\\textstyle\\sum_i λ_i \\sqrt{ℓ_i})^2\\big)\\quad(λ ≥ 0)

    Source: seed 004, Thm 2(ii), App G.1.

    Args:
      log_policies: shape (M, K), normalized rows, finite; lambdas: shape (M,), Σ = 1.
    """
    log_policies = _log_policy_rows(log_policies)
    networks = [relu_network_parameters(row) for row in log_policies]
    return relu_network_log_policy(merge_relu_networks(networks, lambdas))


@dataclass(frozen=True)
class ParetoFronts:
    """Expected rewards (E R_1, E R_2) of each method along a grid of weights w = (w_1, 1 − w_1)."""

    weights: np.ndarray  # w_1 per grid point, shape (W,)
    points: dict  # method name -> (E_π R_1, E_π R_2) per grid point, shape (W, 2)
    objectives: dict  # method name -> Σ w E_π R − β I_f(π‖π_ref) per grid point, shape (W,)
    policies: dict  # method name -> π per grid point, shape (W, K)
    divergence: str  # f
    beta: float  # β


def pareto_fronts(rewards, reference, weight_grid, *, divergence: str | Divergence = "reverse_kl",
                  beta: float = 1.0) -> ParetoFronts:
    """Two-objective fronts on a finite response set for MOD and its baselines.

    Methods: ``mod`` (Prop 1 from the two base optima), ``morlhf`` (retrained for w·R),
    ``rs_softmax_linear`` and ``rs_relu`` (rewarded soups with λ = w), ``published_code``
    (sampling ∝ exp of the App F score; JS through its reverse-KL shortcut, Hellinger through
    the alpha:0.5 branch) and ``thm5_sampling`` (sampling ∝ the Z-free Thm 5 score).
    Source: seed 004, App G (Pareto fronts of MOD, RS, MORLHF), App F.

    Args:
      rewards: R, shape (2, K); reference: π_ref, shape (K,); weight_grid: w_1 values in [0, 1],
      shape (W,); divergence: a barrier f; beta: β > 0.

    Returns:
      :class:`ParetoFronts`.
    """
    from pmtheory.mod.decoding import thm5_log_scores
    from pmtheory.mod.policy import optimal_policy as mod_optimal_policy

    div = get_divergence(divergence)
    rewards = as_float_array(rewards, "rewards", min_ndim=2)
    if rewards.shape[0] != 2 or rewards.ndim != 2:
        raise ValueError(f"rewards must have shape (2, K), got {rewards.shape}")
    grid = as_float_array(weight_grid, "weight_grid")
    if grid.ndim != 1 or np.any(grid < 0) or np.any(grid > 1):
        raise ValueError("weight_grid must be a 1-d array of w_1 values in [0, 1]")
    reference = as_float_array(reference, "reference")
    bases = optimal_policy(rewards, reference, divergence=div, beta=beta).policy
    log_bases, log_q = np.log(bases), np.log(reference)
    code_branch = "alpha:0.5" if div.name == "hellinger" else div.name
    policies = {name: [] for name in ("mod", "morlhf", "rs_softmax_linear", "rs_relu", "published_code",
                                      "thm5_sampling")}
    for w1 in grid:
        w = np.array([w1, 1.0 - w1])
        policies["mod"].append(mod_optimal_policy(bases, w, reference, divergence=div, beta=beta).policy)
        policies["morlhf"].append(morlhf_optimal_policy(rewards, w, reference, divergence=div, beta=beta).policy)
        policies["rs_softmax_linear"].append(np.exp(rewarded_soup_softmax_linear(log_bases, w)))
        policies["rs_relu"].append(np.exp(rewarded_soup_relu(log_bases, w)))
        policies["published_code"].append(
            sampling_policy(published_code_log_scores(log_bases, w, divergence=code_branch)))
        policies["thm5_sampling"].append(sampling_policy(thm5_log_scores(log_bases, w, log_q, divergence=div)))
    policies = {name: np.array(rows) for name, rows in policies.items()}
    points = {name: rows @ rewards.T for name, rows in policies.items()}
    combined = grid[:, None] * rewards[0] + (1.0 - grid)[:, None] * rewards[1]
    objectives = {name: regularized_objective(rows, combined, reference, divergence=div, beta=beta)
                  for name, rows in policies.items()}
    return ParetoFronts(weights=grid, points=points, objectives=objectives, policies=policies,
                        divergence=div.name, beta=float(beta))


# ---------------------------------------------------------------------------------------
# Token level: an enumerable autoregressive model
# ---------------------------------------------------------------------------------------


def _sequence_tensor(log_probs, name: str, *, batched: bool) -> tuple[np.ndarray, int, int]:
    log_probs = as_float_array(log_probs, name, min_ndim=2 if batched else 1)
    axes = log_probs.shape[1:] if batched else log_probs.shape
    if len(set(axes)) != 1:
        raise ValueError(f"{name} must have shape {'(M,) + ' if batched else ''}(V,)*T, got {log_probs.shape}")
    if np.any(np.isnan(log_probs)) or np.any(log_probs == np.inf):
        raise ValueError(f"{name} must be finite or -inf")
    flat = log_probs.reshape((log_probs.shape[0], -1) if batched else (-1,))
    check_log_probabilities(np.where(np.isfinite(flat), flat, -1e300), name)
    return log_probs, axes[0], len(axes)


def prefix_log_marginals(log_sequence_probs) -> list[np.ndarray]:
    """log π(y_1..y_t) for t = 1..T: entry t−1 has shape (..., V)*t (trailing axes summed out).

    Args:
      log_sequence_probs: shape (..., V, ..., V); the last T axes are the T tokens, every
        leading axis is a batch axis. Give ``T`` by the shape: pass one model as (V,)*T.

    Source: seed 004, eq 6 (prefix probabilities π(y_<t, s)).
    """
    log_sequence_probs = as_float_array(log_sequence_probs, "log_sequence_probs")
    return _prefix_marginals(log_sequence_probs, log_sequence_probs.ndim)


def _prefix_marginals(log_probs: np.ndarray, length: int) -> list[np.ndarray]:
    marginals = [log_probs]
    for _ in range(length - 1):
        marginals.append(logsumexp(marginals[-1], axis=-1))
    return marginals[::-1]


def token_log_conditionals(log_sequence_probs) -> list[np.ndarray]:
    """log π(y_t | y_<t) for t = 1..T, entry t−1 of shape (V,)*t; see :func:`prefix_log_marginals`."""
    marginals = prefix_log_marginals(log_sequence_probs)
    return _conditionals(marginals)


def _conditionals(marginals: list[np.ndarray]) -> list[np.ndarray]:
    conditionals = [marginals[0]]
    for previous, current in zip(marginals[:-1], marginals[1:]):
        with np.errstate(invalid="ignore"):
            conditionals.append(np.where(np.isfinite(previous[..., None]), current - previous[..., None], -np.inf))
    return conditionals


def token_level_log_policy(log_policies, weights, log_reference, *, divergence: str | Divergence = "reverse_kl"
                           ) -> np.ndarray:
    """Sequence distribution of token-level MOD: Prop 1 applied to next-token conditionals.

    .. math::  π_{tok}(y) = \\prod_t π_{ref}(y_t|y_{<t})\\,(∇f)^{-1}\\big(−Z_t(y_{<t})
               + \\textstyle\\sum_i w_i ∇f\\big(\\frac{π_i(y_t|y_{<t})}{π_{ref}(y_t|y_{<t})}\\big)\\big)

    with each per-prefix Z_t exact. For reverse KL, π_tok(y_t|y_<t) ∝ Π_i π_i(y_t|y_<t)^{w_i}
    (eq 7 sampled token by token). This is not the sequence-level optimum: the per-prefix
    normalizers Z_t differ between prefixes. Source: seed 004, §3.2-3.3, eq 6-7.

    Args:
      log_policies: shape (M,) + (V,)*T, each a normalized sequence distribution, > 0.
      weights: shape (M,), real, summing to 1.
      log_reference: shape (V,)*T, normalized, > 0.
      divergence: a barrier divergence.

    Returns:
      log π_tok, shape (V,)*T.
    """
    div = get_divergence(divergence)
    log_policies, vocab, length = _sequence_tensor(log_policies, "log_policies", batched=True)
    log_reference, _, ref_length = _sequence_tensor(log_reference, "log_reference", batched=False)
    if log_reference.shape != log_policies.shape[1:]:
        raise ValueError(f"log_reference must have shape {log_policies.shape[1:]}, got {log_reference.shape}")
    check_finite(log_policies, "log_policies")
    check_finite(log_reference, "log_reference")
    weights = check_weights(weights, log_policies.shape[0])
    policy_conditionals = _conditionals(_prefix_marginals(log_policies, length))
    reference_conditionals = _conditionals(_prefix_marginals(log_reference, length))
    total = np.zeros(log_reference.shape)
    for t, (cond_pi, cond_ref) in enumerate(zip(policy_conditionals, reference_conditionals)):
        step = optimal_log_policy(cond_pi, weights, cond_ref, divergence=div).log_policy  # shape (V,)*(t+1)
        total = total + step.reshape(step.shape + (1,) * (length - t - 1))
    return total


def token_greedy_decode(log_policies, weights, log_reference, *, divergence: str | Divergence = "reverse_kl"
                        ) -> tuple[int, ...]:
    """Greedy token-level MOD (eq 6): y_t = argmax_s of the Thm 5 score of the prefix (y_<t, s).

    .. math::  y_t = \\arg\\max_s π_{ref}(y_{<t}, s)\\,
               (∇f)^{-1}\\big(\\textstyle\\sum_i w_i ∇f\\big(\\frac{π_i(y_{<t},s)}{π_{ref}(y_{<t},s)}\\big)\\big)

    with prefix (marginal) probabilities; for reverse KL this is eq 7. Ties go to the lowest
    token. Source: seed 004, eq 6-7, App D.1 with one beam.

    Args:
      log_policies: shape (M,) + (V,)*T; weights: shape (M,), Σ = 1;
      log_reference: shape (V,)*T; divergence: a barrier divergence.

    Returns:
      the decoded sequence, a tuple of T token ids.
    """
    div = get_divergence(divergence)
    log_policies, vocab, length = _sequence_tensor(log_policies, "log_policies", batched=True)
    log_reference, _, _ = _sequence_tensor(log_reference, "log_reference", batched=False)
    if log_reference.shape != log_policies.shape[1:]:
        raise ValueError(f"log_reference must have shape {log_policies.shape[1:]}, got {log_reference.shape}")
    weights = check_weights(weights, log_policies.shape[0])
    policy_marginals = _prefix_marginals(log_policies, length)
    reference_marginals = _prefix_marginals(log_reference, length)
    prefix: tuple[int, ...] = ()
    for t in range(length):
        at_policies = policy_marginals[t][(slice(None),) + prefix]  # (M, V)
        at_reference = reference_marginals[t][prefix]  # (V,)
        scores = prefix_thm5_log_scores(at_policies, weights, at_reference, divergence=div)
        prefix = prefix + (int(np.argmax(scores)),)
    return prefix


@dataclass(frozen=True)
class TokenLevelComparison:
    """Token-level MOD against the sequence-level optimum on one enumerable instance."""

    sequence_log_policy: np.ndarray  # log π* (Prop 1 on whole sequences), shape (V,)*T
    token_log_policy: np.ndarray  # log π_tok (Prop 1 per next token), shape (V,)*T
    objective_gap: float  # (J(π*) − J(π_tok))/β ≥ 0 in nats for the Σ w R objective; KL(π_tok‖π*) for reverse KL
    kl_token_to_sequence: float  # KL(π_tok‖π*) in nats
    greedy_sequence: tuple  # the sequence greedy token-level decoding (eq 6) returns
    rule_sequence: tuple  # argmax over whole sequences of the Thm 5 score (eq 5)
    mode_sequence: tuple  # argmax of π*
    greedy_score_gap: float  # Thm 5 log-score of rule_sequence minus that of greedy_sequence (≥ 0)
    greedy_implied_reward_gap: float  # u(mode) − u(greedy), u = Σ w ∇f(π_i/π_ref) = Σ w R/β + const


def compare_token_and_sequence_level(log_policies, weights, log_reference, *,
                                     divergence: str | Divergence = "reverse_kl") -> TokenLevelComparison:
    """Measure token-level MOD (sampling and greedy) against the sequence-level optimum.

    The objective is measured in nats from the policies alone: by eq 3 the weighted reward is
    β·u + const with u = Σ_i w_i ∇f(π_i/π_ref), so (J(π*) − J(π))/β =
    [E_{π*} u − I_f(π*‖π_ref)] − [E_π u − I_f(π‖π_ref)] whatever the rewards' constants.
    Source: seed 004, §3.2-3.3 (greedy search "without much performance loss"), Prop 1, eq 6.

    Args:
      log_policies: shape (M,) + (V,)*T, base policies (exact optima for their rewards);
      weights: shape (M,), Σ = 1; log_reference: shape (V,)*T; divergence: a barrier f.

    Returns:
      :class:`TokenLevelComparison`.
    """
    div = get_divergence(divergence)
    log_policies, vocab, length = _sequence_tensor(log_policies, "log_policies", batched=True)
    log_reference, _, _ = _sequence_tensor(log_reference, "log_reference", batched=False)
    m = log_policies.shape[0]
    flat_policies = log_policies.reshape(m, -1)
    flat_reference = log_reference.reshape(-1)
    sequence = optimal_log_policy(flat_policies, weights, flat_reference, divergence=div).log_policy
    token = token_level_log_policy(log_policies, weights, log_reference, divergence=div).reshape(-1)
    implied = weighted_f_prime(flat_policies, weights, flat_reference, divergence=div)

    def value(log_pi):
        return float(np.exp(log_pi) @ implied - f_divergence_from_log(log_pi, flat_reference, div))

    gap = value(sequence) - value(token)
    kl = float(f_divergence_from_log(token, sequence, "reverse_kl"))
    greedy = token_greedy_decode(log_policies, weights, log_reference, divergence=div)
    scores = prefix_thm5_log_scores(flat_policies, weights, flat_reference, divergence=div)
    shape = (vocab,) * length
    rule = tuple(int(i) for i in np.unravel_index(int(np.argmax(scores)), shape))
    mode = tuple(int(i) for i in np.unravel_index(int(np.argmax(sequence)), shape))
    greedy_index = np.ravel_multi_index(greedy, shape)
    return TokenLevelComparison(
        sequence_log_policy=sequence.reshape(shape),
        token_log_policy=token.reshape(shape),
        objective_gap=gap,
        kl_token_to_sequence=kl,
        greedy_sequence=greedy,
        rule_sequence=rule,
        mode_sequence=mode,
        greedy_score_gap=float(scores.max() - scores[greedy_index]),
        greedy_implied_reward_gap=float(implied[np.ravel_multi_index(mode, shape)] - implied[greedy_index]),
    )


@dataclass(frozen=True)
class AutoregressiveInstance:
    """An enumerable autoregressive problem: a reference model and M sequence rewards."""

    log_reference: np.ndarray  # log π_ref over sequences, shape (V,)*T, from random next-token tables
    rewards: np.ndarray  # R_i(y), shape (M,) + (V,)*T
    log_policies: np.ndarray  # log π_i, the exact optimum for R_i under β·I_f, shape (M,) + (V,)*T
    divergence: str  # the f the base policies were trained with
    beta: float  # β


def autoregressive_instance(seed: int, *, vocab: int = 3, length: int = 3, objectives: int = 2,
                            divergence: str | Divergence = "reverse_kl", beta: float = 1.0,
                            reward_scale: float = 1.0, concentration: float = 1.0) -> AutoregressiveInstance:
    """A random enumerable instance: π_ref from Dirichlet next-token tables, Gaussian rewards
    on whole sequences, and base policies that are the exact sequence-level optima.

    Args:
      seed: numpy seed; vocab: V; length: T; objectives: M; divergence, beta: f and β;
      reward_scale: standard deviation of R_i(y); concentration: Dirichlet parameter of the
        reference's next-token tables (small = peaked).

    Returns:
      :class:`AutoregressiveInstance`.
    """
    div = get_divergence(divergence)
    rng = np.random.default_rng(seed)
    shape = (vocab,) * length
    log_reference = np.zeros(shape)
    for t in range(length):
        table = rng.dirichlet(np.full(vocab, concentration), size=(vocab,) * t)  # (V,)*t + (V,)
        table = np.maximum(table, 1e-12)
        table = np.log(table / table.sum(axis=-1, keepdims=True))
        log_reference = log_reference + table.reshape(table.shape + (1,) * (length - t - 1))
    rewards = rng.normal(scale=reward_scale, size=(objectives,) + shape)
    flat_reference = log_reference.reshape(-1)
    flat_reference = flat_reference - logsumexp(flat_reference)
    log_policies = optimal_policy(rewards.reshape(objectives, -1), log_reference=flat_reference,
                                  divergence=div, beta=beta).log_policy
    return AutoregressiveInstance(
        log_reference=flat_reference.reshape(shape),
        rewards=rewards,
        log_policies=log_policies.reshape((objectives,) + shape),
        divergence=div.name,
        beta=float(beta),
    )
