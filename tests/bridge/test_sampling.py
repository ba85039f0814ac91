"""Tests of pmtheory.bridge.sampling: recorded settings, log π vs log q, seeding, model defaults."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge.loading import load_causal_lm  # noqa: E402
from pmtheory.bridge.logprobs import sequence_log_probs_loop  # noqa: E402
from pmtheory.bridge.sampling import sample_responses  # noqa: E402
from pmtheory.bridge.tiny import tiny_model_paths  # noqa: E402

PROMPTS = ["the cat", "a small dog"]


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module", params=["opt", "llama"])
def lm(request):
    return load_causal_lm(tiny_model_paths().policy(request.param), device="cpu", dtype="float64")


class TestSampleResponses:
    def test_exact_settings_sample_the_model_itself(self, lm):
        sampled = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=6, max_new_tokens=12, seed=3)
        assert sampled.settings.samples_from_model
        assert sampled.log_probs.shape == (2, 6)
        # transformers computes the sampling scores in float32: agreement to float32 rounding
        assert np.max(np.abs(sampled.log_probs - sampled.sampling_log_probs)) <= 1e-4
        assert np.all(sampled.truncated_mass == 0.0)
        prompts, responses = sampled.pairs()
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, prompts, responses).numpy().reshape(2, 6)
        assert np.max(np.abs(loop - sampled.log_probs)) <= 1e-12

    def test_a_model_wider_than_its_tokenizer(self, lm):
        # OPT's head has 50,272 rows and its tokenizer 50,265 ids: sampled ids beyond
        # len(tokenizer) were rejected by the check against the tokenizer's size.
        from transformers import AutoModelForCausalLM

        beyond = len(lm.tokenizer) + 3
        config = lm.model.config.__class__.from_dict({**lm.model.config.to_dict(), "vocab_size": beyond + 4})
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config).double().eval()
        with torch.no_grad():  # make the id beyond the tokenizer likely at every step
            model.get_output_embeddings().weight[beyond] = 5.0 * model.get_output_embeddings().weight[5]
            if getattr(model.get_output_embeddings(), "bias", None) is not None:
                model.get_output_embeddings().bias[beyond] = 5.0
        sampled = sample_responses(model, lm.tokenizer, PROMPTS, num_samples=4, max_new_tokens=3, seed=0)
        assert any(beyond in response for row in sampled.response_ids for response in row)
        assert np.all(np.isfinite(sampled.log_probs))

    def test_finished_responses_end_with_eos(self, lm):
        sampled = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=8, max_new_tokens=4, seed=0)
        eos = lm.tokenizer.eos_token_id
        for row, done_row, length_row in zip(sampled.response_ids, sampled.finished, sampled.lengths):
            for response, done, length in zip(row, done_row, length_row):
                assert len(response) == length >= 1
                assert (response[-1] == eos) == bool(done)
                assert eos not in response[:-1]
                assert done or length == 4

    def test_temperature_and_top_p_sample_another_distribution(self, lm):
        sampled = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=6, max_new_tokens=12, seed=3,
                                   temperature=0.7, top_p=0.8)
        assert not sampled.settings.samples_from_model
        settings = sampled.settings.to_dict()
        assert settings["temperature"] == 0.7 and settings["top_p"] == 0.8 and settings["top_k"] == 0
        assert np.max(np.abs(sampled.log_probs - sampled.sampling_log_probs)) > 0.1
        assert sampled.truncated_mass.max() > 0.0
        # q is sharper than π on its own samples: log q ≥ log π for most of them
        assert np.mean(sampled.sampling_log_probs >= sampled.log_probs) > 0.5

    def test_seeded_and_independent_of_the_other_prompts(self, lm):
        first = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=4, max_new_tokens=8, seed=11)
        again = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=4, max_new_tokens=8, seed=11)
        assert first.response_ids == again.response_ids
        alone = sample_responses(lm.model, lm.tokenizer, PROMPTS[:1], num_samples=4, max_new_tokens=8, seed=11)
        assert alone.response_ids[0] == first.response_ids[0]
        other = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=4, max_new_tokens=8, seed=12)
        assert other.response_ids != first.response_ids

    def test_caller_rng_is_untouched(self, lm):
        torch.manual_seed(5)
        expected = torch.rand(3)
        torch.manual_seed(5)
        sample_responses(lm.model, lm.tokenizer, PROMPTS[:1], num_samples=2, max_new_tokens=4, seed=0)
        assert torch.equal(torch.rand(3), expected)

    def test_checkpoint_generation_defaults_are_overridden_and_recorded(self, lm):
        baseline = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=4, max_new_tokens=8, seed=2)
        saved = lm.model.generation_config
        config = type(saved)(**saved.to_dict())
        config.temperature, config.top_p, config.top_k = 0.6, 0.9, 40
        lm.model.generation_config = config
        try:
            sampled = sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=4, max_new_tokens=8, seed=2)
        finally:
            lm.model.generation_config = saved
        assert sampled.settings.overridden_model_defaults == {"temperature": 0.6, "top_p": 0.9, "top_k": 40}
        assert sampled.response_ids == baseline.response_ids
        assert lm.model.generation_config is saved

    def test_bad_settings(self, lm):
        with pytest.raises(ValueError, match="temperature"):
            sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=2, temperature=0.0)
        with pytest.raises(ValueError, match="top_p"):
            sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=2, top_p=1.5)
        with pytest.raises(ValueError, match="top_k"):
            sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=2, top_k=-1)
        with pytest.raises(ValueError, match="num_samples"):
            sample_responses(lm.model, lm.tokenizer, PROMPTS, num_samples=0)
        with pytest.raises(ValueError, match="nothing to sample"):
            sample_responses(lm.model, lm.tokenizer, [], num_samples=2)
        with pytest.raises(ValueError, match="context of 64"):
            sample_responses(lm.model, lm.tokenizer, ["the cat " * 28], num_samples=2, max_new_tokens=16)
