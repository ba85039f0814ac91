"""Exact sequence log-probabilities of given responses under a causal LM, batched and padded.

For a prompt x with token ids x_1..x_m and a response y with ids y_1..y_n,

.. math::  \\log π(y|x) = Σ_{t=1}^{n} \\log p_θ(y_t | x, y_{<t}),

each term the log-softmax of the model's logits at the position before y_t. The prompt is
tokenized with the tokenizer's special tokens (OPT and Llama prepend BOS), the response
without, and the two id lists are concatenated, so the response boundary is exact; pass
token ids instead of strings to control the tokenization (sampled responses are kept as ids
for that reason). With ``append_eos=True`` the EOS token is appended to string responses,
so that the probability is that of the complete response (generation stops there).

Batching: pairs are sorted by length, padded to the longest in their batch on either side,
and run with an attention mask and explicit position ids ``cumsum(mask) − 1`` (left padding
would otherwise shift the positions of every real token). Logits are upcast to the
accumulation dtype (float64 for float32/float64 models, float32 for bfloat16/float16 ones and
on MPS; :func:`pmtheory.bridge.loading.accumulation_dtype`) before the log-softmax, and only
at the response positions. The result equals the per-sequence loop
(:func:`sequence_log_probs_loop`, no padding, the model's own position handling) up to
floating-point summation order; BRG-SEQ checks it to 1e-6 (float32) and 1e-12 (float64).

``allowed_token_ids`` restricts every next-token distribution to a subset of the vocabulary
(renormalized over it): the sequence space of fixed-length responses over that subset is then
finite and the restricted probabilities sum to one over it (used by the BRG-MOD check).

Shape letters: ``N`` (prompt, response) pairs, ``R`` the longest response in tokens.

Source: seed 001 §6.1 (π(y|x) as the product of token probabilities, footnote 8).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from pmtheory.bridge.loading import accumulation_dtype, check_pad_token, input_device

__all__ = [
    "EncodedPair",
    "TokenLogProbs",
    "encode_pairs",
    "sequence_log_probs",
    "sequence_log_probs_by_prefix",
    "sequence_log_probs_loop",
    "token_log_probs",
]


@dataclass(frozen=True)
class EncodedPair:
    """One (prompt, response) pair as token ids."""

    prompt_ids: tuple[int, ...]  # the prompt's ids, special tokens included (e.g. BOS first)
    response_ids: tuple[int, ...]  # the response's ids (scored tokens), at least one

    @property
    def length(self) -> int:
        """Total number of tokens, prompt and response."""
        return len(self.prompt_ids) + len(self.response_ids)


@dataclass(frozen=True)
class TokenLogProbs:
    """Per-token log-probabilities of N responses, padded to the longest (R tokens)."""

    values: torch.Tensor  # (N, R): log p(y_t | x, y_<t); 0 where mask is False
    mask: torch.Tensor  # (N, R) bool: True on the response's tokens
    lengths: torch.Tensor  # (N,) int64: response lengths in tokens

    def sums(self) -> torch.Tensor:
        """(N,) sequence log-probabilities, Σ_t values."""
        return self.values.sum(dim=-1)


def _as_id_tuple(value, name: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a string or a sequence of token ids, got {value!r}") from None
    if any(isinstance(v, bool) for v in value):
        raise TypeError(f"{name} must hold integer token ids, got booleans")
    return ids


def _model_max_positions(model) -> int | None:
    value = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def encode_pairs(tokenizer, prompts, responses, *, append_eos: bool = False,
                 max_length: int | None = None) -> list[EncodedPair]:
    """Token ids of each (prompt, response) pair, validated.

    Args:
      tokenizer: a transformers tokenizer (used for strings only).
      prompts: N strings or N sequences of token ids.
      responses: N strings or N sequences of token ids (response i answers prompt i).
      append_eos: append the EOS id to string responses (ids are taken as given).
      max_length: the model's context; a longer pair is an error.

    Returns:
      N :class:`EncodedPair`.

    Raises:
      ValueError: different numbers of prompts and responses, no pairs, an empty response
        (or an empty prompt), a pair longer than ``max_length``, an id outside the vocabulary.
      TypeError: a prompt or response that is neither a string nor a sequence of ids.
    """
    if isinstance(prompts, (str, bytes)) or isinstance(responses, (str, bytes)):
        raise TypeError("prompts and responses must be lists (of strings or of token-id lists), not a single string")
    prompts, responses = list(prompts), list(responses)
    if len(prompts) != len(responses):
        raise ValueError(f"prompts and responses must pair up: got {len(prompts)} prompts and "
                         f"{len(responses)} responses")
    if not prompts:
        raise ValueError("prompts and responses are empty: nothing to score")
    vocab_size = len(tokenizer) if tokenizer is not None else None
    encoded = []
    for index, (prompt, response) in enumerate(zip(prompts, responses)):
        if isinstance(prompt, str):
            prompt_ids = tuple(tokenizer(prompt, add_special_tokens=True)["input_ids"])
        else:
            prompt_ids = _as_id_tuple(prompt, f"prompts[{index}]")
        if isinstance(response, str):
            response_ids = tuple(tokenizer(response, add_special_tokens=False)["input_ids"])
            if append_eos and response_ids:
                if tokenizer.eos_token_id is None:
                    raise ValueError("append_eos=True but the tokenizer has no EOS token")
                response_ids = response_ids + (int(tokenizer.eos_token_id),)
        else:
            response_ids = _as_id_tuple(response, f"responses[{index}]")
        if not response_ids:
            raise ValueError(
                f"responses[{index}] is empty ({response!r} has no tokens): an empty response has no "
                "token to score; drop it, or score the EOS token by passing [eos_token_id]"
            )
        if not prompt_ids:
            raise ValueError(
                f"prompts[{index}] has no tokens and the tokenizer adds no BOS token, so the first response "
                "token has no context to be predicted from; give a non-empty prompt"
            )
        pair = EncodedPair(prompt_ids, response_ids)
        if max_length is not None and pair.length > max_length:
            raise ValueError(
                f"pair {index} has {len(prompt_ids)} prompt + {len(response_ids)} response = {pair.length} tokens, "
                f"more than the model's context of {max_length} positions (max_position_embeddings); shorten it"
            )
        if vocab_size is not None:
            bad = [t for t in prompt_ids + response_ids if not 0 <= t < vocab_size]
            if bad:
                raise ValueError(f"pair {index} has token id {bad[0]} outside the vocabulary of {vocab_size} tokens")
        encoded.append(pair)
    return encoded


def _accepts_position_ids(model) -> bool:
    """Whether model.forward takes position_ids (by name, or through **kwargs)."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    return "position_ids" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _model_dtype(model) -> torch.dtype:
    for parameter in model.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


def _allowed_index(allowed_token_ids, vocab_size: int, device: torch.device):
    """(allowed ids tensor, map from vocab id to position in it or -1)."""
    allowed = torch.as_tensor(list(allowed_token_ids), dtype=torch.long)
    if allowed.ndim != 1 or allowed.numel() == 0:
        raise ValueError("allowed_token_ids must be a non-empty list of token ids")
    if allowed.unique().numel() != allowed.numel():
        raise ValueError("allowed_token_ids must not repeat an id")
    if int(allowed.min()) < 0 or int(allowed.max()) >= vocab_size:
        raise ValueError(f"allowed_token_ids must be ids in [0, {vocab_size}), got {allowed.tolist()}")
    lookup = torch.full((vocab_size,), -1, dtype=torch.long)
    lookup[allowed] = torch.arange(allowed.numel())
    return allowed.to(device), lookup.to(device)


def _batch_token_log_probs(model, pairs: Sequence[EncodedPair], *, pad_id: int, padding_side: str,
                           accumulate: torch.dtype, allowed=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, R) response-token log-probs and mask for one padded batch."""
    device = input_device(model)
    lengths = [pair.length for pair in pairs]
    width = max(lengths)
    longest_response = max(len(pair.response_ids) for pair in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(pairs), width), dtype=torch.long)
    first_prediction = []  # the position whose logits predict the first response token
    for row, pair in enumerate(pairs):
        sequence = torch.tensor(pair.prompt_ids + pair.response_ids, dtype=torch.long)
        offset = 0 if padding_side == "right" else width - pair.length
        ids[row, offset:offset + pair.length] = sequence
        attention[row, offset:offset + pair.length] = 1
        first_prediction.append(offset + len(pair.prompt_ids) - 1)
    ids, attention = ids.to(device), attention.to(device)
    kwargs = {"input_ids": ids, "attention_mask": attention, "use_cache": False}
    if _accepts_position_ids(model):
        kwargs["position_ids"] = (attention.cumsum(dim=-1) - 1).clamp(min=0)
    logits = model(**kwargs).logits
    steps = torch.arange(longest_response, device=device)
    response_lengths = torch.tensor([len(pair.response_ids) for pair in pairs], device=device)
    mask = steps.unsqueeze(0) < response_lengths.unsqueeze(1)
    positions = torch.tensor(first_prediction, device=device).unsqueeze(1) + steps.unsqueeze(0)
    positions = torch.where(mask, positions, torch.zeros_like(positions))
    targets = torch.zeros((len(pairs), longest_response), dtype=torch.long)
    for row, pair in enumerate(pairs):
        targets[row, : len(pair.response_ids)] = torch.tensor(pair.response_ids)
    targets = targets.to(device)
    rows = torch.arange(len(pairs), device=device).unsqueeze(1)
    selected = logits[rows, positions]  # (B, R, V): only the response positions are upcast
    if allowed is not None:
        allowed_ids, lookup = allowed
        selected = selected.index_select(-1, allowed_ids)
        targets = lookup[targets]
        if bool(((targets < 0) & mask).any()):
            raise ValueError("a response has a token outside allowed_token_ids")
        targets = targets.clamp(min=0)
    log_probs = torch.log_softmax(selected.to(accumulate), dim=-1)
    values = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    values = torch.where(mask, values, torch.zeros_like(values))
    return values, mask


def _resolve(model, tokenizer, padding_side, accumulate_dtype):
    pad_id = check_pad_token(tokenizer)
    side = padding_side if padding_side is not None else getattr(tokenizer, "padding_side", "right")
    if side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
    accumulate = accumulation_dtype(_model_dtype(model), input_device(model), accumulate_dtype)
    return pad_id, side, accumulate


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def token_log_probs(model, tokenizer, prompts, responses, *, batch_size: int = 16, padding_side: str | None = None,
                    accumulate_dtype: str | torch.dtype | None = None, allowed_token_ids=None,
                    append_eos: bool = False, requires_grad: bool = False) -> TokenLogProbs:
    """Per-token log-probabilities log p(y_t | x, y_<t) of each response, batched.

    Args: as :func:`sequence_log_probs`.

    Returns:
      :class:`TokenLogProbs` with values of shape (N, R) on the model's input device.
    """
    batch_size = _check_batch_size(batch_size)
    pad_id, side, accumulate = _resolve(model, tokenizer, padding_side, accumulate_dtype)
    pairs = encode_pairs(tokenizer, prompts, responses, append_eos=append_eos, max_length=_model_max_positions(model))
    device = input_device(model)
    allowed = None
    if allowed_token_ids is not None:
        allowed = _allowed_index(allowed_token_ids, model.get_output_embeddings().weight.shape[0], device)
    order = sorted(range(len(pairs)), key=lambda i: -pairs[i].length)  # similar lengths share a batch
    longest = max(len(pair.response_ids) for pair in pairs)
    values = torch.zeros((len(pairs), longest), dtype=accumulate, device=device)
    mask = torch.zeros((len(pairs), longest), dtype=torch.bool, device=device)
    context = torch.enable_grad() if requires_grad else torch.no_grad()
    with context:
        chunks = []
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch_values, batch_mask = _batch_token_log_probs(
                model, [pairs[i] for i in rows], pad_id=pad_id, padding_side=side, accumulate=accumulate,
                allowed=allowed)
            chunks.append((rows, batch_values, batch_mask))
        if requires_grad:  # keep the graph: assemble by concatenation and one permutation
            padded = [torch.nn.functional.pad(v, (0, longest - v.shape[1])) for _, v, _ in chunks]
            padded_mask = [torch.nn.functional.pad(m, (0, longest - m.shape[1])) for _, _, m in chunks]
            inverse = torch.empty(len(order), dtype=torch.long)
            inverse[torch.tensor(order)] = torch.arange(len(order))
            inverse = inverse.to(device)
            values = torch.cat(padded)[inverse]
            mask = torch.cat(padded_mask)[inverse]
        else:
            for rows, batch_values, batch_mask in chunks:
                index = torch.tensor(rows, device=device)
                values[index, : batch_values.shape[1]] = batch_values
                mask[index, : batch_mask.shape[1]] = batch_mask
    lengths = torch.tensor([len(pair.response_ids) for pair in pairs], dtype=torch.long)
    return TokenLogProbs(values=values, mask=mask, lengths=lengths)


def sequence_log_probs(model, tokenizer, prompts, responses, *, batch_size: int = 16,
                       padding_side: str | None = None, accumulate_dtype: str | torch.dtype | None = None,
                       allowed_token_ids=None, append_eos: bool = False, requires_grad: bool = False) -> torch.Tensor:
    """log π(y|x) = Σ_t log p(y_t | x, y_<t) for each (prompt, response) pair, batched.

    .. math::  \\log π(y|x) = Σ_{t=1}^{|y|} \\log \\mathrm{softmax}(\\mathrm{logits}_{t-1})[y_t]

    Source: seed 001, §6.1 and footnote 8 (π(y|x) = p_1·p_2·…·p_Length(y)).

    Args:
      model: a transformers causal LM (any ``AutoModelForCausalLM``), in eval mode.
      tokenizer: its tokenizer; it must have a pad token.
      prompts: N strings or token-id lists.
      responses: N strings or token-id lists, non-empty.
      batch_size: pairs per forward pass.
      padding_side: "left" or "right"; default the tokenizer's. The result does not depend
        on it beyond rounding.
      accumulate_dtype: "float32" or "float64" (default: float64 for float32 and float64
        models, float32 for bfloat16/float16 and on MPS); logits are upcast to it before the
        log-softmax.
      allowed_token_ids: restrict each next-token distribution to these ids (renormalized).
      append_eos: append EOS to string responses (the probability of the complete response).
      requires_grad: keep the autograd graph (for training); otherwise run under no_grad.

    Returns:
      Tensor of shape (N,) in the accumulation dtype, on the model's input device.

    Raises:
      ValueError: no pad token, empty response, pair longer than the context, mismatched
        lengths, bad batch_size or padding_side.
    """
    return token_log_probs(model, tokenizer, prompts, responses, batch_size=batch_size, padding_side=padding_side,
                           accumulate_dtype=accumulate_dtype, allowed_token_ids=allowed_token_ids,
                           append_eos=append_eos, requires_grad=requires_grad).sums()


def sequence_log_probs_loop(model, tokenizer, prompts, responses, *,
                            accumulate_dtype: str | torch.dtype | None = None, allowed_token_ids=None,
                            append_eos: bool = False) -> torch.Tensor:
    """The naive reference: one unpadded forward pass per pair, no mask, no position ids.

    Same value as :func:`sequence_log_probs` (which BRG-SEQ compares with this), computed
    the way a per-example script would.

    Returns:
      Tensor of shape (N,) in the accumulation dtype, on the model's input device.
    """
    accumulate = accumulation_dtype(_model_dtype(model), input_device(model), accumulate_dtype)
    pairs = encode_pairs(tokenizer, prompts, responses, append_eos=append_eos, max_length=_model_max_positions(model))
    device = input_device(model)
    allowed = None
    if allowed_token_ids is not None:
        allowed = _allowed_index(allowed_token_ids, model.get_output_embeddings().weight.shape[0], device)
    totals = []
    with torch.no_grad():
        for pair in pairs:
            ids = torch.tensor([pair.prompt_ids + pair.response_ids], device=device)
            logits = model(input_ids=ids).logits[0]
            start = len(pair.prompt_ids) - 1
            predicting = logits[start:start + len(pair.response_ids)]
            targets = torch.tensor(pair.response_ids, device=device)
            if allowed is not None:
                predicting = predicting.index_select(-1, allowed[0])
                targets = allowed[1][targets]
                if bool((targets < 0).any()):
                    raise ValueError("a response has a token outside allowed_token_ids")
            log_probs = torch.log_softmax(predicting.to(accumulate), dim=-1)
            totals.append(log_probs.gather(-1, targets.unsqueeze(-1)).sum())
    return torch.stack(totals)


def sequence_log_probs_by_prefix(model, tokenizer, prompts, responses, *,
                                 accumulate_dtype: str | torch.dtype | None = None,
                                 append_eos: bool = False) -> torch.Tensor:
    """The chain rule computed literally: one forward pass per prefix (x, y_<t), summed.

    For each response token y_t the model is run on the prefix alone and only its last
    position's next-token distribution is used, so no token's probability is read off a
    position that also sees later tokens. O(|y|) forward passes per pair: for checks only.

    Returns:
      Tensor of shape (N,) in the accumulation dtype, on the model's input device.
    """
    accumulate = accumulation_dtype(_model_dtype(model), input_device(model), accumulate_dtype)
    pairs = encode_pairs(tokenizer, prompts, responses, append_eos=append_eos, max_length=_model_max_positions(model))
    device = input_device(model)
    totals = []
    with torch.no_grad():
        for pair in pairs:
            total = torch.zeros((), dtype=accumulate, device=device)
            for t, token in enumerate(pair.response_ids):
                prefix = torch.tensor([pair.prompt_ids + pair.response_ids[:t]], device=device)
                last = model(input_ids=prefix).logits[0, -1]
                total = total + torch.log_softmax(last.to(accumulate), dim=-1)[token]
            totals.append(total)
    return torch.stack(totals)
