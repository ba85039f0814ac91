"""Choice models of seed 002 §3: hard choice (eq 2), logit with its Gumbel construction
(eq 3), soft choice (eq 4), the dichotomy model (eq 5), and the IIA test (eq 6).

A choice model on a finite message set ``M = {0, ..., K-1}`` is a triple ``(Z, p, r)``:
``T`` individual types with probabilities ``type_probs`` (shape ``(T,)``) and rewards
``rewards[z, x] = r(x|z)`` (shape ``(T, K)``). A choice set is a sequence of ``n`` distinct
message indices; choice probabilities are returned in the order of the choice set.

Shape letters: ``K`` messages, ``T`` types, ``n`` messages in a choice set.

Two kinds of function live here. The float functions (``hard_choice_probabilities``, ...)
take numpy arrays. The ``exact_*`` functions take Python sequences and use only +, −, ×, ÷
and comparisons, so they return exact rationals for ``fractions.Fraction`` inputs (and exact
sympy expressions for sympy inputs); the claim checks use them for the paper's rational
examples.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §3.3-3.7, eq (2)-(6).
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.special import log_softmax

from pmtheory._validation import as_float_array, check_finite, check_probabilities

__all__ = [
    "IIAResult",
    "dichotomy_choice_probabilities",
    "dichotomy_eq5_probabilities",
    "dichotomy_rewards",
    "exact_dichotomy_eq5_probabilities",
    "exact_hard_choice_probabilities",
    "exact_logit_choice_probabilities",
    "gumbel_choice_probability_by_quadrature",
    "hard_choice_probabilities",
    "iia_test",
    "logit_choice_probabilities",
    "noisy_choice_probability_by_quadrature",
    "sample_gumbel_choices",
    "sample_noisy_choices",
    "sample_hard_choices",
    "soft_choice_probabilities",
]


def _check_choice_set(choice_set, num_messages: int, name: str = "choice_set") -> np.ndarray:
    if isinstance(choice_set, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of message indices, got a {type(choice_set).__name__}")
    indices = np.asarray(choice_set)
    if indices.ndim != 1 or indices.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of message indices, got shape {indices.shape}")
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{name} must hold integer message indices, got dtype {indices.dtype}")
    if indices.min() < 0 or indices.max() >= num_messages:
        raise ValueError(f"{name} must hold indices in [0, {num_messages - 1}], got {indices.tolist()}")
    if np.unique(indices).size != indices.size:
        raise ValueError(f"{name} must hold distinct messages (a set), got {indices.tolist()}")
    return indices


def _check_model(type_probs, rewards, choice_set) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (type probabilities (T,), rewards (T, K), choice-set indices (n,))."""
    probs = as_float_array(type_probs, "type_probs")
    if probs.ndim != 1:
        raise ValueError(f"type_probs must have shape (T,), got {probs.shape}")
    check_probabilities(probs, "type_probs", strictly_positive=False)
    table = as_float_array(rewards, "rewards", min_ndim=2)
    if table.ndim != 2 or table.shape[0] != probs.size:
        raise ValueError(f"rewards must have shape (T, K) = ({probs.size}, K), got {table.shape}")
    check_finite(table, "rewards")
    return probs, table, _check_choice_set(choice_set, table.shape[1])


def _check_base_rewards(base_rewards, choice_set) -> tuple[np.ndarray, np.ndarray]:
    """Validated (base rewards r̄ (K,), choice-set indices (n,))."""
    rewards = as_float_array(base_rewards, "base_rewards")
    check_finite(rewards, "base_rewards")
    return rewards, _check_choice_set(choice_set, rewards.size)


def hard_choice_probabilities(type_probs, rewards, choice_set) -> np.ndarray:
    """Hard choice probabilities: the chooser samples uniformly from argmax_{x∈Y} r(x|Z).

    .. math:: P(Y = y | \\mathcal{Y}) = E_Z[1(y ∈ argmax_{x∈\\mathcal{Y}} r(x|Z)) / |argmax|]

    Source: seed 002, §3.3, eq (2).

    Args:
      type_probs: (T,) the type distribution p.
      rewards: (T, K) the rewards r(x|z).
      choice_set: (n,) distinct message indices.

    Returns:
      (n,) choice probabilities in the order of ``choice_set``; exact ties split evenly.
    """
    probs, table, indices = _check_model(type_probs, rewards, choice_set)
    values = table[:, indices]  # (T, n)
    is_max = values == values.max(axis=1, keepdims=True)
    return probs @ (is_max / is_max.sum(axis=1, keepdims=True))


def soft_choice_probabilities(type_probs, rewards, choice_set) -> np.ndarray:
    """Soft choice probabilities: a type-mixture of softmax choices.

    .. math:: P(Y = y | \\mathcal{Y}) = E_Z[e^{r(y|Z)} / Σ_{y'∈\\mathcal{Y}} e^{r(y'|Z)}]

    Source: seed 002, §3.5, eq (4).

    Args:
      type_probs: (T,) the type distribution p.
      rewards: (T, K) the rewards r(x|z).
      choice_set: (n,) distinct message indices.

    Returns:
      (n,) choice probabilities in the order of ``choice_set``.
    """
    probs, table, indices = _check_model(type_probs, rewards, choice_set)
    return probs @ np.exp(log_softmax(table[:, indices], axis=1))


def logit_choice_probabilities(base_rewards, choice_set) -> np.ndarray:
    """Logit (softmax) choice probabilities of the base reward r̄ on a choice set.

    .. math:: P(Y = y | \\mathcal{Y}) = e^{\\bar r(y)} / Σ_{y'∈\\mathcal{Y}} e^{\\bar r(y')}

    Source: seed 002, §3.4, eq (3).

    Args:
      base_rewards: (K,) the base reward r̄.
      choice_set: (n,) distinct message indices.

    Returns:
      (n,) choice probabilities in the order of ``choice_set``.
    """
    rewards = as_float_array(base_rewards, "base_rewards")
    if rewards.ndim != 1:
        raise ValueError(f"base_rewards must have shape (K,), got {rewards.shape}")
    check_finite(rewards, "base_rewards")
    indices = _check_choice_set(choice_set, rewards.size)
    return np.exp(log_softmax(rewards[indices]))


def gumbel_choice_probability_by_quadrature(base_rewards, choice_set, position: int, *, dps: int = 30) -> float:
    """P(y wins) for the hard choice with i.i.d. standard Gumbel perturbations, by quadrature.

    The integral of eq (2) for the logit model of §3.4, evaluated with mpmath, without using
    the softmax form it is claimed to equal:

    .. math:: P(y) = ∫ g(z − \\bar r(y)) Π_{y' ≠ y} G(z − \\bar r(y')) dz,\\quad
              G(t) = e^{-e^{-t}},\\ g = G'

    Source: seed 002, §3.4 (the Gumbel construction of the logit model).

    Args:
      base_rewards: (K,) the base reward r̄.
      choice_set: (n,) distinct message indices.
      position: which member of ``choice_set`` (0-based) to compute the probability of.
      dps: mpmath working precision in decimal digits.

    Returns:
      The probability, as a float (:func:`noisy_choice_probability_by_quadrature` with
      ``noise="gumbel", scale=1``).
    """
    return noisy_choice_probability_by_quadrature(base_rewards, choice_set, position, noise="gumbel", scale=1.0,
                                                  dps=dps)


_NOISES = ("gumbel", "normal")


def _check_noise(noise: str, scale) -> float:
    if noise not in _NOISES:
        raise ValueError(f"noise must be one of {', '.join(_NOISES)}, got {noise!r}")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not float(scale) > 0:
        raise ValueError(f"scale must be a real number > 0, got {scale!r}")
    return float(scale)


def noisy_choice_probability_by_quadrature(base_rewards, choice_set, position: int, *, noise: str = "gumbel",
                                           scale: float = 1.0, dps: int = 30) -> float:
    """P(y wins) for the hard choice argmax r̄(x) + s·W(x), W(x) i.i.d. standard ``noise``.

    The integral of eq (2) over one type per perturbation draw, by mpmath quadrature, with
    the noise's own density g and CDF G (never through a softmax):

    .. math:: P(y) = ∫ \\tfrac1s g\\big(\\tfrac{z − \\bar r(y)}{s}\\big)
              Π_{y' ≠ y} G\\big(\\tfrac{z − \\bar r(y')}{s}\\big) dz

    ``noise="gumbel", scale=1`` is the construction of §3.4; ``"normal"`` (the probit model)
    and other scales are the nearby statements a claim check is mutated to.

    Source: seed 002, §3.4-3.5 (eq 2 with Gumbel perturbations).

    Args:
      base_rewards: (K,) the base reward r̄.
      choice_set: (n,) distinct message indices.
      position: which member of ``choice_set`` (0-based).
      noise: ``"gumbel"`` or ``"normal"``.
      scale: s > 0.
      dps: mpmath working precision in decimal digits.

    Returns:
      The probability, as a float.
    """
    import mpmath

    scale = _check_noise(noise, scale)
    rewards, indices = _check_base_rewards(base_rewards, choice_set)
    if not 0 <= int(position) < indices.size:
        raise ValueError(f"position must be in [0, {indices.size - 1}], got {position}")
    with mpmath.workdps(dps):
        s = mpmath.mpf(scale)
        values = [mpmath.mpf(float(v)) for v in rewards[indices]]
        target = values[int(position)]
        others = [v for i, v in enumerate(values) if i != int(position)]
        if noise == "gumbel":
            def density(t):
                return mpmath.exp(-t - mpmath.exp(-t))

            def log_cdf(t):
                return -mpmath.exp(-t)
        else:
            def density(t):
                return mpmath.npdf(t)

            def log_cdf(t):
                return mpmath.log(mpmath.ncdf(t))

        def integrand(z):
            return density((z - target) / s) / s * mpmath.exp(mpmath.fsum(log_cdf((z - v) / s) for v in others))

        # Both densities are negligible beyond 60 scales of the rewards' range.
        low, high = min(values) - 60 * s, max(values) + 60 * s
        return float(mpmath.quad(integrand, [low, target - 5 * s, target, target + 5 * s, high]))


def sample_noisy_choices(base_rewards, choice_set, num_samples: int, seed: int, *, noise: str = "gumbel",
                         scale: float = 1.0) -> np.ndarray:
    """Monte Carlo of argmax r̄(x) + s·W(x), W(x) i.i.d. standard ``noise`` (§3.4; see
    :func:`noisy_choice_probability_by_quadrature`).

    Returns:
      (n,) integer counts of how often each member of ``choice_set`` was chosen.
    """
    scale = _check_noise(noise, scale)
    rewards, indices = _check_base_rewards(base_rewards, choice_set)
    rng = np.random.default_rng(seed)
    shape = (int(num_samples), indices.size)
    draws = rng.gumbel(size=shape) if noise == "gumbel" else rng.standard_normal(shape)
    winners = np.argmax(rewards[indices] + scale * draws, axis=1)
    return np.bincount(winners, minlength=indices.size)


def sample_gumbel_choices(base_rewards, choice_set, num_samples: int, seed: int) -> np.ndarray:
    """Monte Carlo of the hard choice with i.i.d. standard Gumbel perturbations (§3.4).

    Each sample draws Z(x) ~ Gumbel(0, 1) independently and picks argmax r̄(x) + Z(x).

    Args:
      base_rewards: (K,) the base reward r̄.
      choice_set: (n,) distinct message indices.
      num_samples: how many independent choices.
      seed: numpy Generator seed.

    Returns:
      (n,) integer counts of how often each member of ``choice_set`` was chosen
      (:func:`sample_noisy_choices` with ``noise="gumbel", scale=1``).
    """
    return sample_noisy_choices(base_rewards, choice_set, num_samples, seed, noise="gumbel", scale=1.0)


def sample_hard_choices(type_probs, rewards, choice_set, num_samples: int, seed: int, *,
                        gumbel_noise: bool = False) -> np.ndarray:
    """Monte Carlo of a hard choice model, optionally with added Gumbel noise (§3.5).

    Each sample draws Z ~ p and picks uniformly among argmax_{x∈Y} r(x|Z) (+ W(x), with
    W(x) i.i.d. standard Gumbel when ``gumbel_noise``: the hard model (Z', p', r') of §3.5).

    Args:
      type_probs: (T,) the type distribution p.
      rewards: (T, K) the rewards r(x|z).
      choice_set: (n,) distinct message indices.
      num_samples: how many independent choices.
      seed: numpy Generator seed.
      gumbel_noise: add i.i.d. standard Gumbel perturbations to every reward.

    Returns:
      (n,) integer counts of how often each member of ``choice_set`` was chosen.
    """
    probs, table, indices = _check_model(type_probs, rewards, choice_set)
    rng = np.random.default_rng(seed)
    types = rng.choice(probs.size, size=int(num_samples), p=probs)
    values = table[types][:, indices]
    if gumbel_noise:
        values = values + rng.gumbel(size=values.shape)
    return np.bincount(_choose_among_maxima(values, rng), minlength=indices.size)


def _choose_among_maxima(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row of the last axis: a uniformly random position among the maxima (eq 2's tie-break).

    Uniform tie-breaking: the largest uniform key among the maximizers wins.
    """
    is_max = values == values.max(axis=-1, keepdims=True)
    keys = np.where(is_max, rng.random(values.shape), -1.0)
    return np.argmax(keys, axis=-1)


def dichotomy_rewards(categories) -> np.ndarray:
    """Rewards of the dichotomy model: r(x|z) = 1 if x ∈ M_z else 0, for types z ∈ {1, 2}.

    Source: seed 002, §3.6.

    Args:
      categories: (K,) the category (1 or 2) of each message.

    Returns:
      (2, K) rewards; row 0 is type 1, row 1 is type 2.
    """
    labels = np.asarray(categories)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"categories must be a non-empty 1-D array of 1s and 2s, got shape {labels.shape}")
    if not np.all(np.isin(labels, (1, 2))):
        raise ValueError(f"categories must hold only 1 and 2, got {np.unique(labels).tolist()}")
    return np.stack([labels == 1, labels == 2]).astype(np.float64)


def dichotomy_choice_probabilities(categories, p_star_1: float, choice_set) -> np.ndarray:
    """Choice probabilities of the dichotomy model by its definition as a hard choice model.

    The chooser of type Z picks uniformly from argmax_{x∈Y} 1_{M_Z}(x): from Y ∩ M_Z when it
    is non-empty, and from all of Y when it is empty (every reward is then 0).

    Source: seed 002, §3.6 (the dichotomy model) with eq (2).

    Args:
      categories: (K,) the category (1 or 2) of each message.
      p_star_1: the probability of type 1 (type 2 has 1 − p_star_1).
      choice_set: (n,) distinct message indices.

    Returns:
      (n,) choice probabilities in the order of ``choice_set``.
    """
    p1 = _check_unit_interval(p_star_1, "p_star_1")
    return hard_choice_probabilities(np.array([p1, 1.0 - p1]), dichotomy_rewards(categories), choice_set)


def dichotomy_eq5_probabilities(categories, p_star_1: float, choice_set) -> np.ndarray | None:
    """Eq (5) as printed: P(Y = y | Y) = E_Z[1_{M_Z}(y) / |Y ∩ M_Z|].

    Source: seed 002, §3.6, eq (5).

    Args:
      categories: (K,) the category (1 or 2) of each message.
      p_star_1: the probability of type 1.
      choice_set: (n,) distinct message indices.

    Returns:
      (n,) probabilities, or None where eq (5) is undefined: a type of positive probability
      whose category misses the choice set gives 0/0.
    """
    p1 = _check_unit_interval(p_star_1, "p_star_1")
    labels = np.asarray(categories)
    dichotomy_rewards(labels)  # validates
    indices = _check_choice_set(choice_set, labels.size)
    members = labels[indices]
    result = np.zeros(indices.size)
    for z, pz in ((1, p1), (2, 1.0 - p1)):
        in_z = members == z
        if pz == 0.0:
            continue
        if not in_z.any():
            return None
        result += pz * in_z / in_z.sum()
    return result


def _check_unit_interval(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1], got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


# ---------------------------------------------------------------------------------------
# Exact (rational / symbolic) versions
# ---------------------------------------------------------------------------------------


def _exact(value):
    """Python ints become Fractions (so that / stays exact); other values pass through."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return Fraction(int(value))
    if isinstance(value, float):
        raise TypeError(f"exact functions take Fractions, ints or sympy values, got the float {value!r}")
    return value


def exact_hard_choice_probabilities(type_probs: Sequence, rewards: Sequence[Sequence],
                                    choice_set: Sequence[int]) -> list:
    """Eq (2) in exact arithmetic: Fractions in, Fractions out.

    Source: seed 002, §3.3, eq (2).

    Args:
      type_probs: T exact type probabilities.
      rewards: T rows of K exact rewards r(x|z).
      choice_set: n distinct message indices.

    Returns:
      n exact choice probabilities, in the order of ``choice_set``.
    """
    if len(type_probs) != len(rewards):
        raise ValueError(f"type_probs has {len(type_probs)} types but rewards has {len(rewards)} rows")
    choice_set = list(choice_set)
    if len(set(choice_set)) != len(choice_set) or not choice_set:
        raise ValueError(f"choice_set must be a non-empty set of message indices, got {choice_set}")
    total = [Fraction(0)] * len(choice_set)
    for pz, row in zip(type_probs, rewards):
        pz = _exact(pz)
        values = [_exact(row[x]) for x in choice_set]
        top = max(values)
        winners = [i for i, v in enumerate(values) if v == top]
        for i in winners:
            total[i] = total[i] + pz / len(winners)
    return total


def exact_logit_choice_probabilities(weights: Sequence, choice_set: Sequence[int]) -> list:
    """Eq (3) in exact arithmetic, from the weights w(x) = e^{r̄(x)}: w(y) / Σ_{y'∈Y} w(y').

    Source: seed 002, §3.4, eq (3).

    Args:
      weights: K exact positive weights e^{r̄(x)} (Fractions, or sympy expressions such as
        ``sympy.exp(r)``).
      choice_set: n distinct message indices.

    Returns:
      n exact choice probabilities, in the order of ``choice_set``.
    """
    choice_set = list(choice_set)
    total = sum(_exact(weights[x]) for x in choice_set)
    return [_exact(weights[x]) / total for x in choice_set]


def exact_dichotomy_eq5_probabilities(categories: Sequence[int], type_probs: Sequence,
                                      choice_set: Sequence[int]) -> list | None:
    """Eq (5) as printed, in exact arithmetic; None where it is undefined (0/0).

    Source: seed 002, §3.6, eq (5).

    Args:
      categories: K categories (1 or 2).
      type_probs: the two exact type probabilities (p(1), p(2)).
      choice_set: n distinct message indices.

    Returns:
      n exact probabilities, or None when a type of positive probability has no message of
      its category in the choice set.
    """
    members = [categories[x] for x in choice_set]
    total = [Fraction(0)] * len(members)
    for z, pz in zip((1, 2), (_exact(v) for v in type_probs)):
        count = sum(1 for c in members if c == z)
        if pz == 0:
            continue
        if count == 0:
            return None
        total = [t + (pz / count if c == z else 0) for t, c in zip(total, members)]
    return total


# ---------------------------------------------------------------------------------------
# The IIA test
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IIAResult:
    """Outcome of the IIA test (eq 6) over every pair of choice sets of a finite message set."""

    satisfies_iia: bool  # whether no comparison violated eq (6) (beyond the tolerance)
    max_violation: object  # max |P(x|X)P(x'|X') − P(x'|X)P(x|X')| (exact type for exact input)
    witness: tuple | None  # (x, x', X, X') attaining it, or None when it is 0
    comparisons: int  # how many (x, x', X, X') quadruples were compared


def iia_test(choice_probabilities: Callable[[tuple], Sequence], num_messages: int, *, tolerance: float = 0.0,
             max_set_size: int | None = None) -> IIAResult:
    """Test IIA (eq 6) for a choice model on every pair of choice sets of M = {0..K-1}.

    Eq (6) asks that P(x|X)/P(x'|X) = P(x|X')/P(x'|X') whenever x, x' ∈ X ∩ X'. The test
    compares the cross-multiplied form, which is defined also where probabilities vanish:

    .. math:: P(x|X)\\,P(x'|X') = P(x'|X)\\,P(x|X')

    Source: seed 002, §3.7, eq (6).

    Args:
      choice_probabilities: maps a choice set (a sorted tuple of message indices) to its n
        choice probabilities, in the same order; exact (Fraction) or float values.
      num_messages: K, the size of the message set (the test enumerates 2^K subsets).
      tolerance: violations up to this size count as equality (0 for exact arithmetic).
      max_set_size: only choice sets of at most this size (default: all).

    Returns:
      An :class:`IIAResult`.
    """
    if isinstance(num_messages, bool) or not isinstance(num_messages, (int, np.integer)) or num_messages < 2:
        raise ValueError(f"num_messages must be an integer >= 2, got {num_messages!r}")
    if num_messages > 10:
        raise ValueError(f"num_messages must be at most 10 (the test enumerates 2^K subsets), got {num_messages}")
    largest = num_messages if max_set_size is None else int(max_set_size)
    sets = [s for size in range(2, largest + 1) for s in itertools.combinations(range(num_messages), size)]
    table = {}
    for s in sets:
        values = list(choice_probabilities(s))
        if len(values) != len(s):
            raise ValueError(f"choice_probabilities{s} returned {len(values)} values, expected {len(s)}")
        table[s] = dict(zip(s, values))
    worst, witness, comparisons = 0, None, 0
    for a, b in itertools.combinations(range(num_messages), 2):
        containing = [s for s in sets if a in table[s] and b in table[s]]
        for first, second in itertools.combinations(containing, 2):
            comparisons += 1
            gap = abs(table[first][a] * table[second][b] - table[first][b] * table[second][a])
            if gap > worst:
                worst, witness = gap, (a, b, first, second)
    return IIAResult(satisfies_iia=bool(worst <= tolerance), max_violation=worst, witness=witness,
                     comparisons=comparisons)
