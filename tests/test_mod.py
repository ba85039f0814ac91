"""Tests of pmtheory.mod: MOD Prop 1 against the direct optimum for Σ w_i R_i."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from pmtheory import optimal_policy
from pmtheory.mod import implied_rewards, optimal_policy as mod_optimal_policy, prop1_bracket

BARRIERS = ("reverse_kl", "forward_kl", "js", "alpha:0.3", "hellinger")


class TestOptimalPolicy:
    @given(st.sampled_from(BARRIERS), st.integers(2, 3), st.integers(1, 6), st.data())
    def test_matches_the_direct_optimum(self, divergence, m, k, data):
        rewards = np.asarray(data.draw(st.lists(st.floats(-5, 5), min_size=m * k, max_size=m * k))).reshape(m, k)
        raw = np.asarray(data.draw(st.lists(st.floats(0, 1), min_size=m, max_size=m))) + 1e-3
        weights = raw / raw.sum()
        reference = np.asarray(data.draw(st.lists(st.floats(1e-3, 1), min_size=k, max_size=k)))
        reference = reference / reference.sum()
        beta = data.draw(st.sampled_from([0.1, 1.0, 10.0]))
        bases = np.array([optimal_policy(r, reference, divergence=divergence, beta=beta).policy for r in rewards])
        mod = mod_optimal_policy(bases, weights, reference, divergence=divergence, beta=beta)
        direct = optimal_policy(weights @ rewards, reference, divergence=divergence, beta=beta)
        np.testing.assert_allclose(mod.policy, direct.policy, atol=1e-10, rtol=0)

    def test_reverse_kl_is_the_geometric_mixture(self):
        # eq 7: π* ∝ Π π_i^{w_i} for reverse KL.
        bases = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        weights = np.array([0.25, 0.75])
        expected = np.prod(bases ** weights[:, None], axis=0)
        sol = mod_optimal_policy(bases, weights, [1 / 3] * 3)
        np.testing.assert_allclose(sol.policy, expected / expected.sum(), rtol=1e-14)

    def test_bracket_contains_the_normalizer(self):
        bases = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        weights = np.array([0.4, 0.6])
        reference = np.array([0.2, 0.3, 0.5])
        for divergence in BARRIERS:
            t1, t2 = prop1_bracket(bases, weights, reference, divergence=divergence)
            z = float(mod_optimal_policy(bases, weights, reference, divergence=divergence).multiplier)
            assert t1 - 1e-12 <= z <= t2 + 1e-12


class TestImpliedRewards:
    @pytest.mark.parametrize("divergence", BARRIERS)
    def test_recovers_the_reward_up_to_a_constant(self, divergence):
        rewards, reference = np.array([0.3, -2.0, 1.5, 0.0]), np.array([0.1, 0.2, 0.3, 0.4])
        policy = optimal_policy(rewards, reference, divergence=divergence, beta=0.7).policy
        recovered = implied_rewards(policy, reference, divergence=divergence, beta=0.7)
        assert np.ptp(rewards - recovered) < 1e-12

    def test_rejects_non_barrier(self):
        with pytest.raises(ValueError, match="not a barrier"):
            implied_rewards([0.5, 0.5], [0.5, 0.5], divergence="chi2")


class TestValidation:
    def test_bad_inputs(self):
        bases = np.array([[0.5, 0.5], [0.2, 0.8]])
        with pytest.raises(ValueError, match="weights must sum to 1"):
            mod_optimal_policy(bases, [0.5, 0.6], [0.5, 0.5])
        with pytest.raises(ValueError, match=r"weights must have shape \(M,\)"):
            mod_optimal_policy(bases, [1.0], [0.5, 0.5])
        with pytest.raises(ValueError, match="policies must have shape"):
            mod_optimal_policy(np.ones((2, 2, 2)) / 2, [0.5, 0.5], [0.5, 0.5])
        with pytest.raises(ValueError, match="reference must have shape"):
            mod_optimal_policy(bases, [0.5, 0.5], [0.2, 0.3, 0.5])
        with pytest.raises(ValueError, match="barrier"):
            mod_optimal_policy(bases, [0.5, 0.5], [0.5, 0.5], divergence="tv")
