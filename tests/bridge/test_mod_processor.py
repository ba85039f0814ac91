"""Tests of pmtheory.bridge.mod_processor: exact MOD decoding inside ``model.generate``."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import LogitsProcessor  # noqa: E402

from pmtheory.bridge import MODLogitsProcessor  # noqa: E402
from pmtheory.bridge.decoding import (  # noqa: E402
    enumerate_sequences,
    prefix_log_probs,
    token_level_greedy,
    token_level_log_policy,
    token_level_step_log_policy,
)
from pmtheory.bridge.loading import load_causal_lm  # noqa: E402
from pmtheory.bridge.tiny import tiny_model_paths  # noqa: E402

ALLOWED = (24, 25, 26)
LENGTH = 3
PROMPT = "the cat"
DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.5", "hellinger")

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def lms():
    """π_ref: the tiny OPT (seed 0); base policies: the tiny OPT of seed 1 and the tiny Llama of seed 0
    (all float64, one tokenizer)."""
    reference = load_causal_lm(tiny_model_paths(0).opt, device="cpu", dtype="float64", padding_side="left")
    bases = [load_causal_lm(path, device="cpu", dtype="float64")
             for path in (tiny_model_paths(1).opt, tiny_model_paths(0).llama)]
    return reference, bases


@pytest.fixture(scope="module")
def space(lms):
    reference, bases = lms
    sequences = enumerate_sequences(ALLOWED, LENGTH)
    prefix = np.stack([prefix_log_probs(m.model, m.tokenizer, PROMPT, sequences, ALLOWED) for m in bases])
    log_reference = prefix_log_probs(reference.model, reference.tokenizer, PROMPT, sequences, ALLOWED)
    return sequences, prefix, log_reference


def _prompt_ids(lm, text=PROMPT):
    return lm.tokenizer(text, return_tensors="pt")["input_ids"]


def _induced_log_policy(processor, reference, sequences, *, reference_scores=True):
    """log of the product over steps of the processor's next-token probabilities along each sequence,
    calling the processor on every prefix (all prefixes of one length as one batch), shape (S,)."""
    prompt = _prompt_ids(reference)
    total = np.zeros(len(sequences))
    for t in range(sequences.shape[1]):
        prefixes, rows = np.unique(sequences[:, :t], axis=0, return_inverse=True)
        ids = torch.cat([prompt.expand(len(prefixes), -1), torch.as_tensor(prefixes, dtype=torch.long)], dim=1)
        with torch.no_grad():
            scores = reference.model(input_ids=ids).logits[:, -1].double()
        if not reference_scores:
            scores = torch.zeros_like(scores)  # ignored when the processor has its own reference model
        out = processor(ids, scores).numpy()
        total += out[rows.reshape(-1), sequences[:, t]]
    return total


class CheckedAgainstFresh(LogitsProcessor):
    """Runs ``processor`` inside generate and checks every row of every step against a fresh processor
    (no cache) on that row alone, with its left padding removed."""

    def __init__(self, processor, fresh_factory, pad_token_id):
        self.processor, self.fresh_factory, self.pad = processor, fresh_factory, pad_token_id
        self.max_gap = 0.0
        self.steps = 0

    def __call__(self, input_ids, scores):
        out = self.processor(input_ids, scores.double())
        for row in range(input_ids.shape[0]):
            ids = input_ids[row]
            start = int(torch.nonzero(ids != self.pad)[0])
            alone = self.fresh_factory()(ids[start:][None], scores[row:row + 1].double())[0]
            assert torch.equal(torch.isinf(alone), torch.isinf(out[row]))
            finite = torch.isfinite(alone)
            self.max_gap = max(self.max_gap, float((alone[finite] - out[row][finite]).abs().max()))
        self.steps += 1
        return out.to(scores.dtype)


def _processor(bases, divergence="js", **kwargs):
    return MODLogitsProcessor([m.model for m in bases], [0.3, 0.7], divergence=divergence, allowed_token_ids=ALLOWED,
                              **kwargs)


class TestDistributionOverTheSpace:
    @pytest.mark.parametrize("divergence", DIVERGENCES)
    def test_sampling_distribution_equals_token_level_prop1(self, lms, space, divergence):
        reference, bases = lms
        sequences, prefix, log_reference = space
        processor = _processor(bases, divergence)
        got = _induced_log_policy(processor, reference, sequences)
        expected = token_level_log_policy(prefix, [0.3, 0.7], sequences, ALLOWED, divergence=divergence,
                                          log_reference=log_reference)
        assert np.max(np.abs(got - expected)) <= 1e-10
        assert abs(np.logaddexp.reduce(got)) <= 1e-12
        assert len(processor.certificates) == LENGTH and max(processor.certificates) <= 1e-12
        assert [d["rows"] for d in processor.disagreements] == [1, 3, 9]

    def test_negative_weights(self, lms, space):
        # MOD-NEG: w = (1.5, -0.5) sums to 1; Prop 1 with its Z stays defined for JS.
        reference, bases = lms
        sequences, prefix, log_reference = space
        processor = MODLogitsProcessor([m.model for m in bases], [1.5, -0.5], divergence="js",
                                       allowed_token_ids=ALLOWED)
        got = _induced_log_policy(processor, reference, sequences)
        expected = token_level_log_policy(prefix, [1.5, -0.5], sequences, ALLOWED, divergence="js",
                                          log_reference=log_reference)
        assert np.max(np.abs(got - expected)) <= 1e-10

    def test_reference_model_instead_of_the_scores(self, lms, space):
        reference, bases = lms
        sequences, prefix, log_reference = space
        processor = _processor(bases, "alpha:0.5", reference=reference.model)
        got = _induced_log_policy(processor, reference, sequences, reference_scores=False)
        expected = token_level_log_policy(prefix, [0.3, 0.7], sequences, ALLOWED, divergence="alpha:0.5",
                                          log_reference=log_reference)
        assert np.max(np.abs(got - expected)) <= 1e-10

    def test_published_and_product_rules(self, lms, space):
        # eq 7 (and the code's JSD shortcut, which is eq 7) is token_level_log_policy's default rule.
        reference, bases = lms
        sequences, prefix, _ = space
        eq7 = token_level_log_policy(prefix, [0.3, 0.7], sequences, ALLOWED)
        for rule in ("product", "published"):
            got = _induced_log_policy(_processor(bases, "js", rule=rule), reference, sequences)
            assert np.max(np.abs(got - eq7)) <= 1e-10

    def test_published_rule_without_a_branch(self, lms):
        reference, bases = lms
        processor = _processor(bases, "hellinger", rule="published")
        ids = _prompt_ids(reference)
        with pytest.raises(ValueError, match="no rule for hellinger"):
            processor(ids, torch.zeros(1, 40, dtype=torch.float64))


class TestDecodingHelpers:
    def test_reverse_kl_with_a_reference_is_eq7(self, space):
        sequences, prefix, log_reference = space
        default = token_level_log_policy(prefix, [0.3, 0.7], sequences, ALLOWED)
        with_reference = token_level_log_policy(prefix, [0.3, 0.7], sequences, ALLOWED, log_reference=log_reference)
        assert np.max(np.abs(default - with_reference)) <= 1e-12

    def test_other_divergences_need_the_reference(self, space):
        sequences, prefix, log_reference = space
        with pytest.raises(ValueError, match="needs log_reference"):
            token_level_log_policy(prefix, [0.3, 0.7], sequences, ALLOWED, divergence="js")
        with pytest.raises(ValueError, match="log_reference must have shape"):
            token_level_step_log_policy(prefix, [0.3, 0.7], divergence="js", log_reference=log_reference[:1])
        js = token_level_step_log_policy(prefix, [0.3, 0.7], divergence="js", log_reference=log_reference)
        assert js.shape == prefix.shape[1:] and np.max(np.abs(np.logaddexp.reduce(js, axis=-1))) <= 1e-12
        eq7 = token_level_step_log_policy(prefix, [0.3, 0.7])
        assert np.max(np.abs(js - eq7)) > 1e-6  # Prop 1 for JS is not eq 7


class TestGenerate:
    @pytest.mark.parametrize("divergence", ("reverse_kl", "js", "alpha:0.5"))
    def test_greedy_equals_token_level_greedy(self, lms, space, divergence):
        reference, bases = lms
        sequences, prefix, log_reference = space
        processor = _processor(bases, divergence)
        ids = _prompt_ids(reference)
        out = reference.model.generate(ids, attention_mask=torch.ones_like(ids), logits_processor=[processor],
                                       do_sample=False, max_new_tokens=LENGTH)
        index = token_level_greedy(prefix, [0.3, 0.7], sequences, ALLOWED, divergence=divergence,
                                   log_reference=log_reference)
        assert out[0, ids.shape[1]:].tolist() == sequences[index].tolist()
        assert processor.cache_reuse == ["recompute", "recompute"] + ["extend"] * 2 * (LENGTH - 1)

    def test_batch_of_two_left_padded(self, lms):
        reference, bases = lms
        encoded = reference.tokenizer(["the cat", "a small dog sat on"], return_tensors="pt", padding=True)
        assert encoded["attention_mask"][0, 0] == 0  # left padding: the short prompt is padded on the left
        checked = CheckedAgainstFresh(_processor(bases), lambda: _processor(bases), reference.tokenizer.pad_token_id)
        out = reference.model.generate(**encoded, logits_processor=[checked], do_sample=False, max_new_tokens=4)
        assert checked.steps == 4 and checked.max_gap <= 1e-10
        assert set(out[:, encoded["input_ids"].shape[1]:].flatten().tolist()) <= set(ALLOWED)
        assert "extend" in checked.processor.cache_reuse

    def test_sampling_with_top_k(self, lms):
        reference, bases = lms
        ids = _prompt_ids(reference).expand(3, -1)
        checked = CheckedAgainstFresh(_processor(bases, "alpha:0.5"), lambda: _processor(bases, "alpha:0.5"),
                                      reference.tokenizer.pad_token_id)
        torch.manual_seed(0)
        out = reference.model.generate(ids, attention_mask=torch.ones_like(ids), logits_processor=[checked],
                                       do_sample=True, top_k=2, max_new_tokens=4)
        assert checked.steps == 4 and checked.max_gap <= 1e-10
        assert set(out[:, ids.shape[1]:].flatten().tolist()) <= set(ALLOWED)

    def test_beam_search(self, lms):
        reference, bases = lms
        encoded = reference.tokenizer(["the cat", "a small dog sat on"], return_tensors="pt", padding=True)
        checked = CheckedAgainstFresh(_processor(bases), lambda: _processor(bases), reference.tokenizer.pad_token_id)
        out = reference.model.generate(**encoded, logits_processor=[checked], do_sample=False, num_beams=2,
                                       max_new_tokens=4)
        assert out.shape[0] == 2 and checked.steps == 4 and checked.max_gap <= 1e-10
        assert len(checked.processor.certificates) == 4 and max(checked.processor.certificates) <= 1e-12
        assert all(d["rows"] == 4 for d in checked.processor.disagreements)  # 2 prompts x 2 beams
        assert "reorder" in checked.processor.cache_reuse  # beams reordered: caches reordered, not recomputed

    def test_new_generate_call_recomputes(self, lms):
        reference, bases = lms
        processor = _processor(bases)
        for text in ("the cat", "a red house"):
            ids = _prompt_ids(reference, text)
            reference.model.generate(ids, attention_mask=torch.ones_like(ids), logits_processor=[processor],
                                     do_sample=False, max_new_tokens=2)
        assert processor.cache_reuse == ["recompute", "recompute", "extend", "extend"] * 2
        processor.reset()
        assert processor.certificates == [] and processor.disagreements == [] and processor.cache_reuse == []


class TestSupportsAndErrors:
    def test_tokens_removed_by_an_earlier_processor_are_left_out(self, lms):
        reference, bases = lms
        ids = _prompt_ids(reference).expand(2, -1)
        with torch.no_grad():
            scores = reference.model(input_ids=ids).logits[:, -1].double()
        scores[1, ALLOWED[0]] = -torch.inf  # row 1: an earlier processor removed token 24
        out = _processor(bases)(ids, scores.clone())
        narrow = MODLogitsProcessor([m.model for m in bases], [0.3, 0.7], divergence="js",
                                    allowed_token_ids=ALLOWED[1:])(ids[:1], scores[1:])
        assert out[1, ALLOWED[0]] == -torch.inf
        assert torch.allclose(out[1], narrow[0], rtol=0, atol=1e-12)
        assert torch.isfinite(out[0, list(ALLOWED)]).all()
        assert abs(float(torch.logsumexp(out[0], dim=-1))) <= 1e-12

    def test_whole_vocabulary(self, lms):
        reference, bases = lms
        ids = _prompt_ids(reference)
        with torch.no_grad():
            scores = reference.model(input_ids=ids).logits[:, -1].float()  # float32, as generate passes them
        out = MODLogitsProcessor([m.model for m in bases], [0.3, 0.7], divergence="forward_kl")(ids, scores)
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
        assert abs(float(torch.logsumexp(out.double(), dim=-1))) <= 1e-6

    @pytest.mark.parametrize(("divergence", "weights"), [("hellinger", [0.3, 0.7]), ("forward_kl", [1.5, -0.5])])
    def test_no_published_rule_is_recorded_as_none(self, lms, divergence, weights):
        # Hellinger has no branch in the published code; its forward-KL branch takes log w_i (undefined for w_i < 0).
        reference, bases = lms
        processor = MODLogitsProcessor([m.model for m in bases], weights, divergence=divergence)
        ids = _prompt_ids(reference)
        processor(ids, torch.zeros(1, 40, dtype=torch.float64))
        assert processor.disagreements[0]["published"] is None and processor.disagreements[0]["product"] in (0, 1)

    def test_rows_that_emitted_eos_are_not_counted(self, lms):
        reference, bases = lms
        processor = MODLogitsProcessor([m.model for m in bases], [0.3, 0.7])
        ids = _prompt_ids(reference).expand(2, -1)
        processor(ids, torch.zeros(2, 40, dtype=torch.float64))
        eos = reference.tokenizer.eos_token_id
        processor(torch.cat([ids, torch.tensor([[eos], [24]])], dim=1), torch.zeros(2, 40, dtype=torch.float64))
        assert [d["rows"] for d in processor.disagreements] == [2, 1]

    def test_errors(self, lms):
        _, bases = lms
        models = [m.model for m in bases]
        with pytest.raises(ValueError, match="sum to 1"):
            MODLogitsProcessor(models, [0.3, 0.6])
        with pytest.raises(ValueError, match=r"shape \(M,\) = \(2,\)"):
            MODLogitsProcessor(models, [1.0])
        with pytest.raises(ValueError, match="rule must be one of"):
            MODLogitsProcessor(models, [0.5, 0.5], rule="thm6")
        with pytest.raises(ValueError, match="barrier"):
            MODLogitsProcessor(models, [0.5, 0.5], divergence="tv")
        with pytest.raises(ValueError, match="allowed_token_ids"):
            MODLogitsProcessor(models, [0.5, 0.5], allowed_token_ids=[5, 5])
        with pytest.raises(ValueError, match="beta"):
            MODLogitsProcessor(models, [0.5, 0.5], beta=0)


def test_the_readme_example_runs(capsys):
    """README.md's "Exact MOD decoding with generate" example, as printed there."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Exact MOD decoding with `generate`")[1].split("```python")[1].split("```")[0]
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - the project's own README
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[0].startswith("[")
    assert float(printed[1].removeprefix("max KKT residual: ")) < 1e-12
    assert printed[2].startswith("the published JSD rule picks another token:")
