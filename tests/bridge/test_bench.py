"""Tests of pmtheory.bridge.bench: sequence log-prob throughput, batched vs loop."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge.bench import sequence_log_prob_throughput  # noqa: E402
from pmtheory.bridge.tiny import single_thread  # noqa: E402


def test_throughput_of_both_paths():
    with single_thread():
        result = sequence_log_prob_throughput(pairs=12, batch_size=6, repeats=1, max_new_tokens=8)
    assert result.model == "tiny-opt" and result.device == "cpu" and result.pairs == 12
    assert result.tokens > 12 and result.batched_seconds > 0 and result.loop_seconds > 0
    assert result.batched_tokens_per_second == pytest.approx(result.tokens / result.batched_seconds)
    assert result.speedup == pytest.approx(result.loop_seconds / result.batched_seconds)
    assert result.max_abs_difference <= 1e-5  # float32 model, float64 sums
    json.dumps(result.to_dict())


def test_bad_arguments():
    with pytest.raises(ValueError, match="pairs"):
        sequence_log_prob_throughput(pairs=0)
    with pytest.raises(ValueError, match="repeats"):
        sequence_log_prob_throughput(repeats=0)
