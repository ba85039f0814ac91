"""Tests of pmtheory.pmr.pm: PM regularizer, PM / max-entropy / conditional PM optima."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax, logsumexp

from pmtheory.certified import solve_pointwise_regularized
from pmtheory.pmr import pm
from pmtheory.pmr.rlhf import kl_rlhf_log_policy
from pmtheory.solvers import optimal_policy
from pmtheory.testing import betas, log_references, reward_vectors

sizes = st.integers(1, 6)
reward_cases = sizes.flatmap(reward_vectors)
reward_and_reference = sizes.flatmap(lambda k: st.tuples(reward_vectors(k), log_references(k)))


class TestPMLogPolicy:
    def test_hand_value(self):
        # r = (0, log 3): e^r = (1, 3), so π* = (1/4, 3/4).
        np.testing.assert_allclose(np.exp(pm.pm_log_policy([0.0, np.log(3.0)])), [0.25, 0.75], rtol=1e-15)

    def test_exact_rationals(self):
        # r = log of integers: π* = n / Σn exactly; compare with fractions.
        counts = [1, 2, 7, 40]
        exact = [Fraction(c, sum(counts)) for c in counts]
        got = np.exp(pm.pm_log_policy(np.log(counts)))
        np.testing.assert_allclose(got, [float(x) for x in exact], rtol=1e-14)

    @given(reward_cases, st.floats(-1e4, 1e4))
    def test_shift_invariance_and_normalization(self, rewards, shift):
        log_pi = pm.pm_log_policy(rewards)
        assert np.all(np.isfinite(log_pi))
        assert abs(logsumexp(log_pi)) <= 1e-12
        np.testing.assert_allclose(pm.pm_log_policy(rewards + shift), log_pi, atol=1e-9 * (1 + abs(shift)))

    @given(reward_cases, st.randoms(use_true_random=False))
    def test_permutation_equivariance(self, rewards, rng):
        order = list(range(rewards.size))
        rng.shuffle(order)
        # logsumexp sums in a different order: equal up to K rounding steps.
        np.testing.assert_allclose(pm.pm_log_policy(rewards[order]), pm.pm_log_policy(rewards)[order],
                                   rtol=1e-15, atol=1e-13)

    def test_batched_equals_looped(self):
        rewards = np.random.default_rng(0).normal(size=(4, 5)) * 30
        np.testing.assert_allclose(pm.pm_log_policy(rewards), [pm.pm_log_policy(r) for r in rewards], atol=0)

    def test_huge_rewards_no_overflow(self):
        log_pi = pm.pm_log_policy([1e4, -1e4, 1e4])
        np.testing.assert_allclose(log_pi, [np.log(0.5), -2e4 - np.log(2), np.log(0.5)], rtol=1e-15)

    @pytest.mark.parametrize("bad, error", [([np.nan, 1.0], ValueError), ([], ValueError),
                                            ("ab", TypeError), (3.0, ValueError)])
    def test_rejects_bad_input(self, bad, error):
        with pytest.raises(error, match="rewards"):
            pm.pm_log_policy(bad)


class TestConditionalPMLogPolicy:
    def test_hand_value(self):
        # π_ref = (.5, .3, .2), α = .25: M = {0, 1}. Weights e^1, e^2, .2 e^3.
        q = np.array([0.5, 0.3, 0.2])
        weights = np.array([np.e, np.e**2, 0.2 * np.e**3])
        got = np.exp(pm.conditional_pm_log_policy([1.0, 2.0, 3.0], np.log(q), alpha=0.25))
        np.testing.assert_allclose(got, weights / weights.sum(), rtol=1e-14)

    @given(reward_and_reference)
    def test_alpha_zero_is_pm_and_alpha_above_one_is_kl_rlhf(self, case):
        rewards, log_q = case
        np.testing.assert_allclose(pm.conditional_pm_log_policy(rewards, log_q, alpha=0.0),
                                   pm.pm_log_policy(rewards), atol=1e-9)
        np.testing.assert_allclose(pm.conditional_pm_log_policy(rewards, log_q, alpha=1.5),
                                   kl_rlhf_log_policy(rewards, log_q, 1.0), atol=1e-9)

    @given(reward_and_reference, st.floats(0.0, 1.0))
    @example((np.array([0.0, 0.0]), np.log(np.array([0.5, 0.5]))), 0.5)  # α on the boundary: both in M
    def test_conditional_on_the_set_is_softmax(self, case, alpha):
        rewards, log_q = case
        log_pi = pm.conditional_pm_log_policy(rewards, log_q, alpha=alpha)
        assert np.all(np.isfinite(log_pi)) and abs(logsumexp(log_pi)) <= 1e-12
        in_set = log_q >= np.log(alpha) if alpha > 0 else np.ones_like(log_q, bool)
        assume(in_set.any())
        conditional = log_pi[in_set] - logsumexp(log_pi[in_set])
        np.testing.assert_allclose(conditional, log_softmax(rewards[in_set]), atol=1e-9)

    def test_references_below_float_range(self):
        log_q = np.array([0.0, -2000.0])
        log_q = log_q - logsumexp(log_q)
        got = pm.conditional_pm_log_policy([0.0, 1995.0], log_q, alpha=0.1)
        # y1 ∉ M: logit −2000 + 1995 = −5 against 0 for y0.
        np.testing.assert_allclose(got, log_softmax([0.0, -5.0]), atol=1e-12)

    @pytest.mark.parametrize("alpha, error", [(-0.1, ValueError), (np.inf, ValueError), ("a", TypeError),
                                              (True, TypeError), ([0.1], TypeError)])
    def test_rejects_bad_alpha(self, alpha, error):
        with pytest.raises(error, match="alpha"):
            pm.conditional_pm_log_policy([0.0, 1.0], np.log([0.5, 0.5]), alpha=alpha)

    def test_rejects_unnormalized_reference(self):
        with pytest.raises(ValueError, match="log_reference"):
            pm.conditional_pm_log_policy([0.0, 1.0], np.log([0.5, 0.6]), alpha=0.1)

    def test_rejects_shape_mismatch(self):
        with pytest.raises(ValueError, match="same shape"):
            pm.conditional_pm_log_policy([0.0, 1.0, 2.0], np.log([0.5, 0.5]), alpha=0.1)


c1_values = st.one_of(st.sampled_from([0.0, -1e4, 1e4]), st.floats(-100, 100))
c2_values = st.one_of(st.sampled_from([0.0, 1e-300, 1e4]), st.floats(0, 100))


def _policies(k):
    return st.lists(st.floats(-700, 0), min_size=k, max_size=k).map(lambda x: np.exp(log_softmax(np.asarray(x))))


class TestPMRegularizer:
    def test_hand_value(self):
        # R(1/2) = −log(1/2) + C1 + C2/(1/2) = log 2 + 1 + 2·3.
        assert pm.pm_regularizer(np.array([0.5]), c1=1.0, c2=3.0)[0] == pytest.approx(np.log(2) + 7.0, rel=1e-15)

    def test_response_dependent_c2(self):
        got = pm.pm_regularizer(np.array([0.5, 0.25]), c2=np.array([1.0, 2.0]))
        np.testing.assert_allclose(got, [np.log(2) + 2.0, np.log(4) + 8.0], rtol=1e-15)

    @given(sizes.flatmap(_policies), c1_values, st.floats(-1e4, 1e4))
    def test_log_space_agrees(self, policy, c1, c2):
        assume(policy.min() > 1e-300)
        np.testing.assert_allclose(pm.pm_regularizer_from_log(np.log(policy), c1=c1, c2=c2),
                                   pm.pm_regularizer(policy, c1=c1, c2=c2), rtol=1e-12, atol=1e-9)

    def test_log_space_below_float_range(self):
        assert pm.pm_regularizer_from_log(np.array([-2000.0]), c1=0.5)[0] == 2000.5

    @pytest.mark.parametrize("policy", [[0.0, 1.0], [-0.1, 1.1], [np.nan, 1.0], [0.5, 1.5]])
    def test_rejects_outside_unit_interval(self, policy):
        with pytest.raises(ValueError, match="policy"):
            pm.pm_regularizer(np.array(policy))

    def test_rejects_bad_c2_shape(self):
        with pytest.raises(ValueError, match="c2"):
            pm.pm_regularizer(np.array([0.5, 0.5]), c2=np.ones(3))


class TestPMObjective:
    @given(sizes.flatmap(lambda k: st.tuples(reward_vectors(k), _policies(k))), c1_values, c2_values)
    def test_theorem_1_identity(self, case, c1, c2):
        # §3.5: J(π) = −KL(π‖π*) + log Z + C1 + K·C2 on full-support π.
        rewards, policy = case
        assume(policy.min() > 0)
        kl = float(np.sum(policy * (np.log(policy) - pm.pm_log_policy(rewards))))
        expected = -kl + float(logsumexp(rewards)) + c1 + rewards.size * c2
        got = float(pm.pm_objective(policy, rewards, c1=c1, c2=c2))
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-9 * (1 + np.abs(rewards).max() + abs(c1) + 6 * c2))

    @given(reward_cases, c1_values, c2_values)
    def test_optimal_value_is_attained_at_softmax(self, rewards, c1, c2):
        policy = np.exp(pm.pm_log_policy(rewards))
        # An entry that underflows to 0 leaves the support, and with it its C2 (E over y ∼ π).
        assume(policy.min() > 0 or c2 == 0)
        value = pm.pm_objective(policy, rewards, c1=c1, c2=c2)
        assert float(value) == pytest.approx(float(pm.pm_optimal_value(rewards, c1=c1, c2=c2)), rel=1e-12,
                                             abs=1e-9 * (1 + np.abs(rewards).max()))

    def test_c2_counts_only_the_support(self):
        # E_{y∼π}[C2/π(y)] at π = (1, 0) is C2, not 2·C2 (Remark 3.4 needs full support).
        assert float(pm.pm_objective(np.array([1.0, 0.0]), np.zeros(2), c2=1.0)) == 1.0

    def test_max_entropy_at_tau_one_is_pm(self):
        policy, rewards = np.array([0.2, 0.3, 0.5]), np.array([1.0, -2.0, 0.5])
        assert float(pm.max_entropy_objective(policy, rewards, 1.0)) == pytest.approx(
            float(pm.pm_objective(policy, rewards)), rel=1e-15)

    def test_rejects_unnormalized_policy(self):
        with pytest.raises(ValueError, match="policy"):
            pm.pm_objective(np.array([0.5, 0.6]), np.zeros(2))


class TestTheorem1Property:
    @settings(max_examples=25)
    @given(sizes.flatmap(reward_vectors), c1_values, c2_values)
    def test_certified_optimum_is_softmax(self, rewards, c1, c2):
        # Theorem 1 ("if"), C2 ≥ 0: the certified maximizer is the PL policy.
        sol = solve_pointwise_regularized(rewards, "-log(pi) + C1 + C2/pi", parameters={"C1": c1, "C2": c2},
                                          method="monotone")
        np.testing.assert_allclose(sol.policy, np.exp(pm.pm_log_policy(rewards)), atol=1e-10)


class TestMaxEntropyLogPolicy:
    @given(reward_cases, betas())
    def test_is_kl_rlhf_with_uniform_reference(self, rewards, tau):
        # E r + τH(π) = E r − τ KL(π‖Unif) + τ log K: the exact reverse-KL solver at β = τ.
        expected = optimal_policy(rewards, beta=tau).log_policy
        got = pm.max_entropy_log_policy(rewards, tau)
        finite = np.isfinite(expected)
        np.testing.assert_allclose(np.exp(got), np.exp(expected), atol=1e-12)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-9)

    def test_tau_one_is_pm_and_tau_two_is_not(self):
        rewards = np.array([0.0, 1.0, 3.0])
        np.testing.assert_allclose(pm.max_entropy_log_policy(rewards, 1.0), pm.pm_log_policy(rewards), atol=1e-15)
        assert np.max(np.abs(pm.max_entropy_log_policy(rewards, 2.0) - pm.pm_log_policy(rewards))) > 0.1

    @pytest.mark.parametrize("tau", [0.0, -1.0, np.nan, "a"])
    def test_rejects_bad_tau(self, tau):
        with pytest.raises((ValueError, TypeError), match="tau"):
            pm.max_entropy_log_policy([0.0, 1.0], tau)


masks = st.integers(1, 6).flatmap(lambda k: st.tuples(reward_vectors(k), st.lists(st.booleans(), min_size=k, max_size=k)
                                                        .map(lambda m: np.asarray(m, dtype=bool))))


class TestConditionalPMOptimalPolicy:
    def test_hand_value(self):
        # M = {0}, ε = 1/2: weights e^0 and ½e^{log 2} = 1, so π* = (1/2, 1/2).
        sol = pm.conditional_pm_optimal_policy([0.0, np.log(2.0)], np.array([True, False]), epsilon=0.5)
        np.testing.assert_allclose(sol.policy, [0.5, 0.5], rtol=1e-15)
        assert float(sol.mass_in_set) == pytest.approx(0.5)
        assert float(sol.objective) == pytest.approx(np.log(2.0))

    @given(masks, st.one_of(st.sampled_from([1e-300, 1.0, 1e3]), st.floats(1e-300, 1e3)), c1_values, c2_values)
    @example((np.array([0.0, 0.0]), np.array([False, False])), 1e-3, 0.0, 0.0)  # M = ∅
    @example((np.array([0.0, 0.0, 0.0, 1e4]), np.array([False] * 4)), 1e-300, 0.0, 1e4)  # π underflows
    def test_theorem_4(self, case, epsilon, c1, c2):
        rewards, mask = case
        sol = pm.conditional_pm_optimal_policy(rewards, mask, epsilon=epsilon, c1=c1, c2=c2)
        assert sol.kkt_residual <= 1e-12 and np.all(np.isfinite(sol.log_policy))
        if mask.any():
            np.testing.assert_allclose(np.exp(sol.log_conditional_in_set[mask]), np.exp(log_softmax(rewards[mask])),
                                       atol=1e-12)
            z_m = logsumexp(rewards[mask])
            z_off = logsumexp(rewards[~mask] + np.log(epsilon)) if (~mask).any() else -np.inf
            assert float(sol.mass_in_set) == pytest.approx(np.exp(z_m - np.logaddexp(z_m, z_off)), rel=1e-12)
        else:
            assert float(sol.mass_in_set) == 0.0 and np.all(sol.log_conditional_in_set == -np.inf)
        # The optimal value is attained and no other policy does better (KL ≥ 0).
        # From log π: probabilities that underflow in float64 still count in the C2 term.
        at_opt = pm.conditional_pm_objective(None, rewards, mask, epsilon=epsilon, c1=c1, c2=c2,
                                             log_policy=sol.log_policy)
        assert float(at_opt) == pytest.approx(float(sol.objective), rel=1e-12, abs=1e-9 * (1 + np.abs(rewards).max()))

    def test_mass_on_the_set_tends_to_one(self):
        rewards, mask = np.array([0.0, 5.0]), np.array([True, False])
        masses = [float(pm.conditional_pm_optimal_policy(rewards, mask, log_epsilon=le).mass_in_set)
                  for le in (0.0, -5.0, -50.0, -700.0, -1e4)]
        assert masses == sorted(masses) and masses[-1] == 1.0 and masses[0] < 0.01

    def test_log_epsilon_below_float_range(self):
        sol = pm.conditional_pm_optimal_policy([0.0, 2000.0], np.array([True, False]), log_epsilon=-2000.0)
        np.testing.assert_allclose(sol.policy, [0.5, 0.5], rtol=1e-15)

    def test_batched_equals_looped(self):
        rng = np.random.default_rng(3)
        rewards, mask = rng.normal(size=(3, 4)), rng.random((3, 4)) < 0.5
        batch = pm.conditional_pm_optimal_policy(rewards, mask, epsilon=0.1)
        for i in range(3):
            one = pm.conditional_pm_optimal_policy(rewards[i], mask[i], epsilon=0.1)
            np.testing.assert_allclose(batch.log_policy[i], one.log_policy, atol=1e-15)

    def test_definition_4_1_is_the_special_case(self):
        q = np.array([0.5, 0.3, 0.2])
        sol = pm.conditional_pm_optimal_policy([1.0, 2.0, 3.0], q >= 0.25, log_epsilon=np.log(q))
        np.testing.assert_allclose(sol.log_policy, pm.conditional_pm_log_policy([1.0, 2.0, 3.0], np.log(q), alpha=0.25),
                                   atol=1e-15)

    @pytest.mark.parametrize("kwargs, match", [({"epsilon": 0.0}, "epsilon"), ({}, "exactly one"),
                                               ({"epsilon": 1.0, "log_epsilon": 0.0}, "exactly one"),
                                               ({"epsilon": [1.0, 2.0, 3.0]}, "epsilon")])
    def test_rejects_bad_epsilon(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            pm.conditional_pm_optimal_policy([0.0, 1.0], np.array([True, False]), **kwargs)

    def test_rejects_non_boolean_mask(self):
        with pytest.raises(TypeError, match="in_set_mask"):
            pm.conditional_pm_optimal_policy([0.0, 1.0], np.array([1, 0]), epsilon=0.1)


class TestGeneralizedPM:
    def test_exp_link_is_theorem_1(self):
        import sympy as sp

        u = sp.Symbol("u", real=True)
        reg = pm.generalized_pm_regularizer(sp.exp(u))
        assert sp.simplify(reg - (1 - sp.log(sp.Symbol("pi", positive=True)))) == 0

    def test_power_link_hand_value(self):
        # g = u² on u > 0: g⁻¹ = √π, G = u³/3, so R = −√π + π^{3/2}/(3π) = −(2/3)√π.
        import sympy as sp

        u = sp.Symbol("u", positive=True)
        pi = sp.Symbol("pi", positive=True)
        assert sp.simplify(pm.generalized_pm_regularizer(u**2) + sp.Rational(2, 3) * sp.sqrt(pi)) == 0

    def test_power_link_optimum_collapses(self):
        # (πR)' = −√π: π_i = (r_i + c)_+², r = (1, 2) gives c = −1, π = (0, 1), not (1/5, 4/5).
        import sympy as sp

        u = sp.Symbol("u", positive=True)
        np.testing.assert_allclose(pm.generalized_pm_optimal_policy([1.0, 2.0], u**2, lower=0.0), [0.0, 1.0],
                                   atol=1e-15)
        np.testing.assert_allclose(np.exp(pm.generalized_pm_log_policy([1.0, 2.0], u**2)), [0.2, 0.8], rtol=1e-15)

    @given(st.integers(1, 5).flatmap(lambda k: st.lists(st.floats(-20, 20), min_size=k, max_size=k).map(np.asarray)))
    def test_exp_link_optimum_is_softmax(self, rewards):
        import sympy as sp

        got = pm.generalized_pm_optimal_policy(rewards, sp.exp(sp.Symbol("u", real=True)))
        np.testing.assert_allclose(got, np.exp(pm.pm_log_policy(rewards)), atol=1e-12)

    def test_rejects_bad_link(self):
        import sympy as sp

        with pytest.raises(ValueError, match="single variable"):
            pm.generalized_pm_regularizer(sp.Symbol("u") * sp.Symbol("v"))
        with pytest.raises(ValueError, match="antiderivative"):
            pm.generalized_pm_regularizer("u**2", antiderivative="u**2")
        with pytest.raises(ValueError, match="inverse"):
            pm.generalized_pm_regularizer("u**2", inverse="pi**2")
