"""Query formats: fixed compositions (eq 12-13) and the pairwise conversion of §7 (seed 002).

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), eq (12)-(13), §6, §7.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from pmtheory.iia._common import _check_counts, _choice_set_size, _unit
from pmtheory.iia.compositions import _mixed_weights

__all__ = [
    "exact_fixed_composition_reward_ratio",
    "fixed_composition_reward_gap",
    "pairwise_conversion_counts",
    "population_pairwise_reward_gap",
]


# ---------------------------------------------------------------------------------------
# Query formats: fixed compositions and the pairwise conversion of §7
# ---------------------------------------------------------------------------------------


def fixed_composition_reward_gap(m1_in_set: int, m2_in_set: int, p_star_1: float) -> float:
    """Population ψ̂2 − ψ̂1 when every choice set holds k1 messages of M1 and k2 of M2.

    The logit fit matches the choice probabilities: k2 e^d/(k1 + k2 e^d) = 1 − p, so
    d = ln(k1(1 − p) / (k2 p)).

    Source: seed 002, eq (12)-(13) (and §6: one concise + three informative responses).

    Args:
      m1_in_set: k1 >= 1.
      m2_in_set: k2 >= 1.
      p_star_1: p in (0, 1).

    Returns:
      The gap.
    """
    p = _unit(p_star_1, "p_star_1", open_interval=True)
    for value, name in ((m1_in_set, "m1_in_set"), (m2_in_set, "m2_in_set")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return math.log(m1_in_set) - math.log(m2_in_set) + math.log1p(-p) - math.log(p)


def exact_fixed_composition_reward_ratio(m1_in_set: int, m2_in_set: int, p_star_1) -> Fraction:
    """e^{ψ̂2 − ψ̂1} = k1(1 − p)/(k2 p) in exact arithmetic (see :func:`fixed_composition_reward_gap`).

    Source: seed 002, eq (12)-(13).
    """
    p = Fraction(p_star_1)
    if not 0 < p < 1:
        raise ValueError(f"p_star_1 must be strictly between 0 and 1, got {p}")
    return Fraction(m1_in_set) * (1 - p) / (Fraction(m2_in_set) * p)


def pairwise_conversion_counts(counts, *, conversion: str = "all-pairs", seed: int | None = None) -> np.ndarray:
    """Convert each k-way datum into pairwise comparisons; return their |Y| = 2 counts.

    ``"all-pairs"``: the choice beats every other member of its set (n − 1 pairs per datum);
    ``"one-random"``: the choice beats one other member drawn uniformly (one pair per datum;
    needs ``seed``).

    Source: seed 002, §7 (the heuristic conversion to pairwise choices).

    Args:
      counts: (..., n+1, 2) composition counts.
      conversion: "all-pairs" or "one-random".
      seed: numpy seed for "one-random".

    Returns:
      (..., 3, 2) composition counts of the pairs.
    """
    table, n = _check_counts(counts)
    k1 = np.arange(n + 1, dtype=np.float64)
    k2 = n - k1
    chose_1, chose_2 = table[..., 0], table[..., 1]
    out = np.zeros(table.shape[:-2] + (3, 2))
    if conversion == "all-pairs":
        out[..., 1, 0] = (chose_1 * k2).sum(axis=-1)  # M1 chosen over each M2 member
        out[..., 2, 0] = (chose_1 * np.maximum(k1 - 1, 0)).sum(axis=-1)  # M1 over M1
        out[..., 1, 1] = (chose_2 * k1).sum(axis=-1)  # M2 chosen over each M1 member
        out[..., 0, 1] = (chose_2 * np.maximum(k2 - 1, 0)).sum(axis=-1)  # M2 over M2
    elif conversion == "one-random":
        if seed is None:
            raise ValueError("conversion='one-random' needs a seed")
        rng = np.random.default_rng(seed)
        n_chose_1 = chose_1.astype(np.int64)
        n_chose_2 = chose_2.astype(np.int64)
        # A choice in M1 (k1 >= 1) has k2 of its n − 1 other members in M2; cells that cannot
        # occur (k1 = 0 with a choice in M1) hold 0 counts, and their probability is clipped.
        cross_1 = rng.binomial(n_chose_1, np.broadcast_to(np.minimum(k2 / (n - 1), 1.0), n_chose_1.shape))
        cross_2 = rng.binomial(n_chose_2, np.broadcast_to(np.minimum(k1 / (n - 1), 1.0), n_chose_2.shape))
        out[..., 1, 0] = cross_1.sum(axis=-1)
        out[..., 2, 0] = (n_chose_1 - cross_1).sum(axis=-1)
        out[..., 1, 1] = cross_2.sum(axis=-1)
        out[..., 0, 1] = (n_chose_2 - cross_2).sum(axis=-1)
    else:
        raise ValueError(f"conversion must be 'all-pairs' or 'one-random', got {conversion!r}")
    return out.astype(np.int64)


def population_pairwise_reward_gap(choice_set_size: int, p_ref_m1: float, p_star_1: float) -> float:
    """Population ψ̂2 − ψ̂1 of RLPO fitted to the pairwise conversion of k-way data (§7).

    Either conversion gives cross-category pairs M1 ≻ M2 and M2 ≻ M1 in the proportion
    p·E[k2; mixed] : (1 − p)·E[k1; mixed] (same-category pairs do not move the gap), so the
    pairwise logit fit is d = ln((1 − p) E[k1; mixed] / (p E[k2; mixed])).

    Source: seed 002, §7.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1).
      p_star_1: p in (0, 1).

    Returns:
      The gap (positive: the pairwise reward favours M2).
    """
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1", open_interval=True)
    p = _unit(p_star_1, "p_star_1", open_interval=True)
    weights, _ = _mixed_weights(n, zeta)
    k1 = np.arange(1, n, dtype=np.float64)
    return float(math.log1p(-p) - math.log(p) + math.log(weights @ k1) - math.log(weights @ (n - k1)))

