"""Tests of pmtheory.pmr.rlhf: the paper's closed forms (5.1)-(5.3) and the exact f-RLHF preferences."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.special import expit, log_softmax, logit

from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.pmr import rlhf as R
from pmtheory.testing import SOLVER_DIVERGENCES, betas, instances


class TestKlRlhfLogPolicy:
    def test_hand_value(self):
        # π_ref = (1/2, 1/2), r = (log 3, 0), β = 1: π ∝ (3, 1).
        np.testing.assert_allclose(np.exp(R.kl_rlhf_log_policy([np.log(3.0), 0.0], np.log([0.5, 0.5]))),
                                   [0.75, 0.25], atol=1e-15)


class TestKlRlhfPmLogReference:
    @given(instances(max_k=6))
    def test_makes_kl_rlhf_preference_matching(self, instance):
        rewards, _, beta = instance
        if np.max(np.abs(rewards)) / beta > 1e6:
            return  # (1 − 1/β)·r beyond 1e6: the log reference itself loses the digits
        log_ref = R.kl_rlhf_pm_log_reference(rewards, beta)
        pi = np.exp(R.kl_rlhf_log_policy(rewards, log_ref, beta))
        scale = 1 + np.max(np.abs(rewards)) * (1 + 1 / beta)
        np.testing.assert_allclose(pi, np.exp(log_softmax(rewards)), atol=64 * np.finfo(float).eps * scale)

    def test_beta_one_gives_uniform(self):
        np.testing.assert_allclose(R.kl_rlhf_pm_log_reference([3.0, -1.0, 7.0], 1.0), np.full(3, -np.log(3)))


class TestRenormalizedProduct:
    def test_hand_values(self):
        # p_ref p / (p_ref p + (1 − p_ref)(1 − p)) = 0.25·0.5/(0.125 + 0.375) = 0.25.
        assert float(R.renormalized_product_preference(0.5, 0.25)) == pytest.approx(0.25, abs=1e-15)
        assert float(R.renormalized_product_preference(0.9, 0.0)) == 0.0  # §5.2's p_ref = 0 case
        assert float(R.renormalized_product_preference(0.1, 1.0)) == 1.0

    def test_zero_over_zero(self):
        with pytest.raises(ValueError, match="0/0"):
            R.renormalized_product_preference(1.0, 0.0)

    def test_tempered_preference(self):
        assert float(R.tempered_preference(0.7, 1.0)) == pytest.approx(0.7, abs=1e-15)
        assert float(R.tempered_preference(expit(1.0), 0.5)) == pytest.approx(expit(2.0), abs=1e-15)


@st.composite
def pair_instances(draw):
    rewards, log_q, beta = draw(instances(max_k=6, min_log_prob=-750.0).filter(lambda e: e[0].size >= 2))
    k = rewards.size
    i = draw(st.integers(0, k - 1))
    j = draw(st.integers(0, k - 2))
    return rewards, log_q, beta, (i, j if j < i else j + 1)


class TestFRlhfPairLogOdds:
    @given(pair_instances())
    @example((np.array([0.0, 8.27482298e-12, 1e4]), np.full(3, -np.log(3.0)), 0.001, (0, 1)))
    def test_reverse_kl_is_eq_5_2(self, example):
        rewards, log_q, beta, (i, j) = example
        exact = float(R.f_rlhf_pair_log_odds(rewards, log_q, beta=beta, pair=(i, j)))
        predicted = log_q[i] - log_q[j] + (rewards[i] - rewards[j]) / beta
        # log π carries the float64 rounding of its own size, |r|/β + |log q| (up to 1e7 at
        # β = 1e-3, an ulp of 2e-9: found by the fuzz profile).
        floor = 4 * np.finfo(np.float64).eps * (np.max(np.abs(rewards)) / beta + np.max(np.abs(log_q)))
        assert exact == pytest.approx(predicted, rel=1e-9, abs=1e-9 + floor)

    def test_batched_equals_looped(self):
        rng = np.random.default_rng(1)
        rewards = rng.normal(size=(5, 4)) * 0.3  # small gaps: χ² keeps every response's mass
        log_q = log_softmax(rng.normal(size=(5, 4)), axis=-1)
        for name in ("forward_kl", "js", "chi2"):
            batched = R.f_rlhf_pair_log_odds(rewards, log_q, divergence=name, pair=(2, 0))
            looped = [float(R.f_rlhf_pair_log_odds(rewards[b], log_q[b], divergence=name, pair=(2, 0)))
                      for b in range(5)]
            np.testing.assert_array_equal(batched, looped)

    def test_zero_mass(self):
        # χ², π_ref uniform, r = (0, 10): y1 gets 1 + (0 − Z)/2 < 0 → exactly 0 mass.
        assert R.f_rlhf_pair_log_odds([0.0, 10.0], np.log([0.5, 0.5]), divergence="chi2") == -np.inf
        with pytest.raises(ValueError, match="zero mass on both"):
            R.f_rlhf_pair_log_odds([0.0, 0.0, 10.0], np.log([0.25, 0.25, 0.5]), divergence="chi2", pair=(0, 1))

    def test_bad_pairs(self):
        with pytest.raises(ValueError, match="two different indices"):
            R.f_rlhf_pair_log_odds([0.0, 1.0], np.log([0.5, 0.5]), pair=(1, 1))
        with pytest.raises(TypeError, match="tuple of two"):
            R.f_rlhf_pair_log_odds([0.0, 1.0], np.log([0.5, 0.5]), pair=[0, 1])

    @pytest.mark.parametrize("name", [n for n in SOLVER_DIVERGENCES if n != "tv"])
    def test_against_mpmath(self, name):
        rewards, log_q = np.array([0.3, -1.2, 0.8]), log_softmax(np.array([0.0, -2.0, 1.0]))
        mp = np.exp(high_precision_optimal_policy(rewards, log_q, divergence=name, beta=0.7, digits=40))
        exact = float(R.f_rlhf_binary_preference(rewards, log_q, divergence=name, beta=0.7, pair=(0, 2)))
        assert exact == pytest.approx(mp[0] / (mp[0] + mp[2]), abs=1e-12)


class TestEq53:
    def test_reverse_kl_matches_exact(self):
        rewards, log_q = np.array([2.0, -1.0, 0.5]), log_softmax(np.array([0.0, 1.0, -1.0]))
        assert float(R.eq53_log_odds(rewards, log_q)) == pytest.approx(float(R.f_rlhf_pair_log_odds(rewards, log_q)),
                                                                       rel=1e-13)

    def test_chi2_rational_counterexample(self):
        # π_ref = (1/2, 1/2), β = 1, r = (1, 0). Exact: Z = 1/2, π = (5/8, 3/8).
        # Eq (5.3): (f')⁻¹(u) = 1 + u/2 gives (3/2)/(3/2 + 1) = 3/5.
        log_half = np.log([0.5, 0.5])
        assert float(R.f_rlhf_binary_preference([1.0, 0.0], log_half, divergence="chi2")) == pytest.approx(
            float(Fraction(5, 8)), abs=1e-15)
        assert float(R.eq53_binary_preference([1.0, 0.0], log_half, divergence="chi2")) == pytest.approx(
            float(Fraction(3, 5)), abs=1e-15)

    def test_depends_on_the_reward_level(self):
        # Forward KL: r = (−1, −2) gives 2/3, r = (−2, −3) gives 3/5; the exact answer (1/√2) is the same.
        log_half = np.log([0.5, 0.5])
        assert float(R.eq53_binary_preference([-1.0, -2.0], log_half, divergence="forward_kl")) == pytest.approx(2 / 3)
        assert float(R.eq53_binary_preference([-2.0, -3.0], log_half, divergence="forward_kl")) == pytest.approx(3 / 5)
        for shift in (0.0, 5.0):
            exact = R.f_rlhf_binary_preference(np.array([-1.0, -2.0]) + shift, log_half, divergence="forward_kl")
            assert float(exact) == pytest.approx(1 / np.sqrt(2), abs=1e-14)

    def test_domain(self):
        assert not R.eq53_defined([1.0, 0.0], divergence="forward_kl")  # needs r/β < sup f' = 0
        assert R.eq53_defined([-1.0, -0.5], divergence="forward_kl")
        assert not R.eq53_defined([0.0, 1.0], divergence="tv")
        assert not R.eq53_defined([-3.0, -2.5], divergence="chi2")  # both (f')⁻¹ = 0: 0/0
        with pytest.raises(ValueError, match="undefined for forward_kl"):
            R.eq53_log_odds([1.0, 0.0], np.log([0.5, 0.5]), divergence="forward_kl")
        with pytest.raises(ValueError, match="no inverse"):
            R.eq53_log_odds([1.0, 0.0], np.log([0.5, 0.5]), divergence="tv")


class TestPreferenceCollapseLimit:
    @pytest.mark.parametrize("name", SOLVER_DIVERGENCES)
    @pytest.mark.parametrize("gap", [-3.0, 0.3, 0.9, 2.0, 6.0])
    def test_matches_the_exact_solver_far_down(self, name, gap):
        for beta in (0.5, 1.0, 3.0):
            delta = gap / beta
            exact = float(R.f_rlhf_pair_preference(gap, -(abs(delta) + 1000.0), divergence=name, beta=beta))
            assert exact == pytest.approx(float(R.preference_collapse_limit(gap, divergence=name, beta=beta)), abs=1e-9)

    def test_forward_kl_closed_form(self):
        # Threshold S − f'(1) = 0 − (−1) = 1; beyond it the limit is 1 − 1/Δ.
        for delta in (1.5, 2.0, 10.0):
            assert float(R.preference_collapse_limit(delta, divergence="forward_kl")) == pytest.approx(1 - 1 / delta)
        assert float(R.preference_collapse_limit(0.99, divergence="forward_kl")) == 0.0

    @given(st.floats(-20, 20), betas())
    def test_kl_and_chi2_always_collapse(self, gap, beta):
        assert float(R.preference_collapse_limit(gap, divergence="reverse_kl", beta=beta)) == 0.0
        assert float(R.preference_collapse_limit(gap, divergence="chi2", beta=beta)) == 0.0


class TestFRlhfPairPreference:
    def test_extreme_references_stay_finite(self):
        values = R.f_rlhf_pair_preference(1.0, np.array([-5000.0, 0.0, 5000.0]))
        assert np.all(np.isfinite(values)) and values[0] < 1e-300 and values[2] == 1.0
        # JS with Δ = 1 > log 2 does not collapse: the limit is 1 − 1/(e − 1).
        js = float(R.f_rlhf_pair_preference(1.0, -5000.0, divergence="js"))
        assert js == pytest.approx(1 - 1 / (np.e - 1), abs=1e-12)

    def test_matches_closed_form_for_kl(self):
        p_reward, p_ref = np.linspace(0.05, 0.95, 7), np.array([0.1, 0.5, 0.9])[:, None]
        exact = R.f_rlhf_pair_preference(logit(p_reward), logit(p_ref))
        np.testing.assert_allclose(exact, R.renormalized_product_preference(p_reward, p_ref), atol=1e-14)
