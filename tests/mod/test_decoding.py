"""Tests of pmtheory.mod.decoding: the Thm 5 rule, eq 7 and the published code's formulas."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import log_softmax

from pmtheory.divergences import get_divergence
from pmtheory.mod import optimal_policy as mod_optimal_policy
from pmtheory.mod.decoding import (
    code_alpha_log_scores,
    code_forward_kl_log_scores,
    code_reverse_kl_log_scores,
    prefix_thm5_log_scores,
    product_rule_log_scores,
    published_code_log_scores,
    sampling_policy,
    thm5_argmax,
    thm5_log_scores,
    thm5_rule_defined,
)

BARRIERS = ("reverse_kl", "forward_kl", "js", "alpha:0.3", "alpha:0.9", "hellinger")


@st.composite
def policies_and_weights(draw, max_k=6, spread=20.0):
    """(log π_i (M, K), w on the simplex, log π_ref (K,)); probabilities down to e^-spread."""
    m, k = draw(st.integers(1, 3)), draw(st.integers(1, max_k))
    logits = np.asarray(draw(st.lists(st.floats(-spread, 0), min_size=m * k, max_size=m * k))).reshape(m, k)
    raw = np.asarray(draw(st.lists(st.sampled_from([0.0, 0.2, 1.0, 3.0]), min_size=m, max_size=m)))
    raw[0] = raw[0] if raw.sum() > 0 else 1.0
    reference = np.asarray(draw(st.lists(st.floats(-spread, 0), min_size=k, max_size=k)))
    return log_softmax(logits, axis=-1), raw / raw.sum(), log_softmax(reference)


class TestThm5LogScores:
    @given(st.sampled_from(BARRIERS), policies_and_weights(spread=6.0))
    def test_equals_the_formula_in_linear_space(self, divergence, instance):
        # π_ref·(f')⁻¹(Σ w f'(π_i/π_ref)) evaluated directly with the divergence's f' and its inverse;
        # ratios up to e^12 keep the linear form's cancellation (S − f' near S) below 1e-9.
        log_pi, weights, log_q = instance
        div = get_divergence(divergence)
        u = weights @ div.f_prime(np.exp(log_pi - log_q))
        direct = np.log(np.exp(log_q) * div.f_prime_inverse(np.minimum(u, np.nextafter(div.sup_f_prime, 0))))
        scores = thm5_log_scores(log_pi, weights, log_q, divergence=divergence)
        np.testing.assert_allclose(scores, direct, atol=1e-9 * (1 + np.abs(direct).max()), rtol=0)

    def test_reverse_kl_is_the_product_rule(self):
        # eq 7: π_ref cancels, the score is Σ w log π_i.
        log_pi = np.log([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        scores = thm5_log_scores(log_pi, [0.25, 0.75], np.log([0.6, 0.3, 0.1]))
        np.testing.assert_allclose(scores, 0.25 * log_pi[0] + 0.75 * log_pi[1], atol=1e-15)

    def test_forward_kl_is_the_weighted_harmonic_mean(self):
        # f'(t) = −1/t gives 1/Σ w_i/π_i, whatever π_ref: 1/(0.5/0.2 + 0.5/0.4) = 1/3.75.
        scores = thm5_log_scores(np.log([[0.2, 0.8], [0.4, 0.6]]), [0.5, 0.5], np.log([0.9, 0.1]),
                                 divergence="forward_kl")
        assert scores[0] == pytest.approx(np.log(1 / 3.75), abs=1e-15)

    def test_vertex_weights_give_the_base_policy(self):
        log_pi = np.log([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        for divergence in BARRIERS:
            scores = thm5_log_scores(log_pi, [0.0, 1.0], np.log([0.3, 0.3, 0.4]), divergence=divergence)
            np.testing.assert_allclose(scores, log_pi[1], atol=1e-14)

    @pytest.mark.parametrize("divergence", BARRIERS)
    def test_extreme_ratios_stay_exact_at_a_vertex(self, divergence):
        # ρ = 0.5/e^-40 ≈ 1e17: the linear form of JS would lose everything to S − f'(ρ) cancellation.
        log_pi = np.log([[0.5, 0.5], [0.5, 0.5]])
        log_q = np.array([np.log1p(-np.exp(-40.0)), -40.0])
        scores = thm5_log_scores(log_pi, [1.0, 0.0], log_q, divergence=divergence)
        np.testing.assert_allclose(scores, log_pi[0], atol=1e-14)

    def test_argmax_ties_go_to_the_first(self):
        assert thm5_argmax(np.log([[0.5, 0.5]]), [1.0], np.log([0.5, 0.5])) == 0

    def test_batched_equals_looped(self):
        rng = np.random.default_rng(0)
        log_pi = log_softmax(rng.normal(size=(2, 3, 4)), axis=-1)
        log_q = log_softmax(rng.normal(size=(3, 4)), axis=-1)
        batched = thm5_log_scores(log_pi, [0.4, 0.6], log_q, divergence="js")
        for b in range(3):
            np.testing.assert_allclose(batched[b], thm5_log_scores(log_pi[:, b], [0.4, 0.6], log_q[b], divergence="js"),
                                       atol=1e-15)


class TestNegativeWeights:
    # The paper's Table 1 weights (5, −4), K = 2, uniform π_ref, π_1 = (0.9, 0.1), π_2 = (0.1, 0.9).
    LOG_PI = np.log([[0.9, 0.1], [0.1, 0.9]])
    LOG_Q = np.log([0.5, 0.5])
    WEIGHTS = np.array([5.0, -4.0])

    def test_reverse_kl_rule_stays_defined(self):
        assert thm5_rule_defined(self.LOG_PI, self.WEIGHTS, self.LOG_Q).all()
        scores = thm5_log_scores(self.LOG_PI, self.WEIGHTS, self.LOG_Q)
        np.testing.assert_allclose(scores, 5 * self.LOG_PI[0] - 4 * self.LOG_PI[1], atol=1e-14)

    @pytest.mark.parametrize("divergence", ["forward_kl", "js", "alpha:0.5", "hellinger"])
    def test_bounded_derivative_rules_become_undefined(self, divergence):
        # y1: 5 f'(1.8) − 4 f'(0.2) ≥ sup f' for these f (e.g. forward KL: −5/1.8 + 4·5 = 17.2 ≥ 0).
        defined = thm5_rule_defined(self.LOG_PI, self.WEIGHTS, self.LOG_Q, divergence=divergence)
        assert defined.tolist() == [False, True]
        with pytest.raises(ValueError, match="undefined"):
            thm5_log_scores(self.LOG_PI, self.WEIGHTS, self.LOG_Q, divergence=divergence)

    def test_prop1_stays_defined_where_the_rule_is_not(self):
        sol = mod_optimal_policy(np.exp(self.LOG_PI), self.WEIGHTS, np.exp(self.LOG_Q), divergence="forward_kl")
        assert np.all(np.isfinite(sol.policy)) and sol.kkt_residual <= 1e-12

    @pytest.mark.parametrize("divergence", ["forward_kl", "alpha:0.3"])
    def test_published_code_breaks(self, divergence):
        with pytest.raises(ValueError, match="log w_i"):
            published_code_log_scores(self.LOG_PI, self.WEIGHTS, divergence=divergence)

    def test_published_reverse_kl_branch_works(self):
        scores = published_code_log_scores(self.LOG_PI, self.WEIGHTS, divergence="reverse_kl")
        assert np.all(np.isfinite(scores))


class TestPublishedCode:
    @given(policies_and_weights())
    def test_forward_kl_branch_is_the_thm5_score(self, instance):
        log_pi, weights, log_q = instance
        np.testing.assert_allclose(code_forward_kl_log_scores(log_pi, weights),
                                   thm5_log_scores(log_pi, weights, log_q, divergence="forward_kl"), atol=1e-12)

    @given(policies_and_weights(), st.sampled_from([0.1, 0.3, 0.5, 0.9]))
    def test_alpha_branch_is_alpha_times_the_thm5_score(self, instance, alpha):
        # The code omits the 1/α of −(1/α)·logsumexp: same argmax, other temperature.
        log_pi, weights, log_q = instance
        exact = thm5_log_scores(log_pi, weights, log_q, divergence=f"alpha:{alpha}")
        np.testing.assert_allclose(code_alpha_log_scores(log_pi, weights, alpha), alpha * exact,
                                   atol=1e-12 * (1 + np.abs(exact).max()))

    def test_jsd_branch_is_the_reverse_kl_rule(self):
        log_pi = np.log([[0.1, 0.3, 0.6], [0.8, 0.1, 0.1]])
        np.testing.assert_array_equal(published_code_log_scores(log_pi, [0.5, 0.5], divergence="js"),
                                      code_reverse_kl_log_scores(log_pi, [0.5, 0.5]))

    def test_jsd_shortcut_picks_another_response(self):
        # MOD-D2's counterexample: JS's rule picks y3, Σ w log π picks y2.
        log_pi = np.log([[0.1, 0.3, 0.6], [0.8, 0.1, 0.1]])
        log_q = np.log([0.1, 0.1, 0.8])
        assert thm5_argmax(log_pi, [0.5, 0.5], log_q, divergence="js") == 2
        assert np.argmax(published_code_log_scores(log_pi, [0.5, 0.5], divergence="js")) == 0

    def test_zero_weights_are_dropped(self):
        log_pi = np.log([[0.2, 0.8], [0.6, 0.4]])
        np.testing.assert_allclose(code_forward_kl_log_scores(log_pi, [1.0, 0.0]), log_pi[0], atol=1e-15)

    def test_hellinger_has_no_branch(self):
        with pytest.raises(ValueError, match="no branch"):
            published_code_log_scores(np.log([[0.5, 0.5]]), [1.0], divergence="hellinger")


class TestPrefixScores:
    def test_match_thm5_on_normalized_inputs(self):
        log_pi = np.log([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        log_q = np.log([0.3, 0.3, 0.4])
        for divergence in BARRIERS:
            np.testing.assert_allclose(prefix_thm5_log_scores(log_pi, [0.3, 0.7], log_q, divergence=divergence),
                                       thm5_log_scores(log_pi, [0.3, 0.7], log_q, divergence=divergence), atol=1e-15)

    def test_accept_unnormalized_prefix_probabilities(self):
        scores = prefix_thm5_log_scores(np.log([[0.1, 0.2]]), [1.0], np.log([0.3, 0.1]))
        np.testing.assert_allclose(scores, np.log([0.1, 0.2]), atol=1e-15)

    def test_reject_positive_log_probabilities(self):
        with pytest.raises(ValueError, match="≤ 0"):
            prefix_thm5_log_scores(np.array([[0.5, -1.0]]), [1.0], np.log([0.3, 0.1]))


class TestProductRuleAndSampling:
    def test_zero_weight_on_a_zero_probability_is_zero(self):
        scores = product_rule_log_scores(np.array([[0.0, -np.inf], [np.log(0.5), np.log(0.5)]]), [0.0, 1.0])
        np.testing.assert_allclose(scores, np.log([0.5, 0.5]))

    def test_sampling_policy_normalizes(self):
        np.testing.assert_allclose(sampling_policy(np.log([1.0, 3.0])), [0.25, 0.75])
        with pytest.raises(ValueError, match="-inf everywhere"):
            sampling_policy([-np.inf, -np.inf])

    def test_validation(self):
        with pytest.raises(ValueError, match="weights must sum to 1"):
            thm5_log_scores(np.log([[0.5, 0.5]]), [0.5], np.log([0.5, 0.5]))
        with pytest.raises(ValueError, match="barrier"):
            thm5_log_scores(np.log([[0.5, 0.5]]), [1.0], np.log([0.5, 0.5]), divergence="chi2")
        with pytest.raises(ValueError, match="log-sum-exp"):
            thm5_log_scores(np.log([[0.5, 0.6]]), [1.0], np.log([0.5, 0.5]))
        with pytest.raises(ValueError, match="alpha"):
            code_alpha_log_scores(np.log([[0.5, 0.5]]), [1.0], 1.5)
