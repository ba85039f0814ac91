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


def _first_predictions(tokenizer, prompts, responses, side):
    """(width, first_prediction per row) of one padded batch of these pairs."""
    pairs = encode_pairs(tokenizer, prompts, responses)
    width = max(pair.length for pair in pairs)
    offsets = [0 if side == "right" else width - pair.length for pair in pairs]
    return width, [offset + len(pair.prompt_ids) - 1 for offset, pair in zip(offsets, pairs)]


def _llama_like_tokenizer():
    """A word-level tokenizer that tokenizes like Llama's SentencePiece one: every text gets a
    leading "▁" (normalizers Prepend + Replace), so " sat" alone is ["▁", "▁sat"] while inside
    "the cat sat" it is ["▁sat"]."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = ["the", "cat", "sat", "on", "mat"]
    vocab = {token: index for index, token in
             enumerate(["<pad>", "<s>", "</s>", "<unk>", "▁"] + ["▁" + w for w in words] + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    core.pre_tokenizer = pre_tokenizers.Split(pattern="▁", behavior="merged_with_next")
    core.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                        special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


class _SlowTokenizer:
    """A fast tokenizer reporting is_fast = False (as a slow, Python tokenizer does)."""

    is_fast = False

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __call__(self, *args, **kwargs):
        return self._inner(*args, **kwargs)

    def __len__(self):
        return len(self._inner)


@pytest.fixture
def fresh_boundary_warning(monkeypatch):
    """The once-per-process boundary warning not yet shown (restored afterwards)."""
    import pmtheory.bridge.logprobs as logprobs

    monkeypatch.setattr(logprobs, "_boundary_warned", False)


class TestVocabularySize:
    @pytest.mark.parametrize("arch", ["opt", "llama"])
    def test_ids_beyond_the_tokenizer_are_scored_up_to_the_output_size(self, models, arch):
        # OPT's head has 50,272 rows and its tokenizer 50,265 ids: sampled ids may exceed len(tokenizer).
        from transformers import AutoModelForCausalLM, LlamaConfig, OPTConfig

        tokenizer = models[(arch, "float64")].tokenizer
        size = len(tokenizer) + 7
        common = dict(vocab_size=size, pad_token_id=0, bos_token_id=1, eos_token_id=2, max_position_embeddings=64)
        config = (OPTConfig(hidden_size=16, num_hidden_layers=1, ffn_dim=32, num_attention_heads=2,
                            word_embed_proj_dim=16, **common) if arch == "opt" else
                  LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                              num_key_value_heads=1, **common))
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config).double().eval()
        assert model.get_output_embeddings().weight.shape[0] == size
        beyond = len(tokenizer) + 3
        prompts, responses = ["the cat", [1, beyond, 5]], [[beyond, 9], [beyond]]
        batched = sequence_log_probs(model, tokenizer, prompts, responses, batch_size=2)
        loop = sequence_log_probs_loop(model, tokenizer, prompts, responses)
        prefix = sequence_log_probs_by_prefix(model, tokenizer, prompts, responses)
        assert bool(torch.isfinite(batched).all())
        assert _relative_gap(batched, loop) <= 1e-12 and _relative_gap(prefix, loop) <= 1e-12
        with pytest.raises(ValueError, match=f"token id {size} outside the vocabulary of {size}"):
            sequence_log_probs(model, tokenizer, ["the cat"], [[9, size]])
        with pytest.raises(ValueError, match=f"token id {size} outside"):
            sequence_log_probs_loop(model, tokenizer, ["the cat"], [[size]])
        with pytest.raises(ValueError, match=f"token id {size} outside"):
            sequence_log_probs_by_prefix(model, tokenizer, ["the cat"], [[size]])

    def test_encode_pairs_takes_the_vocabulary_size(self, models):
        tokenizer = models[("opt", "float32")].tokenizer
        beyond = len(tokenizer) + 3
        with pytest.raises(ValueError, match=rf"token id {beyond} outside the vocabulary of {len(tokenizer)} "
                                             r"tokens \(len\(tokenizer\)\)"):
            encode_pairs(tokenizer, ["the cat"], [[beyond]])
        assert encode_pairs(tokenizer, ["the cat"], [[beyond]], vocab_size=beyond + 1)[0].response_ids == (beyond,)
        assert encode_pairs(None, [[1, 4]], [[beyond]])[0].response_ids == (beyond,)  # nothing to check against


class TestBoundary:
    @pytest.mark.parametrize("arch", ["opt", "llama"])
    def test_joint_equals_separate_where_the_texts_meet_at_a_token_boundary(self, models, arch,
                                                                            fresh_boundary_warning):
        import warnings

        lm = models[(arch, "float64")]
        prompts, responses = ["the cat", "a small dog "], [" sat on the mat", "ran"]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "tokenizes differently" warning either
            separate = encode_pairs(lm.tokenizer, prompts, responses)
            joint = encode_pairs(lm.tokenizer, prompts, responses, boundary="joint")
            assert joint == separate
            values = sequence_log_probs(lm.model, lm.tokenizer, prompts, responses, boundary="joint")
        ids = sequence_log_probs(lm.model, lm.tokenizer, [list(p.prompt_ids) for p in separate],
                                 [list(p.response_ids) for p in separate])
        assert torch.equal(values, ids)

    @pytest.mark.parametrize("arch", ["opt", "llama"])
    def test_a_token_across_the_boundary_is_an_error(self, models, arch):
        lm = models[(arch, "float64")]
        # "the cat" + "sat" is the text "the catsat": its token "catsat" spans the boundary
        for function in (encode_pairs, None):
            with pytest.raises(ValueError, match=r"'catsat'.*straddles the end of the prompt at character 7.*"
                                                 r"boundary='separate'"):
                if function is encode_pairs:
                    encode_pairs(lm.tokenizer, ["the cat"], ["sat"], boundary="joint")
                else:
                    sequence_log_probs_loop(lm.model, lm.tokenizer, ["the cat"], ["sat"], boundary="joint")

    def test_separate_warns_once_when_the_tokenizations_differ(self, models, fresh_boundary_warning):
        import warnings

        tokenizer = models[("opt", "float64")].tokenizer
        with pytest.warns(UserWarning, match=r"pair 1 \('the cat' \+ 'sat'\) tokenizes differently.*"
                                             r"a token straddles"):
            pairs = encode_pairs(tokenizer, ["the dog", "the cat"], [" ran", "sat"])
        assert pairs[1].response_ids == (tokenizer.convert_tokens_to_ids("sat"),)  # separate: still scored
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            encode_pairs(tokenizer, ["the cat"], ["sat"])  # once per process
            encode_pairs(tokenizer, ["the cat"], [[20]])  # ids: nothing to compare

    def test_llama_like_leading_space_differs_between_the_boundaries(self, models, fresh_boundary_warning):
        # SentencePiece prefixes every text with "▁": " sat" alone is ["▁", "▁sat"], in "the cat sat" ["▁sat"].
        tokenizer = _llama_like_tokenizer()
        space, sat = tokenizer.convert_tokens_to_ids(["▁", "▁sat"])
        with pytest.warns(UserWarning, match=r"joint: prompt \[1, 5, 6\] \+ response \[7\]"):
            separate = encode_pairs(tokenizer, ["the cat"], [" sat"])[0]
        joint = encode_pairs(tokenizer, ["the cat"], [" sat"], boundary="joint")[0]
        assert separate.prompt_ids == joint.prompt_ids == (1, 5, 6)
        assert separate.response_ids == (space, sat) and joint.response_ids == (sat,)
        lm = models[("llama", "float64")]  # any model over ≥ 15 ids scores these
        scored = sequence_log_probs(lm.model, tokenizer, ["the cat"], [" sat"], boundary="joint")
        by_ids = sequence_log_probs(lm.model, tokenizer, [[1, 5, 6]], [[sat]])
        assert torch.equal(scored, by_ids)
        with pytest.raises(ValueError, match="straddles"):
            encode_pairs(tokenizer, ["the cat "], ["sat"], boundary="joint")  # "▁sat" holds the prompt's space

    def test_joint_needs_a_fast_tokenizer(self, models, fresh_boundary_warning):
        import warnings

        slow = _SlowTokenizer(models[("opt", "float64")].tokenizer)
        with pytest.raises(ValueError, match=r"fast tokenizer.*use_fast=True.*boundary='separate'"):
            encode_pairs(slow, ["the cat"], [" sat"], boundary="joint")
        assert encode_pairs(slow, [[1, 4]], [[20]], boundary="joint")[0].response_ids == (20,)  # ids: no tokenizing
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no offsets to compare with: no warning
            encode_pairs(slow, ["the cat"], ["sat"])

    def test_unknown_boundary(self, models):
        lm = models[("opt", "float32")]
        with pytest.raises(ValueError, match="boundary must be 'separate' or 'joint'"):
            sequence_log_probs(lm.model, lm.tokenizer, ["a"], ["b"], boundary="both")

    def test_joint_with_append_eos(self, models):
        tokenizer = models[("llama", "float32")].tokenizer
        pair = encode_pairs(tokenizer, ["the cat"], [" sat"], boundary="joint", append_eos=True)[0]
        assert pair.response_ids == (tokenizer.convert_tokens_to_ids("sat"), tokenizer.eos_token_id)


class TestSpecialTokens:
    @pytest.mark.parametrize("boundary", ["separate", "joint"])
    def test_a_prompt_that_begins_with_bos_gets_one(self, models, boundary):
        tokenizer = models[("llama", "float32")].tokenizer
        bos = tokenizer.bos_token_id
        plain = encode_pairs(tokenizer, ["the cat"], [" sat"], boundary=boundary)[0]
        assert plain.prompt_ids[:2] == (bos, tokenizer.convert_tokens_to_ids("the"))
        assert tokenizer(" <s> the cat")["input_ids"][:2] == [bos, bos]  # what the tokenizer does by itself
        for prompt in ("<s> the cat", "<s>the cat", " <s> the cat"):  # chat-template output; a leading space
            assert encode_pairs(tokenizer, [prompt], [" sat"], boundary=boundary)[0] == plain

    @pytest.mark.parametrize("boundary", ["separate", "joint"])
    def test_an_appended_eos_is_dropped_from_the_prompt(self, boundary):
        # Llama's add_eos_token=True: the tiny tokenizer configured so (its post-processor is
        # rebuilt as "<s> $A </s>").
        from pmtheory.bridge.tiny import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer()
        tokenizer.add_bos_token = True
        tokenizer.add_eos_token = True
        the, cat, sat = tokenizer.convert_tokens_to_ids(["the", "cat", "sat"])
        bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
        assert tokenizer("the cat")["input_ids"] == [bos, the, cat, eos]
        pairs = encode_pairs(tokenizer, ["the cat", "the cat </s>", "<s> the cat"], [" sat"] * 3, boundary=boundary)
        assert pairs[0] == pairs[2] and pairs[0].prompt_ids == (bos, the, cat) and pairs[0].response_ids == (sat,)
        assert pairs[1].prompt_ids == (bos, the, cat, eos)  # an EOS written in the text is kept
        pair = encode_pairs(tokenizer, ["the cat"], [" sat"], boundary=boundary, append_eos=True)[0]
        assert pair.response_ids == (sat, eos)


class TestLogitsMemory:
    @pytest.mark.parametrize("side", ["left", "right"])
    @pytest.mark.parametrize("arch", ["opt", "llama"])
    def test_logits_to_keep_covers_the_response_positions_only(self, models, monkeypatch, arch, side):
        import functools

        lm = models[(arch, "float64")]
        prompts = ["a small dog sat on the mat and it was very happy", "the cat", "yes"]
        responses = ["no", " sat on the mat", [4, 10, 2, 5, 6]]
        width, first = _first_predictions(lm.tokenizer, prompts, responses, side)
        forward, seen = lm.model.forward, []

        @functools.wraps(forward)  # keeps forward's signature, logits_to_keep included
        def spy(*args, **kwargs):
            output = forward(*args, **kwargs)
            seen.append((kwargs.get("logits_to_keep"), tuple(output.logits.shape)))
            return output

        monkeypatch.setattr(lm.model, "forward", spy)
        batched = sequence_log_probs(lm.model, lm.tokenizer, prompts, responses, batch_size=3, padding_side=side)
        keep = width - min(first)
        assert seen == [(keep, (3, keep, lm.model.config.vocab_size))] and keep < width
        monkeypatch.undo()
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, prompts, responses)
        assert _relative_gap(batched, loop) <= 1e-12

    def test_older_name_and_no_support(self, models, monkeypatch):
        lm = models[("llama", "float64")]
        forward, seen = lm.model.forward, []
        expected = sequence_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=4)

        def older(input_ids=None, attention_mask=None, position_ids=None, use_cache=None, num_logits_to_keep=0):
            seen.append(num_logits_to_keep)
            return forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                           use_cache=use_cache, logits_to_keep=num_logits_to_keep)

        def without(input_ids=None, attention_mask=None, position_ids=None, use_cache=None, **kwargs):
            seen.append(sorted(kwargs))
            return forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                           use_cache=use_cache)

        for replacement in (older, without):
            monkeypatch.setattr(lm.model, "forward", replacement)
            got = sequence_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=4)
            assert _relative_gap(got, expected) <= 1e-12
        assert seen[0] > 0 and seen[1] == []  # **kwargs alone does not count as accepting it

    def test_log_softmax_runs_in_chunks_of_positions(self, models, monkeypatch):
        import pmtheory.bridge.logprobs as logprobs

        lm = models[("opt", "float32")]  # float32 logits upcast to float64
        whole = token_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=4)
        shapes, log_softmax = [], torch.log_softmax

        def spy(x, *args, **kwargs):
            shapes.append(tuple(x.shape))
            return log_softmax(x, *args, **kwargs)

        monkeypatch.setattr(torch, "log_softmax", spy)
        vocab = lm.model.config.vocab_size
        monkeypatch.setattr(logprobs, "_CHUNK_ELEMENTS", 4 * 3 * vocab)  # 3 positions of 4 rows at a time
        chunked = token_log_probs(lm.model, lm.tokenizer, PROMPTS, RESPONSES, batch_size=4)
        longest = int(whole.lengths.max())
        assert [s[1] for s in shapes] == [3] * (longest // 3) + ([longest % 3] if longest % 3 else [])
        assert all(s[0] * s[1] * s[2] <= 4 * 3 * vocab for s in shapes)
        assert torch.equal(chunked.values, whole.values) and torch.equal(chunked.mask, whole.mask)
