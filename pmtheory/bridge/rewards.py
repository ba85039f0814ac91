"""Rewards of (prompt, response) pairs: a sequence-classification reward model or a function.

A reward model is any ``AutoModelForSequenceClassification`` with one output (loaded by
:func:`pmtheory.bridge.load_reward_model`); the reward of a pair is its output on the
prompt's ids (special tokens included) followed by the response's ids, pooled at the last
non-pad token as transformers does. Batches are right-padded with explicit position ids, and
the result equals scoring each pair alone (tests check it). A reward function is any Python
callable ``fn(prompt: str, response: str) -> float``.

Rewards come back as float64 numpy arrays; the set-level closed forms and metrics
(:mod:`pmtheory.bridge.checks`) take them from there.

Source: seed 001, §2 (the reward model r_θ(x, y) trained by (2.2)) and §6 (reward models with
the policy's architecture and a scalar head).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from pmtheory.bridge.loading import check_pad_token, input_device
from pmtheory.bridge.logprobs import (
    _accepts_position_ids,
    _check_batch_size,
    _model_max_positions,
    encode_pairs,
    model_vocab_size,
)

__all__ = ["function_rewards", "reward_model_scores", "reward_model_scores_loop"]


def _encoded(tokenizer, prompts, responses, model):
    # A response may be empty here (a sampled response that is only EOS decodes to ""): the
    # reward model then scores the prompt alone, so it is encoded as the prompt's last token.
    responses = list(responses)
    prompts = list(prompts)
    if len(prompts) != len(responses):
        raise ValueError(f"prompts and responses must pair up: got {len(prompts)} prompts and "
                         f"{len(responses)} responses")
    sequences = []
    for index, (prompt, response) in enumerate(zip(prompts, responses)):
        if isinstance(response, str) and not tokenizer(response, add_special_tokens=False)["input_ids"]:
            pair = encode_pairs(tokenizer, [prompt], [[0]], max_length=_model_max_positions(model),
                                vocab_size=model_vocab_size(model))[0]
            sequences.append(pair.prompt_ids)
        else:
            pair = encode_pairs(tokenizer, [prompt], [response], max_length=_model_max_positions(model),
                                vocab_size=model_vocab_size(model))[0]
            sequences.append(pair.prompt_ids + pair.response_ids)
    if not sequences:
        raise ValueError("prompts and responses are empty: nothing to score")
    return sequences


def _scores(model, sequences, pad_id: int) -> torch.Tensor:
    device = input_device(model)
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence)
        attention[row, : len(sequence)] = 1
    ids, attention = ids.to(device), attention.to(device)
    kwargs = {"input_ids": ids, "attention_mask": attention}
    if _accepts_position_ids(model):
        kwargs["position_ids"] = (attention.cumsum(dim=-1) - 1).clamp(min=0)
    logits = model(**kwargs).logits
    if logits.ndim != 2 or logits.shape[-1] != 1:
        raise ValueError(f"the reward model must output one score per text, got logits of shape {tuple(logits.shape)}")
    return logits[:, 0].to(torch.float64)


def reward_model_scores(model, tokenizer, prompts, responses, *, batch_size: int = 16) -> np.ndarray:
    """r_θ(x, y) for each pair from a one-output sequence-classification model, batched.

    .. math::  r_θ(x, y) = \\mathrm{head}(h_{last}(x ⊕ y))

    Source: seed 001, §2 eq (2.2) (the reward model) and §6 ("a different prediction head that
    outputs a scalar reward value").

    Args:
      model: ``AutoModelForSequenceClassification`` with ``num_labels == 1``.
      tokenizer: its tokenizer (with a pad token that is not used inside texts, so that the
        last non-pad token is found correctly).
      prompts: N strings or token-id lists.
      responses: N strings or token-id lists (an empty string scores the prompt alone).
      batch_size: pairs per forward pass.

    Returns:
      float64 array of shape (N,).

    Raises:
      ValueError: a tokenizer without pad token, a model that does not output one score,
        mismatched or empty inputs, a pair longer than the context.
    """
    batch_size = _check_batch_size(batch_size)
    pad_id = check_pad_token(tokenizer)
    if getattr(model.config, "pad_token_id", None) is None:
        raise ValueError("the reward model's config has no pad_token_id, so it cannot find the last token of a padded "
                         "text; set model.config.pad_token_id = tokenizer.pad_token_id (load_reward_model does)")
    sequences = _encoded(tokenizer, prompts, responses, model)
    for index, sequence in enumerate(sequences):
        if pad_id in sequence:
            raise ValueError(f"pair {index} contains the pad token id {pad_id}; the reward model would pool before it")
    out = []
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            out.append(_scores(model, sequences[start:start + batch_size], pad_id))
    return torch.cat(out).cpu().numpy()


def reward_model_scores_loop(model, tokenizer, prompts, responses) -> np.ndarray:
    """The per-pair reference of :func:`reward_model_scores`: one unpadded pass per pair."""
    sequences = _encoded(tokenizer, prompts, responses, model)
    device = input_device(model)
    out = []
    with torch.no_grad():
        for sequence in sequences:
            logits = model(input_ids=torch.tensor([sequence], device=device)).logits
            out.append(float(logits[0, 0].to(torch.float64)))
    return np.asarray(out, dtype=np.float64)


def function_rewards(reward_function: Callable[[str, str], float], prompts, responses) -> np.ndarray:
    """r(x, y) = ``reward_function(x, y)`` for each pair of strings.

    Args:
      reward_function: callable (prompt, response) -> a finite number.
      prompts: N strings.
      responses: N strings.

    Returns:
      float64 array of shape (N,).

    Raises:
      TypeError: not callable, or it returned something that is not a real number.
      ValueError: mismatched lengths, or a non-finite reward (naming the pair).
    """
    if not callable(reward_function):
        raise TypeError(f"reward_function must be callable (prompt, response) -> float, got {reward_function!r}")
    prompts, responses = list(prompts), list(responses)
    if len(prompts) != len(responses):
        raise ValueError(f"prompts and responses must pair up: got {len(prompts)} prompts and "
                         f"{len(responses)} responses")
    values = []
    for index, (prompt, response) in enumerate(zip(prompts, responses)):
        value = reward_function(prompt, response)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"reward_function returned {value!r} for pair {index}; it must return a real number")
        if not np.isfinite(value):
            raise ValueError(f"reward_function returned {value} for pair {index} ({prompt!r}, {response!r}); "
                             "rewards must be finite")
        values.append(float(value))
    return np.asarray(values, dtype=np.float64)
