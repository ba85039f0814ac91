"""Checks of the IIA claims on query formats: the §6 study and its IIA arithmetic, and the §7
question (seed 002, Xu et al. 2024).

Statements, mutants, repairs, readings, conventions and proof gaps are handled as in
:mod:`~pmtheory.iia.claims_rlpo_dpo` (shared/CLAIMS.md, "Verdicts").
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import sympy as sp

from pmtheory import iia
from pmtheory.claims import Reading, answered, holds, mutant, refuted, repair
from pmtheory.iia._claims_common import BETA, M1_SIZE, M2_SIZE, P_STAR, SEEDS, ZETA, _wilson
from pmtheory.iia.claims_rlpo_dpo import _exact_threshold
from pmtheory.iia.data import mean_interval
from pmtheory.iia.paper import PAPER

# ---------------------------------------------------------------------------------------
# §6 and §7
# ---------------------------------------------------------------------------------------


@PAPER.check("IIA-SEC6", mutants=[
    mutant("no format below 50%", "Neither training format (1 + 1 or 1 + 3 responses per query) makes the reward "
           "model fall below 50% pairwise test accuracy", below_half_for=()),
    mutant("both formats below 50%", "Both training formats (1 + 1 and 1 + 3) make the reward model fall below 50% "
           "pairwise test accuracy", below_half_for=(1, 3)),
])
def check_query_formats(*, quick: bool, below_half_for=(3,)):
    """Seed 002, §6: annotators 0.3 concise / 0.7 informative; training queries of 1 concise
    + 3 informative make a standard reward model prefer the concise response and fall below
    50% pairwise test accuracy; 1 + 1 queries do not.

    ``below_half_for`` (default (3,): the 1 + 3 format) states for which numbers k of
    informative responses per training query the 1 + k format falls below 50% (and prefers
    the concise response); every other format checked is claimed above 50%.

    Population (Assumption 2, exact rationals): e^{ψ_concise − ψ_informative} = 9/7 for
    1 + 3 and 3/7 for 1 + 1, so the pairwise accuracy tends to 0.3 and 0.7. Simulation of
    the analogue with a linear reward model on synthetic response features: 100 seeds
    (Student-t intervals on accuracy and on P(score informative > concise)).
    """
    p_inf = Fraction(7, 10)
    exact = {k: iia.exact_fixed_composition_reward_ratio(k, 1, p_inf) for k in (1, 3)}
    # The population accuracy on test pairs: the reward favours informative (ratio < 1), concise (> 1) or
    # neither (= 1: every score ties, counted 1/2).
    population_accuracy = {k: float(p_inf if exact[k] < 1 else (1 - p_inf if exact[k] > 1 else Fraction(1, 2)))
                           for k in (1, 3)}
    seeds = 30 if quick else SEEDS
    results = {}
    for k in (1, 3):
        study = iia.simulate_query_format_study(informative_per_query=k, num_seeds=seeds, seed=600 + k)
        acc = mean_interval(study.test_accuracy)
        higher = mean_interval(study.p_informative_scores_higher)
        results[f"1+{k}"] = {"concise_over_informative_reward_ratio": str(exact[k]),
                             "population_accuracy": population_accuracy[k],
                             "accuracy": [float(v) for v in acc],
                             "P(score informative > concise)": [float(v) for v in higher],
                             "seeds_favouring_informative": int((study.reward_direction > 0).sum()),
                             "max_gradient_norm": float(study.gradient_norm.max())}
    evidence = {"seeds": seeds, "results": results, "claimed_below_half": [f"1+{k}" for k in below_half_for]}

    def agrees(k: int) -> bool:
        row = results[f"1+{k}"]
        if k in below_half_for:  # the whole interval below 1/2, and the exact ratio favours concise
            return row["accuracy"][2] < 0.5 and row["P(score informative > concise)"][2] < 0.5 and exact[k] > 1
        return row["accuracy"][1] > 0.5 and row["P(score informative > concise)"][1] > 0.5 and exact[k] < 1

    bad = [k for k in (3, 1) if not agrees(k)]
    if bad:
        k = bad[0]
        claimed_below = k in below_half_for
        # Recheck: the exact population ratio e^{ψ_concise − ψ_informative} (rationals, Assumption 2), not the
        # simulator: the claim fails there when the limit accuracy is not on the claimed side of 1/2.
        limit_accuracy = population_accuracy[k]
        exact_refutes = not (limit_accuracy < 0.5) if claimed_below else not (limit_accuracy > 0.5)
        return refuted({"inputs": {"training_query": f"1+{k}", "p_informative": "7/10"},
                        "predicted": "accuracy < 0.5" if claimed_below else "accuracy > 0.5",
                        "computed": results[f"1+{k}"],
                        "recheck": {"method": "exact rational population ratio e^{ψ_concise − ψ_informative} of the "
                                              "category-level reward fit (Assumption 2) and its limit accuracy",
                                    "computed": {"concise_over_informative_reward_ratio": str(exact[k]),
                                                 "population_accuracy": limit_accuracy},
                                    "agrees": bool(exact_refutes)}}, evidence)
    return holds(evidence, backing=f"exact category-level limits; {seeds}-seed linear reward model simulations")


@PAPER.check("IIA-SEC7", mutants=[
    mutant("the conversion recovers M1", "Converting each k-way choice into pairwise comparisons makes RLPO recover "
           "M1 at the §5.3 setup, for every |Y|", asserted_recovers=True),
    mutant("the conversion moves the threshold to 1/2", "After the pairwise conversion RLPO's fitted reward favours "
           "M2 exactly when p*(1) < 1/2 (the pairwise majority rule)", asserted_threshold="1/2"),
])
def check_pairwise_conversion(*, quick: bool, asserted_recovers: bool | None = None,
                              asserted_threshold: str | None = None):
    """Seed 002, §7 (a question): converting each k-way choice into pairwise comparisons —
    does RLPO then recover M1?

    Population (exact rationals): after the conversion (the choice beats each other member,
    or one random other member) the fitted pairwise reward favours M2 iff
    (1 − p)E[k1; mixed] > p E[k2; mixed] ⟺ p*(1) < F(P_ref(M1)): the same region as the
    k-way fit. Checked on a rational grid against the float population gap; simulated at the
    §5.3 setup (100 seeds, both conversions). Returns ``answered``.

    ``asserted_recovers`` / ``asserted_threshold`` turn the question into an assertion that
    the check then judges (holds or refuted): "the conversion recovers M1 at the §5.3 setup
    for every |Y|" (True) or "does not, for some |Y|" (False); "the converted fit favours M2
    exactly when p*(1) < T" for T a sympy string in n and zeta. Recovery for a |Y| means at
    least 90% of seeds recover under both conversions (Wilson lower bounds); non-recovery, at
    most 50% (Wilson upper bounds); a |Y| in between counts against recovery only where the
    exact population ratio e^{ψ2−ψ1} >= 1, and otherwise makes the check raise.
    """
    mismatches, cases, threshold_misses = [], 0, []
    for n in (range(2, 7) if quick else range(2, 11)):
        for zeta in [Fraction(i, 10) for i in range(1, 10)]:
            claimed_t = None if asserted_threshold is None else _exact_threshold(asserted_threshold, n, zeta)
            for p in [Fraction(i, 20) for i in range(1, 20)]:
                mixed = [Fraction(math.comb(n, k)) * zeta**k * (1 - zeta) ** (n - k) for k in range(1, n)]
                e_k1 = sum(w * k for w, k in zip(mixed, range(1, n)))
                e_k2 = sum(w * (n - k) for w, k in zip(mixed, range(1, n)))
                pairwise = (1 - p) * e_k1 - p * e_k2
                pairwise_sign = (pairwise > 0) - (pairwise < 0)
                gap = iia.population_pairwise_reward_gap(n, float(zeta), float(p))
                cases += 1
                k_way = iia.exact_reward_gap_sign(n, zeta, p)
                if pairwise_sign != k_way or (pairwise_sign != 0 and (gap > 0) - (gap < 0) != pairwise_sign):
                    mismatches.append({"n": n, "p_ref_m1": str(zeta), "p_star_1": str(p)})
                if claimed_t is not None and (pairwise_sign > 0) != (p < claimed_t):
                    threshold_misses.append({"n": n, "p_ref_m1": zeta, "p_star_1": p, "claimed_threshold": claimed_t,
                                             "F": e_k1 / (e_k1 + e_k2), "pairwise_sign": pairwise_sign})
    size = 2000 if quick else 5000
    sims = {}
    for n in (2, 3, 4, 5):
        entry = {"population_pairwise_gap": iia.population_pairwise_reward_gap(n, float(ZETA), float(P_STAR)),
                 "F": str(iia.exact_failure_threshold(n, ZETA))}
        for conversion in ("all-pairs", "one-random"):
            sim = iia.simulate_pairwise_conversion(choice_set_size=n, data_sizes=[size], conversion=conversion,
                                                   num_seeds=SEEDS, seed=700 + n, p_ref_m1=float(ZETA),
                                                   p_star_1=float(P_STAR), m1_size=M1_SIZE, m2_size=M2_SIZE, beta=BETA)
            recovered = int((sim.p_m1_rlpo[:, -1] > 0.5).sum())
            entry[conversion] = {"seeds_recovering_M1": recovered, "wilson": _wilson(recovered, SEEDS)}
        sims[f"|Y|={n}"] = entry
    evidence = {"grid_cases": cases, "boundary_mismatches_vs_F": len(mismatches), "num_data": size, "simulations": sims}
    if mismatches:
        evidence["first_mismatch"] = mismatches[0]
    not_recovered = [(key, e) for key, e in sims.items()
                     if max(e["all-pairs"]["wilson"][1], e["one-random"]["wilson"][1]) < 0.5]
    recovered_all = [key for key, e in sims.items()
                     if min(e["all-pairs"]["wilson"][0], e["one-random"]["wilson"][0]) >= 0.9]

    def exact_ratio(n: int) -> Fraction:
        mixed = [Fraction(math.comb(n, k)) * ZETA**k * (1 - ZETA) ** (n - k) for k in range(1, n)]
        return (1 - P_STAR) * sum(w * k for w, k in zip(mixed, range(1, n))) / \
            (P_STAR * sum(w * (n - k) for w, k in zip(mixed, range(1, n))))

    if asserted_threshold is not None:  # the question turned into a claim about the boundary
        evidence["asserted_threshold"] = asserted_threshold
        if not threshold_misses:
            return holds(evidence, backing=f"{cases} exact grid cases")
        # the miss farthest from both the asserted and the true boundary (the most decisive one)
        miss = max(threshold_misses, key=lambda row: min(abs(row["claimed_threshold"] - row["p_star_1"]),
                                                         abs(row["F"] - row["p_star_1"])))
        n, zeta, p = miss["n"], miss["p_ref_m1"], miss["p_star_1"]
        gap = iia.population_pairwise_reward_gap(n, float(zeta), float(p))
        return refuted({"inputs": {"choice_set_size": n, "p_ref_m1": str(zeta), "p_star_1": str(p),
                                   "asserted_threshold": str(miss["claimed_threshold"])},
                        "predicted": "favours M2" if p < miss["claimed_threshold"] else "favours M1",
                        "computed": {"exact_sign((1 − p)E[k1] − p E[k2])": miss["pairwise_sign"],
                                     "F": str(iia.exact_failure_threshold(n, zeta))},
                        "recheck": {"method": "float population gap of the pairwise fit (bisection)",
                                    "computed": gap, "agrees": bool((gap > 0) == (miss["pairwise_sign"] > 0)
                                                                    and gap != 0)}}, evidence)
    # |Y| where the simulation neither shows recovery (Wilson lower >= 0.9 for both conversions) nor its
    # failure (Wilson upper < 0.5 for both): judged by the exact population ratio below, never assumed.
    inconclusive = [(key, e) for key, e in sims.items()
                    if key not in recovered_all and key not in dict(not_recovered)]
    if asserted_recovers is not None:  # the question turned into a claim about recovery
        evidence["asserted_recovers"] = asserted_recovers
        evidence["inconclusive_in_simulation"] = [key for key, _ in inconclusive]
        # An inconclusive |Y| is a counterexample to recovery only where the exact population ratio says the
        # converted fit does not favour M1 (e^{ψ2−ψ1} >= 1: P(M1) → 0, or a fair coin at a tie).
        unrecovered_inconclusive = [(key, e) for key, e in inconclusive if exact_ratio(int(key.split("=")[1])) >= 1]
        if asserted_recovers and (not_recovered or unrecovered_inconclusive):
            key, entry = (not_recovered or unrecovered_inconclusive)[0]
            n = int(key.split("=")[1])
            ratio = exact_ratio(n)
            return refuted({"inputs": {"choice_set_size": n, "p_ref_m1": str(ZETA), "p_star_1": str(P_STAR),
                                       "num_data": size,
                                       "conversion": "choice ≻ every other member (all-pairs) "
                                                     "and ≻ one random member"},
                            "predicted": "RLPO on the pairwise conversion recovers M1 (P(M1) → 1)",
                            "computed": {"seeds_recovering_M1": {c: entry[c]["seeds_recovering_M1"]
                                                                 for c in ("all-pairs", "one-random")}, "seeds": SEEDS},
                            "recheck": {"method": "exact rational population ratio e^{ψ̂2 − ψ̂1} of the pairwise fit "
                                                  "(>= 1: P(M1) does not tend to 1)",
                                        "computed": str(ratio), "agrees": bool(ratio >= 1)}}, evidence)
        if asserted_recovers and inconclusive:
            raise RuntimeError("the simulation is inconclusive for " + ", ".join(key for key, _ in inconclusive)
                               + " while the exact population ratio favours M1 there: neither holds nor refuted")
        if not asserted_recovers and len(recovered_all) == len(sims):
            ratio = exact_ratio(2)
            return refuted({"inputs": {"p_ref_m1": str(ZETA), "p_star_1": str(P_STAR), "num_data": size},
                            "predicted": "some |Y| where the conversion does not recover M1",
                            "computed": {"recovering_for": recovered_all},
                            "recheck": {"method": "exact rational population ratios of the pairwise fit",
                                        "computed": {key: str(exact_ratio(int(key.split("=")[1]))) for key in sims},
                                        "agrees": all(exact_ratio(int(key.split("=")[1])) < 1 for key in sims)
                                        and ratio < 1}}, evidence)
        if asserted_recovers:  # every |Y| recovered in the simulation (no failure, nothing inconclusive)
            return holds(evidence, backing=f"{cases} exact grid cases; {SEEDS}-seed simulations of both conversions")
        if not (not_recovered or unrecovered_inconclusive):
            raise RuntimeError("the simulation is inconclusive for " + ", ".join(key for key, _ in inconclusive)
                               + " while the exact population ratio favours M1 there: neither holds nor refuted")
        return holds(evidence, backing=f"{cases} exact grid cases; {SEEDS}-seed simulations of both conversions; "
                                       "exact population ratios for |Y| the simulation leaves inconclusive")
    if mismatches:
        answer = ("Not in the same way as the k-way fit: the pairwise-converted fit's boundary differs from "
                  f"F(P_ref(M1)) (first at {mismatches[0]}).")
    elif not_recovered:
        failing = ", ".join(key for key, _ in not_recovered)
        answer = ("No: after converting each k-way choice into pairwise comparisons (all pairs, or one random pair), "
                  "RLPO's fitted reward favours M2 exactly when p*(1) < F(P_ref(M1)), "
                  "the same region as the k-way fit, "
                  f"so at the §5.3 setup it still goes to M2 for {failing}.")
    else:
        answer = ("At the §5.3 setup it does, but only because p*(1) >= F(P_ref(M1)) there: the converted fit favours "
                  "M2 exactly where the k-way fit does, p*(1) < F(P_ref(M1)).")
    evidence["exact_population_ratio_e^{ψ2−ψ1}"] = {key: str(exact_ratio(int(key.split("=")[1]))) for key in sims}
    return answered(answer, evidence, backing=f"{cases} exact grid cases; {SEEDS}-seed simulations of both "
                                              "conversions")



# ---------------------------------------------------------------------------------------
# §6, the IIA arithmetic of the discussion
# ---------------------------------------------------------------------------------------


@PAPER.check("IIA-S6IIA", mutants=[
    repair("decrease to 2/11", "An IIA (logit) annotator who picks the concise response over one informative "
           "response with probability 2/5 picks it from one concise and three equally liked informative responses "
           "with probability 2/11: a decrease", claimed_probability="2/11", claimed_direction="decrease"),
    repair("fitted IIA model: 2/3 in a pair", "An IIA (logit) model fitted to choices among one concise and three "
           "informative responses in which the concise response is chosen with probability 2/5 predicts that it "
           "beats one informative response with probability 2/3", inference="fit"),
])
def check_sec6_iia_example(*, quick: bool, pairwise_concise: str = "2/5", informative_alternatives: int = 3,
                           claimed_probability: str = "2/3", claimed_direction: str = "increase",
                           inference: str = "predict"):
    """Seed 002, §6.3, discussion: "Consider a simulated annotator who, when presented with one
    concise and one informative response, selects the former with probability 2/5. Under the
    IIA assumption, increasing the number of informative alternatives from one to three would
    increase the probability of choosing the concise response to 2/3".

    Parameters state the sentence: ``pairwise_concise`` (2/5), ``informative_alternatives``
    (3), ``claimed_probability`` (2/3) and ``claimed_direction`` ("increase") of the
    probability of choosing the concise response; ``inference`` "predict" (the sentence as
    written: from the pairwise probability to the 1 + k set under IIA) or "fit" (the reverse:
    an IIA model fitted to the 1 + k choice probability, predicting the pair).

    Exact rationals: IIA with the k informative responses equally liked (the paragraph's
    "indifferent") is the Luce / logit rule with weights w_c : w_i = q : (1 − q), so the 1 + k
    probability is w/(w + k), w = q/(1 − q); fitted the other way, w = kq/(1 − q) and the pair
    gives w/(w + 1). Rechecked independently by sympy's solve on the Luce equations and by
    the Gumbel integral of §3.4 (mpmath quadrature, not the softmax form); the dichotomy
    model's 2/5 for an indifferent annotator by eq (5) in exact rationals.
    """
    from pmtheory.iia.choice import (
        exact_dichotomy_eq5_probabilities,
        gumbel_choice_probability_by_quadrature,
    )

    q, k = Fraction(pairwise_concise), int(informative_alternatives)
    claimed = Fraction(claimed_probability)
    if inference not in ("predict", "fit"):
        raise ValueError(f"inference must be 'predict' or 'fit', got {inference!r}")
    if claimed_direction not in ("increase", "decrease"):
        raise ValueError(f"claimed_direction must be 'increase' or 'decrease', got {claimed_direction!r}")

    def luce(inference_: str) -> tuple[Fraction, Fraction]:
        """(weight ratio w_c/w_i, the probability the inference arrives at)."""
        if inference_ == "predict":
            w = q / (1 - q)
            return w, w / (w + k)
        w = k * q / (1 - q)
        return w, w / (w + 1)

    weight, computed = luce(inference)
    before = q
    direction = "increase" if computed > before else ("decrease" if computed < before else "unchanged")
    # Independent rechecks: sympy solves the Luce equations; the Gumbel integral of §3.4.
    w_symbol = sp.Symbol("w", positive=True)
    if inference == "predict":
        solved = sp.solve(sp.Eq(w_symbol / (w_symbol + 1), sp.Rational(q.numerator, q.denominator)), w_symbol)
        sympy_value = solved[0] / (solved[0] + k)
        members = [0] + [1] * k
    else:
        solved = sp.solve(sp.Eq(w_symbol / (w_symbol + k), sp.Rational(q.numerator, q.denominator)), w_symbol)
        sympy_value = solved[0] / (solved[0] + 1)
        members = [0, 1]
    rewards = np.array([math.log(float(weight)), 0.0])
    gumbel = gumbel_choice_probability_by_quadrature(np.r_[rewards[0], np.zeros(len(members) - 1)],
                                                     list(range(len(members))), 0)
    dichotomy = exact_dichotomy_eq5_probabilities([1] + [2] * k, (q, 1 - q), list(range(k + 1)))[0]
    other_weight, other_value = luce("fit" if inference == "predict" else "predict")
    # Regularity of the Luce rule: under IIA (eq 6, positive probabilities) adding alternatives never raises
    # P(concise); with P(concise ≻ each informative) = q it is w/(w + j) for j informative alternatives.
    pairwise_weight = q / (1 - q)
    regularity = [str(pairwise_weight / (pairwise_weight + j)) for j in range(1, k + 3)]
    evidence = {"pairwise_concise": str(q), "informative_alternatives": k, "inference": inference,
                "luce_weight_ratio_w_concise/w_informative": str(weight),
                "computed_probability": str(computed), "computed_direction": direction,
                "claimed_probability": str(claimed), "claimed_direction": claimed_direction,
                "sympy_recheck": str(sp.nsimplify(sympy_value)), "gumbel_integral_recheck": gumbel,
                "dichotomy_model_(eq 5)_concise_in_1+k": str(dichotomy),
                "IIA_P(concise)_with_1..k+2_informative": regularity,
                "IIA_P(concise)_never_increases": all(Fraction(a) > Fraction(b)
                                                      for a, b in itertools.pairwise(regularity)),
                "other_inference": {"inference": "fit" if inference == "predict" else "predict",
                                    "weight_ratio": str(other_weight), "probability": str(other_value)}}
    if sp.nsimplify(sympy_value) != sp.Rational(computed.numerator, computed.denominator) or \
            abs(gumbel - float(computed)) > 1e-10:
        raise RuntimeError(f"the Luce arithmetic disagrees with its rechecks: {evidence}")
    ok = computed == claimed and direction == claimed_direction
    # Readings: the sentence as written (predict) and reversed (fit), each judged on the paper's numbers.
    paper_claim = Fraction(2, 3)
    readings = [Reading("as written: an IIA annotator with P(concise ≻ informative) = 2/5 facing 1 concise + 3 "
                        "informative responses", "holds" if luce("predict")[1] == paper_claim else "refuted"),
                Reading("reversed: an IIA model fitted to 1 + 3 choices with the concise response chosen 2/5 of the "
                        "time, predicting the 1 + 1 choice", "holds" if luce("fit")[1] == paper_claim else "refuted")]
    if ok:
        return holds(evidence, backing="exact rational Luce arithmetic; sympy and Gumbel-integral rechecks",
                     readings=readings)
    # The refutation's recheck judges the claim on the rechecks' own values (value and direction against the
    # starting probability q): sympy exactly; the Gumbel integral to 1e-9 for the direction (its quadrature at
    # 30 digits is accurate far below that, and it matched the Luce value to 1e-10 above) and 1e-6 for the value.
    sympy_exact = sp.nsimplify(sympy_value)
    q_symbolic = sp.Rational(q.numerator, q.denominator)
    sympy_direction = "increase" if sympy_exact > q_symbolic else ("decrease" if sympy_exact < q_symbolic
                                                                    else "unchanged")
    sympy_refutes = sympy_exact != sp.Rational(claimed.numerator, claimed.denominator) or \
        sympy_direction != claimed_direction
    gumbel_direction = "increase" if gumbel > float(q) + 1e-9 else ("decrease" if gumbel < float(q) - 1e-9
                                                                    else "unchanged")
    gumbel_refutes = abs(gumbel - float(claimed)) > 1e-6 or gumbel_direction != claimed_direction
    return refuted({"inputs": {"P(concise | 1 concise + 1 informative)" if inference == "predict" else
                               f"P(concise | 1 concise + {k} informative)": str(q),
                               "informative_alternatives": k, "inference": inference},
                    "predicted": f"{claimed_direction} to {claimed}",
                    "computed": f"{direction} to {computed} (Luce weights w_concise : w_informative = {weight})",
                    "recheck": {"method": "sympy solve of the Luce equations, "
                                          "and the Gumbel integral of §3.4 by mpmath "
                                          "quadrature",
                                "computed": {"sympy": str(sympy_exact), "sympy_direction": sympy_direction,
                                             "gumbel_integral": gumbel, "gumbel_direction": gumbel_direction},
                                "agrees": bool(sympy_refutes and gumbel_refutes)}},
                   evidence, readings=readings)

