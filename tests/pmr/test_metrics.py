"""Tests of pmtheory.pmr.metrics (seed 001, §6.1) against hand values, mpmath and independent code."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.special import log_softmax
from scipy.stats import entropy as scipy_entropy

from pmtheory.divergences import f_divergence_from_log
from pmtheory.pmr import metrics as M

LOGPROB = st.one_of(st.sampled_from([0.0, -1e-12, -1.0, -1e4]), st.floats(-1e4, 0.0))
REWARD = st.one_of(st.sampled_from([0.0, 1e4, -1e4]), st.floats(-1e4, 1e4))


def mp_bernoulli_kl(a: float, b: float) -> float:
    """KL(Bern σ(a) ‖ Bern σ(b)) at enough digits for the cancellation (~(b − a)²)."""
    gap = abs(a - b)
    with mpmath.workdps(60 + (2 * int(-math.log10(gap)) if 0 < gap < 1 else 0)):
        a, b = mpmath.mpf(a), mpmath.mpf(b)
        p = 1 / (1 + mpmath.exp(-a))
        lp, lq = -mpmath.log1p(mpmath.exp(-a)), -mpmath.log1p(mpmath.exp(-b))
        lp1, lq1 = -mpmath.log1p(mpmath.exp(a)), -mpmath.log1p(mpmath.exp(b))
        return float(p * (lp - lq) + (1 - p) * (lp1 - lq1))


class TestInstancePmDivergence:
    def test_hand_value(self):
        # p_llm = σ(−1) = 0.26894..., p_reward = 1/2: KL = p log 2p + (1−p) log 2(1−p).
        p = 1 / (1 + math.e)
        expected = p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))
        assert float(M.instance_pm_divergence(-2.0, -1.0, 0.0, 0.0)) == pytest.approx(expected, rel=1e-14)

    @given(LOGPROB, LOGPROB, REWARD, REWARD)
    @example(0.0, -9.1212972626718e-34, 0.0, 0.0)  # a gap of 1e-33: needs the series branch
    @example(-1e4, 0.0, 1e4, -1e4)
    def test_against_mpmath(self, l1, l2, r1, r2):
        value = float(M.instance_pm_divergence(l1, l2, r1, r2))
        reference = mp_bernoulli_kl(l1 - l2, r1 - r2)
        assert value >= 0.0
        if reference > 1e-290:
            assert value == pytest.approx(reference, rel=1e-11)

    @given(LOGPROB, LOGPROB, REWARD)
    def test_zero_exactly_when_preferences_match(self, l1, l2, r2):
        r1 = r2 + (l1 - l2)  # the reward gap equals the model's log-odds
        if (r1 - r2) == (l1 - l2):
            assert M.instance_pm_divergence(l1, l2, r1, r2) == 0.0

    @given(st.floats(-50, 50), st.floats(-50, 50))
    def test_positive_when_preferences_differ(self, a, b):
        if abs(a - b) >= 1e-6:
            assert M.instance_pm_divergence(a - 60.0, -60.0, b, 0.0) > 0.0

    @given(LOGPROB, LOGPROB, REWARD, REWARD)
    def test_code_variant_is_the_squared_gap_and_bounds_the_kl(self, l1, l2, r1, r2):
        squared = float(M.instance_squared_log_ratio_pm_divergence(l1, l2, r1, r2))
        assert squared == ((r1 - r2) - (l1 - l2)) ** 2
        # softplus'' ≤ 1/4, so the Bregman (KL) form is ≤ (b − a)²/8.
        assert float(M.instance_pm_divergence(l1, l2, r1, r2)) <= squared / 8 * (1 + 1e-12) + 1e-300

    def test_rejects_bad_inputs(self):
        with pytest.raises(ValueError, match="log-probabilities"):
            M.instance_pm_divergence(0.3, -1.0, 0.0, 0.0)
        with pytest.raises(ValueError, match="rewards_1 must be finite"):
            M.instance_pm_divergence(-1.0, -1.0, np.nan, 0.0)
        with pytest.raises(ValueError, match="broadcast"):
            M.instance_pm_divergence([-1.0, -2.0], [-1.0, -2.0, -3.0], 0.0, 0.0)


class TestAggregatePmDivergence:
    def test_is_the_mean_and_weights_work(self):
        l1, l2 = np.array([-1.0, -2.0, -3.0]), np.array([-2.0, -1.0, -3.0])
        r1, r2 = np.array([1.0, 0.0, 2.0]), np.zeros(3)
        per = M.instance_pm_divergence(l1, l2, r1, r2)
        assert M.pm_divergence(l1, l2, r1, r2) == pytest.approx(per.mean(), rel=1e-15)
        w = np.array([0.0, 2.0, 1.0])
        assert M.pm_divergence(l1, l2, r1, r2, weights=w) == pytest.approx((per @ w) / 3, rel=1e-15)
        assert M.squared_log_ratio_pm_divergence(l1, l2, r1, r2) == pytest.approx((0 + 1 + 4) / 3, rel=1e-15)

    def test_rejects_bad_weights(self):
        with pytest.raises(ValueError, match="non-negative"):
            M.pm_divergence([-1.0], [-1.0], [0.0], [0.0], weights=[-1.0])
        with pytest.raises(ValueError, match="not all be zero"):
            M.pm_divergence([-1.0], [-1.0], [0.0], [0.0], weights=[0.0])


class TestPopulationPmDivergence:
    @given(st.lists(st.floats(-30, 30), min_size=1, max_size=6))
    def test_zero_at_the_pm_policy(self, rewards):
        rewards = np.array(rewards)
        assert float(M.population_pm_divergence(log_softmax(rewards), rewards)) <= 1e-15

    @given(st.lists(st.floats(-30, 30), min_size=2, max_size=6), st.integers(0, 5), st.floats(1e-3, 5))
    def test_positive_off_the_pm_policy(self, rewards, index, bump):
        rewards = np.array(rewards)
        noise = np.zeros_like(rewards)
        noise[index % rewards.size] = bump
        assert float(M.population_pm_divergence(log_softmax(rewards + noise), rewards)) > 0.0

    def test_sampling_distribution(self):
        rewards = np.array([0.0, 1.0, 2.0])
        log_pi = log_softmax(np.array([0.0, 0.0, 5.0]))
        only_first_two = np.log([0.5, 0.5, 1e-300])
        only_first_two -= np.logaddexp.reduce(only_first_two)
        # π is uniform on {y1, y2} but r prefers y2: pairs drawn from s still disagree.
        value = float(M.population_pm_divergence(log_pi, rewards, log_sampling=only_first_two))
        expected = 2 * 0.25 * float(M.instance_pm_divergence(log_pi[0], log_pi[1], 0.0, 1.0))
        assert value == pytest.approx(expected, rel=1e-12)


class TestEntropyAndKl:
    @given(st.lists(st.floats(-700, 0), min_size=1, max_size=8))
    def test_entropy_matches_scipy(self, logits):
        log_p = log_softmax(np.array(logits))
        assert float(M.entropy(log_p)) == pytest.approx(scipy_entropy(np.exp(log_p)), rel=1e-12, abs=1e-15)

    def test_entropy_zero_probabilities(self):
        assert float(M.entropy(np.array([0.0, -np.inf]))) == 0.0

    @given(st.lists(st.floats(-30, 0), min_size=1, max_size=6), st.lists(st.floats(-30, 0), min_size=6, max_size=6))
    def test_kl_matches_divergences_module_and_is_non_negative(self, a, b):
        log_p = log_softmax(np.array(a))
        log_q = log_softmax(np.array(b[: len(a)]))
        kl = float(M.kl_divergence(log_p, log_q))
        assert kl >= 0.0
        assert kl == pytest.approx(float(f_divergence_from_log(log_p, log_q, "reverse_kl")), rel=1e-12, abs=1e-14)

    def test_kl_near_equal_policies_stays_positive(self):
        # The plain sum Σ p log(p/q) gives −9.4e-20 here; the true KL is ≈ e^{−30}(1e-6)²/2.
        r = np.array([0.0, -30.0])
        kl = float(M.kl_divergence(log_softmax(r + [1e-6, 0.0]), log_softmax(r)))
        assert kl == pytest.approx(np.exp(-30.0) * 1e-12 / 2, rel=1e-4)

    def test_kl_support(self):
        assert M.kl_divergence(np.array([0.0, -np.inf]), np.log([0.5, 0.5])) == pytest.approx(math.log(2))
        assert M.kl_divergence(np.log([0.5, 0.5]), np.array([0.0, -np.inf])) == np.inf


class TestPerplexity:
    def test_sequence_perplexity_hand_value(self):
        # π(y) = 1/8 over 3 tokens: (1/8)^{-1/3} = 2.
        assert float(M.sequence_perplexity(np.log(1 / 8), 3)) == pytest.approx(2.0, rel=1e-15)

    def test_expected_perplexity_hand_value(self):
        # π = (1/2, 1/2), lengths (1, 2): 1/2·2 + 1/2·√2.
        value = float(M.expected_perplexity(np.log([0.5, 0.5]), [1, 2]))
        assert value == pytest.approx(1 + math.sqrt(2) / 2, rel=1e-15)

    def test_corpus_perplexity_weights_by_length(self):
        # exp(−(log 1/2 + log 1/8)/(1 + 3)) = exp(log 16 / 4) = 2.
        assert M.corpus_perplexity(np.log([0.5, 1 / 8]), [1, 3]) == pytest.approx(2.0, rel=1e-15)

    def test_rejects_bad_lengths(self):
        with pytest.raises(ValueError, match="whole numbers"):
            M.sequence_perplexity(-1.0, 0.5)
