"""Tests of pmtheory.bridge.tiny: the tiny tokenizer, grammar and seeded model builders."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge.tiny import (  # noqa: E402
    TINY_PROMPTS,
    TINY_WORDS,
    build_tiny_tokenizer,
    grammar_sentences,
    save_tiny_causal_lm,
    single_thread,
    tiny_model_paths,
)


def test_tokenizer_round_trip_and_special_tokens():
    tokenizer = build_tiny_tokenizer()
    assert len(tokenizer) == 4 + len(TINY_WORDS)
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    ids = tokenizer("the small cat sat on the mat")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "the small cat sat on the mat"
    for prompt in TINY_PROMPTS:
        assert tokenizer.unk_token_id not in tokenizer(prompt)["input_ids"]


def test_grammar_is_seeded_and_in_vocabulary():
    first, again = grammar_sentences(50, seed=3), grammar_sentences(50, seed=3)
    assert first == again and first != grammar_sentences(50, seed=4)
    words = {w for sentence in first for w in sentence.split()}
    assert words <= set(TINY_WORDS)
    lengths = [len(s.split()) for s in first]
    assert min(lengths) >= 2 and max(lengths) > min(lengths)


def test_builder_is_seeded(tmp_path):
    from transformers import AutoModelForCausalLM

    with single_thread():
        models = [AutoModelForCausalLM.from_pretrained(save_tiny_causal_lm(tmp_path / str(i), "llama", seed=7,
                                                                           pretrain_steps=2))
                  for i in range(2)]
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="architecture"):
        save_tiny_causal_lm(tmp_path / "x", "gpt2")


def test_shared_paths_are_built_once():
    assert tiny_model_paths() is tiny_model_paths()
    assert (tiny_model_paths().opt / "config.json").is_file()
