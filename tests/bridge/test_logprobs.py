"""Tests of pmtheory.bridge.logprobs: batched = loop = chain rule, both padding sides, errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge.loading import load_causal_lm  # noqa: E402
from pmtheory.bridge.logprobs import (  # noqa: E402
    encode_pairs,
    sequence_log_probs,
    sequence_log_probs_by_prefix,
    sequence_log_probs_loop,
    token_log_probs,
)
from pmtheory.bridge.tiny import tiny_model_paths  # noqa: E402

PROMPTS = ["the cat", "a small dog sat on the mat and it was very happy", "yes", "the bird flew"]
RESPONSES = ["sat on the mat", "no", "the red house is big and the small house is not", [4, 10, 2]]


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def models():
    paths = tiny_model_paths()
    return {(arch, dtype): load_causal_lm(paths.policy(arch), device="cpu", dtype=dtype)
            for arch in ("opt", "llama") for dtype in ("float32", "float64")}


def _relative_gap(a, b):
    return float(((a - b).abs() / b.abs().clamp(min=1.0)).max())


class TestSequenceLogProbs:
    @pytest.mark.parametrize("arch", ["opt", "llama"])
    @pytest.mark.parametrize("dtype, bar", [("float32", 1e-6), ("float64", 1e-12)])
    @pytest.mark.parametrize("side", ["left", "right"])
    def test_batched_equals_loop(self, models, arch, dtype, bar, side):
        lm = models[(arch, dtype)]
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, PROMPTS, RESPONSES)
        for batch_size in (1, 2, 3, 16):
            batched = sequence_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=batch_size,
                                         padding_side=side)
            assert batched.shape == (4,) and batched.dtype == torch.float64
            assert _relative_gap(batched, loop) <= bar

    @pytest.mark.parametrize("arch", ["opt", "llama"])
    def test_loop_equals_chain_rule(self, models, arch):
        lm = models[(arch, "float64")]
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, PROMPTS, RESPONSES)
        prefix = sequence_log_probs_by_prefix(lm.model, lm.tokenizer, PROMPTS, RESPONSES)
        assert _relative_gap(prefix, loop) <= 1e-12

    def test_one_token_response_is_the_next_token_log_softmax(self, models):
        # log π(y|x) for a one-token response y is log_softmax(logits at the last prompt token)[y].
        lm = models[("opt", "float64")]
        prompt_ids = lm.tokenizer("the cat")["input_ids"]
        with torch.no_grad():
            logits = lm.model(input_ids=torch.tensor([prompt_ids])).logits[0, -1]
        expected = torch.log_softmax(logits, dim=-1)[9]
        got = sequence_log_probs(lm.model, lm.tokenizer, ["the cat"], [[9]])
        assert abs(float(got[0] - expected)) <= 1e-14

    def test_permuting_pairs_permutes_the_output(self, models):
        lm = models[("llama", "float64")]
        order = [2, 0, 3, 1]
        direct = sequence_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=2, padding_side="left")
        permuted = sequence_log_probs(lm.model, lm.tokenizer, [PROMPTS[i] for i in order],
                                      [RESPONSES[i] for i in order], batch_size=2, padding_side="left")
        assert torch.allclose(permuted, direct[order], rtol=0, atol=1e-12)

    def test_left_padded_rows_get_positions_from_zero(self, models, monkeypatch):
        # Position ids are cumsum(mask) − 1: a left-padded row's first real token is at
        # position 0, as in the unpadded loop. (OPT derives positions from the mask itself and
        # Llama's rotary positions are relative, so both happen to tolerate a shift; a model
        # with absolute positions read from position_ids, such as GPT-2, does not.)
        lm = models[("llama", "float64")]
        seen = {}
        forward = lm.model.forward

        def spy(*args, **kwargs):
            seen.update(kwargs)
            return forward(*args, **kwargs)

        monkeypatch.setattr(lm.model, "forward", spy)
        sequence_log_probs(lm.model, lm.tokenizer, ["the cat", "a small dog sat on the mat"], ["sat", "yes"],
                           batch_size=2, padding_side="left")
        mask, positions = seen["attention_mask"], seen["position_ids"]
        for row in range(2):
            real = mask[row].bool()
            assert positions[row][real].tolist() == list(range(int(real.sum())))
        assert not bool(mask[:, -1].eq(0).any())  # left padding: every row ends with a real token

    def test_token_values_sum_to_the_sequence(self, models):
        lm = models[("opt", "float64")]
        tokens = token_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=3)
        assert tokens.values.shape[0] == 4 and tokens.mask.sum() == int(tokens.lengths.sum())
        assert torch.all(tokens.values[~tokens.mask] == 0)
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, PROMPTS, RESPONSES)
        assert _relative_gap(tokens.sums(), loop) <= 1e-12

    def test_allowed_tokens_normalize_over_the_enumerated_space(self, models):
        import itertools

        lm = models[("llama", "float64")]
        allowed = [24, 25, 26]
        space = [list(s) for s in itertools.product(allowed, repeat=2)]
        values = sequence_log_probs(lm.model, lm.tokenizer, ["the cat"] * len(space), space, allowed_token_ids=allowed)
        assert abs(float(torch.logsumexp(values, dim=0))) <= 1e-13
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, ["the cat"] * len(space), space,
                                       allowed_token_ids=allowed)
        assert _relative_gap(values, loop) <= 1e-12
        with pytest.raises(ValueError, match="outside allowed_token_ids"):
            sequence_log_probs(lm.model, lm.tokenizer, ["the cat"], [[5]], allowed_token_ids=allowed)

    def test_gradients_do_not_depend_on_batching(self, models):
        lm = models[("opt", "float64")]
        grads = []
        for batch_size in (1, 4):
            lm.model.zero_grad()
            total = sequence_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=batch_size,
                                       requires_grad=True).sum()
            total.backward()
            grads.append(torch.cat([p.grad.reshape(-1) for p in lm.model.parameters() if p.grad is not None]).clone())
        lm.model.zero_grad()
        assert torch.allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)

    def test_no_graph_without_requires_grad(self, models):
        lm = models[("opt", "float64")]
        assert not sequence_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES).requires_grad


class TestErrors:
    def test_empty_response(self, models):
        lm = models[("opt", "float32")]
        with pytest.raises(ValueError, match=r"responses\[1\] is empty"):
            sequence_log_probs(lm.model, lm.tokenizer, ["a", "b"], ["yes", ""])
        with pytest.raises(ValueError, match="is empty"):
            sequence_log_probs(lm.model, lm.tokenizer, ["a"], [[]])

    def test_longer_than_the_context(self, models):
        lm = models[("llama", "float32")]
        with pytest.raises(ValueError, match="context of 64 positions"):
            sequence_log_probs(lm.model, lm.tokenizer, ["the cat " * 30], ["sat " * 10])

    def test_no_pad_token(self, models):
        lm = models[("opt", "float32")]

        class NoPad:
            pad_token_id = None
            padding_side = "right"

        with pytest.raises(ValueError, match="no pad token"):
            sequence_log_probs(lm.model, NoPad(), ["a"], ["b"])

    def test_mismatched_and_bad_inputs(self, models):
        lm = models[("opt", "float32")]
        with pytest.raises(ValueError, match="pair up"):
            sequence_log_probs(lm.model, lm.tokenizer, ["a", "b"], ["c"])
        with pytest.raises(ValueError, match="nothing to score"):
            sequence_log_probs(lm.model, lm.tokenizer, [], [])
        with pytest.raises(TypeError, match="not a single string"):
            sequence_log_probs(lm.model, lm.tokenizer, "a", "b")
        with pytest.raises(ValueError, match="outside the vocabulary"):
            sequence_log_probs(lm.model, lm.tokenizer, ["a"], [[10_000]])
        with pytest.raises(ValueError, match="batch_size"):
            sequence_log_probs(lm.model, lm.tokenizer, ["a"], ["b"], batch_size=0)
        with pytest.raises(ValueError, match="padding_side"):
            sequence_log_probs(lm.model, lm.tokenizer, ["a"], ["b"], padding_side="middle")

    def test_encode_pairs_appends_eos_to_strings_only(self, models):
        lm = models[("opt", "float32")]
        sat = lm.tokenizer.convert_tokens_to_ids("sat")
        pairs = encode_pairs(lm.tokenizer, ["the cat", "the cat"], ["sat", [sat]], append_eos=True)
        assert pairs[0].response_ids == (sat, lm.tokenizer.eos_token_id) and pairs[1].response_ids == (sat,)
        assert pairs[0].prompt_ids[0] == lm.tokenizer.bos_token_id
        assert np.isclose(pairs[0].length, len(pairs[0].prompt_ids) + 2)
