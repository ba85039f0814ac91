"""Exact sequence log-probabilities of given responses under a causal LM, batched and padded.

For a prompt x with token ids x_1..x_m and a response y with ids y_1..y_n,

.. math::  \\log π(y|x) = Σ_{t=1}^{n} \\log p_θ(y_t | x, y_{<t}),

each term the log-softmax of the model's logits at the position before y_t. Pass token ids
instead of strings to control the tokenization (sampled responses are kept as ids for that
reason). With ``append_eos=True`` the EOS token is appended to string responses, so that the
probability is that of the complete response (generation stops there).

Tokenizing strings: ``boundary`` says where the response starts.

- ``"separate"`` (the default): the prompt is tokenized with the tokenizer's special tokens
  (OPT and Llama prepend BOS), the response on its own without, and the two id lists are
  concatenated. The response ids are then exactly the ids that ``generate()`` produces after
  the prompt's ids, which is what sampling and training score. They need not be the ids of
  the text prompt+response: Llama's SentencePiece tokenizer prefixes every text with "▁", and
  a word-level tokenizer splits "cat"+"sat" where the joint text has "catsat". When the two
  differ, a UserWarning says so once per process (checked for fast tokenizers, one extra
  tokenization per pair).
- ``"joint"``: prompt+response is tokenized as one text by a fast tokenizer (with
  ``return_offsets_mapping``) and split at character len(prompt): the tokens whose span starts
  at or after it are the response. This is what scoring a fixed text as one document needs.
  A token that straddles the boundary is an error (the texts do not meet at a token
  boundary). Only pairs of two strings are tokenized jointly; ids are taken as given.

Two corrections to string prompts tokenized with special tokens: a prompt whose text already
begins with the BOS token (chat-template output "<s>...") is tokenized without adding
another, and a duplicated [BOS, BOS] start is reduced to one; and a tokenizer that appends EOS
(Llama's ``add_eos_token=True``) has that EOS dropped from the prompt, which is not a
finished document. Token ids are checked against the model's output size (the rows of its
output embedding; OPT's 50,272 exceed its tokenizer's 50,265), not len(tokenizer).

Batching: pairs are sorted by length, padded to the longest in their batch on either side,
and run with an attention mask and explicit position ids ``cumsum(mask) − 1`` (left padding
would otherwise shift the positions of every real token). When the model's forward takes
``logits_to_keep`` (transformers ≥ 4.45; ``num_logits_to_keep`` before), only the positions
from the earliest one that predicts a response token to the end of the row get logits.
Logits are upcast to the accumulation dtype (float64 for float32/float64 models, float32 for
bfloat16/float16 ones and on MPS; :func:`pmtheory.bridge.loading.accumulation_dtype`) before
the log-softmax, only at the response positions, and in chunks of positions of at most
:data:`_CHUNK_ELEMENTS` elements, so that at a vocabulary of 128k the upcast does not multiply
the memory of the logits. The result equals the per-sequence loop
(:func:`sequence_log_probs_loop`, no padding, the model's own position handling) up to
floating-point summation order; BRG-SEQ checks it to 1e-6 (float32) and 1e-12 (float64).

``allowed_token_ids`` restricts every next-token distribution to a subset of the vocabulary
(renormalized over it): the sequence space of fixed-length responses over that subset is then
finite and the restricted probabilities sum to one over it (used by the BRG-MOD check).

Shape letters: ``N`` (prompt, response) pairs, ``B`` pairs in a batch, ``R`` the longest
response in tokens, ``V`` the vocabulary (the model's output size).

Source: seed 001 §6.1 (π(y|x) as the product of token probabilities, footnote 8).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from pmtheory.bridge.loading import accumulation_dtype, check_pad_token, input_device

__all__ = [
    "EncodedPair",
    "TokenLogProbs",
    "encode_pairs",
    "model_vocab_size",
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


def model_vocab_size(model) -> int | None:
    """The number of valid token ids: the rows of the output embedding (the logits' last
    dimension), else ``config.vocab_size``. It may exceed len(tokenizer) (OPT: 50,272 vs 50,265)."""
    get_head = getattr(model, "get_output_embeddings", None)
    weight = getattr(get_head() if callable(get_head) else None, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.ndim == 2:
        return int(weight.shape[0])
    value = getattr(getattr(model, "config", None), "vocab_size", None)
    return int(value) if isinstance(value, int) and value > 0 else None


BOUNDARIES = ("separate", "joint")

# Whether the "separate differs from joint" UserWarning was shown (once per process).
_boundary_warned = False


def _check_boundary(boundary) -> str:
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be 'separate' or 'joint', got {boundary!r}")
    return boundary


def _starts_with_bos(tokenizer, text: str) -> bool:
    bos = getattr(tokenizer, "bos_token", None)
    return isinstance(bos, str) and bool(bos) and text.startswith(bos)


def _appends_eos(tokenizer) -> bool:
    """Whether the tokenizer appends EOS to texts encoded with special tokens (Llama's add_eos_token)."""
    return getattr(tokenizer, "add_eos_token", False) is True and getattr(tokenizer, "eos_token_id", None) is not None


def _tidy_prompt_ids(tokenizer, ids, *, special_tokens_added: bool) -> tuple[int, ...]:
    """A string prompt's ids without a doubled BOS start and, when the tokenizer appended one,
    without the trailing EOS (a prompt is not a finished document)."""
    ids = [int(t) for t in ids]
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and len(ids) >= 2 and ids[0] == ids[1] == bos:
        ids = ids[1:]
    if special_tokens_added and _appends_eos(tokenizer) and ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return tuple(ids)


def _encode_prompt_text(tokenizer, prompt: str) -> tuple[int, ...]:
    """A string prompt's ids with the tokenizer's special tokens, BOS once, no appended EOS."""
    add_special = not _starts_with_bos(tokenizer, prompt)  # "<s>..." already has its BOS
    ids = tokenizer(prompt, add_special_tokens=add_special)["input_ids"]
    return _tidy_prompt_ids(tokenizer, ids, special_tokens_added=add_special)


def _encode_response_text(tokenizer, response: str) -> tuple[int, ...]:
    return tuple(int(t) for t in tokenizer(response, add_special_tokens=False)["input_ids"])


def _check_fast(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "boundary='joint' needs a fast tokenizer (it splits prompt+response at a character offset, "
            "from return_offsets_mapping=True); load it with AutoTokenizer.from_pretrained(..., use_fast=True), "
            "or use boundary='separate'"
        )


def _encode_joint(tokenizer, prompt: str, response: str, index: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(prompt ids, response ids) of prompt+response tokenized as one text, split at character len(prompt).

    Tokens added by the tokenizer's template (BOS; special_tokens_mask 1) before the first text
    token belong to the prompt; an EOS appended by ``add_eos_token`` is dropped.

    Raises:
      ValueError: a token straddles the boundary.
    """
    text = prompt + response
    add_special = not _starts_with_bos(tokenizer, prompt)
    encoding = tokenizer(text, add_special_tokens=add_special, return_offsets_mapping=True,
                         return_special_tokens_mask=True)
    ids = [int(t) for t in encoding["input_ids"]]
    offsets = [tuple(span) for span in encoding["offset_mapping"]]
    added = list(encoding.get("special_tokens_mask") or [0] * len(ids))
    if add_special and _appends_eos(tokenizer) and ids and ids[-1] == tokenizer.eos_token_id and added[-1]:
        ids, offsets, added = ids[:-1], offsets[:-1], added[:-1]
    boundary = len(prompt)
    split, leading = len(ids), True
    for position, ((start, end), is_added) in enumerate(zip(offsets, added)):
        if leading and is_added:
            continue  # a template token before the text (BOS): prompt
        leading = False
        if start < boundary < end:
            raise ValueError(
                f"boundary='joint': in pair {index} the token {text[start:end]!r} (characters {start}..{end} of "
                f"prompt+response) straddles the end of the prompt at character {boundary}, so the joint "
                "tokenization has no prompt/response boundary; make the texts meet at a token boundary (e.g. a "
                "response beginning with the separating space, or a prompt ending in whitespace, whichever the "
                "tokenizer attaches to the next word), or use boundary='separate'"
            )
        if start >= boundary:
            split = position
            break
    prompt_ids = _tidy_prompt_ids(tokenizer, ids[:split], special_tokens_added=False)
    return prompt_ids, tuple(ids[split:])


def _warn_if_boundary_matters(tokenizer, prompt: str, response: str, index: int,
                              prompt_ids: tuple[int, ...], response_ids: tuple[int, ...]) -> None:
    """UserWarning (once per process) when separate tokenization differs from the joint one."""
    global _boundary_warned
    if _boundary_warned or not getattr(tokenizer, "is_fast", False):
        return
    try:
        joint = _encode_joint(tokenizer, prompt, response, index)
        detail = f"joint: prompt {list(joint[0])} + response {list(joint[1])}"
    except ValueError:
        joint, detail = None, "joint: a token straddles the prompt/response boundary"
    if joint == (prompt_ids, response_ids):
        return
    _boundary_warned = True
    level, frame = 1, inspect.currentframe()
    while frame is not None and frame.f_code.co_filename == __file__:  # point at the caller of this module
        frame, level = frame.f_back, level + 1
    del frame
    warnings.warn(
        f"pair {index} ({prompt!r} + {response!r}) tokenizes differently with boundary='separate' (the default: "
        f"prompt {list(prompt_ids)} + response {list(response_ids)}) than as one text ({detail}); the separate "
        "ids are what generate() produces after the prompt (right for sampled responses and training), "
        "boundary='joint' scores the text prompt+response as one document. Shown once per process.",
        UserWarning, stacklevel=level)


def encode_pairs(tokenizer, prompts, responses, *, append_eos: bool = False, max_length: int | None = None,
                 vocab_size: int | None = None, boundary: str = "separate") -> list[EncodedPair]:
    """Token ids of each (prompt, response) pair, validated.

    Args:
      tokenizer: a transformers tokenizer (used for strings only; fast for ``boundary="joint"``).
      prompts: N strings or N sequences of token ids.
      responses: N strings or N sequences of token ids (response i answers prompt i).
      append_eos: append the EOS id to string responses (ids are taken as given).
      max_length: the model's context; a longer pair is an error.
      vocab_size: the number of valid ids, the model's output size (the scoring functions pass
        the rows of its output embedding). Default: len(tokenizer) when a tokenizer is given
        (which is smaller than some models' output size, OPT's for one), else no check.
      boundary: "separate" (prompt and response tokenized on their own, the response ids those
        ``generate()`` produces) or "joint" (prompt+response tokenized as one text by a fast
        tokenizer and split at character len(prompt)); see the module docstring.

    String prompts get the tokenizer's special tokens, BOS once even if the text begins with
    it, and no EOS appended by ``add_eos_token``.

    Returns:
      N :class:`EncodedPair`.

    Raises:
      ValueError: different numbers of prompts and responses, no pairs, an empty response
        (or an empty prompt), a pair longer than ``max_length``, an id outside the vocabulary,
        an unknown ``boundary``, ``boundary="joint"`` with a slow tokenizer or with a token
        straddling the prompt/response boundary.
      TypeError: a prompt or response that is neither a string nor a sequence of ids.

    Warns:
      UserWarning: once per process, when with ``boundary="separate"`` a pair of strings
        tokenizes differently from prompt+response tokenized as one text (fast tokenizers).
    """
    boundary = _check_boundary(boundary)
    if isinstance(prompts, (str, bytes)) or isinstance(responses, (str, bytes)):
        raise TypeError("prompts and responses must be lists (of strings or of token-id lists), not a single string")
    prompts, responses = list(prompts), list(responses)
    if len(prompts) != len(responses):
        raise ValueError(f"prompts and responses must pair up: got {len(prompts)} prompts and "
                         f"{len(responses)} responses")
    if not prompts:
        raise ValueError("prompts and responses are empty: nothing to score")
    if vocab_size is not None:
        source = "the model's output size"
    elif tokenizer is not None:
        vocab_size, source = len(tokenizer), "len(tokenizer)"
    encoded = []
    for index, (prompt, response) in enumerate(zip(prompts, responses)):
        both_strings = isinstance(prompt, str) and isinstance(response, str)
        if both_strings and boundary == "joint":
            _check_fast(tokenizer)
            prompt_ids, response_ids = _encode_joint(tokenizer, prompt, response, index)
        else:
            if isinstance(prompt, str):
                prompt_ids = _encode_prompt_text(tokenizer, prompt)
            else:
                prompt_ids = _as_id_tuple(prompt, f"prompts[{index}]")
            if isinstance(response, str):
                response_ids = _encode_response_text(tokenizer, response)
            else:
                response_ids = _as_id_tuple(response, f"responses[{index}]")
            if both_strings:
                _warn_if_boundary_matters(tokenizer, prompt, response, index, prompt_ids, response_ids)
        if isinstance(response, str) and append_eos and response_ids:
            if tokenizer.eos_token_id is None:
                raise ValueError("append_eos=True but the tokenizer has no EOS token")
            response_ids = response_ids + (int(tokenizer.eos_token_id),)
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
                raise ValueError(f"pair {index} has token id {bad[0]} outside the vocabulary of {vocab_size} "
                                 f"tokens ({source}); ids must be in [0, {vocab_size})")
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


def _logits_to_keep_name(model) -> str | None:
    """The name under which model.forward takes the number of final positions to compute logits for
    (``logits_to_keep``, transformers ≥ 4.45; ``num_logits_to_keep`` before), or None. Only a
    parameter named in the signature counts: **kwargs may be forwarded to layers that reject it."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return None
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in parameters:
            return name
    return None


# The most elements of the (B, R, V) response logits upcast at once: a chunk of positions and its
# log-softmax are then at most 2 × 2**25 ≈ 64M float64 elements (512 MiB) alive, whatever R and V.
_CHUNK_ELEMENTS = 2**25


def _response_log_probs(logits: torch.Tensor, positions: torch.Tensor, targets: torch.Tensor,
                        accumulate: torch.dtype, allowed=None) -> torch.Tensor:
    """(B, R) log_softmax(logits[b, positions[b, t]])[targets[b, t]] in ``accumulate``.

    ``logits`` (B, W, V) in the model's dtype; ``positions`` and ``targets`` (B, R) int64. The
    log-softmax is taken over chunks of positions of at most :data:`_CHUNK_ELEMENTS` elements
    (each position's log-softmax is independent, so the values do not depend on the chunking).
    With ``allowed`` (ids, lookup) the vocabulary is restricted to ``ids`` and ``targets`` are
    positions in it.
    """
    batch, steps = positions.shape
    width = allowed[0].numel() if allowed is not None else logits.shape[-1]
    chunk = max(1, _CHUNK_ELEMENTS // max(1, batch * width))
    rows = torch.arange(batch, device=logits.device).unsqueeze(1)
    pieces = []
    for start in range(0, steps, chunk):
        selected = logits[rows, positions[:, start:start + chunk]]  # (B, chunk, V): response positions only
        if allowed is not None:
            selected = selected.index_select(-1, allowed[0])
        log_probs = torch.log_softmax(selected.to(accumulate), dim=-1)
        pieces.append(log_probs.gather(-1, targets[:, start:start + chunk].unsqueeze(-1)).squeeze(-1))
    return torch.cat(pieces, dim=1) if len(pieces) > 1 else pieces[0]


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
    keep_name = _logits_to_keep_name(model)
    if keep_name is not None:
        # Logits only from the earliest position that predicts a response token to the end of the
        # row: with right padding a short row's response ends before the end, so the window is
        # set by the smallest first_prediction, not by the longest response.
        kwargs[keep_name] = width - min(first_prediction)
    logits = model(**kwargs).logits  # (B, W', V): the last W' ≤ width positions
    skipped = width - logits.shape[1]  # positions whose logits were not computed
    steps = torch.arange(longest_response, device=device)
    response_lengths = torch.tensor([len(pair.response_ids) for pair in pairs], device=device)
    mask = steps.unsqueeze(0) < response_lengths.unsqueeze(1)
    positions = torch.tensor(first_prediction, device=device).unsqueeze(1) + steps.unsqueeze(0) - skipped
    positions = torch.where(mask, positions, torch.zeros_like(positions))
    if bool((positions < 0).any()):
        raise RuntimeError(f"the model returned logits for {logits.shape[1]} positions, fewer than the "
                           f"{width - min(first_prediction)} the responses need")
    targets = torch.zeros((len(pairs), longest_response), dtype=torch.long)
    for row, pair in enumerate(pairs):
        targets[row, : len(pair.response_ids)] = torch.tensor(pair.response_ids)
    targets = targets.to(device)
    if allowed is not None:
        targets = allowed[1][targets]
        if bool(((targets < 0) & mask).any()):
            raise ValueError("a response has a token outside allowed_token_ids")
        targets = targets.clamp(min=0)
    values = _response_log_probs(logits, positions, targets, accumulate, allowed)
    values = torch.where(mask, values, torch.zeros_like(values))
    return values, mask


def _encode_for(model, tokenizer, prompts, responses, *, append_eos: bool, boundary: str) -> list[EncodedPair]:
    """:func:`encode_pairs` checked against the model: its context and its output size."""
    return encode_pairs(tokenizer, prompts, responses, append_eos=append_eos, max_length=_model_max_positions(model),
                        vocab_size=model_vocab_size(model), boundary=boundary)


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
                    append_eos: bool = False, requires_grad: bool = False,
                    boundary: str = "separate") -> TokenLogProbs:
    """Per-token log-probabilities log p(y_t | x, y_<t) of each response, batched.

    Args: as :func:`sequence_log_probs`.

    Returns:
      :class:`TokenLogProbs` with values of shape (N, R) on the model's input device.
    """
    batch_size = _check_batch_size(batch_size)
    pad_id, side, accumulate = _resolve(model, tokenizer, padding_side, accumulate_dtype)
    pairs = _encode_for(model, tokenizer, prompts, responses, append_eos=append_eos, boundary=boundary)
    device = input_device(model)
    allowed = None
    if allowed_token_ids is not None:
        allowed = _allowed_index(allowed_token_ids, model_vocab_size(model), device)
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
                       allowed_token_ids=None, append_eos: bool = False, requires_grad: bool = False,
                       boundary: str = "separate") -> torch.Tensor:
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
      boundary: how string pairs are tokenized: "separate" (default; the response ids are those
        ``generate()`` produces after the prompt) or "joint" (prompt+response as one text, split
        at character len(prompt); needs a fast tokenizer). See the module docstring.

    Returns:
      Tensor of shape (N,) in the accumulation dtype, on the model's input device.

    Raises:
      ValueError: no pad token, empty response, pair longer than the context, a token id
        outside the model's output size, mismatched lengths, bad batch_size, padding_side or
        boundary, a joint tokenization without a boundary between prompt and response.
    """
    return token_log_probs(model, tokenizer, prompts, responses, batch_size=batch_size, padding_side=padding_side,
                           accumulate_dtype=accumulate_dtype, allowed_token_ids=allowed_token_ids,
                           append_eos=append_eos, requires_grad=requires_grad, boundary=boundary).sums()


def sequence_log_probs_loop(model, tokenizer, prompts, responses, *,
                            accumulate_dtype: str | torch.dtype | None = None, allowed_token_ids=None,
                            append_eos: bool = False, boundary: str = "separate") -> torch.Tensor:
    """The naive reference: one unpadded forward pass per pair, no mask, no position ids.

    Same value as :func:`sequence_log_probs` (which BRG-SEQ compares with this), computed
    the way a per-example script would (full logits, one log-softmax per pair).

    Args: as :func:`sequence_log_probs` (the same tokenization, ``boundary`` included).

    Returns:
      Tensor of shape (N,) in the accumulation dtype, on the model's input device.
    """
    accumulate = accumulation_dtype(_model_dtype(model), input_device(model), accumulate_dtype)
    pairs = _encode_for(model, tokenizer, prompts, responses, append_eos=append_eos, boundary=boundary)
    device = input_device(model)
    allowed = None
    if allowed_token_ids is not None:
        allowed = _allowed_index(allowed_token_ids, model_vocab_size(model), device)
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
                                 append_eos: bool = False, boundary: str = "separate") -> torch.Tensor:
    """The chain rule computed literally: one forward pass per prefix (x, y_<t), summed.

    For each response token y_t the model is run on the prefix alone and only its last
    position's next-token distribution is used, so no token's probability is read off a
    position that also sees later tokens. O(|y|) forward passes per pair: for checks only.

    Args: as :func:`sequence_log_probs` (the same tokenization, ``boundary`` included).

    Returns:
      Tensor of shape (N,) in the accumulation dtype, on the model's input device.
    """
    accumulate = accumulation_dtype(_model_dtype(model), input_device(model), accumulate_dtype)
    pairs = _encode_for(model, tokenizer, prompts, responses, append_eos=append_eos, boundary=boundary)
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
