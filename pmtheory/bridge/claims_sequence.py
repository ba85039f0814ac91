"""Checks of BRG-SEQ and BRG-LEN on causal-LM logits (tiny OPT and Llama by default): exact
sequence log-probabilities, and the pile-up of binary reference preferences with length.

The numbers come from :mod:`pmtheory.bridge.studies`; this module only decides verdicts and
imports neither torch nor transformers at import time. What every BRG check shares (``quick``, the
statement as keyword arguments, the cache of studies reused by the mutants) is described in
:mod:`pmtheory.bridge._claims_common`.

Bars and tolerances (each with its reason):

- BRG-SEQ: batched vs the per-sequence loop, and the chain rule (one forward pass per prefix)
  vs the loop, |Δ log π| ≤ 1e-6 (float32 models) and 1e-12 (float64) times max(1, |log π|).
  The issue's bars, read relative to the size of the log-probability: the paths differ only in
  rounding (padding and batch shape change the order of the model's float sums), and a float32
  model's logits carry a relative error of a few eps32 = 1.2e-7, so a log-probability of size
  20 cannot agree to better than ~2e-6 absolute (measured: 2.7e-6 at batch size 8, i.e.
  1.3e-7 relative). Log-probabilities are accumulated in float64 for both (the float32
  accumulation of the sum alone would cost one float32 ulp of |log π|).
- Normalization (BRG-SEQ): ``NORMALIZATION_BARS`` of
  :mod:`pmtheory.bridge._claims_common`, with its reason.
- BRG-LEN: one-sided tests at level 0.01 (exact McNemar binomial test, Spearman); the
  recheck of a refutation uses other tests at the same level (an exact sign-flip permutation
  test in integers, a 20000-permutation test of the rank correlation).
"""

from __future__ import annotations

import numpy as np

from pmtheory.bridge._claims_common import NORMALIZATION_BARS, _cached, _normalization_bar, _setup
from pmtheory.bridge.paper import PAPER
from pmtheory.claims import holds, mutant, refuted

# BRG-SEQ bars, keyed by the model's dtype (module docstring).
SEQ_BARS = {"float32": 1e-6, "float64": 1e-12}
# BRG-LEN: significance level of the one-sided tests.
LEVEL = 0.01


# ----------------------------------------------------------------------------------------
# BRG-SEQ
# ----------------------------------------------------------------------------------------

AGGREGATES = {"sum": np.sum, "mean": np.mean}


def _sequence_study(setup, quick: bool):
    from pmtheory.bridge.studies import sequence_study

    return _cached(("sequence", setup, bool(quick)), lambda: sequence_study(setup, quick=quick))


def _aggregate(terms, aggregate: str) -> np.ndarray:
    return np.asarray([AGGREGATES[aggregate](values) for values in terms], dtype=np.float64)


def _log_sum_exp(values) -> float:
    from scipy.special import logsumexp

    return float(logsumexp(np.asarray(values, dtype=np.float64)))


@PAPER.check("BRG-SEQ", mutants=[
    mutant("mean of token log-probs",
           "log π(y|x) equals the mean, not the sum, of the token log-probabilities log p(y_t | x, y_<t)",
           aggregate="mean"),
    mutant("labels not shifted",
           "log π(y|x) = Σ_t log p(y_t | x, y_≤t): each token scored by the next-token distribution at its own "
           "position (one token late), not the one before it",
           shift=1),
])
def check_sequence_log_probs(*, quick: bool, aggregate: str = "sum", shift: int = 0):
    """Sequence log-probabilities of OPT and Llama (seed 001 §6.1, footnote: π(y|x) = p_1·…·p_L).

    Three sub-checks, each against a bar of the module docstring:

    1. batched and padded (left and right, several batch sizes) equals the per-sequence loop,
       in float32 and float64 (bfloat16 reported without a bar);
    2. the chain rule: the loop's log π(y|x) equals ``aggregate`` over t of the terms
       log p(y_t | x, y_<t+shift), each computed literally (one forward pass per prefix, the
       last position's distribution only);
    3. normalization (a property, not the same formula): on the enumerable space W^L (the 4
       most probable tokens, L = 3, next-token distributions restricted to W), the claimed
       sequence probabilities exp(aggregate_t term_t) sum to 1, and so do the library's batched
       ones. Only the sum of correctly aligned terms telescopes to 1.

    Args:
      aggregate: how the statement forms log π(y|x) from the token terms: "sum" (the claim)
        or "mean".
      shift: the alignment of the terms: 0 (the claim: y_t scored by the distribution after
        y_<t) or 1 (after y_≤t).
    """
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {sorted(AGGREGATES)}, got {aggregate!r}")
    from pmtheory.bridge.studies import PREFIX_SHIFTS

    if shift not in PREFIX_SHIFTS:
        raise ValueError(f"shift must be one of {PREFIX_SHIFTS}, got {shift!r}")
    setup = _setup()
    study = _sequence_study(setup, quick)
    failures = [row for row in study.rows if row["max_rel_batched_vs_loop"] > SEQ_BARS[row["dtype"]]]
    chain = []
    for (label, dtype), loop in study.loop_values.items():
        claimed = _aggregate(study.prefix_terms[(label, dtype)][shift], aggregate)
        difference = np.abs(claimed - loop)
        relative = difference / np.maximum(1.0, np.abs(loop))
        worst = int(np.argmax(relative))
        chain.append({"label": label, "dtype": dtype, "max_abs_prefix_vs_loop": float(difference.max()),
                      "max_rel_prefix_vs_loop": float(relative.max()), "max_abs_log_prob": float(np.abs(loop).max()),
                      "worst_pair": worst, "worst_loop": float(loop[worst]), "worst_claimed": float(claimed[worst]),
                      "worst_response_tokens": len(study.prefix_terms[(label, dtype)][shift][worst])})
    chain_failures = [row for row in chain if row["max_rel_prefix_vs_loop"] > SEQ_BARS[row["dtype"]]]
    normalization = {}
    for label, space in study.enumeration.items():
        claimed = AGGREGATES[aggregate](space["terms"][shift], axis=-1)
        normalization[label] = {"dtype": space["dtype"], "accumulate_dtype": space["accumulate_dtype"],
                                "sequences": space["sequences"], "length": space["length"],
                                "allowed_token_ids": space["allowed"],
                                "log_sum_claimed": _log_sum_exp(claimed),
                                "log_sum_library_batched": _log_sum_exp(space["library"])}
    normalization_failures = [label for label, row in normalization.items()
                              if max(abs(row["log_sum_claimed"]), abs(row["log_sum_library_batched"]))
                              > _normalization_bar(row["accumulate_dtype"])]
    worst = {dtype: {kind: max((r[f"max_{kind}_batched_vs_loop"] for r in study.rows if r["dtype"] == dtype),
                               default=0.0)
                     for kind in ("abs", "rel")} for dtype in SEQ_BARS}
    evidence = {
        "setup": setup.describe(),
        "statement": {"aggregate": aggregate, "shift": shift},
        "pairs_per_configuration": study.pairs,
        "configurations": len(study.rows),
        "batched_vs_loop": worst,
        "bars_relative_to_max_1_abs_log_prob": SEQ_BARS,
        "chain_rule": chain,
        "normalization": normalization,
        "normalization_bars": NORMALIZATION_BARS,
        "bfloat16_no_bar": study.half_precision,
        "rows": study.rows,
    }
    if not failures and not chain_failures and not normalization_failures:
        labels = sorted({r["label"] for r in study.rows})
        return holds(evidence, backing=f"{len(study.rows)} batched configurations of {', '.join(labels)} "
                                       f"({study.pairs} pairs each) against the loop and the prefix-by-prefix chain "
                                       f"rule; normalization over {len(normalization)} enumerable spaces")
    statement = f"log π(y|x) = {aggregate}_t log p(y_t | x, y_<t{'+1' if shift else ''})"
    if failures:
        row = failures[0]
        chain_row = next(c for c in chain if c["label"] == row["label"] and c["dtype"] == row["dtype"])
        agrees = chain_row["max_rel_prefix_vs_loop"] <= SEQ_BARS[row["dtype"]]
        counterexample = {
            "inputs": {k: row[k] for k in ("label", "dtype", "padding_side", "batch_size", "pairs")},
            "predicted": f"|batched − loop| ≤ {SEQ_BARS[row['dtype']]}·max(1, |log π|)",
            "computed": {"max_rel": row["max_rel_batched_vs_loop"], "max_abs": row["max_abs_batched_vs_loop"]},
            "recheck": {"method": "chain rule, one forward pass per prefix (no padding, no batching), agrees with "
                                  "the loop",
                        "computed": {"max_rel_prefix_vs_loop": chain_row["max_rel_prefix_vs_loop"]},
                        "agrees": bool(agrees)},
        }
        return refuted(counterexample, evidence)
    if chain_failures:
        row = chain_failures[0]
        space = normalization.get(row["label"])
        log_sum = None if space is None else space["log_sum_claimed"]
        counterexample = {
            "inputs": {"label": row["label"], "dtype": row["dtype"], "pair": row["worst_pair"],
                       "response_tokens": row["worst_response_tokens"], "aggregate": aggregate, "shift": shift},
            "predicted": statement,
            "computed": {"loop_log_prob": row["worst_loop"], "claimed": row["worst_claimed"],
                         "max_rel": row["max_rel_prefix_vs_loop"], "max_abs": row["max_abs_prefix_vs_loop"]},
            "recheck": {"method": f"normalization over the enumerable space W^L of {row['label']} (next-token "
                                  "distributions restricted to W): the claimed sequence probabilities must sum to 1",
                        "computed": space,
                        "agrees": bool(log_sum is not None
                                       and abs(log_sum) > _normalization_bar(space["accumulate_dtype"]))},
        }
        return refuted(counterexample, evidence)
    label = normalization_failures[0]
    space = normalization[label]
    chain_row = next(c for c in chain if c["label"] == label and c["dtype"] == space["dtype"])
    counterexample = {
        "inputs": {"label": label, "dtype": space["dtype"], "allowed_token_ids": space["allowed_token_ids"],
                   "length": space["length"], "aggregate": aggregate, "shift": shift},
        "predicted": f"{statement}, so Σ_y π(y|x) = 1 over W^L",
        "computed": space,
        "recheck": {"method": "the claimed aggregate against the loop on the sampled pairs (chain rule sub-check)",
                    "computed": {"max_rel_prefix_vs_loop": chain_row["max_rel_prefix_vs_loop"]},
                    "agrees": bool(chain_row["max_rel_prefix_vs_loop"] > SEQ_BARS[space["dtype"]])},
    }
    return refuted(counterexample, evidence)


# ----------------------------------------------------------------------------------------
# BRG-LEN
# ----------------------------------------------------------------------------------------


def _length_study(setup, label, path, quick: bool):
    from pmtheory.bridge.studies import length_study

    return _cached(("length", setup, label, path, bool(quick)),
                   lambda: length_study(setup, label, path, pairs_per_prompt=16 if quick else 64))


def _mcnemar_greater(first: np.ndarray, second: np.ndarray) -> float:
    """One-sided exact McNemar p-value for P(first) > P(second) on paired booleans."""
    from scipy.stats import binomtest

    only_first = int(np.sum(first & ~second))
    only_second = int(np.sum(second & ~first))
    if only_first + only_second == 0:
        return 1.0
    return float(binomtest(only_first, only_first + only_second, 0.5, alternative="greater").pvalue)


LENGTHS = ("different", "equal")
TRENDS = ("increasing", "decreasing")


def length_statistics(study, *, lengths: str = "different", trend: str = "increasing") -> dict:
    """The BRG-LEN statistics of one :class:`~pmtheory.bridge.studies.LengthStudy`.

    ``lengths``: the pairs the McNemar test (p_ref extreme more often than p_reward) uses,
    "different" or "equal" lengths; ``trend``: the direction of the one-sided Spearman test of
    |log p_ref/(1 − p_ref)| against |Δ length|.
    """
    from scipy.stats import spearmanr

    if lengths not in LENGTHS or trend not in TRENDS:
        raise ValueError(f"lengths must be one of {LENGTHS} and trend one of {TRENDS}, got {lengths!r}, {trend!r}")
    pileup = study.pileup
    edge = pileup.edge
    differing = pileup.length_differences > 0
    tested = differing if lengths == "different" else ~differing
    p_ref, p_reward = pileup.reference_preferences, pileup.reward_preferences
    ref_extreme = (p_ref <= edge) | (p_ref >= 1 - edge)
    reward_extreme = (p_reward <= edge) | (p_reward >= 1 - edge)
    log_odds = np.abs(np.log(p_ref) - np.log1p(-p_ref)) if np.all((p_ref > 0) & (p_ref < 1)) else None
    if log_odds is None:  # p_ref rounded to 0 or 1: use the ranks of |p_ref − 1/2|
        log_odds = np.abs(p_ref - 0.5)
    correlation = spearmanr(pileup.length_differences, log_odds,
                            alternative="greater" if trend == "increasing" else "less")
    ref_diff, n_diff = pileup.fraction("reference", differing=True)
    ref_equal, n_equal = pileup.fraction("reference", differing=False)
    reward_diff, _ = pileup.fraction("reward", differing=True)
    reward_equal, _ = pileup.fraction("reward", differing=False)
    return {
        "label": study.label,
        "lengths": lengths,
        "trend": trend,
        "pairs": int(p_ref.size),
        "pairs_with_different_lengths": n_diff,
        "pairs_with_equal_lengths": n_equal,
        "pairs_in_mcnemar_test": int(tested.sum()),
        "edge": edge,
        "reference_extreme_fraction_different_lengths": ref_diff,
        "reference_extreme_fraction_equal_lengths": ref_equal,
        "reward_extreme_fraction_different_lengths": reward_diff,
        "reward_extreme_fraction_equal_lengths": reward_equal,
        "mcnemar_p_reference_vs_reward": _mcnemar_greater(ref_extreme[tested], reward_extreme[tested]),
        "spearman_length_difference_vs_abs_log_odds": float(correlation.statistic),
        "spearman_p": float(correlation.pvalue),
        "by_length_difference": {"bin_starts": list(pileup.bin_edges), "pairs": pileup.pairs.tolist(),
                                 "reference_extreme": pileup.reference_extreme.tolist(),
                                 "reward_extreme": pileup.reward_extreme.tolist()},
        "finished_fraction": study.finished_fraction,
        "mean_length": study.mean_length,
        "generation": study.settings,
    }


def _length_passes(statistics) -> bool:
    return statistics["mcnemar_p_reference_vs_reward"] < LEVEL and statistics["spearman_p"] < LEVEL


@PAPER.check("BRG-LEN", mutants=[
    mutant("pile-up at equal lengths",
           "On pairs of responses of equal length, p_ref(y1) lies within 0.05 of 0 or 1 more often than the reward "
           "model's preference", lengths="equal"),
    mutant("pile-up shrinks with the length difference",
           "|log p_ref(y1)/(1 − p_ref(y1))| decreases as |L(y1) − L(y2)| grows", trend="decreasing"),
])
def check_length_pileup(*, quick: bool, lengths: str = "different", trend: str = "increasing"):
    """On each model's own samples (T = 1, no truncation), pairs of responses of different
    lengths have p_ref(y1) within 0.05 of 0 or 1 more often than the reward model's
    preference on the same pairs (exact McNemar test), and |log p_ref/(1 − p_ref)| grows with
    the length difference (Spearman), both one-sided at level 0.01 (seed 001, §5.2: "the
    probabilities p_ref(y1) are very likely to be close to 0 or 1 … especially … when the two
    responses differ significantly in length", Fig 3(a)/4(a)).

    Args:
      lengths: which pairs the statement says pile up: "different" lengths (the claim) or
        "equal" lengths.
      trend: how the statement says |log-odds| moves with |Δ length|: "increasing" (the claim)
        or "decreasing".
    """
    setup = _setup()
    per_model, failing = {}, None
    for label, path in setup.policy_paths():
        study = _length_study(setup, label, path, quick)
        statistics = length_statistics(study, lengths=lengths, trend=trend)
        per_model[label] = statistics
        if not _length_passes(statistics) and failing is None:
            failing = (study, statistics)
    evidence = {"setup": setup.describe(), "level": LEVEL, "statement": {"lengths": lengths, "trend": trend},
                **per_model}
    if failing is None:
        pairs = sum(s["pairs"] for s in per_model.values())
        return holds(evidence, backing=f"{pairs} sampled pairs from {len(per_model)} models, "
                                       f"one-sided tests at level {LEVEL}")
    study, statistics = failing
    recheck = _length_recheck(setup, study, lengths=lengths, trend=trend)
    if not recheck["agrees"]:
        raise RuntimeError(f"BRG-LEN: the primary tests reject the statement on {study.label} but the independent "
                           f"recheck does not (no refutation without a confirming recheck): "
                           f"primary {statistics['mcnemar_p_reference_vs_reward']:.3g}, "
                           f"{statistics['spearman_p']:.3g}; "
                           f"recheck {recheck['computed']}")
    counterexample = {
        "inputs": {"label": study.label, "pairs": statistics["pairs"], "edge": statistics["edge"],
                   "lengths": lengths, "trend": trend, "generation": statistics["generation"]},
        "predicted": f"on pairs of {lengths} lengths p_ref piles up near 0/1 more than p_reward, and |log-odds| is "
                     f"{trend} in |Δ length| (both p < {LEVEL})",
        "computed": {k: statistics[k] for k in ("mcnemar_p_reference_vs_reward", "spearman_p",
                                                "spearman_length_difference_vs_abs_log_odds", "pairs_in_mcnemar_test",
                                                "reference_extreme_fraction_different_lengths",
                                                "reward_extreme_fraction_different_lengths",
                                                "reference_extreme_fraction_equal_lengths",
                                                "reward_extreme_fraction_equal_lengths")},
        "recheck": recheck,
    }
    return refuted(counterexample, evidence)


# BRG-LEN recheck: random permutations in the permutation test of the rank correlation. The
# permutation p-value's Monte Carlo standard error at p = LEVEL is sqrt(0.01·0.99/20000) ≈ 7e-4,
# so it lands on the other side of LEVEL from the exact p only when that p is within a few
# 1e-3 of 0.01; the check then raises (no refutation without a confirming recheck).
PERMUTATIONS = 20_000
PERMUTATION_SEED = 0


def _exact_sign_test_greater(first: np.ndarray, second: np.ndarray) -> dict:
    """Exact sign-flip permutation test of P(first) > P(second) on paired booleans, in integers.

    Under the null each discordant pair is equally likely to be (first only) or (second
    only), independently; the p-value is the number of the 2^n sign assignments with at least
    as many (first only) as observed, over 2^n, counted with :func:`math.comb` (exact integers,
    no scipy).
    """
    from fractions import Fraction
    from math import comb

    only_first = int(np.sum(first & ~second))
    discordant = only_first + int(np.sum(second & ~first))
    tail = sum(comb(discordant, k) for k in range(only_first, discordant + 1))
    p_value = Fraction(tail, 2 ** discordant)  # discordant = 0: the empty test, p = 1
    return {"only_first": only_first, "discordant": discordant, "p_value": float(p_value)}


def _rank_permutation_test(x: np.ndarray, y: np.ndarray, *, greater: bool) -> dict:
    """One-sided permutation test of the rank correlation of x and y (seeded, PERMUTATIONS draws).

    The statistic is Σ_i rank(x_i)·rank(y_i) (ties: mid-ranks), which orders the permutations
    as Spearman's ρ does; p = (1 + #{permutations at least as extreme}) / (1 + PERMUTATIONS),
    the permutation p-value that is valid at any sample size (no t approximation).
    """
    from scipy.stats import rankdata

    rank_x, rank_y = rankdata(x), rankdata(y)
    observed = float(rank_x @ rank_y)
    rng = np.random.default_rng(PERMUTATION_SEED)
    permuted = np.argsort(rng.random((PERMUTATIONS, rank_y.size)), axis=1)
    statistics = rank_y[permuted] @ rank_x
    # compare integers·4 exactly: mid-ranks are multiples of 1/2, so products are multiples of 1/4
    observed_q, statistics_q = np.rint(4 * observed), np.rint(4 * statistics)
    extreme = int(np.sum(statistics_q >= observed_q)) if greater else int(np.sum(statistics_q <= observed_q))
    n = rank_x.size
    mean = n * (n + 1) ** 2 / 4.0  # E[Σ rank(x)·rank(y)] under the null
    return {"statistic_minus_null_mean": observed - mean, "permutations": PERMUTATIONS,
            "as_extreme": extreme, "p_value": (1 + extreme) / (1 + PERMUTATIONS)}


def _length_recheck(setup, study, *, lengths: str = "different", trend: str = "increasing") -> dict:
    """An independent test of the BRG-LEN statement on the same sampled pairs.

    Independent of the primary statistics in three ways: log π_ref(y) is recomputed with the
    unbatched per-sequence loop (not the sampler's batched log-probs); the pile-up and the
    log-odds are computed from differences of log-probabilities and of rewards
    (|log p_ref/(1 − p_ref)| = |log π(y1) − log π(y2)|, "within edge of 0 or 1" ⟺ that
    difference ≥ log((1 − edge)/edge), likewise |r(y1) − r(y2)| for p_reward), not from the
    preferences; and the tests are other methods: an exact sign-flip permutation test in
    integer arithmetic for "p_ref extreme more often than p_reward" (primary: scipy's binomial
    test) and a permutation test of the rank correlation (primary: scipy's Spearman p-value,
    a t approximation). ``agrees``: the recheck also finds the statement false (one of its two
    tests not significant at LEVEL).
    """
    from pmtheory.bridge.logprobs import sequence_log_probs_loop
    from pmtheory.bridge.studies import load_policy, policy_path, study_threads

    prompts = [list(p) for p, row in zip(study.prompt_ids, study.response_ids) for _ in row]
    responses = [list(r) for row in study.response_ids for r in row]

    def compute():
        with study_threads(setup):
            lm = load_policy(setup, policy_path(setup, study.label))
            return sequence_log_probs_loop(lm.model, lm.tokenizer, prompts, responses).double().cpu().numpy()

    loop = _cached(("length_loop", setup, study.label, study.prompt_ids, study.response_ids), compute)
    loop = loop.reshape(study.rewards.shape)
    edge = study.pileup.edge
    threshold = float(np.log1p(-edge) - np.log(edge))  # logit(1 − edge)
    log_odds = np.abs(loop[:, 0::2] - loop[:, 1::2]).ravel()
    reward_gap = np.abs(np.asarray(study.rewards, dtype=np.float64)[:, 0::2]
                        - np.asarray(study.rewards, dtype=np.float64)[:, 1::2]).ravel()
    length_gap = np.abs(np.asarray(study.lengths, dtype=np.int64)[:, 0::2]
                        - np.asarray(study.lengths, dtype=np.int64)[:, 1::2]).ravel()
    tested = length_gap > 0 if lengths == "different" else length_gap == 0
    sign_test = _exact_sign_test_greater(log_odds[tested] >= threshold, reward_gap[tested] >= threshold)
    permutation = _rank_permutation_test(length_gap, log_odds, greater=trend == "increasing")
    statement_passes = sign_test["p_value"] < LEVEL and permutation["p_value"] < LEVEL
    return {"method": f"log π_ref recomputed by the unbatched per-sequence loop; pile-up from |Δ log π| and |Δ r| "
                      f"against logit(1 − edge); exact sign-flip permutation test (integer arithmetic) on the "
                      f"{int(tested.sum())} pairs of {lengths} lengths and a {PERMUTATIONS}-permutation test of the "
                      f"rank correlation of |Δ length| and |Δ log π| ({trend}), both at level {LEVEL}",
            "computed": {"sign_test": sign_test, "rank_permutation_test": permutation,
                         "statement_passes": bool(statement_passes)},
            "agrees": bool(not statement_passes)}


