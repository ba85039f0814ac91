"""Tests of pmtheory.iia.choice: hard, logit, soft and dichotomy choice models and the IIA test."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pmtheory.iia import choice
from pmtheory.iia.data import wilson_interval
from pmtheory.testing import reward_vectors


class TestHardChoiceProbabilities:
    def test_hand_example_with_a_tie(self):
        # Type 0 (p = 0.25) ties messages 0 and 2 at reward 1: 1/8 each; type 1 (0.75) picks 1.
        probs = choice.hard_choice_probabilities([0.25, 0.75], [[1.0, 0.0, 1.0], [0.0, 2.0, 1.0]], [0, 1, 2])
        np.testing.assert_allclose(probs, [0.125, 0.75, 0.125], atol=1e-15)

    def test_permuting_the_choice_set_permutes_the_output(self):
        rng = np.random.default_rng(0)
        rewards = rng.normal(size=(3, 5)).round(1)
        probs = np.array([0.2, 0.5, 0.3])
        base = choice.hard_choice_probabilities(probs, rewards, [0, 2, 4])
        permuted = choice.hard_choice_probabilities(probs, rewards, [4, 0, 2])
        np.testing.assert_allclose(permuted, base[[2, 0, 1]])

    @pytest.mark.parametrize("bad", [[0, 0], [], [0, 9], [0.5, 1.0]])
    def test_rejects_bad_choice_sets(self, bad):
        with pytest.raises((ValueError, TypeError), match="choice_set"):
            choice.hard_choice_probabilities([1.0], [[0.0, 1.0, 2.0]], bad)

    def test_rejects_unnormalized_types(self):
        with pytest.raises(ValueError, match="type_probs"):
            choice.hard_choice_probabilities([0.5, 0.6], [[0.0, 1.0], [1.0, 0.0]], [0, 1])


class TestLogitAndSoft:
    def test_logit_is_shift_invariant_softmax(self):
        rewards = np.array([0.3, -2.0, 5.0, 1.0])
        probs = choice.logit_choice_probabilities(rewards, [0, 2, 3])
        np.testing.assert_allclose(probs, choice.logit_choice_probabilities(rewards + 1e3, [0, 2, 3]), atol=1e-15)
        expected = np.exp(rewards[[0, 2, 3]]) / np.exp(rewards[[0, 2, 3]]).sum()
        np.testing.assert_allclose(probs, expected, rtol=1e-14)

    def test_one_type_soft_model_is_logit(self):
        rewards = np.array([[0.0, 1.0, -1.0]])
        np.testing.assert_allclose(choice.soft_choice_probabilities([1.0], rewards, [0, 1, 2]),
                                   choice.logit_choice_probabilities(rewards[0], [0, 1, 2]), atol=1e-16)

    def test_soft_model_is_the_type_mixture_of_softmax(self):
        rewards = np.array([[0.0, np.log(3.0)], [np.log(3.0), 0.0]])  # softmax (1/4, 3/4) and (3/4, 1/4)
        np.testing.assert_allclose(choice.soft_choice_probabilities([0.5, 0.5], rewards, [0, 1]), [0.5, 0.5])


class TestGumbelConstruction:
    def test_quadrature_equals_softmax(self):
        rewards = np.array([0.5, -1.0, 2.0])
        probs = [choice.gumbel_choice_probability_by_quadrature(rewards, [0, 1, 2], i) for i in range(3)]
        np.testing.assert_allclose(probs, choice.logit_choice_probabilities(rewards, [0, 1, 2]), atol=1e-13)

    def test_monte_carlo_lies_in_wilson_intervals(self):
        rewards = np.array([1.0, 0.0, -0.5])
        counts = choice.sample_gumbel_choices(rewards, [0, 1, 2], 100_000, seed=1)
        low, high = wilson_interval(counts, 100_000, 0.999)
        predicted = choice.logit_choice_probabilities(rewards, [0, 1, 2])
        assert np.all((low <= predicted) & (predicted <= high))

    def test_hard_samples_with_gumbel_noise_match_the_soft_model(self):
        probs, rewards = np.array([0.4, 0.6]), np.array([[0.0, 1.0, 2.0], [2.0, 0.0, 0.0]])
        counts = choice.sample_hard_choices(probs, rewards, [0, 1, 2], 100_000, seed=2, gumbel_noise=True)
        low, high = wilson_interval(counts, 100_000, 0.999)
        soft = choice.soft_choice_probabilities(probs, rewards, [0, 1, 2])
        assert np.all((low <= soft) & (soft <= high))

    def test_hard_sampler_breaks_ties_uniformly(self):
        counts = choice.sample_hard_choices([1.0], [[1.0, 1.0, 0.0]], [0, 1, 2], 40_000, seed=3)
        assert counts[2] == 0
        low, high = wilson_interval(counts[0], 40_000, 0.999)
        assert low <= 0.5 <= high


class TestDichotomy:
    def test_rewards_are_category_indicators(self):
        np.testing.assert_array_equal(choice.dichotomy_rewards([1, 2, 2]), [[1, 0, 0], [0, 1, 1]])

    def test_eq5_matches_the_definition_on_mixed_sets(self):
        categories = np.array([1, 2, 2, 1])
        for subset in ([0, 1], [0, 1, 2], [0, 1, 2, 3], [1, 3]):
            np.testing.assert_allclose(choice.dichotomy_eq5_probabilities(categories, 0.6, subset),
                                       choice.dichotomy_choice_probabilities(categories, 0.6, subset), atol=1e-15)

    def test_eq5_is_undefined_on_a_pure_set_where_the_definition_is_uniform(self):
        categories = np.array([1, 1, 2])
        assert choice.dichotomy_eq5_probabilities(categories, 0.5, [0, 1]) is None
        np.testing.assert_allclose(choice.dichotomy_choice_probabilities(categories, 0.5, [0, 1]), [0.5, 0.5])
        # With the missing type of probability 0, eq 5 is defined again.
        np.testing.assert_allclose(choice.dichotomy_eq5_probabilities(categories, 1.0, [0, 1]), [0.5, 0.5])

    def test_rejects_a_third_category(self):
        with pytest.raises(ValueError, match="categories"):
            choice.dichotomy_rewards([1, 3])


class TestExactVersions:
    def test_pet_example_in_rationals(self):
        half = Fraction(1, 2)
        rewards = [[1, 0, 0], [0, 1, 1]]
        assert choice.exact_hard_choice_probabilities([half, half], rewards, [0, 1, 2]) == \
            [half, Fraction(1, 4), Fraction(1, 4)]
        assert choice.exact_logit_choice_probabilities([1, 1, 1], [0, 1, 2]) == [Fraction(1, 3)] * 3

    def test_symbolic_logit(self):
        a, b = sp.symbols("a b", positive=True)
        probs = choice.exact_logit_choice_probabilities([a, b], [0, 1])
        assert sp.simplify(probs[0] + probs[1] - 1) == 0

    def test_exact_eq5_none_on_a_pure_set(self):
        assert choice.exact_dichotomy_eq5_probabilities([1, 1, 2], [Fraction(1, 2)] * 2, [0, 1]) is None


class TestIIATest:
    def test_logit_satisfies_and_dichotomy_violates_exactly(self):
        half = Fraction(1, 2)
        logit = choice.iia_test(lambda s: choice.exact_logit_choice_probabilities([1, 2, 3, 5], s), 4)
        assert logit.satisfies_iia and logit.max_violation == 0 and logit.witness is None
        dichotomy = choice.iia_test(lambda s: choice.exact_hard_choice_probabilities(
            [half, half], [[1, 0, 0], [0, 1, 1]], s), 3)
        assert not dichotomy.satisfies_iia
        x, y, first, second = dichotomy.witness
        assert {x, y} == {0, 1} and {first, second} == {(0, 1), (0, 1, 2)}

    @settings(max_examples=25)
    @given(reward_vectors(5).filter(lambda r: np.ptp(r) < 50))
    def test_logit_satisfies_iia_for_any_rewards(self, rewards):
        result = choice.iia_test(lambda s: choice.logit_choice_probabilities(rewards, list(s)), 5, tolerance=1e-14)
        assert result.satisfies_iia

    @settings(max_examples=20)
    @given(st.lists(st.sampled_from([1, 2]), min_size=3, max_size=5), st.floats(0.05, 0.95))
    def test_dichotomy_violates_iia_when_a_category_repeats(self, categories, p1):
        categories = [1, 2] + categories
        result = choice.iia_test(lambda s: choice.dichotomy_choice_probabilities(np.array(categories), p1, np.array(s)),
                                 len(categories), tolerance=1e-12)
        assert not result.satisfies_iia

    def test_rejects_large_message_sets(self):
        with pytest.raises(ValueError, match="num_messages"):
            choice.iia_test(lambda s: [1.0 / len(s)] * len(s), 11)
