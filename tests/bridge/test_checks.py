"""Tests of pmtheory.bridge.checks: set reference, closed forms per indicator, pile-up, metrics."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import log_softmax

from pmtheory.bridge.checks import (
    conditional_pm_set_log_policy,
    conditional_pm_set_membership,
    kl_rlhf_set_log_policy,
    length_pileup,
    pm_set_log_policy,
    set_closed_forms,
    set_log_reference,
    set_metrics,
)
from pmtheory.pmr.pm import pm_log_policy


@st.composite
def set_instances(draw, max_k: int = 8):
    """(rewards, full-sequence log π_ref ≤ 0, beta, alpha) on one or two prompts."""
    k = draw(st.integers(1, max_k))
    n = draw(st.integers(1, 2))
    rewards = np.asarray(draw(st.lists(st.floats(-8, 8), min_size=n * k, max_size=n * k))).reshape(n, k)
    log_probs = -np.asarray(draw(st.lists(st.floats(0.0, 60.0), min_size=n * k, max_size=n * k))).reshape(n, k)
    beta = draw(st.sampled_from([0.1, 0.5, 1.0, 3.0]))
    alpha = draw(st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.5, 1.0]))
    return rewards, log_probs, beta, alpha


class TestSetLogReference:
    def test_renormalizes_and_ignores_a_common_shift(self):
        log_probs = np.array([[-3.0, -5000.0, -4.0]])
        reference = set_log_reference(log_probs)
        assert abs(np.logaddexp.reduce(reference[0])) <= 1e-15
        assert np.allclose(set_log_reference(log_probs - 77.0), reference, atol=1e-12)

    def test_rejects_probabilities_passed_by_mistake(self):
        with pytest.raises(ValueError, match="log-probabilities"):
            set_log_reference([[0.2, 0.8]])


class TestClosedForms:
    @given(set_instances())
    def test_set_reading_is_pm_of_the_shifted_reward(self, instance):
        rewards, log_probs, beta, alpha = instance
        reference = set_log_reference(log_probs)
        with np.errstate(divide="ignore"):
            outside = reference < np.log(alpha)
        expected = pm_log_policy(rewards / beta + np.where(outside, reference, 0.0))
        got = conditional_pm_set_log_policy(rewards, log_probs, alpha=alpha, beta=beta, indicator="set")
        assert np.max(np.abs(got - expected)) <= 1e-10

    @given(set_instances())
    def test_sequence_reading_above_every_probability_is_kl_rlhf_at_beta_1(self, instance):
        # α above max π_ref(y|x): M = ∅ and Def 4.1 is KL RLHF with β = 1 on the reward r/β.
        rewards, log_probs, beta, _ = instance
        alpha = min(1.0, float(np.exp(log_probs.max())) * 1.5 + 1e-300)
        if np.exp(log_probs.max()) >= alpha:
            return
        got = conditional_pm_set_log_policy(rewards, log_probs, alpha=alpha, beta=beta, indicator="sequence")
        assert np.max(np.abs(got - kl_rlhf_set_log_policy(rewards / beta, log_probs, beta=1.0))) <= 1e-10

    @given(set_instances())
    def test_alpha_zero_is_pm(self, instance):
        rewards, log_probs, beta, _ = instance
        for indicator in ("set", "sequence"):
            got = conditional_pm_set_log_policy(rewards, log_probs, alpha=0.0, beta=beta, indicator=indicator)
            assert np.max(np.abs(got - pm_set_log_policy(rewards, beta=beta))) <= 1e-10

    def test_token_reading_by_hand(self):
        # y1 = (t1, t2) with π_ref,t = (0.5, 0.05), y2 = (t1) with π_ref,t = 0.2, α = 0.1:
        # only y1's second token is outside M_t, so π ∝ (e^{r1}·0.05, e^{r2}).
        token_log_probs = np.log([[[0.5, 0.05], [0.2, 1.0]]])
        mask = np.array([[[True, True], [True, False]]])
        log_probs = np.where(mask, token_log_probs, 0.0).sum(axis=-1)
        rewards = np.array([[1.0, 0.3]])
        got = conditional_pm_set_log_policy(rewards, log_probs, alpha=0.1, indicator="token",
                                            token_log_probs=token_log_probs, token_mask=mask)
        weights = np.array([np.e * 0.05, np.exp(0.3)])
        assert np.allclose(np.exp(got[0]), weights / weights.sum(), atol=1e-15)

    def test_token_indicator_is_strict_as_in_the_code(self):
        # the published code keeps a token in M_t iff log π_ref,t > log α; Def 4.1 uses ≥.
        alpha = 0.25
        token_log_probs = np.log([[[alpha], [0.5]]])
        mask = np.ones_like(token_log_probs, dtype=bool)
        tokens = conditional_pm_set_membership(token_log_probs[..., 0], alpha=alpha, indicator="token",
                                               token_log_probs=token_log_probs, token_mask=mask)
        assert tokens[0, :, 0].tolist() == [False, True]
        sequences = conditional_pm_set_membership(np.log([[alpha, 0.5]]), alpha=alpha, indicator="sequence")
        assert sequences[0].tolist() == [True, True]

    def test_set_closed_forms_bundle(self):
        rewards = np.array([[0.0, 1.0, 2.0]])
        log_probs = np.log([[0.6, 0.3, 0.1]]) - 20.0
        forms = set_closed_forms(rewards, log_probs, alpha=0.25)
        assert forms.in_set[0].tolist() == [True, True, False]
        assert np.allclose(forms.kl_rlhf, log_softmax(np.log([[0.6, 0.3, 0.1]]) + rewards))
        assert np.allclose(forms.pm, log_softmax(rewards))
        assert np.allclose(forms.conditional_pm, log_softmax(rewards + np.log([[1.0, 1.0, 0.1]])))

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="indicator"):
            conditional_pm_set_log_policy([[0.0]], [[-1.0]], alpha=0.1, indicator="word")
        with pytest.raises(ValueError, match="alpha"):
            conditional_pm_set_log_policy([[0.0]], [[-1.0]], alpha=1.5)
        with pytest.raises(ValueError, match="token_log_probs"):
            conditional_pm_set_log_policy([[0.0]], [[-1.0]], alpha=0.1, indicator="token")


class TestLengthPileup:
    def test_by_hand(self):
        # pair 1: equal lengths, p_ref = 1/2; pair 2: lengths 2 and 7, p_ref = σ(10) > 0.95.
        pileup = length_pileup([-5.0, -2.0], [-5.0, -12.0], [0.0, 0.0], [0.0, 1.0], [3, 2], [3, 7])
        assert pileup.length_differences.tolist() == [0, 5]
        assert np.allclose(pileup.reference_preferences, [0.5, 1 / (1 + np.exp(-10.0))])
        assert pileup.fraction("reference", differing=True) == (1.0, 1)
        assert pileup.fraction("reference", differing=False) == (0.0, 1)
        assert pileup.fraction("reward", differing=True) == (0.0, 1)
        assert pileup.pairs.tolist() == [1, 0, 0, 1, 0]

    def test_bad_edge(self):
        with pytest.raises(ValueError, match="edge"):
            length_pileup([-1.0], [-1.0], [0.0], [0.0], [1], [1], edge=0.6)


class TestSetMetrics:
    def test_pm_policy_has_zero_pm_divergence_and_kl_rlhf_does_not(self):
        rewards = np.array([[0.0, 1.0, 2.0, -1.0]])
        log_probs = np.log([[0.5, 0.3, 0.15, 0.05]])
        reference = set_log_reference(log_probs)
        lengths = np.array([[1, 2, 3, 4]])
        pm = set_metrics(pm_set_log_policy(rewards), rewards, reference, lengths)
        assert pm.pm_divergence <= 1e-15 and pm.squared_log_ratio_pm_divergence <= 1e-15
        assert pm.population_pm_divergence <= 1e-15
        kl = set_metrics(kl_rlhf_set_log_policy(rewards, log_probs), rewards, reference, lengths)
        assert kl.pm_divergence > 1e-3 and kl.squared_log_ratio_pm_divergence >= 8 * kl.pm_divergence
        same = set_metrics(reference, rewards, reference, lengths)
        assert same.kl == 0.0
