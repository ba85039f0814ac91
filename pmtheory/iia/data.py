"""Preference data of seed 002 §5.1 (Assumption 1, dichotomy data) and for any hard choice
model on a finite message set, seeded and vectorized over independent datasets; and the
interval estimates the simulations report.

A dataset is ``N`` preference data ``(Y, y)``: a choice set ``Y`` of ``n`` messages, each
drawn independently from the base model P_ref (so a message may repeat: Y is a multiset, as
the paper notes in §2.4), and a choice ``y ∈ Y``. ``S`` independent datasets are drawn at once.

Under Assumption 1 every statistic the Assumption-2/3 losses need is in the *composition
counts*: how many data have ``k`` messages of M1 (``k = 0..n``) and their choice in category
``c`` (1 or 2); see :func:`composition_counts`.

Shape letters: ``S`` datasets (seeds), ``N`` data per dataset, ``n`` messages per choice set,
``K`` messages, ``T`` types.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §2.4, §3.6, §5.1
(Assumption 1), §5.3 (simulation setup).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from pmtheory._validation import as_float_array, check_finite, check_probabilities
from pmtheory.iia.choice import _check_unit_interval, _choose_among_maxima

__all__ = [
    "ChoiceData",
    "clopper_pearson_interval",
    "composition_counts",
    "cumulative_composition_counts",
    "mean_interval",
    "sample_choice_data",
    "sample_dichotomy_data",
    "wilson_interval",
]


@dataclass(frozen=True)
class ChoiceData:
    """S independent preference datasets of N data each, with choice sets of n messages."""

    choice_sets: np.ndarray  # (S, N, n) int: message indices of each choice set (a multiset)
    chosen_position: np.ndarray  # (S, N) int: position of the choice within its choice set
    types: np.ndarray  # (S, N) int: the 0-based type of the chooser of each datum
    num_messages: int  # K, the size of the message set

    @property
    def chosen(self) -> np.ndarray:
        """(S, N) int: the chosen message of each datum."""
        return np.take_along_axis(self.choice_sets, self.chosen_position[..., None], axis=-1)[..., 0]


def _check_count(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def sample_choice_data(seed: int, *, num_datasets: int, num_data: int, choice_set_size: int, ref_probs,
                       type_probs, rewards) -> ChoiceData:
    """Preference data from any hard choice model on a finite message set.

    Each datum: n messages drawn i.i.d. from ``ref_probs``; a type Z ~ ``type_probs``; the
    choice uniform on argmax_{x∈Y} r(x|Z) (eq 2).

    Source: seed 002, §2.4 and §3.3 (eq 2); Assumption 1 is the dichotomy special case.

    Args:
      seed: numpy Generator seed.
      num_datasets: S.
      num_data: N.
      choice_set_size: n.
      ref_probs: (K,) the base model's message distribution P_ref.
      type_probs: (T,) the type distribution.
      rewards: (T, K) r(x|z).

    Returns:
      A :class:`ChoiceData`.
    """
    s, big_n, n = (_check_count(num_datasets, "num_datasets"), _check_count(num_data, "num_data"),
                   _check_count(choice_set_size, "choice_set_size"))
    ref = as_float_array(ref_probs, "ref_probs")
    check_probabilities(ref, "ref_probs", strictly_positive=False)
    probs = as_float_array(type_probs, "type_probs")
    check_probabilities(probs, "type_probs", strictly_positive=False)
    table = as_float_array(rewards, "rewards", min_ndim=2)
    if table.shape != (probs.size, ref.size):
        raise ValueError(f"rewards must have shape (T, K) = ({probs.size}, {ref.size}), got {table.shape}")
    check_finite(table, "rewards")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(ref)
    cdf[-1] = 1.0
    sets = np.searchsorted(cdf, rng.random((s, big_n, n)), side="right")
    sets = np.minimum(sets, ref.size - 1)
    types = np.searchsorted(np.cumsum(probs)[:-1], rng.random((s, big_n)), side="right")
    values = table[types[..., None], sets]
    return ChoiceData(sets, _choose_among_maxima(values, rng), types, ref.size)


def sample_dichotomy_data(seed: int, *, num_datasets: int, num_data: int, choice_set_size: int, m1_size: int,
                          m2_size: int, p_ref_m1: float, p_star_1: float) -> ChoiceData:
    """Dichotomy data (Assumption 1), vectorized over S datasets.

    Messages 0..|M1|-1 form M1 and |M1|..|M1|+|M2|-1 form M2; P_ref is uniform within each
    category with P_ref(M1) = ``p_ref_m1``. Each message of a choice set is drawn by first
    drawing its category and then a message uniformly from it; the chooser's type Z is 1
    with probability ``p_star_1``; the choice is uniform on Y ∩ M_Z, or on Y when that is
    empty (every reward is 0 then, eq 2).

    Source: seed 002, §5.1, Assumption 1; §3.6.

    Args:
      seed: numpy Generator seed.
      num_datasets: S.
      num_data: N.
      choice_set_size: n = |Y|.
      m1_size: |M1|.
      m2_size: |M2|.
      p_ref_m1: P_ref(M1) in [0, 1].
      p_star_1: p*(1) in [0, 1].

    Returns:
      A :class:`ChoiceData` with types 0 (type 1) and 1 (type 2).
    """
    s, big_n, n = (_check_count(num_datasets, "num_datasets"), _check_count(num_data, "num_data"),
                   _check_count(choice_set_size, "choice_set_size"))
    k1, k2 = _check_count(m1_size, "m1_size"), _check_count(m2_size, "m2_size")
    zeta = _check_unit_interval(p_ref_m1, "p_ref_m1")
    p1 = _check_unit_interval(p_star_1, "p_star_1")
    rng = np.random.default_rng(seed)
    in_m1 = rng.random((s, big_n, n)) < zeta
    offsets = np.where(in_m1, rng.integers(0, k1, size=in_m1.shape), k1 + rng.integers(0, k2, size=in_m1.shape))
    types = (rng.random((s, big_n)) >= p1).astype(np.int64)  # 0: type 1, 1: type 2
    likes = np.where(types[..., None] == 0, in_m1, ~in_m1).astype(np.float64)  # r(x|Z) = 1_{M_Z}(x)
    return ChoiceData(offsets, _choose_among_maxima(likes, rng), types, k1 + k2)


def _cells(data: ChoiceData, categories) -> tuple[np.ndarray, int]:
    labels = np.asarray(categories)
    if labels.shape != (data.num_messages,) or not np.all(np.isin(labels, (1, 2))):
        raise ValueError(f"categories must have shape ({data.num_messages},) and hold only 1 and 2")
    n = data.choice_sets.shape[-1]
    k1 = (labels[data.choice_sets] == 1).sum(axis=-1)
    chosen_category = labels[data.chosen]
    return 2 * k1 + (chosen_category - 1), n


def composition_counts(data: ChoiceData, categories) -> np.ndarray:
    """Composition counts: how many data have k messages in M1 and their choice in M_c.

    Source: seed 002, Appendix A (ρ_data, ρ_chosen and the sets I, I_τ are functions of them).

    Args:
      data: S datasets.
      categories: (K,) the category (1 or 2) of each message.

    Returns:
      (S, n+1, 2) int counts[s, k, c-1].
    """
    cells, n = _cells(data, categories)
    flat = cells + (2 * (n + 1)) * np.arange(cells.shape[0])[:, None]
    counts = np.bincount(flat.ravel(), minlength=cells.shape[0] * 2 * (n + 1))
    return counts.reshape(cells.shape[0], n + 1, 2)


def cumulative_composition_counts(data: ChoiceData, categories, data_sizes) -> np.ndarray:
    """Composition counts of the first |D| data of each dataset, for each |D| in ``data_sizes``.

    The datasets of increasing size share their data (a growing dataset), as in the paper's
    curves of P(M1) against |D|.

    Args:
      data: S datasets of N data.
      categories: (K,) the category (1 or 2) of each message.
      data_sizes: (D,) sizes in [1, N].

    Returns:
      (S, D, n+1, 2) int counts.
    """
    sizes = np.asarray(data_sizes)
    if sizes.ndim != 1 or sizes.size == 0 or not np.issubdtype(sizes.dtype, np.integer):
        raise ValueError(f"data_sizes must be a non-empty 1-D integer array, got {data_sizes!r}")
    cells, n = _cells(data, categories)
    if sizes.min() < 1 or sizes.max() > cells.shape[1]:
        raise ValueError(f"data_sizes must lie in [1, {cells.shape[1]}], got {sizes.tolist()}")
    one_hot = np.zeros(cells.shape + (2 * (n + 1),), dtype=np.int32)
    np.put_along_axis(one_hot, cells[..., None], 1, axis=-1)
    running = np.cumsum(one_hot, axis=1)
    return running[:, sizes - 1].reshape(cells.shape[0], sizes.size, n + 1, 2).astype(np.int64)


# ---------------------------------------------------------------------------------------
# Interval estimates
# ---------------------------------------------------------------------------------------


def _binomial_counts(successes, trials, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """(successes, trials) as float arrays, checked: 0 <= successes <= trials, trials >= 1."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError(f"{caller} needs 0 <= successes <= trials and trials >= 1")
    return k, n


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (vectorized).

    Args:
      successes: (...) counts.
      trials: (...) numbers of trials (>= 1).
      confidence: two-sided level.

    Returns:
      (low, high), each shaped like the broadcast inputs.
    """
    k, n = _binomial_counts(successes, trials, "wilson_interval")
    z = stats.norm.ppf(0.5 + confidence / 2)
    phat = k / n
    center = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0)


def clopper_pearson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson (exact) interval for a binomial proportion (vectorized).

    Args:
      successes: (...) counts.
      trials: (...) numbers of trials (>= 1).
      confidence: two-sided level.

    Returns:
      (low, high).
    """
    k, n = _binomial_counts(successes, trials, "clopper_pearson_interval")
    alpha = 1 - confidence
    low = np.where(k > 0, stats.beta.ppf(alpha / 2, np.maximum(k, 1e-300), n - k + 1), 0.0)
    high = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    return low, high


def mean_interval(samples, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student-t interval for a mean over ``axis`` (the seeds).

    Args:
      samples: array with the seeds on ``axis``.
      confidence: two-sided level.
      axis: the seeds' axis.

    Returns:
      (mean, low, high).
    """
    x = np.asarray(samples, dtype=np.float64)
    count = x.shape[axis]
    if count < 2:
        raise ValueError(f"mean_interval needs at least 2 samples on axis {axis}, got {count}")
    mean = x.mean(axis=axis)
    half = stats.t.ppf(0.5 + confidence / 2, count - 1) * x.std(axis=axis, ddof=1) / np.sqrt(count)
    return mean, mean - half, mean + half
