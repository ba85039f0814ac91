"""Tests of pmtheory.bridge.decoding: enumerated sequence spaces and token-level MOD."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge.decoding import (  # noqa: E402
    enumerate_sequences,
    prefix_log_probs,
    token_level_greedy,
    token_level_log_policy,
)
from pmtheory.bridge.loading import load_causal_lm  # noqa: E402
from pmtheory.bridge.logprobs import sequence_log_probs  # noqa: E402
from pmtheory.bridge.tiny import tiny_model_paths  # noqa: E402

ALLOWED = (24, 25, 26)


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def space():
    paths = tiny_model_paths()
    models = [load_causal_lm(paths.policy(arch), device="cpu", dtype="float64") for arch in ("opt", "llama")]
    sequences = enumerate_sequences(ALLOWED, 3)
    prefix = np.stack([prefix_log_probs(m.model, m.tokenizer, "the cat", sequences, ALLOWED) for m in models])
    full = np.stack([sequence_log_probs(m.model, m.tokenizer, ["the cat"] * len(sequences),
                                        [list(s) for s in sequences],
                                        allowed_token_ids=ALLOWED).numpy() for m in models])
    return sequences, prefix, full


class TestEnumerate:
    def test_lexicographic_product(self):
        sequences = enumerate_sequences([7, 9], 2)
        assert sequences.tolist() == [[7, 7], [7, 9], [9, 7], [9, 9]]

    def test_errors(self):
        with pytest.raises(ValueError, match="distinct"):
            enumerate_sequences([7, 7], 2)
        with pytest.raises(ValueError, match="too many"):
            enumerate_sequences(range(100), 4)


class TestTokenLevel:
    def test_prefix_log_probs_chain_to_the_sequence_log_probs(self, space):
        sequences, prefix, full = space
        positions = np.vectorize({t: i for i, t in enumerate(ALLOWED)}.__getitem__)(sequences)
        chained = np.take_along_axis(prefix, positions[None, ..., None], axis=-1)[..., 0].sum(axis=-1)
        assert np.max(np.abs(chained - full)) <= 1e-12

    def test_one_model_is_its_own_distribution(self, space):
        # With a single model (w = (1,)) token-level MOD samples the model itself, exactly.
        sequences, prefix, full = space
        for index in range(2):
            got = token_level_log_policy(prefix[index:index + 1], [1.0], sequences, ALLOWED)
            assert np.max(np.abs(got - full[index])) <= 1e-12

    def test_token_level_sums_to_one_and_differs_from_the_sequence_level(self, space):
        sequences, prefix, full = space
        token = token_level_log_policy(prefix, [0.5, 0.5], sequences, ALLOWED)
        assert abs(np.logaddexp.reduce(token)) <= 1e-12
        sequence_level = 0.5 * full[0] + 0.5 * full[1]
        sequence_level -= np.logaddexp.reduce(sequence_level)
        assert np.max(np.abs(token - sequence_level)) > 1e-3  # per-prefix normalizers differ

    def test_greedy_follows_the_largest_next_token_score(self, space):
        sequences, prefix, _ = space
        index = token_level_greedy(prefix[:1], [1.0], sequences, ALLOWED)
        chosen = sequences[index]
        for t in range(3):
            row = np.flatnonzero((sequences[:, :t] == chosen[:t]).all(axis=1))[0]
            assert ALLOWED[int(np.argmax(prefix[0, row, t]))] == chosen[t]
