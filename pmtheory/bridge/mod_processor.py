"""Exact multi-objective decoding (MOD) for ``model.generate``: a transformers LogitsProcessor.

:class:`MODLogitsProcessor` turns ``generate`` into token-level MOD decoding: at every step,
for every row of the batch, it runs each base policy π_i (a causal LM fine-tuned for the
objective R_i) on the row's prefix and replaces the scores by the log of the exact next-token
distribution of MOD Prop 1 for the reward Σ_i w_i R_i under β·I_f(π‖π_ref):

.. math::  π^*(s | x, y_{<t}) = π_{ref}(s | ·)\\,(∇f)^{-1}\\Big(−Z + Σ_i w_i
           ∇f\\big(π_i(s | ·)/π_{ref}(s | ·)\\big)\\Big)

solved with its KKT certificate by :func:`pmtheory.mod.optimal_log_policy`, for every barrier
f-divergence of :mod:`pmtheory.divergences` (reverse KL, forward KL, JS, α, Hellinger, ...),
any real weights summing to 1 where the formula is defined (MOD-NEG). The published code's
Z-free rules stay available by name (``rule="published"``, ``rule="product"``), and every step
records how often their argmax differs from the exact rule's.

How it runs inside ``generate``:

- π_ref. ``reference=None`` (default) takes π_ref's next-token logits from the ``scores``
  ``generate`` passes in, i.e. the model ``generate`` is called on is π_ref (after any
  processor placed before this one). ``generate`` casts those logits to float32, so this
  π_ref is float32-accurate; pass ``reference=model`` for a float64 π_ref (run like a base
  policy).
- Order. User processors run after ``generate``'s own processors and before the sampling
  warpers (temperature, top-k, top-p): the warpers act on π*. Beam search passes
  log-softmaxed scores (the same π_ref); the processor returns normalized log π*, which beam
  search accumulates as sequence log-probabilities.
- KV caches. Each model keeps its own ``past_key_values`` between calls, with the input ids
  it covers. A call whose rows are the cached rows extended by one token feeds that token
  only. When every row's prefix is a cached row's (beam search reorders and duplicates beams)
  the cache is reordered (``Cache.reorder_cache``) and extended by one token. Anything else
  (a new ``generate`` call, other prompts, a different length or batch size) recomputes the
  whole prefix without the old cache, so an answer never depends on a stale cache.
- Left padding. The processor sees only ``input_ids``; the attention mask is rebuilt from
  them: the leading run of ``pad_token_id`` in each row is padding (masked, with position ids
  counted from the first real token, as ``generate`` does), every later token is attended to.
  Pad tokens that ``generate`` appends after a row finished (EOS) are at the right and are
  ignored by ``generate``. A prompt that itself begins with the pad token (pad = BOS) would be
  misread: give such models a distinct pad token.
- Supports. ``allowed_token_ids=W`` restricts decoding to W: every model's and π_ref's
  next-token distributions are renormalized over W and π* is solved over W (scores outside W
  are −inf), as in :mod:`pmtheory.bridge.decoding`. Tokens that an earlier processor set to
  −inf (e.g. ``min_new_tokens`` suppressing EOS) are likewise left out of the row's support.
- Precision. Next-token log-softmax is accumulated in float64 on the CPU (float32 on devices
  without float64, MPS); the returned scores have the dtype and device of ``scores``.

Records (cleared by :meth:`MODLogitsProcessor.reset`): ``certificates`` (per step, the largest
KKT residual of the exact solves over the batch), ``disagreements`` (per step, among the rows
that have not emitted EOS: how many rows the published code's rule for the divergence, and
eq 7's product rule, pick a different argmax from the exact rule).

Source: seed 004 (Shi et al. 2024), Prop 1, Thm 5, eq 6-7, §3.2-3.3 (token-level decoding),
App F (the published inference code), App G.2 (negative weights).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch
from transformers import LogitsProcessor

from pmtheory.bridge.loading import input_device
from pmtheory.bridge.logprobs import _accepts_position_ids
from pmtheory.divergences import get_divergence
from pmtheory.mod.decoding import product_rule_log_scores, published_code_log_scores
from pmtheory.mod.policy import check_weights, optimal_log_policy

__all__ = ["MOD_RULES", "MODLogitsProcessor"]

# The rules a processor can decode with: the exact Prop 1 optimum, the published code's score for
# the divergence (App F), and eq 7's product Π_i π_i^{w_i}.
MOD_RULES = ("exact", "published", "product")


@dataclass
class _CacheState:
    """One model's KV cache and the input ids (B, T) it covers."""

    past_key_values: object
    input_ids: torch.Tensor


def _attention_mask(input_ids: torch.Tensor, pad_token_id: int | None) -> torch.Tensor:
    """1 from each row's first non-pad token on, 0 on the leading pad run (left padding), shape (B, T)."""
    if pad_token_id is None:
        return torch.ones_like(input_ids)
    return (torch.cumsum(input_ids != pad_token_id, dim=1) > 0).long()


def _position_ids(mask: torch.Tensor) -> torch.Tensor:
    """Positions counted from each row's first attended token (1 on pads), as ``generate`` does."""
    return (torch.cumsum(mask, dim=1) - 1).masked_fill(mask == 0, 1)


def _cache_argument(model) -> str:
    """The name model.forward takes its KV cache by: ``cache`` (transformers 5) or ``past_key_values``."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def _accumulation_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


class MODLogitsProcessor(LogitsProcessor):
    """Exact MOD (Prop 1) next-token distribution for Σ_i w_i R_i, as a ``generate`` logits processor.

    See the module doc for how π_ref, caches, padding and supports are handled.

    Args:
      models: the M base policies π_i (causal LMs sharing the tokenizer of the model ``generate``
        is called on), each fine-tuned for its objective R_i.
      weights: w, shape (M,), real, summing to 1 (negative weights where the formula is defined).
      reference: π_ref as a causal LM, or None (default): the scores ``generate`` passes in,
        i.e. the model ``generate`` is called on.
      divergence: the barrier f-divergence of the regularizer (default reverse KL).
      beta: β > 0 (the policy does not depend on it).
      rule: "exact" (Prop 1, the default), "published" (the published code's score for the
        divergence, :func:`pmtheory.mod.decoding.published_code_log_scores`) or "product"
        (eq 7, :func:`pmtheory.mod.decoding.product_rule_log_scores`), returned as
        log-softmax (sampling draws ∝ exp(score), as the code does).
      allowed_token_ids: decode over these token ids only (renormalized over them); None: the
        whole vocabulary.
      pad_token_id: the id whose leading run marks left padding (default: the first model's
        ``generation_config.pad_token_id``, else ``config.pad_token_id``).

    Attributes:
      certificates: per step, max over rows of the exact solve's ``kkt_residual``.
      disagreements: per step, ``{"rows", "published", "product"}``: rows still generating, and
        how many of them the published rule / eq 7 pick a different argmax from the exact rule
        (``published`` is None where the code has no branch, e.g. Hellinger, or is undefined,
        e.g. a negative weight with forward KL or α).
    """

    def __init__(self, models, weights, reference=None, *, divergence: str = "reverse_kl", beta: float = 1.0,
                 rule: str = "exact", allowed_token_ids=None, pad_token_id: int | None = None):
        models = list(models) if isinstance(models, (list, tuple)) else [models]
        if not models:
            raise ValueError("models must hold at least one base policy (a causal LM)")
        self.models = models
        self.weights = check_weights(weights, len(models))
        self.reference = reference
        self.divergence = get_divergence(divergence)
        if not self.divergence.barrier:
            raise ValueError(f"MOD Prop 1 needs a barrier divergence (f'(0+) = -inf); {self.divergence.name} is not "
                             "one: pick reverse_kl, forward_kl, js, hellinger or alpha:<a>")
        beta = float(beta)
        if not (np.isfinite(beta) and beta > 0):
            raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
        self.beta = beta
        if rule not in MOD_RULES:
            raise ValueError(f"rule must be one of {', '.join(MOD_RULES)}, got {rule!r}")
        self.rule = rule
        if allowed_token_ids is not None:
            allowed = [int(t) for t in allowed_token_ids]
            if not allowed or len(set(allowed)) != len(allowed) or min(allowed) < 0:
                raise ValueError(f"allowed_token_ids must be distinct non-negative token ids, got {allowed}")
            allowed_token_ids = torch.as_tensor(allowed, dtype=torch.long)
        self.allowed_token_ids = allowed_token_ids
        if pad_token_id is None:
            generation_config = getattr(models[0], "generation_config", None)
            pad_token_id = getattr(generation_config, "pad_token_id", None)
            if pad_token_id is None:
                pad_token_id = getattr(getattr(models[0], "config", None), "pad_token_id", None)
        self.pad_token_id = None if pad_token_id is None else int(pad_token_id)
        eos = getattr(getattr(models[0], "generation_config", None), "eos_token_id", None)
        self._eos_ids = torch.as_tensor([] if eos is None else ([eos] if isinstance(eos, int) else list(eos)),
                                        dtype=torch.long)
        self.reset()

    def reset(self) -> None:
        """Forget the KV caches and clear ``certificates`` and ``disagreements``."""
        self.certificates: list[float] = []
        self.disagreements: list[dict] = []
        self.cache_reuse: list[str] = []  # per step and model: "extend", "reorder" or "recompute"
        self._caches: dict[int, _CacheState] = {}
        self._start_length: int | None = None
        self._last_shape: tuple[int, int] | None = None

    # ------------------------------------------------------------------------------------
    # next-token log-probabilities of one model, with its KV cache
    # ------------------------------------------------------------------------------------

    def _next_token_log_probs(self, key: int, model, input_ids: torch.Tensor, support: torch.Tensor) -> np.ndarray:
        """log π(s | prefix) over the ``support`` ids, renormalized there, float64 (B, |support|)."""
        device = input_device(model)
        ids = input_ids.to(device)
        mask = _attention_mask(ids, self.pad_token_id)
        state = self._caches.get(key)
        past, feed, how = None, ids, "recompute"
        if state is not None and state.input_ids.shape[1] == ids.shape[1] - 1:
            prefixes = ids[:, :-1]
            if state.input_ids.shape[0] == ids.shape[0] and torch.equal(state.input_ids, prefixes):
                past, feed, how = state.past_key_values, ids[:, -1:], "extend"
            elif hasattr(state.past_key_values, "reorder_cache"):
                # each new row's prefix among the cached rows (beam search reorders and duplicates beams)
                same = (prefixes[:, None, :] == state.input_ids[None, :, :]).all(dim=-1)  # (B_new, B_old)
                if bool(same.any(dim=1).all()):
                    state.past_key_values.reorder_cache(same.long().argmax(dim=1).to(device))
                    past, feed, how = state.past_key_values, ids[:, -1:], "reorder"
        kwargs = {"input_ids": feed, "attention_mask": mask, _cache_argument(model): past, "use_cache": True}
        if _accepts_position_ids(model):
            kwargs["position_ids"] = _position_ids(mask)[:, -feed.shape[1]:]
        with torch.no_grad():
            out = model(**kwargs)
        cache = getattr(out, "cache", None)
        self._caches[key] = _CacheState(cache if cache is not None else out.past_key_values, ids)
        self.cache_reuse.append(how)
        logits = out.logits[:, -1, :]
        if logits.shape[-1] <= int(support.max()):
            raise ValueError(f"model {key} has {logits.shape[-1]} logits but the scores have token ids up to "
                             f"{int(support.max())}: the base policies and π_ref must share one vocabulary")
        restricted = logits.index_select(-1, support.to(device)).to(_accumulation_dtype(device))
        return torch.log_softmax(restricted, dim=-1).cpu().double().numpy()

    # ------------------------------------------------------------------------------------
    # one step
    # ------------------------------------------------------------------------------------

    def _rows_generating(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Rows that have not emitted EOS since the prompt (shape (B,), bool)."""
        if self._eos_ids.numel() == 0 or self._start_length is None:
            return torch.ones(input_ids.shape[0], dtype=torch.bool)
        generated = input_ids[:, self._start_length:].cpu()
        return ~torch.isin(generated, self._eos_ids).any(dim=1)

    def _solve(self, log_policies: np.ndarray, log_reference: np.ndarray):
        """(log π* of the rule, exact log π*, max KKT residual, published argmax or None), over one support."""
        exact = optimal_log_policy(log_policies, self.weights, log_reference, divergence=self.divergence,
                                   beta=self.beta)
        exact_log = np.asarray(exact.log_policy, dtype=np.float64)
        try:
            published = published_code_log_scores(log_policies, self.weights, divergence=self.divergence)
        except ValueError:  # no branch for this divergence, or log w_i of a negative weight
            published = None
        product = product_rule_log_scores(log_policies, self.weights)
        if self.rule == "exact":
            chosen = exact_log
        else:
            scores = published if self.rule == "published" else product
            if scores is None:
                raise ValueError(f"rule='published': the published code has no rule for {self.divergence.name} "
                                 f"with weights {self.weights.tolist()} (no branch, or log of a negative weight); "
                                 "use rule='exact'")
            chosen = scores - np.logaddexp.reduce(scores, axis=-1, keepdims=True)
        return chosen, exact_log, float(np.max(exact.kkt_residual)), published, product

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Replace ``scores`` (B, V) by log π* of the rule for the prefixes ``input_ids`` (B, T)."""
        if input_ids.ndim != 2 or scores.ndim != 2 or input_ids.shape[0] != scores.shape[0]:
            raise ValueError(f"input_ids (B, T) and scores (B, V) must share B, got {tuple(input_ids.shape)} and "
                             f"{tuple(scores.shape)}")
        batch, length = input_ids.shape
        if self._last_shape is None or length != self._last_shape[1] + 1:
            self._start_length = length  # not one token longer than the last call: a new generate call
        self._last_shape = (batch, length)
        vocab = scores.shape[-1]
        if self.allowed_token_ids is not None:
            if int(self.allowed_token_ids.max()) >= vocab:
                raise ValueError(f"allowed_token_ids go up to {int(self.allowed_token_ids.max())} but the scores "
                                 f"have {vocab} token ids")
            candidates = self.allowed_token_ids
        else:
            candidates = torch.arange(vocab)
        score_values = scores.detach().index_select(-1, candidates.to(scores.device))
        finite = torch.isfinite(score_values).cpu()  # (B, K): tokens an earlier processor did not remove
        if not bool(finite.any(dim=1).all()):
            raise ValueError("a row of scores is -inf on every candidate token: there is nothing to decode")
        union = finite.any(dim=0)
        support = candidates[union]  # every token that some row allows
        per_row = finite[:, union]  # (B, K') which of them each row allows

        models = list(enumerate(self.models))
        if self.reference is not None:
            models.append((len(self.models), self.reference))
        log_probs = [self._next_token_log_probs(key, model, input_ids, support) for key, model in models]
        if self.reference is None:
            reference_logits = score_values[:, union.to(scores.device)].to(_accumulation_dtype(scores.device))
            log_probs.append(reference_logits.cpu().double().numpy())  # renormalized per row below
        stacked = np.stack(log_probs)  # (M + 1, B, K'): the π_i, then π_ref

        out = np.full((batch, support.numel()), -np.inf)
        exact_argmax = np.zeros(batch, dtype=np.int64)
        published_argmax: np.ndarray | None = np.zeros(batch, dtype=np.int64)
        product_argmax = np.zeros(batch, dtype=np.int64)
        residual = 0.0
        allowed = per_row.numpy()
        groups = {}  # rows with the same support are solved together
        for row in range(batch):
            groups.setdefault(allowed[row].tobytes(), []).append(row)
        for rows in groups.values():
            columns = np.flatnonzero(allowed[rows[0]])
            block = stacked[:, rows][:, :, columns]
            block = block - np.logaddexp.reduce(block, axis=-1, keepdims=True)  # renormalize over the support
            chosen, exact_log, kkt, published, product = self._solve(block[:-1], block[-1])
            out[np.ix_(rows, columns)] = chosen
            residual = max(residual, kkt)
            exact_argmax[rows] = columns[np.argmax(exact_log, axis=-1)]
            product_argmax[rows] = columns[np.argmax(product, axis=-1)]
            if published is None or published_argmax is None:
                published_argmax = None
            else:
                published_argmax[rows] = columns[np.argmax(published, axis=-1)]
        generating = self._rows_generating(input_ids).numpy()
        self.certificates.append(residual)
        self.disagreements.append({
            "rows": int(generating.sum()),
            "published": None if published_argmax is None
            else int(np.sum((published_argmax != exact_argmax) & generating)),
            "product": int(np.sum((product_argmax != exact_argmax) & generating)),
        })
        result = torch.full_like(scores, -torch.inf)
        values = torch.as_tensor(out, dtype=scores.dtype, device=scores.device)
        result[:, support.to(scores.device)] = values
        return result
