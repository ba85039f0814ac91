"""Tests of pmtheory.iia.data: the Assumption-1 data process, composition counts, intervals."""

import numpy as np
import pytest
from scipy import stats

from pmtheory.iia.choice import dichotomy_choice_probabilities, dichotomy_rewards
from pmtheory.iia.data import (
    clopper_pearson_interval,
    composition_counts,
    cumulative_composition_counts,
    mean_interval,
    sample_choice_data,
    sample_dichotomy_data,
    wilson_interval,
)

CATEGORIES = np.r_[np.ones(10, int), np.full(100, 2)]


def _sample(seed=0, **overrides):
    kwargs = dict(num_datasets=50, num_data=400, choice_set_size=4, m1_size=10, m2_size=100, p_ref_m1=0.8,
                  p_star_1=0.6)
    kwargs.update(overrides)
    return sample_dichotomy_data(seed, **kwargs)


class TestSampleDichotomyData:
    def test_shapes_and_determinism(self):
        a, b = _sample(3), _sample(3)
        assert a.choice_sets.shape == (50, 400, 4) and a.chosen_position.shape == (50, 400)
        np.testing.assert_array_equal(a.choice_sets, b.choice_sets)
        np.testing.assert_array_equal(a.chosen, b.chosen)
        assert not np.array_equal(a.choice_sets, _sample(4).choice_sets)

    def test_choice_is_in_the_type_category_when_possible(self):
        data = _sample()
        in_m1 = CATEGORIES[data.choice_sets] == 1
        chosen_category = CATEGORIES[data.chosen]
        wanted = data.types + 1
        available = np.where(wanted[..., None] == 1, in_m1, ~in_m1).any(axis=-1)
        assert np.all(chosen_category[available] == wanted[available])

    def test_compositions_are_binomial(self):
        data = _sample(num_datasets=20, num_data=2000)
        k1 = (CATEGORIES[data.choice_sets] == 1).sum(axis=-1).ravel()
        observed = np.bincount(k1, minlength=5)
        expected = stats.binom.pmf(np.arange(5), 4, 0.8) * k1.size
        assert stats.chisquare(observed, expected).pvalue > 1e-4

    def test_mixed_choices_follow_the_type_distribution(self):
        counts = composition_counts(_sample(num_datasets=20, num_data=2000), CATEGORIES)
        mixed = counts[:, 1:4].sum(axis=(0, 1))
        low, high = wilson_interval(mixed[0], mixed.sum(), 0.999)
        assert low <= 0.6 <= high

    def test_general_sampler_reproduces_dichotomy_choices_on_a_fixed_set(self):
        # A message set of 3 with P_ref putting all mass on... every set is {0, 1, 2} up to order:
        # use K = 3 messages drawn from a point mass each; instead sample and condition on sets.
        ref = np.array([1 / 3, 1 / 3, 1 / 3])
        categories = np.array([1, 2, 2])
        data = sample_choice_data(5, num_datasets=1, num_data=60_000, choice_set_size=3, ref_probs=ref,
                                  type_probs=[0.5, 0.5], rewards=dichotomy_rewards(categories))
        sets = data.choice_sets[0]
        full = np.all(np.sort(sets, axis=1) == [0, 1, 2], axis=1)
        chosen = data.chosen[0][full]
        probs = dichotomy_choice_probabilities(categories, 0.5, [0, 1, 2])
        low, high = wilson_interval(np.bincount(chosen, minlength=3), full.sum(), 0.999)
        assert np.all((low <= probs) & (probs <= high))

    @pytest.mark.parametrize("bad", [dict(p_ref_m1=1.5), dict(num_data=0), dict(m2_size=0), dict(p_star_1=-0.1)])
    def test_rejects_bad_arguments(self, bad):
        with pytest.raises((ValueError, TypeError)):
            _sample(**bad)


class TestCompositionCounts:
    def test_counts_sum_to_the_data_and_respect_impossible_cells(self):
        counts = composition_counts(_sample(), CATEGORIES)
        assert counts.shape == (50, 5, 2)
        assert np.all(counts.sum(axis=(1, 2)) == 400)
        assert np.all(counts[:, 0, 0] == 0) and np.all(counts[:, 4, 1] == 0)

    def test_cumulative_counts_grow_and_end_at_the_full_counts(self):
        data = _sample()
        running = cumulative_composition_counts(data, CATEGORIES, np.array([1, 10, 400]))
        assert np.all(np.diff(running, axis=1) >= 0)
        np.testing.assert_array_equal(running[:, -1], composition_counts(data, CATEGORIES))
        assert np.all(running[:, 0].sum(axis=(1, 2)) == 1)

    def test_cumulative_counts_reject_sizes_beyond_the_data(self):
        with pytest.raises(ValueError, match="data_sizes"):
            cumulative_composition_counts(_sample(), CATEGORIES, np.array([401]))


class TestIntervals:
    def test_wilson_known_values(self):
        # Wilson 95% for 0/10 is [0, 0.2775] and for 10/10 is [0.7225, 1] (Agresti & Coull 1998).
        low, high = wilson_interval([0, 10], [10, 10])
        np.testing.assert_allclose(low, [0.0, 0.72245], atol=1e-4)
        np.testing.assert_allclose(high, [0.27755, 1.0], atol=1e-4)

    def test_clopper_pearson_contains_wilson_center_and_is_exact_at_edges(self):
        low, high = clopper_pearson_interval([0, 5, 10], [10, 10, 10])
        assert low[0] == 0.0 and high[2] == 1.0
        np.testing.assert_allclose(high[0], 1 - 0.025 ** (1 / 10), rtol=1e-10)
        assert low[1] < 0.5 < high[1]

    def test_mean_interval_covers_the_mean(self):
        rng = np.random.default_rng(0)
        covered = 0
        for _ in range(400):
            mean, low, high = mean_interval(rng.normal(1.0, 2.0, size=30))
            covered += low <= 1.0 <= high
        assert 0.92 <= covered / 400 <= 0.98

    def test_intervals_reject_bad_counts(self):
        with pytest.raises(ValueError):
            wilson_interval(11, 10)
        with pytest.raises(ValueError):
            mean_interval([1.0])
