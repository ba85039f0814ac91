"""Sampling K responses per prompt, with the settings and both log-probabilities recorded.

The temperature / top-p caveat. ``generate(do_sample=True)`` draws each token from the
model's next-token distribution *after* the logits processors: temperature T divides the
logits, top-k keeps the k most likely tokens, top-p keeps the smallest set of tokens with
mass ≥ p, and the rest is renormalized. Unless T = 1, top_p = 1 and top_k = 0, the responses
are therefore samples of a distribution q(y|x) that is not the model's π(y|x). Two traps make
this easy to miss: transformers' global default is ``top_k=50`` (so "plain" sampling is
truncated), and values left unset are filled in from the checkpoint's
``generation_config.json`` (Llama-2 ships temperature 0.6, top_p 0.9).

This module therefore (1) generates with a fresh ``GenerationConfig`` in which every
sampling option is set explicitly (the checkpoint's generation config is set aside for the
call and restored after; what it would have changed is recorded in
``overridden_model_defaults``); (2) records the settings (:class:`GenerationSettings`);
(3) returns, per response, ``log_probs`` = log π(y|x) under the model itself (recomputed by
:func:`pmtheory.bridge.sequence_log_probs`, the quantity the theory's π_ref(y|x) is) and
``sampling_log_probs`` = log q(y|x) read off the processed scores that the sampler actually
used, plus ``truncated_mass``, the largest π-mass that top-k/top-p removed at any step of the
response. The two log-probabilities agree (to rounding) exactly when the settings are exact
(:attr:`GenerationSettings.samples_from_model`); otherwise π-expectations estimated from these
samples need importance weights π/q and miss the truncated mass altogether.

Each prompt is generated on its own (K return sequences of one prompt need no padding), with
the torch RNG seeded from (seed, prompt index) inside ``torch.random.fork_rng`` so that the
caller's RNG state is untouched and the samples of a prompt do not depend on the others.
A response ends with the EOS token when generation stopped there (``finished``); responses
cut at ``max_new_tokens`` are prefixes, and their probability is that of the prefix event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from pmtheory.bridge.loading import check_pad_token, input_device, quiet_transformers
from pmtheory.bridge.logprobs import _model_max_positions, encode_pairs, model_vocab_size, sequence_log_probs

__all__ = ["GenerationSettings", "SampledResponses", "sample_responses"]

# The sampling options of transformers' GenerationConfig that change the distribution a token
# is drawn from; all are set explicitly so neither global nor checkpoint defaults apply.
_DISTRIBUTION_OPTIONS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff",
                         "repetition_penalty", "no_repeat_ngram_size", "bad_words_ids", "suppress_tokens",
                         "begin_suppress_tokens", "forced_bos_token_id", "forced_eos_token_id", "min_length",
                         "min_new_tokens", "exponential_decay_length_penalty", "sequence_bias", "top_h")


@dataclass(frozen=True)
class GenerationSettings:
    """How the responses were sampled (everything that affects their distribution)."""

    num_samples: int  # K responses per prompt
    max_new_tokens: int  # generation stops after this many tokens (response then unfinished)
    temperature: float  # T > 0: logits / T before sampling
    top_p: float  # nucleus mass in (0, 1]; 1 disables
    top_k: int  # keep the top_k tokens; 0 disables
    seed: int  # the torch seed of prompt i is derived from (seed, i)
    eos_token_id: int | None  # the token that ends a response
    pad_token_id: int  # fills the rows of finished samples
    overridden_model_defaults: dict = field(default_factory=dict)  # checkpoint generation_config values set aside

    @property
    def samples_from_model(self) -> bool:
        """Whether q = π: temperature 1, no top-p and no top-k truncation."""
        return self.temperature == 1.0 and self.top_p == 1.0 and self.top_k == 0

    def to_dict(self) -> dict:
        """JSON-able dict of the settings, with ``samples_from_model``."""
        return {**asdict(self), "samples_from_model": self.samples_from_model}


@dataclass(frozen=True)
class SampledResponses:
    """K sampled responses for each of N prompts, with their log-probabilities."""

    prompts: tuple  # N prompts as given (strings or id lists)
    prompt_ids: tuple[tuple[int, ...], ...]  # N prompts as token ids
    response_ids: tuple[tuple[tuple[int, ...], ...], ...]  # N × K responses as token ids (EOS included if finished)
    texts: tuple[tuple[str, ...], ...]  # N × K decoded responses (special tokens skipped)
    finished: np.ndarray  # (N, K) bool: the response ended with EOS
    lengths: np.ndarray  # (N, K) int: response length in tokens
    log_probs: np.ndarray  # (N, K) float64: log π(y|x) under the model (T = 1, no truncation)
    sampling_log_probs: np.ndarray  # (N, K) float64: log q(y|x) under the processed distribution sampled from
    truncated_mass: np.ndarray  # (N, K) float64: max over steps of the π-mass removed by top-k/top-p
    settings: GenerationSettings  # how they were sampled

    def pairs(self) -> tuple[list, list]:
        """(prompt ids, response ids) flattened row-major to N·K pairs, for scoring."""
        prompts, responses = [], []
        for prompt, row in zip(self.prompt_ids, self.response_ids):
            for response in row:
                prompts.append(list(prompt))
                responses.append(list(response))
        return prompts, responses

    def text_pairs(self, prompt_texts=None) -> tuple[list[str], list[str]]:
        """(prompt text, response text) flattened row-major, for reward models and functions."""
        texts = prompt_texts if prompt_texts is not None else self.prompts
        prompts, responses = [], []
        for prompt, row in zip(texts, self.texts):
            for response in row:
                prompts.append(prompt if isinstance(prompt, str) else "")
                responses.append(response)
        return prompts, responses


def _check_settings(num_samples, max_new_tokens, temperature, top_p, top_k, seed):
    for name, value in (("num_samples", num_samples), ("max_new_tokens", max_new_tokens), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if num_samples < 1 or max_new_tokens < 1:
        raise ValueError(f"num_samples and max_new_tokens must be >= 1, got {num_samples} and {max_new_tokens}")
    temperature, top_p = float(temperature), float(top_p)
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be > 0 (sampling; use T = 1 to sample from the model), got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1 disables nucleus sampling), got {top_p}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0 (0 disables), got {top_k!r}")
    return temperature, top_p


def _generation_config(settings: GenerationSettings, bos_token_id):
    from transformers import GenerationConfig

    return GenerationConfig(
        do_sample=True, num_beams=1, num_return_sequences=settings.num_samples,
        max_new_tokens=settings.max_new_tokens, min_length=0, min_new_tokens=None,
        temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k, min_p=None,
        typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0, repetition_penalty=1.0, no_repeat_ngram_size=0,
        bad_words_ids=None, suppress_tokens=None, begin_suppress_tokens=None, forced_bos_token_id=None,
        forced_eos_token_id=None, exponential_decay_length_penalty=None, sequence_bias=None,
        renormalize_logits=False, pad_token_id=settings.pad_token_id, eos_token_id=settings.eos_token_id,
        bos_token_id=bos_token_id, return_dict_in_generate=True, output_scores=True, output_logits=True,
        use_cache=True,
    )


def _overridden_defaults(model) -> dict:
    """The checkpoint's generation_config values that would have changed the sampling."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return {}
    defaults = (type(config)()._get_default_generation_params() if hasattr(config, "_get_default_generation_params")
                else {})
    found = {}
    for name in _DISTRIBUTION_OPTIONS:
        value = getattr(config, name, None)
        if value is not None and value != defaults.get(name, None):
            found[name] = value if isinstance(value, (int, float, str, bool)) else repr(value)
    return found


def _prompt_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


def sample_responses(model, tokenizer, prompts, *, num_samples: int, max_new_tokens: int = 32,
                     temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0, seed: int = 0,
                     batch_size: int = 16) -> SampledResponses:
    """Sample K responses per prompt and record settings, log π(y|x) and log q(y|x).

    .. math::  y \\sim q(\\cdot|x),\\quad q(y_t|x,y_{<t}) ∝ \\mathrm{trunc}_{k,p}(\\mathrm{softmax}(\\mathrm{logits}/T))

    Args:
      model: a transformers causal LM.
      tokenizer: its tokenizer (with a pad token).
      prompts: N strings or token-id lists.
      num_samples: K responses per prompt.
      max_new_tokens: the longest response, in tokens.
      temperature: T > 0 (1: the model's own distribution).
      top_p: nucleus mass in (0, 1] (1: no truncation).
      top_k: keep the top-k tokens (0: no truncation; transformers' own default would be 50).
      seed: seed of the sampling.
      batch_size: pairs per forward pass when recomputing log π(y|x).

    Returns:
      :class:`SampledResponses` (see the module docstring for the two log-probabilities).

    Raises:
      ValueError: bad settings, a tokenizer without pad token, an empty prompt list, or a
        prompt that leaves no room for max_new_tokens in the model's context.
    """
    temperature, top_p = _check_settings(num_samples, max_new_tokens, temperature, top_p, top_k, seed)
    pad_id = check_pad_token(tokenizer)
    if isinstance(prompts, (str, bytes)):
        raise TypeError("prompts must be a list of strings or token-id lists, not a single string")
    prompts = tuple(prompts)
    if not prompts:
        raise ValueError("prompts is empty: nothing to sample")
    eos = tokenizer.eos_token_id
    settings = GenerationSettings(num_samples=num_samples, max_new_tokens=max_new_tokens, temperature=temperature,
                                  top_p=top_p, top_k=top_k, seed=seed, eos_token_id=None if eos is None else int(eos),
                                  pad_token_id=pad_id, overridden_model_defaults=_overridden_defaults(model))
    context = _model_max_positions(model)
    # encode the prompts (a dummy one-token response satisfies encode_pairs' checks)
    encoded = encode_pairs(tokenizer, prompts, [[pad_id]] * len(prompts), vocab_size=model_vocab_size(model))
    prompt_ids = tuple(pair.prompt_ids for pair in encoded)
    for index, ids in enumerate(prompt_ids):
        if context is not None and len(ids) + max_new_tokens > context:
            raise ValueError(f"prompts[{index}] has {len(ids)} tokens; "
                             f"with max_new_tokens={max_new_tokens} that exceeds "
                             f"the model's context of {context} positions")
    device = input_device(model)
    config = _generation_config(settings, tokenizer.bos_token_id)
    saved_config = getattr(model, "generation_config", None)
    responses, sampling_lp, truncated, finished = [], [], [], []
    devices = [device] if device.type == "cuda" else []
    try:
        if saved_config is not None:
            model.generation_config = type(saved_config)()
        for index, ids in enumerate(prompt_ids):
            with torch.random.fork_rng(devices=devices), torch.no_grad(), quiet_transformers():
                torch.manual_seed(_prompt_seed(seed, index))
                inputs = torch.tensor([ids], device=device)
                output = model.generate(inputs, attention_mask=torch.ones_like(inputs), generation_config=config)
            new_tokens = output.sequences[:, len(ids):]
            exact = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
            step_log_q, step_removed = [], []
            for t, (processed, raw) in enumerate(zip(output.scores, output.logits)):  # one step at a time: (K, V)
                processed = processed.to(exact)
                chosen = new_tokens[:, t].unsqueeze(-1)
                step_log_q.append(torch.log_softmax(processed, dim=-1).gather(-1, chosen)[:, 0])
                p = torch.softmax(raw.to(exact), dim=-1)
                step_removed.append(torch.where(torch.isneginf(processed), p, torch.zeros_like(p)).sum(dim=-1))
            log_q = torch.stack(step_log_q, dim=1).cpu()  # (K, steps): log q(y_t | x, y_<t) of the drawn tokens
            removed = torch.stack(step_removed, dim=1).cpu()  # (K, steps): π-mass cut by top-k / top-p
            new_tokens = new_tokens.cpu()
            row_ids, row_lp, row_trunc, row_done = [], [], [], []
            for k in range(num_samples):
                tokens = new_tokens[k].tolist()
                end = len(tokens)
                done = False
                if eos is not None and eos in tokens:
                    end, done = tokens.index(eos) + 1, True
                tokens = tokens[:end]
                row_ids.append(tuple(int(t) for t in tokens))
                row_lp.append(float(log_q[k, :end].sum()))
                row_trunc.append(float(removed[k, :end].max()))
                row_done.append(done)
            responses.append(tuple(row_ids))
            sampling_lp.append(row_lp)
            truncated.append(row_trunc)
            finished.append(row_done)
    finally:
        if saved_config is not None:
            model.generation_config = saved_config
    flat_prompts = [list(ids) for ids, row in zip(prompt_ids, responses) for _ in row]
    flat_responses = [list(r) for row in responses for r in row]
    log_probs = sequence_log_probs(model, tokenizer, flat_prompts, flat_responses, batch_size=batch_size,
                                   accumulate_dtype="float64" if device.type != "mps" else "float32")
    shape = (len(prompts), num_samples)
    texts = tuple(tuple(tokenizer.decode(list(r), skip_special_tokens=True) for r in row) for row in responses)
    return SampledResponses(
        prompts=prompts, prompt_ids=prompt_ids, response_ids=tuple(responses), texts=texts,
        finished=np.asarray(finished, dtype=bool).reshape(shape),
        lengths=np.asarray([[len(r) for r in row] for row in responses], dtype=np.int64).reshape(shape),
        log_probs=log_probs.detach().cpu().to(torch.float64).numpy().reshape(shape),
        sampling_log_probs=np.asarray(sampling_lp, dtype=np.float64).reshape(shape),
        truncated_mass=np.asarray(truncated, dtype=np.float64).reshape(shape),
        settings=settings,
    )
