"""Enumerable sequence spaces of a causal LM, and MOD decoding on them, exactly.

With the next-token distribution restricted to a token subset W (renormalized over W) and
responses of exactly L tokens, a causal LM defines a distribution over the |W|^L sequences
that sums to one, and every quantity of the MOD paper can be computed exactly by
enumeration:

- sequence level: π_i(y) for each model, the optimum of Σ_i w_i R_i by MOD Prop 1
  (:func:`pmtheory.mod.optimal_log_policy`), the eq 7 rule ∝ Π_i π_i(y)^{w_i};
- token level (what MOD's decoder runs): at every prefix the next-token scores
  Σ_i w_i log π_i(s | y_<t) (eq 7 applied to next-token distributions,
  :func:`pmtheory.mod.decoding.product_rule_log_scores`), renormalized over W. Sampling from
  it gives the distribution :func:`token_level_log_policy`; greedy decoding picks the
  argmax at every step (:func:`token_level_greedy`);
- token level for any barrier f-divergence (``divergence=`` with ``log_reference=``): at every
  prefix the exact Prop 1 next-token distribution for Σ_i w_i R_i under β·I_f, from the
  next-token distributions of the π_i and of π_ref over W (what
  :class:`pmtheory.bridge.MODLogitsProcessor` decodes); for reverse KL it is eq 7's.

Shape letters: ``S`` = |W|^L sequences, ``L`` tokens, ``W`` allowed tokens, ``M`` models.

Source: seed 004 (Shi et al. 2024), Prop 1, eq 6-7, §3.2-3.3 (token-level decoding).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy.special import log_softmax

from pmtheory.bridge.loading import input_device
from pmtheory.bridge.logprobs import _accepts_position_ids, encode_pairs, model_vocab_size
from pmtheory.divergences import get_divergence
from pmtheory.mod.decoding import product_rule_log_scores
from pmtheory.mod.policy import optimal_log_policy

__all__ = [
    "enumerate_sequences",
    "prefix_log_probs",
    "token_level_greedy",
    "token_level_log_policy",
    "token_level_step_log_policy",
]


def enumerate_sequences(allowed_token_ids, length: int) -> np.ndarray:
    """All |W|^L sequences of ``length`` tokens from ``allowed_token_ids``, lexicographic, shape (S, L)."""
    allowed = [int(t) for t in allowed_token_ids]
    if not allowed or len(set(allowed)) != len(allowed):
        raise ValueError(f"allowed_token_ids must be distinct token ids, got {allowed}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if len(allowed) ** length > 10**6:
        raise ValueError(f"{len(allowed)}^{length} sequences is too many to enumerate (limit 10^6)")
    return np.asarray(list(itertools.product(allowed, repeat=length)), dtype=np.int64).reshape(-1, length)


def prefix_log_probs(model, tokenizer, prompt, sequences, allowed_token_ids, *, batch_size: int = 256,
                     accumulate_dtype: torch.dtype | None = None) -> np.ndarray:
    """log π(s | x, y_<t) over s ∈ W at every step t of every sequence, shape (S, L, W).

    All sequences share the prompt and have the same length, so no padding is needed.

    Args:
      model, tokenizer: the causal LM.
      prompt: a string or token ids.
      sequences: (S, L) token ids from ``allowed_token_ids``.
      allowed_token_ids: the W token ids (their order is the last axis).
    """
    sequences = np.asarray(sequences, dtype=np.int64)
    allowed = torch.as_tensor([int(t) for t in allowed_token_ids], dtype=torch.long)
    prompt_ids = list(encode_pairs(tokenizer, [prompt], [sequences[0].tolist()],
                                   vocab_size=model_vocab_size(model))[0].prompt_ids)
    device = input_device(model)
    if accumulate_dtype is None:  # float64, except on MPS (no float64 there)
        accumulate_dtype = torch.float32 if device.type == "mps" else torch.float64
    out = []
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            chunk = torch.as_tensor(sequences[start:start + batch_size])
            ids = torch.cat([torch.tensor(prompt_ids).expand(chunk.shape[0], -1), chunk], dim=1).to(device)
            kwargs = {"input_ids": ids, "use_cache": False}
            if _accepts_position_ids(model):
                kwargs["position_ids"] = torch.arange(ids.shape[1], device=device).expand_as(ids)
            logits = model(**kwargs).logits[:, len(prompt_ids) - 1:-1]  # predicts y_1..y_L
            restricted = logits.index_select(-1, allowed.to(device)).to(accumulate_dtype)
            out.append(torch.log_softmax(restricted, dim=-1).cpu())
    return torch.cat(out).numpy().astype(np.float64)


def _positions(sequences: np.ndarray, allowed_token_ids) -> np.ndarray:
    lookup = {int(t): i for i, t in enumerate(allowed_token_ids)}
    return np.vectorize(lookup.__getitem__)(sequences)


def token_level_step_log_policy(prefix_log_probs_of_models, weights, *, divergence: str = "reverse_kl",
                                log_reference=None, beta: float = 1.0) -> np.ndarray:
    """The next-token distribution token-level MOD samples from at every prefix, over W, shape (S, L, W).

    .. math::  p_{tok}(s | x, y_{<t}) = π_{ref}(s | ·)\\,(∇f)^{-1}\\Big(−Z + Σ_i w_i
               ∇f\\big(π_i(s | ·)/π_{ref}(s | ·)\\big)\\Big)

    MOD Prop 1 applied to the next-token distributions of every prefix (seed 004, Prop 1
    with eq 6's token-level reading, §3.2-3.3), solved by
    :func:`pmtheory.mod.optimal_log_policy` (certified). Without ``log_reference`` the
    divergence must be reverse KL: then π_ref cancels (Σ w_i = 1) and the rule is eq 7,
    softmax_W(Σ_i w_i log π_i), computed in closed form (the behaviour of the functions below
    without these keywords).

    Args:
      prefix_log_probs_of_models: (M, S, L, W) from :func:`prefix_log_probs` per model.
      weights: (M,), real, summing to 1.
      divergence: a barrier divergence (default reverse KL).
      log_reference: π_ref's :func:`prefix_log_probs`, shape (S, L, W); needed unless reverse KL.
      beta: β > 0 (the policy does not depend on it).

    Returns:
      log p_tok(s | x, y_<t), shape (S, L, W), normalized over W.
    """
    log_policies = np.asarray(prefix_log_probs_of_models, dtype=np.float64)
    if log_reference is None:
        if get_divergence(divergence).name != "reverse_kl":
            raise ValueError(f"divergence {divergence!r} needs log_reference (π_ref's prefix_log_probs, shape "
                             "(S, L, W)): only for reverse KL does π_ref cancel from MOD's rule")
        return log_softmax(product_rule_log_scores(log_policies, weights), axis=-1)
    log_reference = np.asarray(log_reference, dtype=np.float64)
    if log_reference.shape != log_policies.shape[1:]:
        raise ValueError(f"log_reference must have shape (S, L, W) = {log_policies.shape[1:]}, "
                         f"got {log_reference.shape}")
    return np.asarray(optimal_log_policy(log_policies, weights, log_reference, divergence=divergence,
                                         beta=beta).log_policy, dtype=np.float64)


def token_level_log_policy(prefix_log_probs_of_models, weights, sequences, allowed_token_ids, *,
                           divergence: str = "reverse_kl", log_reference=None, beta: float = 1.0) -> np.ndarray:
    """log-probability of each sequence under token-level MOD sampling, shape (S,).

    .. math::  \\log p_{tok}(y) = Σ_t \\log \\mathrm{softmax}_W\\Big(Σ_i w_i \\log π_i(· | x, y_{<t})\\Big)[y_t]

    Source: seed 004, eq 7 at the token level (§3.2-3.3). With ``divergence`` and
    ``log_reference`` each step is MOD Prop 1 for that f instead
    (:func:`token_level_step_log_policy`).

    Args:
      prefix_log_probs_of_models: (M, S, L, W) from :func:`prefix_log_probs` per model.
      weights: (M,), summing to 1.
      sequences: (S, L) token ids; allowed_token_ids: the W ids.
      divergence, log_reference, beta: see :func:`token_level_step_log_policy` (default: eq 7).
    """
    step_log_probs = token_level_step_log_policy(prefix_log_probs_of_models, weights, divergence=divergence,
                                                 log_reference=log_reference, beta=beta)  # (S, L, W)
    chosen = _positions(np.asarray(sequences), allowed_token_ids)
    return np.take_along_axis(step_log_probs, chosen[..., None], axis=-1)[..., 0].sum(axis=-1)


def token_level_greedy(prefix_log_probs_of_models, weights, sequences, allowed_token_ids, *,
                       divergence: str = "reverse_kl", log_reference=None, beta: float = 1.0) -> int:
    """Index (into ``sequences``) of the sequence greedy token-level MOD decodes.

    At each step the token with the largest Σ_i w_i log π_i(s | x, y_<t) is taken (first on
    ties); the enumeration holds every prefix, so the scores are read off the sequences
    that extend the greedy prefix. With ``divergence`` and ``log_reference`` the largest
    Prop 1 next-token probability for that f is taken instead
    (:func:`token_level_step_log_policy`).
    """
    if log_reference is None and get_divergence(divergence).name == "reverse_kl":
        scores = product_rule_log_scores(np.asarray(prefix_log_probs_of_models, dtype=np.float64), weights)
    else:
        scores = token_level_step_log_policy(prefix_log_probs_of_models, weights, divergence=divergence,
                                             log_reference=log_reference, beta=beta)
    sequences = np.asarray(sequences)
    positions = _positions(sequences, allowed_token_ids)
    candidates = np.arange(len(sequences))
    for t in range(sequences.shape[1]):
        step = scores[candidates[0], t]  # every candidate shares the greedy prefix y_<t
        best = int(np.argmax(step))
        candidates = candidates[positions[candidates, t] == best]
    return int(candidates[0])
