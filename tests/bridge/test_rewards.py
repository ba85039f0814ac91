"""Tests of pmtheory.bridge.rewards: reward-model scores (batched = loop) and reward functions."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge.loading import load_reward_model  # noqa: E402
from pmtheory.bridge.rewards import function_rewards, reward_model_scores, reward_model_scores_loop  # noqa: E402
from pmtheory.bridge.tiny import tiny_model_paths  # noqa: E402

PROMPTS = ["the cat", "a small dog sat on the mat", "yes", "the bird"]
RESPONSES = ["sat on the mat", "no", "the red house is big and the small house is not", ""]


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def reward():
    return load_reward_model(tiny_model_paths().reward, device="cpu", dtype="float64")


class TestRewardModelScores:
    def test_batched_equals_loop(self, reward):
        loop = reward_model_scores_loop(reward.model, reward.tokenizer, PROMPTS, RESPONSES)
        for batch_size in (1, 3, 8):
            batched = reward_model_scores(reward.model, reward.tokenizer, PROMPTS, RESPONSES, batch_size=batch_size)
            assert batched.dtype == np.float64 and batched.shape == (4,)
            assert np.max(np.abs(batched - loop)) <= 1e-12
        assert np.ptp(loop) > 0.1  # the rewards differ between responses

    def test_empty_response_scores_the_prompt(self, reward):
        alone = reward_model_scores(reward.model, reward.tokenizer, ["the bird"], [""])
        assert np.isfinite(alone).all()

    def test_config_without_pad_token_id(self, reward, monkeypatch):
        monkeypatch.setattr(reward.model.config, "pad_token_id", None)
        with pytest.raises(ValueError, match="pad_token_id"):
            reward_model_scores(reward.model, reward.tokenizer, PROMPTS, RESPONSES)

    def test_pad_token_inside_a_text(self, reward):
        with pytest.raises(ValueError, match="contains the pad token"):
            reward_model_scores(reward.model, reward.tokenizer, ["the cat"], [[reward.tokenizer.pad_token_id, 6]])


class TestFunctionRewards:
    def test_values(self):
        values = function_rewards(lambda prompt, response: len(response.split()) - 0.5, ["a", "b"], ["x y", "z"])
        assert values.tolist() == [1.5, 0.5]

    def test_errors(self):
        with pytest.raises(TypeError, match="callable"):
            function_rewards(3, ["a"], ["b"])
        with pytest.raises(ValueError, match="must be finite"):
            function_rewards(lambda p, r: float("nan"), ["a"], ["b"])
        with pytest.raises(TypeError, match="real number"):
            function_rewards(lambda p, r: "high", ["a"], ["b"])
        with pytest.raises(ValueError, match="pair up"):
            function_rewards(lambda p, r: 1.0, ["a", "b"], ["c"])
