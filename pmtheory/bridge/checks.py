"""Response-set checks on causal-LM logits: π_ref on a finite set, binary preferences and
their pile-up with length, the closed forms (KL RLHF, PM, conditional PM) on the set, and the
§6.1 metrics.

A *response set* is K distinct responses y_1..y_K to each of N prompts (sampled from the
reference model by :func:`sample_response_set`, or given). On it,

- π_ref over the set is the model's sequence probability renormalized over the set,
  π_ref^S(y) = π_ref(y|x)/Σ_{y'∈S} π_ref(y'|x) (:func:`set_log_reference`);
- the binary reference preference of a pair is p_ref(y_1) = π_ref(y_1)/(π_ref(y_1)+π_ref(y_2))
  (:func:`pmtheory.pmr.preferences.policy_preference`), the reward model's is σ(r_1 − r_2);
- the closed forms are those of :mod:`pmtheory.pmr.rlhf` and :mod:`pmtheory.pmr.pm` applied to the set:
  KL RLHF π_ref^S·e^{r/β}/Z (eq 5.1), PM softmax(r/β) (eq 3.2), conditional PM (Def 4.1,
  with §6's reward r_θ/β).

Conditional PM has three readings on a finite set, selected by ``indicator``:

- ``"set"``: Def 4.1 with the set as the whole response space, M = {y : π_ref^S(y) ≥ α} and
  ε = π_ref^S (:func:`pmtheory.pmr.pm.conditional_pm_log_policy`); the default, because on real
  sequences the literal reading below has M = ∅.
- ``"sequence"``: Def 4.1 literally, M = {y : π_ref(y|x) ≥ α} on the model's full sequence
  probability and ε(x, y) = π_ref(y|x). The objective restricted to the set is
  E_π[r/β + log π_ref(y|x)·1(y∉M) − log π] whose maximizer is the PM policy (3.2) of the
  shifted reward r/β + log π_ref(y|x)·1(y∉M) (:func:`pmtheory.pmr.pm.pm_log_policy`). For
  responses of more than a few tokens π_ref(y|x) < α for every y and this is KL RLHF with
  β = 1 on the reward r/β.
- ``"token"``: the published DeepSpeed-Chat code's per-token indicator
  (github.com/JiancongXiao/PM_RLHF, ``compute_rewards``): token t is penalized by log π_t if
  log π_ref,t > log α and by log π_t − log π_ref,t otherwise. Summed over tokens this is
  log π(y|x) − Σ_{t: π_ref,t ≤ α} log π_ref,t, so the maximizer on the set is the PM policy of
  r/β + Σ_{t: π_ref,t ≤ α} log π_ref,t (note the code's strict ``>`` against Def 4.1's ≥).

Shape letters: ``N`` prompts, ``K`` responses per prompt, ``R`` tokens, ``P`` pairs.

Source: seed 001, §3 eq 3.2, §4.2 Def 4.1, §5.1-5.2 (p_ref, eq 5.1-5.2, Fig 3/4), §6.1 metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from pmtheory._validation import as_float_array, check_finite, check_positive_scalar, check_same_shape
from pmtheory.pmr.metrics import (
    entropy,
    expected_perplexity,
    kl_divergence,
    pm_divergence,
    population_pm_divergence,
    squared_log_ratio_pm_divergence,
)
from pmtheory.pmr.pm import conditional_pm_log_policy, pm_log_policy
from pmtheory.pmr.preferences import btl_preference, policy_preference
from pmtheory.pmr.rlhf import kl_rlhf_log_policy

__all__ = [
    "INDICATORS",
    "LengthPileup",
    "ResponseSet",
    "SetClosedForms",
    "SetMetrics",
    "all_pairs",
    "conditional_pm_set_log_policy",
    "conditional_pm_set_membership",
    "kl_rlhf_set_log_policy",
    "length_pileup",
    "pm_set_log_policy",
    "sample_response_set",
    "set_closed_forms",
    "set_log_reference",
    "set_metrics",
]

# The readings of Def 4.1's indicator on a finite set (module docstring).
INDICATORS = ("set", "sequence", "token")


@dataclass(frozen=True)
class ResponseSet:
    """K distinct responses to each of N prompts, with the reference model's log-probabilities."""

    prompt_ids: tuple[tuple[int, ...], ...]  # N prompts as token ids
    response_ids: tuple[tuple[tuple[int, ...], ...], ...]  # N × K distinct responses as token ids
    texts: tuple[tuple[str, ...], ...]  # N × K decoded responses
    log_probs: np.ndarray  # (N, K) float64: log π_ref(y|x), full-sequence, not renormalized
    token_log_probs: np.ndarray  # (N, K, R) float64: log π_ref(y_t|x, y_<t); 0 past the end
    token_mask: np.ndarray  # (N, K, R) bool: True on the response's tokens
    lengths: np.ndarray  # (N, K) int: response lengths in tokens

    @property
    def shape(self) -> tuple[int, int]:
        """(N, K)."""
        return self.log_probs.shape

    def pairs(self) -> tuple[list, list]:
        """(prompt ids, response ids) flattened row-major to N·K pairs."""
        prompts = [list(p) for p, row in zip(self.prompt_ids, self.response_ids) for _ in row]
        responses = [list(r) for row in self.response_ids for r in row]
        return prompts, responses


def sample_response_set(model, tokenizer, prompts, *, set_size: int, max_new_tokens: int = 16, seed: int = 0,
                        max_draws: int | None = None, batch_size: int = 32) -> ResponseSet:
    """Sample responses from the model (T = 1, no truncation) until each prompt has K distinct ones.

    The draws are samples of π_ref itself (:func:`pmtheory.bridge.sample_responses` with exact
    settings), kept in the order first seen; the log-probabilities are recomputed in float64
    (float32 on MPS) by :func:`pmtheory.bridge.token_log_probs`.

    Args:
      model, tokenizer: the reference causal LM.
      prompts: N strings or token-id lists.
      set_size: K distinct responses per prompt.
      max_new_tokens: the longest response.
      seed: sampling seed.
      max_draws: draws per prompt before giving up (default 8·K).
      batch_size: pairs per forward pass when scoring.

    Raises:
      ValueError: fewer than K distinct responses in ``max_draws`` draws (the message names the prompt).
    """
    import torch

    from pmtheory.bridge.logprobs import token_log_probs
    from pmtheory.bridge.sampling import sample_responses

    if isinstance(set_size, bool) or not isinstance(set_size, int) or set_size < 1:
        raise ValueError(f"set_size must be a positive integer, got {set_size!r}")
    draws = 8 * set_size if max_draws is None else int(max_draws)
    sampled = sample_responses(model, tokenizer, prompts, num_samples=draws, max_new_tokens=max_new_tokens,
                               seed=seed, batch_size=batch_size)
    chosen = []
    for index, row in enumerate(sampled.response_ids):
        distinct = list(dict.fromkeys(row))
        if len(distinct) < set_size:
            raise ValueError(f"prompt {index} gave only {len(distinct)} distinct responses in {draws} draws; "
                             f"ask for a smaller set_size than {set_size} or more max_draws")
        chosen.append(tuple(distinct[:set_size]))
    prompt_ids = sampled.prompt_ids
    flat_prompts = [list(p) for p, row in zip(prompt_ids, chosen) for _ in row]
    flat_responses = [list(r) for row in chosen for r in row]
    device_type = next(model.parameters()).device.type
    scored = token_log_probs(model, tokenizer, flat_prompts, flat_responses, batch_size=batch_size,
                             accumulate_dtype="float32" if device_type == "mps" else "float64")
    n, k = len(prompt_ids), set_size
    values = scored.values.detach().cpu().to(torch.float64).numpy().reshape(n, k, -1)
    mask = scored.mask.cpu().numpy().reshape(n, k, -1)
    texts = tuple(tuple(tokenizer.decode(list(r), skip_special_tokens=True) for r in row) for row in chosen)
    return ResponseSet(prompt_ids=prompt_ids, response_ids=tuple(chosen), texts=texts,
                       log_probs=values.sum(axis=-1), token_log_probs=values, token_mask=mask,
                       lengths=scored.lengths.numpy().reshape(n, k))


def _log_probs(log_probs, name: str) -> np.ndarray:
    array = as_float_array(log_probs, name)
    check_finite(array, name)
    if np.any(array > 1e-6):
        raise ValueError(f"{name} must be log-probabilities (≤ 0), got max {array.max()!r}")
    return array


def set_log_reference(log_probs) -> np.ndarray:
    """log π_ref^S: the reference's sequence log-probabilities renormalized over the set.

    .. math::  \\log π^S_{ref}(y) = \\log π_{ref}(y|x) − \\log Σ_{y'∈S} π_{ref}(y'|x)

    Args:
      log_probs: log π_ref(y|x), shape (..., K), finite, ≤ 0 (any magnitude: −5000 is fine).

    Returns:
      shape (..., K), log-sum-exp 0 along the last axis.
    """
    return log_softmax(_log_probs(log_probs, "log_probs"), axis=-1)


def kl_rlhf_set_log_policy(rewards, log_probs, *, beta: float = 1.0) -> np.ndarray:
    """KL-RLHF optimum on the set: :func:`pmtheory.pmr.rlhf.kl_rlhf_log_policy` with π_ref^S.

    .. math::  π(y) = π^S_{ref}(y) e^{r(y)/β} / Z

    Source: seed 001, Prop 5.1, eq 5.1. Shapes (..., K).
    """
    return kl_rlhf_log_policy(rewards, set_log_reference(log_probs), beta)


def pm_set_log_policy(rewards, *, beta: float = 1.0) -> np.ndarray:
    """PM optimum on the set with §6's reward r/β: :func:`pmtheory.pmr.pm.pm_log_policy` (eq 3.2).

    Source: seed 001, Definition 3.2 and §6 (r = r_θ/β). Shapes (..., K).
    """
    beta = check_positive_scalar(beta, "beta")
    return pm_log_policy(as_float_array(rewards, "rewards") / beta)


def _indicator(indicator: str) -> str:
    if indicator not in INDICATORS:
        raise ValueError(f"indicator must be one of {', '.join(INDICATORS)}, got {indicator!r}")
    return indicator


def _alpha(alpha) -> float:
    if isinstance(alpha, (bool, str, bytes)) or not np.isscalar(alpha):
        raise TypeError(f"alpha must be a real number in [0, 1], got {alpha!r}")
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (a threshold on π_ref), got {alpha}")
    return alpha


def _token_arrays(token_log_probs, token_mask, shape):
    if token_log_probs is None or token_mask is None:
        raise ValueError("indicator='token' needs token_log_probs and token_mask of shape (N, K, R)")
    values = as_float_array(token_log_probs, "token_log_probs", min_ndim=2)
    mask = np.asarray(token_mask, dtype=bool)
    if values.shape[:-1] != tuple(shape) or mask.shape != values.shape:
        raise ValueError(f"token_log_probs and token_mask must have shape {tuple(shape)} + (R,), "
                         f"got {values.shape} and {mask.shape}")
    check_finite(values, "token_log_probs")
    return values, mask


def conditional_pm_set_membership(log_probs, *, alpha: float, indicator: str = "set", token_log_probs=None,
                                  token_mask=None) -> np.ndarray:
    """Which responses the indicator puts in M (for "token": which tokens), as booleans.

    "set": π_ref^S(y) ≥ α; "sequence": π_ref(y|x) ≥ α; "token": π_ref(y_t|·) > α (the
    code's strict inequality), shape (..., K, R), False past the end of a response.
    Decided in log space (log π ≥ log α), so it is exact for probabilities below float range.
    """
    indicator = _indicator(indicator)
    alpha = _alpha(alpha)
    log_probs = _log_probs(log_probs, "log_probs")
    with np.errstate(divide="ignore"):
        log_alpha = np.log(alpha)
    if indicator == "set":
        return set_log_reference(log_probs) >= log_alpha
    if indicator == "sequence":
        return log_probs >= log_alpha
    values, mask = _token_arrays(token_log_probs, token_mask, log_probs.shape)
    return (values > log_alpha) & mask


def conditional_pm_set_log_policy(rewards, log_probs, *, alpha: float, beta: float = 1.0, indicator: str = "set",
                                  token_log_probs=None, token_mask=None) -> np.ndarray:
    """Conditional PM optimum on the set (Def 4.1, with §6's reward r/β), for each indicator.

    .. math::  \\text{set: } π ∝ e^{r/β}[π^S_{ref} ≥ α] + π^S_{ref} e^{r/β}[π^S_{ref} < α]
    .. math::  \\text{sequence: } π ∝ e^{r/β} π_{ref}(y|x)^{[π_{ref}(y|x) < α]}
    .. math::  \\text{token: } π ∝ e^{r/β} \\prod_{t: π_{ref,t} ≤ α} π_{ref,t}

    "set" is :func:`pmtheory.pmr.pm.conditional_pm_log_policy` on π_ref^S; the other two are
    :func:`pmtheory.pmr.pm.pm_log_policy` of the shifted reward (module docstring).

    Source: seed 001, §4.2 Definition 4.1 (and eq 4.1, Theorem 4); the published code for
    "token".

    Args:
      rewards: r, shape (..., K), finite (divided by β as in §6).
      log_probs: log π_ref(y|x), shape (..., K), full-sequence (not renormalized).
      alpha: the threshold α in [0, 1].
      beta: β > 0.
      indicator: "set", "sequence" or "token".
      token_log_probs, token_mask: shape (..., K, R), for "token" only.

    Returns:
      log π*, shape (..., K).
    """
    indicator = _indicator(indicator)
    alpha = _alpha(alpha)
    beta = check_positive_scalar(beta, "beta")
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    log_probs = _log_probs(log_probs, "log_probs")
    check_same_shape(rewards, "rewards", log_probs, "log_probs")
    if indicator == "set":
        return conditional_pm_log_policy(rewards / beta, set_log_reference(log_probs), alpha=alpha)
    if indicator == "sequence":
        outside = ~conditional_pm_set_membership(log_probs, alpha=alpha, indicator="sequence")
        return pm_log_policy(rewards / beta + np.where(outside, log_probs, 0.0))
    values, mask = _token_arrays(token_log_probs, token_mask, log_probs.shape)
    inside = conditional_pm_set_membership(log_probs, alpha=alpha, indicator="token", token_log_probs=values,
                                           token_mask=mask)
    shift = np.sum(np.where(mask & ~inside, values, 0.0), axis=-1)
    return pm_log_policy(rewards / beta + shift)


@dataclass(frozen=True)
class SetClosedForms:
    """The closed-form optima on a response set (shapes (N, K), log space)."""

    log_reference: np.ndarray  # log π_ref^S, the reference renormalized over the set
    kl_rlhf: np.ndarray  # KL RLHF, π_ref^S e^{r/β}/Z (eq 5.1)
    pm: np.ndarray  # PM, softmax(r/β) (eq 3.2)
    conditional_pm: np.ndarray  # conditional PM with the chosen indicator (Def 4.1)
    in_set: np.ndarray  # (N, K) bool: y ∈ M (for "token": every token of y in M_t)
    indicator: str  # "set", "sequence" or "token"
    alpha: float  # the threshold α
    beta: float  # β


def set_closed_forms(rewards, log_probs, *, alpha: float, beta: float = 1.0, indicator: str = "set",
                     token_log_probs=None, token_mask=None) -> SetClosedForms:
    """KL RLHF, PM and conditional PM optima on the set, with the set-renormalized reference.

    Args: as :func:`conditional_pm_set_log_policy`. Returns :class:`SetClosedForms`.
    """
    membership = conditional_pm_set_membership(log_probs, alpha=alpha, indicator=indicator,
                                               token_log_probs=token_log_probs, token_mask=token_mask)
    if indicator == "token":
        mask = np.asarray(token_mask, dtype=bool)
        membership = np.all(membership | ~mask, axis=-1)
    return SetClosedForms(
        log_reference=set_log_reference(log_probs),
        kl_rlhf=kl_rlhf_set_log_policy(rewards, log_probs, beta=beta),
        pm=pm_set_log_policy(rewards, beta=beta),
        conditional_pm=conditional_pm_set_log_policy(rewards, log_probs, alpha=alpha, beta=beta, indicator=indicator,
                                                     token_log_probs=token_log_probs, token_mask=token_mask),
        in_set=membership, indicator=indicator, alpha=float(alpha), beta=float(beta),
    )


def all_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i, j), i < j, of the K(K−1)/2 unordered pairs of K responses."""
    first, second = np.triu_indices(int(k), k=1)
    return first, second


@dataclass(frozen=True)
class SetMetrics:
    """The §6.1 metrics of a policy on a response set (floats: means over the N prompts)."""

    pm_divergence: float  # the paper's: mean KL(p_llm ‖ p_reward) over all pairs of the set
    squared_log_ratio_pm_divergence: float  # the published code's: mean (Δr − Δlog π)² over all pairs
    population_pm_divergence: float  # the paper's, pairs drawn from the policy itself (exact sum)
    expected_perplexity: float  # E_{y~π}[π(y|x)^{-1/L(y)}], π renormalized over the set
    entropy: float  # E_{y~π}[−log π(y)], over the set
    kl: float  # KL(π ‖ π_ref^S), over the set


def set_metrics(log_policy, rewards, log_reference, lengths, *, beta: float = 1.0) -> SetMetrics:
    """The §6.1 metrics of ``log_policy`` on the set, the reward model's preferences from r/β.

    Both PM divergences are computed on every unordered pair of the set (uniform weights), and
    the paper's also with pairs drawn from the policy (its §6.1 procedure, in the population
    limit). Source: seed 001, §6.1.

    Args:
      log_policy: log π over the set, shape (N, K), normalized.
      rewards: r, shape (N, K) (divided by β as in §6).
      log_reference: log π_ref^S, shape (N, K), normalized.
      lengths: response lengths in tokens, shape (N, K).
      beta: β > 0.
    """
    beta = check_positive_scalar(beta, "beta")
    log_policy = as_float_array(log_policy, "log_policy", min_ndim=2)
    rewards = as_float_array(rewards, "rewards", min_ndim=2) / beta
    first, second = all_pairs(log_policy.shape[-1])
    if first.size:
        a1, a2 = log_policy[:, first].ravel(), log_policy[:, second].ravel()
        r1, r2 = rewards[:, first].ravel(), rewards[:, second].ravel()
        paper = pm_divergence(a1, a2, r1, r2)
        code = squared_log_ratio_pm_divergence(a1, a2, r1, r2)
    else:
        paper = code = 0.0
    return SetMetrics(
        pm_divergence=float(paper),
        squared_log_ratio_pm_divergence=float(code),
        population_pm_divergence=float(np.mean(population_pm_divergence(log_policy, rewards))),
        expected_perplexity=float(np.mean(expected_perplexity(log_policy, lengths))),
        entropy=float(np.mean(entropy(log_policy))),
        kl=float(np.mean(kl_divergence(log_policy, log_reference))),
    )


@dataclass(frozen=True)
class LengthPileup:
    """Binary preferences of pairs grouped by their length difference (Fig 3/4 analogue)."""

    edge: float  # a preference is "piled up" when it is within edge of 0 or 1
    bin_edges: tuple[int, ...]  # |Δ length| bins [e_0, e_1), [e_1, e_2), ..., last open
    pairs: np.ndarray  # (B,) int: pairs per bin
    reference_extreme: np.ndarray  # (B,) fraction of p_ref(y1) within edge of 0 or 1
    reward_extreme: np.ndarray  # (B,) fraction of p_reward(y1) within edge of 0 or 1
    reference_preferences: np.ndarray  # (P,) p_ref(y1) of every pair
    reward_preferences: np.ndarray  # (P,) p_reward(y1) of every pair
    length_differences: np.ndarray  # (P,) |L(y1) − L(y2)|

    def fraction(self, which: str, *, differing: bool) -> tuple[float, int]:
        """(fraction piled up, pairs) over pairs with equal (``differing=False``) or
        different lengths, for ``which`` in {"reference", "reward"}."""
        values = self.reference_preferences if which == "reference" else self.reward_preferences
        chosen = (self.length_differences > 0) if differing else (self.length_differences == 0)
        count = int(chosen.sum())
        if count == 0:
            return float("nan"), 0
        extreme = (values[chosen] <= self.edge) | (values[chosen] >= 1.0 - self.edge)
        return float(extreme.mean()), count


def length_pileup(log_probs_1, log_probs_2, rewards_1, rewards_2, lengths_1, lengths_2, *, edge: float = 0.05,
                  bin_edges=(0, 1, 2, 4, 8)) -> LengthPileup:
    """How often p_ref(y1) and p_reward(y1) lie within ``edge`` of 0 or 1, by |Δ length|.

    .. math::  p_{ref}(y_1) = \\frac{π_{ref}(y_1|x)}{π_{ref}(y_1|x) + π_{ref}(y_2|x)},\\quad
               p_{reward}(y_1) = σ(r(y_1) − r(y_2))

    Source: seed 001, §5.2 and Figures 3(a)/(b), 4(a)/(b) (the pile-up of p_ref near 0 and 1,
    attributed there to the length of responses).

    Args:
      log_probs_1, log_probs_2: log π_ref(y1|x), log π_ref(y2|x), shape (P,).
      rewards_1, rewards_2: r(x, y1), r(x, y2), shape (P,).
      lengths_1, lengths_2: token lengths, shape (P,).
      edge: in (0, 1/2).
      bin_edges: increasing |Δ length| bin starts, the first 0.

    Returns:
      :class:`LengthPileup`.
    """
    edge = float(edge)
    if not 0.0 < edge < 0.5:
        raise ValueError(f"edge must be in (0, 1/2), got {edge}")
    bin_edges = tuple(int(b) for b in bin_edges)
    if not bin_edges or bin_edges[0] != 0 or any(b >= c for b, c in zip(bin_edges, bin_edges[1:])):
        raise ValueError(f"bin_edges must increase from 0, got {bin_edges}")
    p_ref = policy_preference(_log_probs(log_probs_1, "log_probs_1"), _log_probs(log_probs_2, "log_probs_2"))
    p_reward = btl_preference(rewards_1, rewards_2)
    difference = np.abs(np.asarray(lengths_1, dtype=np.int64) - np.asarray(lengths_2, dtype=np.int64))
    if not (p_ref.shape == p_reward.shape == difference.shape) or p_ref.ndim != 1:
        raise ValueError(f"all six arrays must have one shape (P,), got {p_ref.shape}, {p_reward.shape}, "
                         f"{difference.shape}")
    which = np.searchsorted(np.asarray(bin_edges), difference, side="right") - 1
    counts, ref_extreme, reward_extreme = [], [], []
    for b in range(len(bin_edges)):
        chosen = which == b
        counts.append(int(chosen.sum()))
        if chosen.any():
            ref_extreme.append(float(np.mean((p_ref[chosen] <= edge) | (p_ref[chosen] >= 1 - edge))))
            reward_extreme.append(float(np.mean((p_reward[chosen] <= edge) | (p_reward[chosen] >= 1 - edge))))
        else:
            ref_extreme.append(float("nan"))
            reward_extreme.append(float("nan"))
    return LengthPileup(edge=edge, bin_edges=bin_edges, pairs=np.asarray(counts),
                        reference_extreme=np.asarray(ref_extreme), reward_extreme=np.asarray(reward_extreme),
                        reference_preferences=p_ref, reward_preferences=p_reward, length_differences=difference)
