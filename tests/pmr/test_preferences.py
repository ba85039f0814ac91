"""Tests of pmtheory.pmr.preferences: BTL / PL preferences in log space and the population BTL fit."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.special import log_softmax

from pmtheory.pmr import preferences as P
from pmtheory.testing import CVXPY_ATOL, reward_vectors


class TestBtlPreference:
    def test_hand_value(self):
        # e^{log 3}/(e^{log 3} + e^0) = 3/4.
        assert P.btl_preference(np.log(3.0), 0.0) == pytest.approx(0.75, abs=1e-15)

    def test_huge_gap_stays_in_log_space(self):
        # log σ(−1e4) = −1e4 − log(1 + e^{−1e4}) = −1e4 to float precision; no −inf, no NaN.
        assert P.btl_log_preference(-1e4, 0.0) == -1e4
        assert P.btl_log_preference(1e4, 0.0) == 0.0

    @given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e3, 1e3))
    def test_complementary_and_shift_invariant(self, r1, r2, c):
        p12 = P.btl_preference(r1, r2)
        assert p12 + P.btl_preference(r2, r1) == pytest.approx(1.0, abs=1e-15)
        assert P.btl_preference(r1 + c, r2 + c) == pytest.approx(p12, abs=1e-12)

    def test_rejects_nan(self):
        with pytest.raises(ValueError, match="rewards_1 must be finite"):
            P.btl_preference(np.nan, 0.0)


class TestPolicyPreference:
    def test_sequence_probabilities_below_float_range(self):
        # π(y1) = e^{-1000}, π(y2) = e^{-1000}/3: p = 3/4 although both underflow in linear space.
        # The input −1000 − log 3 is itself rounded by ~1000·eps ≈ 2e-13, hence the tolerance.
        assert float(P.policy_preference(-1000.0, -1000.0 - np.log(3.0))) == pytest.approx(0.75, abs=1e-12)

    def test_zero_mass(self):
        assert P.policy_log_preference(-np.inf, -1.0) == -np.inf
        assert P.policy_log_preference(-1.0, -np.inf) == 0.0
        with pytest.raises(ValueError, match="both -inf"):
            P.policy_log_preference(-np.inf, -np.inf)

    def test_rejects_probabilities_passed_as_logs(self):
        with pytest.raises(ValueError, match="log-probabilities"):
            P.policy_log_preference(0.5, 0.2)

    @given(st.floats(-1e4, 0.0), st.floats(-1e4, 0.0))
    def test_matches_btl_of_the_log_probabilities(self, l1, l2):
        # π(y1)/(π(y1)+π(y2)) is the BTL preference with "rewards" log π.
        assert P.policy_log_preference(l1, l2) == pytest.approx(P.btl_log_preference(l1, l2), rel=1e-12, abs=1e-300)


class TestPlackettLuceChoice:
    def test_full_set_is_softmax(self):
        r = np.array([1.0, -2.0, 0.5])
        np.testing.assert_allclose(P.plackett_luce_log_choice(r), log_softmax(r), atol=1e-15)

    @given(st.integers(1, 7).flatmap(lambda k: st.tuples(reward_vectors(k),
                                                         st.lists(st.booleans(), min_size=k, max_size=k))))
    def test_iia_subset_equals_conditioned_full_rule(self, problem):
        rewards, mask = problem
        mask = np.array(mask)
        mask[0] = True
        sub = P.plackett_luce_log_choice(rewards, mask)
        full = P.plackett_luce_log_choice(rewards)
        conditioned = full[mask] - np.logaddexp.reduce(full[mask])
        tol = 64 * np.finfo(float).eps * (1 + np.abs(rewards).max())
        np.testing.assert_allclose(sub[mask], conditioned, atol=tol, rtol=0)
        assert np.all(np.isneginf(sub[~mask]))

    def test_batched_equals_looped(self):
        rng = np.random.default_rng(0)
        r = rng.normal(size=(4, 5))
        mask = rng.random((4, 5)) < 0.6
        mask[:, 2] = True
        batched = P.plackett_luce_log_choice(r, mask)
        for row in range(4):
            np.testing.assert_array_equal(batched[row], P.plackett_luce_log_choice(r[row], mask[row]))

    def test_bad_subsets(self):
        with pytest.raises(ValueError, match="at least one response"):
            P.plackett_luce_log_choice([1.0, 2.0], np.array([False, False]))
        with pytest.raises(TypeError, match="boolean mask"):
            P.plackett_luce_log_choice([1.0, 2.0], np.array([1, 0]))


class TestPlackettLuceRanking:
    def test_hand_value(self):
        # τ = (y3, y2, y1) with w = e^r = (1, 2, 3): 3/6 · 2/3 · 1 = 1/3.
        r = np.log([1.0, 2.0, 3.0])
        assert np.exp(P.plackett_luce_log_ranking(r, [2, 1, 0])) == pytest.approx(1 / 3, abs=1e-15)

    @given(st.integers(1, 5).flatmap(reward_vectors))
    def test_rankings_form_a_distribution(self, rewards):
        orders = np.array(list(itertools.permutations(range(rewards.size))))
        total = np.logaddexp.reduce(P.plackett_luce_log_ranking(rewards, orders))
        assert abs(total) <= 64 * np.finfo(float).eps * (1 + np.abs(rewards).max()) * rewards.size

    def test_matches_exact_rationals(self):
        weights = [Fraction(2), Fraction(1, 3), Fraction(5, 7), Fraction(1)]
        r = np.log([float(w) for w in weights])
        for order in itertools.permutations(range(4)):
            exact = Fraction(1)
            for i in range(4):
                exact *= weights[order[i]] / sum(weights[j] for j in order[i:])
            assert np.exp(P.plackett_luce_log_ranking(r, list(order))) == pytest.approx(float(exact), rel=1e-14)

    def test_rejects_non_permutations(self):
        with pytest.raises(ValueError, match="permutation"):
            P.plackett_luce_log_ranking([1.0, 2.0, 3.0], [0, 0, 1])


def _complete(k):
    mu = np.ones((k, k)) - np.eye(k)
    return mu / mu.sum()


class TestBtlMaximumLikelihood:
    @given(st.integers(2, 6).flatmap(lambda k: st.lists(st.floats(-20, 20), min_size=k, max_size=k)))
    @example([20.0, -20.0, 0.0, 5.0])  # win probabilities down to σ(−40) ≈ 4e-18
    @example([0.0, 0.0])  # a tie
    def test_recovers_the_true_reward_up_to_a_constant(self, rewards):
        rewards = np.array(rewards)
        comparison = P.btl_comparison_probabilities(rewards, _complete(rewards.size))
        fit = P.btl_maximum_likelihood(comparison)
        np.testing.assert_allclose(fit.rewards, rewards - rewards.mean(), atol=1e-9 * (1 + np.ptp(rewards)))
        assert fit.num_components == 1
        assert fit.gradient_norm <= 1e-14

    def test_true_reward_minimizes_the_population_loss(self):
        rng = np.random.default_rng(3)
        rewards = rng.normal(size=4)
        comparison = P.btl_comparison_probabilities(rewards, _complete(4))
        best = P.btl_population_loss(rewards, comparison)
        for _ in range(20):
            assert P.btl_population_loss(rewards + rng.normal(size=4) * 0.1, comparison) > best

    def test_disconnected_comparisons_leave_a_constant_per_component(self):
        mu = np.zeros((4, 4))
        mu[0, 1] = mu[1, 0] = mu[2, 3] = mu[3, 2] = 0.25
        true = np.array([1.0, 0.0, 0.0, 0.0])
        comparison = P.btl_comparison_probabilities(true, mu)
        fit = P.btl_maximum_likelihood(comparison)
        assert fit.num_components == 2
        np.testing.assert_array_equal(fit.components[[0, 1]], fit.components[0])
        np.testing.assert_allclose(fit.rewards, [0.5, -0.5, 0.0, 0.0], atol=1e-13)
        assert P.btl_population_loss(true, comparison) == P.btl_population_loss(true + [0, 0, 1, 1], comparison)

    def test_batched_over_prompts(self):
        rewards = np.array([[1.0, 0.0, -1.0], [0.0, 3.0, 0.5]])
        comparison = P.btl_comparison_probabilities(rewards, np.broadcast_to(_complete(3), (2, 3, 3)))
        fit = P.btl_maximum_likelihood(comparison)
        np.testing.assert_allclose(fit.rewards, rewards - rewards.mean(axis=1, keepdims=True), atol=1e-12)
        assert fit.loss.shape == (2,)

    def test_non_btl_data_against_cvxpy(self):
        cp = pytest.importorskip("cvxpy")
        c = np.array([[0, 0.3, 0.1], [0.1, 0, 0.2], [0.2, 0.05, 0]])
        fit = P.btl_maximum_likelihood(c)
        r = cp.Variable(3)
        objective = sum(c[i, j] * cp.logistic(r[j] - r[i]) for i in range(3) for j in range(3) if c[i, j] > 0)
        cp.Problem(cp.Minimize(objective), [cp.sum(r) == 0]).solve(solver="CLARABEL")
        np.testing.assert_allclose(fit.rewards, r.value, atol=CVXPY_ATOL)  # Clarabel stops at ~1e-5
        assert float(P.btl_population_loss(r.value, c)) >= float(fit.loss) - 1e-12

    def test_no_minimizer_when_a_group_never_loses(self):
        c = np.array([[0, 0.5], [0.0, 0]])  # y1 always beats y2: r1 − r2 → ∞
        with pytest.raises(ValueError, match="no maximum-likelihood reward"):
            P.btl_maximum_likelihood(c)

    def test_rejects_malformed_matrices(self):
        with pytest.raises(ValueError, match="zero diagonal"):
            P.btl_maximum_likelihood(np.eye(2))
        with pytest.raises(ValueError, match="symmetric"):
            P.btl_comparison_probabilities([0.0, 1.0], [[0, 0.5], [0.2, 0]])

    def test_first_order_condition_symbolically(self):
        # ∂/∂r1 of −[c12 log σ(r1−r2) + c21 log σ(r2−r1)] vanishes where σ(r1−r2) = c12/(c12+c21).
        r1, r2 = sp.symbols("r1 r2", real=True)
        c12, c21 = sp.symbols("c12 c21", positive=True)
        sigma = lambda u: 1 / (1 + sp.exp(-u))  # noqa: E731
        loss = -(c12 * sp.log(sigma(r1 - r2)) + c21 * sp.log(sigma(r2 - r1)))
        at_optimum = sp.diff(loss, r1).subs(r1, r2 + sp.log(c12 / c21))
        assert sp.simplify(at_optimum) == 0
