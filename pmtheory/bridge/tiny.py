"""Tiny OPT and Llama causal LMs (and a reward model) built from configs, for CPU checks.

The bridge checks (``pmtheory verify 'BRG-*'``) and the tests need real transformers models
without downloading weights. This module builds them from :class:`transformers.OPTConfig`
and :class:`transformers.LlamaConfig` (2 layers, hidden size 16, a 40-token word-level
vocabulary), with a word-level tokenizer wrapped in
:class:`transformers.PreTrainedTokenizerFast` (pad/BOS/EOS/UNK tokens), and saves both with
``save_pretrained`` so that they are loaded back through the real ``from_pretrained`` path
(:func:`pmtheory.bridge.load_causal_lm`).

A randomly initialized LM is nearly uniform over its vocabulary and almost never emits EOS,
which is not what the checks are about; so the causal LMs are briefly pretrained on
sentences drawn from a small seeded grammar ("the small cat sat on the mat </s>"): 100 Adam
steps on fresh batches of 32 sentences, about a second on one CPU core, reaching about 1.8
nats per token on held-out sentences. They then put most of their mass on grammatical
continuations, end responses with EOS at varied lengths, and give responses
probabilities that range over orders of magnitude, like a real LM. The reward model is a
randomly initialized sequence classifier (a reward that does not follow the LM), scaled to
rewards of a few units.

Everything is seeded: the same arguments give the same weights on one machine.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "TINY_ARCHITECTURES",
    "TINY_MARKER",
    "TINY_PROMPTS",
    "TINY_WORDS",
    "TinyModelPaths",
    "build_tiny_tokenizer",
    "grammar_sentences",
    "save_tiny_causal_lm",
    "save_tiny_models",
    "save_tiny_reward_model",
    "single_thread",
    "tiny_model_note",
    "tiny_model_note_at",
    "tiny_model_paths",
]

# The architectures the builder knows: OPT (learned positions with offset 2, LayerNorm) and
# Llama (rotary positions, RMSNorm, grouped-query attention).
TINY_ARCHITECTURES = ("opt", "llama")

# The special tokens, in vocabulary order (ids 0..3).
_SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
# The grammar's word classes; the vocabulary is their union (ids 4..).
_DETERMINERS = ("the", "a")
_ADJECTIVES = ("red", "blue", "big", "small", "happy", "sad", "fast", "slow")
_NOUNS = ("cat", "dog", "bird", "mat", "tree", "house")
_VERBS = ("sat", "ran", "flew", "is", "was")
_PREPOSITIONS = ("on", "in", "under")
_OTHERS = ("and", "or", "it", "very", "not", "yes", "no", "good", "bad", "one", "two", "three")
TINY_WORDS = _DETERMINERS + _ADJECTIVES + _NOUNS + _VERBS + _PREPOSITIONS + _OTHERS

# Prompts the checks use by default: sentence beginnings the grammar continues.
TINY_PROMPTS = ("the cat", "a small dog", "the bird", "a red house", "the big tree", "a happy cat sat",
                "the dog ran", "a blue bird flew")

# Pretraining: Adam steps, each on a fresh batch of this many grammar sentences, at this rate.
_PRETRAIN_STEPS = 100
_PRETRAIN_BATCH = 32
_PRETRAIN_LR = 3e-2


def build_tiny_tokenizer():
    """A word-level :class:`~transformers.PreTrainedTokenizerFast` over :data:`TINY_WORDS`.

    Ids: ``<pad>`` 0, ``<s>`` 1 (prepended to every text encoded with special tokens, as
    OPT's and Llama's tokenizers do), ``</s>`` 2, ``<unk>`` 3, then the words. Text is split
    on whitespace and punctuation; decoding joins words with spaces.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(_SPECIALS + TINY_WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    core.decoder = decoders.WordPiece(prefix="##")  # joins word tokens with spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="right",
        model_max_length=64,
    )


def grammar_sentences(count: int, *, seed: int) -> list[str]:
    """``count`` sentences of the tiny grammar, seeded; lengths vary from 2 to about 14 words.

    sentence := NP VP [("and" | "or") NP VP] ["very" ADJ | "yes" | "no"];
    NP := DET [ADJ] NOUN | "it"; VP := VERB [PREP NP | NUMBER | "not" ADJ].
    """
    rng = np.random.default_rng(seed)

    def pick(words):
        return words[int(rng.integers(len(words)))]

    def noun_phrase():
        if rng.random() < 0.1:
            return ["it"]
        words = [pick(_DETERMINERS)]
        if rng.random() < 0.5:
            words.append(pick(_ADJECTIVES))
        return words + [pick(_NOUNS)]

    def verb_phrase():
        words = [pick(_VERBS)]
        roll = rng.random()
        if roll < 0.4:
            words += [pick(_PREPOSITIONS)] + noun_phrase()
        elif roll < 0.5:
            words.append(pick(("one", "two", "three")))
        elif roll < 0.6:
            words += ["not", pick(_ADJECTIVES)]
        return words

    sentences = []
    for _ in range(count):
        words = noun_phrase() + verb_phrase()
        if rng.random() < 0.25:
            words += [pick(("and", "or"))] + noun_phrase() + verb_phrase()
        roll = rng.random()
        if roll < 0.15:
            words += ["very", pick(_ADJECTIVES)]
        elif roll < 0.25:
            words.append(pick(("yes", "no", "good", "bad")))
        sentences.append(" ".join(words))
    return sentences


def _config(architecture: str, vocab_size: int, *, max_positions: int, for_classification: bool, tied: bool = False):
    from transformers import LlamaConfig, OPTConfig

    common = dict(vocab_size=vocab_size, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                  max_position_embeddings=max_positions, num_labels=1 if for_classification else 2)
    if architecture == "opt":
        return OPTConfig(hidden_size=16, num_hidden_layers=2, ffn_dim=32, num_attention_heads=2,
                         word_embed_proj_dim=16, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
                         layerdrop=0.0, do_layer_norm_before=True, init_std=0.1, tie_word_embeddings=tied, **common)
    if architecture == "llama":
        return LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=1, tie_word_embeddings=tied, rms_norm_eps=1e-6,
                           initializer_range=0.1, attention_dropout=0.0, **common)
    raise ValueError(f"architecture must be one of {', '.join(TINY_ARCHITECTURES)}, got {architecture!r}")


def _pretrain(model, tokenizer, *, seed: int, steps: int) -> None:
    """Adam on the causal-LM loss of fresh grammar sentences (ending with EOS) at every step."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=_PRETRAIN_LR)
    model.train()
    for step in range(steps):
        texts = grammar_sentences(_PRETRAIN_BATCH, seed=seed * 100_003 + step)
        encoded = [tokenizer(text)["input_ids"] + [tokenizer.eos_token_id] for text in texts]
        width = max(len(ids) for ids in encoded)
        ids = torch.full((len(encoded), width), tokenizer.pad_token_id, dtype=torch.long)
        for row, sequence in enumerate(encoded):
            ids[row, : len(sequence)] = torch.tensor(sequence)
        lengths = torch.tensor([len(sequence) for sequence in encoded])
        attention = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).long()
        labels = ids.masked_fill(attention == 0, -100)
        optimizer.zero_grad()
        loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimizer.step()
    model.eval()


# The config key that marks a model built here (saved in its config.json): figures and reports
# label such models, whose numbers test the code and not a language model.
TINY_MARKER = "pmtheory_tiny_model"


def tiny_model_note(config) -> str | None:
    """The note :func:`save_tiny_causal_lm` / :func:`save_tiny_reward_model` leave in a model's
    config (a transformers config, or a model's ``config.json`` as a dict), or None for any other
    model."""
    note = config.get(TINY_MARKER) if isinstance(config, dict) else getattr(config, TINY_MARKER, None)
    return note if isinstance(note, str) else None


def tiny_model_note_at(path) -> str | None:
    """:func:`tiny_model_note` of the model saved in directory ``path`` (None when ``path`` is not
    a directory with a readable config.json, e.g. a hub id)."""
    import json

    try:
        return tiny_model_note(json.loads((Path(path) / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _build_and_save(directory, architecture: str, *, seed: int, max_positions: int, for_classification: bool,
                    prepare, tied: bool = False, note: str = "") -> Path:
    """Build the tiny tokenizer and a seeded model from its config, run ``prepare(model,
    tokenizer)`` under the same seed, and ``save_pretrained`` both to ``directory``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from pmtheory.bridge.loading import quiet_transformers

    tokenizer = build_tiny_tokenizer()
    config = _config(architecture, len(tokenizer), max_positions=max_positions, for_classification=for_classification,
                     tied=tied)
    setattr(config, TINY_MARKER, f"tiny {architecture} with random initial weights (torch seed {seed}){note}, built by "
                                 "pmtheory.bridge.tiny: its numbers test the code, not a language model")
    model_class = AutoModelForSequenceClassification if for_classification else AutoModelForCausalLM
    with torch.random.fork_rng(devices=[]), quiet_transformers():
        torch.manual_seed(seed)
        model = model_class.from_config(config)
        prepare(model, tokenizer)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    return directory


def save_tiny_causal_lm(directory: str | os.PathLike, architecture: str = "opt", *, seed: int = 0,
                        pretrain_steps: int = _PRETRAIN_STEPS, max_positions: int = 64, tied: bool = False) -> Path:
    """Build a seeded tiny causal LM and its tokenizer and ``save_pretrained`` both to ``directory``.

    Args:
      directory: where to write (created if missing).
      architecture: "opt" or "llama".
      seed: torch seed of the initialization and seed of the pretraining sentences.
      pretrain_steps: Adam steps on the grammar (0 keeps the random initialization).
      max_positions: the context length (``max_position_embeddings``).
      tied: tie the output layer to the input embeddings (``tie_word_embeddings``), as real OPT
        checkpoints do; the default unties them, as Llama-2 does.

    Returns:
      The directory, loadable by ``from_pretrained``.
    """
    return _build_and_save(directory, architecture, seed=seed, max_positions=max_positions, for_classification=False,
                           prepare=lambda model, tokenizer: _pretrain(model, tokenizer, seed=seed,
                                                                     steps=pretrain_steps), tied=tied,
                           note=f", pretrained {pretrain_steps} Adam steps on a toy grammar" if pretrain_steps else "")


def save_tiny_reward_model(directory: str | os.PathLike, architecture: str = "opt", *, seed: int = 1,
                           reward_scale: float = 4.0, max_positions: int = 64) -> Path:
    """Build a seeded tiny sequence-classification reward model (one output) and save it.

    The score of a text is the classification head at its last non-pad token, as
    ``AutoModelForSequenceClassification`` computes it; ``reward_scale`` multiplies the
    randomly initialized head so that rewards differ by a few units between responses.

    Returns:
      The directory, loadable by ``from_pretrained``.
    """
    import torch

    def scale_head(model, tokenizer):
        with torch.no_grad():
            model.score.weight.mul_(reward_scale)

    return _build_and_save(directory, architecture, seed=seed, max_positions=max_positions, for_classification=True,
                           prepare=scale_head, note=f", reward head scaled by {reward_scale}")


@dataclass(frozen=True)
class TinyModelPaths:
    """Directories of the tiny models written by :func:`save_tiny_models`."""

    opt: Path  # tiny OPT causal LM + tokenizer
    llama: Path  # tiny Llama causal LM + tokenizer
    reward: Path  # tiny OPT sequence-classification reward model + tokenizer

    def policy(self, architecture: str) -> Path:
        """The causal LM directory of ``architecture`` ("opt" or "llama")."""
        if architecture not in TINY_ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(TINY_ARCHITECTURES)}, got {architecture!r}")
        return getattr(self, architecture)


def save_tiny_models(directory: str | os.PathLike, *, seed: int = 0, tied: bool = False) -> TinyModelPaths:
    """Write a tiny OPT, a tiny Llama (their heads tied to the input embeddings when ``tied``)
    and a tiny reward model under ``directory``."""
    directory = Path(directory)
    return TinyModelPaths(
        opt=save_tiny_causal_lm(directory / "opt", "opt", seed=seed, tied=tied),
        llama=save_tiny_causal_lm(directory / "llama", "llama", seed=seed + 1, tied=tied),
        reward=save_tiny_reward_model(directory / "reward", "opt", seed=seed + 2),
    )


@contextlib.contextmanager
def single_thread():
    """Run torch on one CPU thread for the duration: tiny models are faster that way, and
    a shared machine is not oversubscribed."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def tiny_model_paths(seed: int = 0, *, tied: bool = False) -> TinyModelPaths:
    """The tiny models of ``seed`` (with tied heads when ``tied``), built once per process in a
    temporary directory (removed at exit)."""
    directory = tempfile.mkdtemp(prefix="pmtheory-tiny-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    with single_thread():
        return save_tiny_models(directory, seed=seed, tied=tied)
