"""Simulations of RLPO, DPO, IL and SLiC on Assumption 1 data, and the §6 query-format study
(seed 002; 100 seeds by default, vectorized over seeds).

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §5.3-5.5 (Figs 2-3), §6 (Fig 4), §7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from pmtheory.iia._common import _unit
from pmtheory.iia.il_slic import fit_il_assumption3, fit_slic_assumption3
from pmtheory.iia.query_formats import pairwise_conversion_counts
from pmtheory.iia.rlpo_dpo import fit_dpo_assumption3, fit_rlpo_assumption23

__all__ = [
    "MessageSetSweep",
    "QueryFormatStudy",
    "RlpoDpoSimulation",
    "simulate_il",
    "simulate_pairwise_conversion",
    "simulate_query_format_study",
    "simulate_rlpo_dpo",
    "simulate_slic",
]


# ---------------------------------------------------------------------------------------
# Simulations (Assumption 1 data, 100 seeds by default; vectorized over seeds)
# ---------------------------------------------------------------------------------------


def _categories(m1_size: int, m2_size: int) -> np.ndarray:
    return np.r_[np.ones(int(m1_size), dtype=np.int64), np.full(int(m2_size), 2, dtype=np.int64)]


def _growing_counts(choice_set_size, sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size, m2_size):
    """(S, D, n+1, 2) composition counts of the first |D| data of one dichotomy dataset per
    seed, for each |D| in ``sizes`` (one dataset of max(sizes) data; its prefixes give the rest)."""
    from pmtheory.iia.data import cumulative_composition_counts, sample_dichotomy_data

    data = sample_dichotomy_data(seed, num_datasets=num_seeds, num_data=int(sizes.max()),
                                 choice_set_size=choice_set_size, m1_size=m1_size, m2_size=m2_size,
                                 p_ref_m1=p_ref_m1, p_star_1=p_star_1)
    return cumulative_composition_counts(data, _categories(m1_size, m2_size), sizes)


@dataclass(frozen=True)
class RlpoDpoSimulation:
    """RLPO and DPO fitted on growing datasets from Assumption 1 (one dataset per seed)."""

    data_sizes: np.ndarray  # (D,) |D|
    reward_gap: np.ndarray  # (S, D) RLPO's ψ̂2 − ψ̂1 (0 where the convention applies)
    reward_has_minimizer: np.ndarray  # (S, D) bool: (7) attains its minimum (a constant loss counts)
    p_m1_rlpo: np.ndarray  # (S, D) RLPO's P(M1)
    p_m1_dpo: np.ndarray  # (S, D) DPO's P(M1)


def simulate_rlpo_dpo(*, choice_set_size: int, data_sizes, num_seeds: int = 100, seed: int = 0,
                      p_ref_m1: float = 0.8, p_star_1: float = 0.6, m1_size: int = 10, m2_size: int = 100,
                      beta: float = 1.0) -> RlpoDpoSimulation:
    """RLPO and DPO on dichotomy data, P(M1) against |D| (the setup of §5.3 by default).

    Each seed draws one dataset of max(data_sizes) data; its prefixes give the smaller |D|.

    Source: seed 002, §5.3-5.4, Fig 2.

    Args:
      choice_set_size: |Y|.
      data_sizes: (D,) increasing |D| values.
      num_seeds: S datasets.
      seed: numpy seed.
      p_ref_m1, p_star_1, m1_size, m2_size, beta: the setup (defaults: §5.3).

    Returns:
      A :class:`RlpoDpoSimulation`.
    """
    sizes = np.asarray(data_sizes, dtype=np.int64)
    counts = _growing_counts(choice_set_size, sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size, m2_size)
    fit, rlpo = fit_rlpo_assumption23(counts, p_ref_m1=p_ref_m1, beta=beta)
    dpo = fit_dpo_assumption3(counts, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=m2_size, beta=beta)
    return RlpoDpoSimulation(sizes, fit.gap, fit.has_minimizer, rlpo.p_m1, dpo.p_m1)


@dataclass(frozen=True)
class MessageSetSweep:
    """IL or SLiC fitted on one dataset per seed, for each |M2| (the data's compositions do
    not depend on |M2| under Assumption 1, so the same data serve every |M2|)."""

    m2_sizes: np.ndarray  # (M,) |M2|
    p_m1: np.ndarray  # (S, M) the fitted policy's P(M1)
    counts: np.ndarray  # (S, n+1, 2) the composition counts of each seed's dataset


def _sweep_counts(choice_set_size, num_data, m2_sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size):
    """(|M2| values (M,), each seed's counts (S, n+1, 2), those counts repeated per |M2| (S, M, n+1, 2))."""
    from pmtheory.iia.data import composition_counts, sample_dichotomy_data

    sizes = np.asarray(m2_sizes, dtype=np.float64)
    data = sample_dichotomy_data(seed, num_datasets=num_seeds, num_data=num_data, choice_set_size=choice_set_size,
                                 m1_size=m1_size, m2_size=1, p_ref_m1=p_ref_m1, p_star_1=p_star_1)
    counts = composition_counts(data, _categories(m1_size, 1))
    return sizes, counts, np.broadcast_to(counts[:, None], (counts.shape[0], sizes.size) + counts.shape[1:])


def simulate_il(*, choice_set_size: int, num_data: int, m2_sizes, num_seeds: int = 100, seed: int = 0,
                p_ref_m1: float = 0.8, p_star_1: float = 0.6, m1_size: int = 10, beta: float = 1.0) -> MessageSetSweep:
    """IL on dichotomy data, P(M1) against |M2|.

    Source: seed 002, §5.5, Fig 3, Prop 6.
    """
    sizes, counts, batch = _sweep_counts(choice_set_size, num_data, m2_sizes, num_seeds, seed, p_ref_m1, p_star_1,
                                         m1_size)
    fit = fit_il_assumption3(batch, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=sizes, beta=beta)
    return MessageSetSweep(sizes, fit.p_m1, counts)


def simulate_slic(*, choice_set_size: int, num_data: int, m2_sizes, num_seeds: int = 100, seed: int = 0,
                  p_ref_m1: float = 0.8, p_star_1: float = 0.6, m1_size: int = 10, beta: float = 1.0,
                  delta: float = 1.0) -> MessageSetSweep:
    """SLiC on dichotomy data, P(M1) against |M2|.

    Source: seed 002, §5.5, Prop 7.
    """
    sizes, counts, batch = _sweep_counts(choice_set_size, num_data, m2_sizes, num_seeds, seed, p_ref_m1, p_star_1,
                                         m1_size)
    fit = fit_slic_assumption3(batch, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=sizes, beta=beta, delta=delta)
    return MessageSetSweep(sizes, fit.p_m1, counts)


def simulate_pairwise_conversion(*, choice_set_size: int, data_sizes, conversion: str = "all-pairs",
                                 num_seeds: int = 100, seed: int = 0, p_ref_m1: float = 0.8, p_star_1: float = 0.6,
                                 m1_size: int = 10, m2_size: int = 100, beta: float = 1.0) -> RlpoDpoSimulation:
    """RLPO fitted to the pairwise conversion (§7) of k-way dichotomy data.

    The policy step uses |D| = the number of pairs RLPO is trained on. DPO on the same pairs
    is reported in ``p_m1_dpo``.

    Source: seed 002, §7.
    """
    sizes = np.asarray(data_sizes, dtype=np.int64)
    counts = _growing_counts(choice_set_size, sizes, num_seeds, seed, p_ref_m1, p_star_1, m1_size, m2_size)
    pairs = pairwise_conversion_counts(counts, conversion=conversion, seed=seed + 1)
    fit, rlpo = fit_rlpo_assumption23(pairs, p_ref_m1=p_ref_m1, beta=beta)
    dpo = fit_dpo_assumption3(pairs, p_ref_m1=p_ref_m1, m1_size=m1_size, m2_size=m2_size, beta=beta)
    return RlpoDpoSimulation(sizes, fit.gap, fit.has_minimizer, rlpo.p_m1, dpo.p_m1)


@dataclass(frozen=True)
class QueryFormatStudy:
    """The §6 analogue: a linear reward model trained on k-way queries, tested on pairs."""

    informative_per_query: int  # informative (GPT-4-like) responses per training query; one concise (GPT-3.5-like)
    test_accuracy: np.ndarray  # (S,) fraction of test pairs where the higher score is the annotator's choice
    p_informative_scores_higher: np.ndarray  # (S,) fraction of test pairs scoring the informative response higher
    reward_direction: np.ndarray  # (S,) w·(μ_informative − μ_concise): > 0 when the model favours informative
    gradient_norm: np.ndarray  # (S,) max |∇| of the regularized training loss at the returned weights


def simulate_query_format_study(*, informative_per_query: int, num_seeds: int = 100, seed: int = 0,
                                p_informative: float = 0.7, num_train_queries: int = 800,
                                num_test_pairs: int = 1000, responses_per_model: int = 100, feature_dim: int = 8,
                                separation: float = 2.0, noise: float = 1.0, ridge: float = 1e-3) -> QueryFormatStudy:
    """A synthetic analogue of §6: concise vs informative responses, dichotomy annotators.

    Responses are feature vectors: informative ones around +separation/2·e1, concise ones
    around −separation/2·e1, with N(0, noise²) noise in every coordinate; each model has
    ``responses_per_model`` training and as many test responses. A training query holds one
    concise and ``informative_per_query`` distinct informative responses; an annotator is
    "informative" with probability ``p_informative`` (choosing uniformly among the
    informative responses) and "concise" otherwise. The reward model r_w(x) = w·φ(x) is
    fitted by the cross-entropy (7) with a ridge term ``ridge``/2·|w|² (damped Newton,
    vectorized over seeds). Test data are pairs (one of each) with annotators as above.

    Source: seed 002, §6 (Fig 4), §6.1-6.3.

    Returns:
      A :class:`QueryFormatStudy`.
    """
    if informative_per_query < 1 or informative_per_query > responses_per_model:
        raise ValueError(f"informative_per_query must be in [1, {responses_per_model}], got {informative_per_query}")
    p_inf = _unit(p_informative, "p_informative")
    rng = np.random.default_rng(seed)
    s, q, k, d, r = num_seeds, num_train_queries, informative_per_query, feature_dim, responses_per_model
    axis = np.zeros(d)
    axis[0] = separation / 2

    def pool():
        return axis + noise * rng.standard_normal((s, r, d)), -axis + noise * rng.standard_normal((s, r, d))

    train_inf, train_con = pool()
    test_inf, test_con = pool()
    seeds_index = np.arange(s)[:, None, None]
    informative = np.argpartition(rng.random((s, q, r)), k - 1, axis=-1)[..., :k]  # k distinct per query
    concise = rng.integers(0, r, size=(s, q))
    features = np.concatenate([train_con[seeds_index, concise[..., None]], train_inf[seeds_index, informative]], axis=2)
    chooses_informative = rng.random((s, q)) < p_inf
    chosen = np.where(chooses_informative, 1 + rng.integers(0, k, size=(s, q)), 0)  # position 0: the concise one
    one_hot = np.zeros((s, q, k + 1))
    np.put_along_axis(one_hot, chosen[..., None], 1.0, axis=-1)

    w = np.zeros((s, d))
    for _ in range(100):
        scores = np.einsum("sqnd,sd->sqn", features, w)
        probs = np.exp(scores - logsumexp(scores, axis=-1, keepdims=True))
        gradient = np.einsum("sqn,sqnd->sd", probs - one_hot, features) + ridge * w
        if np.max(np.abs(gradient)) < 1e-10:
            break
        mean_features = np.einsum("sqn,sqnd->sqd", probs, features)
        hessian = np.einsum("sqn,sqnd,sqne->sde", probs, features, features) - \
            np.einsum("sqd,sqe->sde", mean_features, mean_features) + ridge * np.eye(d)
        w = w - np.linalg.solve(hessian, gradient[..., None])[..., 0]  # the loss is strongly convex
    scores = np.einsum("sqnd,sd->sqn", features, w)
    probs = np.exp(scores - logsumexp(scores, axis=-1, keepdims=True))
    gradient = np.einsum("sqn,sqnd->sd", probs - one_hot, features) + ridge * w

    pair_inf = rng.integers(0, r, size=(s, num_test_pairs))
    pair_con = rng.integers(0, r, size=(s, num_test_pairs))
    score_inf = np.einsum("std,sd->st", test_inf[np.arange(s)[:, None], pair_inf], w)
    score_con = np.einsum("std,sd->st", test_con[np.arange(s)[:, None], pair_con], w)
    annotator_informative = rng.random((s, num_test_pairs)) < p_inf
    predicts_informative = score_inf > score_con
    return QueryFormatStudy(
        informative_per_query=k,
        test_accuracy=(predicts_informative == annotator_informative).mean(axis=1),
        p_informative_scores_higher=predicts_informative.mean(axis=1),
        reward_direction=w @ (2 * axis),
        gradient_norm=np.max(np.abs(gradient), axis=1),
    )

