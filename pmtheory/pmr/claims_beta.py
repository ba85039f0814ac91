"""Check of seed 001's claim on the bias from β (App A.3, Fig 9): PMR-A3 (``shared/CLAIMS.md``).

Statement, mutants and independent rechecks as in :mod:`pmtheory.pmr.claims_bias`.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), App A.3 (Fig 9).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
from scipy.special import expit, logit

from pmtheory.claims import Reading, holds, mutant, refuted
from pmtheory.pmr import rlhf
from pmtheory.pmr.paper import PAPER

# ---------------------------------------------------------------------------------------
# PMR-A3: bias from β (Fig 9)
# ---------------------------------------------------------------------------------------

# App A.3's numbers: β = 0.1, p_reward > 0.7 ⇒ p_rlhf > 0.99.
_A3_BETA = Fraction(1, 10)
_A3_P_REWARD = Fraction(7, 10)
_A3_P_RLHF = Fraction(99, 100)


def a3_threshold(beta: Fraction = _A3_BETA, p_reward: Fraction = _A3_P_REWARD,
                 p_rlhf: Fraction = _A3_P_RLHF) -> Fraction:
    """The least p_ref(y) for which β, p_reward(y) > p_reward ⇒ p_rlhf(y) > p_rlhf, exactly.

    p_rlhf = σ(logit p_ref + logit(p_reward)/β) increases in p_reward, so the claim holds iff
    it holds in the limit p_reward → 7/10: odds(p_ref)·(7/3)^10 ≥ 99, i.e.
    p_ref ≥ 99·3^10/(99·3^10 + 7^10) (for App A.3's numbers, the defaults; 1/β must be a whole
    number).
    """
    power = _a3_power(beta)
    odds_reward = (p_reward / (1 - p_reward)) ** power
    needed = (p_rlhf / (1 - p_rlhf)) / odds_reward
    return needed / (1 + needed)


def _a3_power(beta: Fraction) -> int:
    power = 1 / Fraction(beta)
    if power.denominator != 1:
        raise ValueError(f"1/β must be a whole number for the exact rational check, got β = {beta}")
    return int(power)


def _rational_pair_preference(p_ref: Fraction, p_reward: Fraction, power: int) -> Fraction:
    """σ(logit p_ref + power·logit p_reward) in exact rationals (β = 1/power)."""
    odds = p_ref / (1 - p_ref) * (p_reward / (1 - p_reward)) ** power
    return odds / (1 + odds)


_A3_FIG9_READING = (
    "Figure 9's setting: a uniform reference (p_ref(y) = 1/2, so that only β biases), p_reward the reward model's "
    "preference σ(r(y) − r(y')) on the x-axis, and 'smaller β, more severe bias' over the β ≤ 1 that App A.3 "
    "discusses (β < 1, the extreme case β = 0.1) and the paper's experiments use (0.1, 0.5, 1)")


@PAPER.check("PMR-A3", mutants=[
    mutant("0.99 at β = 1", "β = 1 and p_reward(y) > 0.7 give p_rlhf(y) > 0.99.", a3_beta="1"),
    mutant("0.9999 bound", "β = 0.1 and p_reward(y) > 0.7 give p_rlhf(y) > 0.9999.", a3_p_rlhf="9999/10000"),
    mutant("from p_reward > 0.6", "β = 0.1 and p_reward(y) > 0.6 give p_rlhf(y) > 0.99.", a3_p_reward="6/10"),
    mutant("β < 1 shrinks", "When β < 1 the aligned model shrinks the dominant response towards 1/2.",
           amplifies_below_one=False),
    mutant("larger β, more bias", "Larger β (below 1), more severe algorithmic bias.", smaller_beta_more_bias=False),
])
def check_beta_bias(*, quick: bool, a3_beta: str = str(_A3_BETA), a3_p_reward: str = str(_A3_P_REWARD),
                    a3_p_rlhf: str = str(_A3_P_RLHF), amplifies_below_one: bool = True,
                    smaller_beta_more_bias: bool = True):
    """Seed 001, App A.3 / Fig 9: β ≠ 1 biases the aligned model (smaller β, more severe); β < 1
    amplifies the dominant response; β = 0.1, p_reward > 0.7 ⇒ p_rlhf > 0.99.

    Statement parameters (defaults are the paper's): ``a3_beta``, ``a3_p_reward``, ``a3_p_rlhf``
    (exact rationals) the numbers of the extreme case; ``amplifies_below_one`` the direction
    for β < 1; ``smaller_beta_more_bias`` the direction of "smaller β, more severe bias".

    Judged "as illustrated in Figure 9", in its setting (CLAIMS.md): p_ref = 1/2 and the BTL
    p_reward (see :data:`_A3_FIG9_READING`). Methods: (1) exact solver on Fig 9's curves
    (``pmr_figures.fig9_curves``): every β ≠ 1 differs from p_reward, β < 1 amplifies the
    majority, and the bias grows as β falls below 1; (2) the extreme case at p_ref = 1/2 in
    exact rationals at the infimum p_reward → 0.7 (p_rlhf increases in p_reward) and with the
    exact solver; (3) the other readings, as :class:`Reading`: at an arbitrary reference the
    extreme case needs p_ref(y) ≥ 99·3^10/(99·3^10 + 7^10) (bisection of the exact solver
    against the rational threshold); over all β > 0 "smaller β, more bias" fails (β = 10 is
    more biased than β = 2); with §5.1's tempered p_reward there is no bias at all.
    """
    from pmtheory.pmr.figures import FIG9_BETAS, fig9_curves

    beta_q, p_min_q, target_q = Fraction(a3_beta), Fraction(a3_p_reward), Fraction(a3_p_rlhf)
    power = _a3_power(beta_q)
    curves = fig9_curves(quick=quick)
    below_one = [b for b in FIG9_BETAS if b < 1]

    def fig9_parts(x_axis):
        """Fig 9's statements with p_reward = x_axis(curve) on the x-axis: the bias p_rlhf − p_reward per β,
        whether β < 1 (> 1) amplifies (shrinks) the majority, whether the bias grows as β falls below 1,
        and whether every β ≠ 1 biases (by more than 1e-3; β = 1 within 1e-12)."""
        bias, amplify = {}, {}
        for c in curves[:-1]:
            x = x_axis(c)
            diff = c.exact[0] - x
            upper = x > 0.5
            bias[str(c.beta)] = float(np.max(np.abs(diff)))
            if c.beta != 1:
                amplify[str(c.beta)] = bool(np.all(diff[upper] > 0)) if c.beta < 1 else bool(np.all(diff[upper] < 0))
        grows = all(bias[str(x)] > bias[str(y)] for x, y in itertools.pairwise(below_one))
        biased = all(bias[str(b)] > 1e-3 for b in FIG9_BETAS if b != 1.0) and bias["1.0"] <= 1e-12
        amplifies_ = all(amplify[str(b)] for b in below_one)  # β < 1: diff > 0 where p_reward > 1/2
        return bias, amplify, grows, biased, amplifies_

    bias, amplify, grows_as_beta_falls, biased_off_one, amplifies = fig9_parts(lambda c: c.p_reward)
    direction_ok = amplifies == amplifies_below_one
    severity_ok = grows_as_beta_falls == smaller_beta_more_bias
    # Over all β: β = 2 against β = 10 (is the smaller β more biased?).
    all_beta_monotone = bias["2.0"] > bias["10.0"]
    # (2) the extreme case at Fig 9's uniform reference, exactly.
    half = Fraction(1, 2)
    at_infimum = _rational_pair_preference(half, p_min_q, power)
    extreme_ok = at_infimum >= target_q
    solver_at_infimum = float(rlhf.f_rlhf_pair_preference(float(logit(float(p_min_q))), 0.0, beta=float(beta_q)))
    if abs(solver_at_infimum - float(at_infimum)) > 1e-12:
        raise RuntimeError(f"the exact solver ({solver_at_infimum}) disagrees with the rational {at_infimum}")
    # (3) an arbitrary reference: the threshold on p_ref, bisected on the exact solver.
    threshold = a3_threshold(beta_q, p_min_q, target_q)
    beta, target, p_min = float(beta_q), float(target_q), float(p_min_q)

    def solver_at(p_ref):  # the exact solver's p_rlhf at the infimum p_reward
        return float(rlhf.f_rlhf_pair_preference(float(logit(p_min)), float(logit(p_ref)), beta=beta))

    lo, hi = 1e-12, 1.0 - 1e-12
    for _ in range(80):
        mid = float(expit((logit(lo) + logit(hi)) / 2))
        lo, hi = (mid, hi) if solver_at(mid) < target else (lo, mid)
    numeric_threshold = hi
    threshold_agrees = (abs(numeric_threshold - float(threshold)) <= 1e-9 * float(threshold)
                        if 1e-12 < float(threshold) < 1 - 1e-12 else True)
    p_grid = np.linspace(p_min + 1e-4, 1 - 1e-4, 30 if quick else 300)
    refs = sorted({0.001, 0.01, 0.02, 0.0203, 0.021, 0.05, 0.1, 0.5, 0.9, float(threshold) * 0.999,
                   float(threshold) * 1.001} - {0.0})
    refs = [r for r in refs if 0 < r < 1]
    holds_at = {}
    for p_ref in refs:
        values = rlhf.f_rlhf_pair_preference(logit(p_grid), float(logit(p_ref)), beta=beta)
        holds_at[f"{p_ref:.6g}"] = bool(np.all(values > target) and solver_at(p_ref) >= target - 1e-12)
    region_ok = all(holds_at[f"{p:.6g}"] == (p >= float(threshold)) for p in refs)
    if not (threshold_agrees and region_ok):
        raise RuntimeError(f"the exact solver's threshold {numeric_threshold} or region {holds_at} disagrees with "
                           f"the rational threshold {float(threshold)}")
    # A rational point of the extreme case below the threshold: p_reward just above the bound,
    # p_ref the largest of 1/2, 1/100, 1/1000 below the threshold.
    counter_ref = next((q for q in (half, Fraction(1, 100), Fraction(1, 1000)) if q < threshold), None)
    counter_reward = next((p_min_q + Fraction(1, 10**k) for k in range(2, 12)
                           if counter_ref is not None
                           and _rational_pair_preference(counter_ref, p_min_q + Fraction(1, 10**k), power) < target_q),
                          None)
    # Tempered reading: the same statements with §5.1's tempered p_reward σ(logit(p)/β) on the x-axis (at
    # p_ref = 1/2, p_rlhf equals it for every β by (5.1), so no β biases), and the extreme case with the
    # tempered p_reward → p_min: p_rlhf = σ(logit p_ref + logit p_tempered), in exact rationals.
    t_bias, _, t_grows, t_biased, t_amplifies = fig9_parts(lambda c: rlhf.tempered_preference(c.p_reward, c.beta))
    tempered_gap = max(t_bias.values())
    t_at_infimum = _rational_pair_preference(half, p_min_q, 1)
    tempered_holds = bool(t_biased and t_amplifies == amplifies_below_one and t_grows == smaller_beta_more_bias
                          and t_at_infimum >= target_q)
    evidence = {
        "statement": {"beta": a3_beta, "p_reward_above": a3_p_reward, "p_rlhf_above": a3_p_rlhf,
                      "amplifies_below_one": amplifies_below_one, "smaller_beta_more_bias": smaller_beta_more_bias},
        "bias_max_abs_by_beta_at_p_ref_half": bias, "amplifies_majority_below_1": amplifies,
        "shrinks_majority_above_1": all(amplify[str(b)] for b in FIG9_BETAS if b > 1),
        "bias_grows_as_beta_falls_below_1": grows_as_beta_falls, "biased_off_one": biased_off_one,
        "smaller_beta_more_bias_over_all_beta": all_beta_monotone,
        "p_rlhf_at_uniform_reference_p_reward_infimum": str(at_infimum),
        "p_rlhf_at_uniform_reference_p_reward_infimum_float": float(at_infimum),
        "threshold_exact": str(threshold), "threshold_float": float(threshold),
        "threshold_by_bisection_on_exact_solver": numeric_threshold, "holds_at_p_ref": holds_at,
        "tempered_reading_max_gap_p_rlhf_vs_p_reward": tempered_gap,
        "tempered_reading": {"bias_max_abs_by_beta_at_p_ref_half": t_bias, "biased_off_one": t_biased,
                             "amplifies_majority_below_1": t_amplifies, "bias_grows_as_beta_falls_below_1": t_grows,
                             "p_rlhf_at_tempered_p_reward_infimum": str(t_at_infimum), "holds": tempered_holds},
    }
    if counter_ref is not None and counter_reward is not None:
        counter = _rational_pair_preference(counter_ref, counter_reward, power)
        counter_solver = float(rlhf.f_rlhf_pair_preference(float(logit(float(counter_reward))),
                                                           float(logit(float(counter_ref))), beta=beta))
        evidence["counterexample"] = {"p_ref": str(counter_ref), "p_reward": str(counter_reward), "beta": str(beta_q),
                                      "p_rlhf_exact": str(counter), "p_rlhf_float": float(counter),
                                      "p_rlhf_solver": counter_solver}
        if abs(float(counter) - counter_solver) > 1e-12:
            raise RuntimeError("the rational counterexample does not come out as derived")
    if not biased_off_one:
        raise RuntimeError(f"the exact solver's Fig 9 curves show no β-bias ({bias}); the computation is broken")
    fig9_holds = direction_ok and severity_ok and extreme_ok
    readings = [
        Reading(_A3_FIG9_READING, "holds" if fig9_holds else "refuted"),
        Reading("'smaller β, more severe bias' over every β > 0 (β > 1 included)",
                "holds" if fig9_holds and all_beta_monotone else "refuted"),
        Reading("an arbitrary reference p_ref(y), not Figure 9's uniform one",
                "holds-with-condition" if direction_ok and severity_ok and threshold < 1 else "refuted",
                (f"p_ref(y) ≥ {threshold} ≈ {float(threshold):.6f} for the β = {beta_q}, p_reward > {p_min_q} ⇒ "
                 f"p_rlhf > {target_q} case (odds(p_ref)·odds({p_min_q})^{power} = odds({target_q}))")
                if direction_ok and severity_ok and threshold < 1 else None),
        Reading("p_reward is §5.1's tempered e^{r/β}/Σ" + (": then p_rlhf = p_reward at p_ref = 1/2 for every β "
                                                            "(no bias)" if not t_biased else ""),
                "holds" if tempered_holds else "refuted"),
    ]
    backing = (f"exact solver on Fig 9's curves ({len(FIG9_BETAS)} β at p_ref = 1/2), exact rationals at the "
               f"infimum p_reward → {p_min_q}, bisection of the exact solver against the rational threshold over "
               f"{len(refs)} references × {p_grid.size} p_reward values")
    if fig9_holds:
        return holds(evidence, backing, readings=readings)
    # Refuted in Figure 9's own setting: one counterexample per failed part, rechecked in rationals.
    if not extreme_ok:
        p_rew = next(p_min_q + Fraction(1, 10**k) for k in range(2, 12)
                     if _rational_pair_preference(half, p_min_q + Fraction(1, 10**k), power) < target_q)
        exact = _rational_pair_preference(half, p_rew, power)
        solver = float(rlhf.f_rlhf_pair_preference(float(logit(float(p_rew))), 0.0, beta=beta))
        return refuted({
            "inputs": {"beta": str(beta_q), "p_ref": "1/2", "p_reward": str(p_rew)},
            "predicted": f"p_rlhf > {target_q}", "computed": solver,
            "recheck": {"method": "exact rational arithmetic: odds(p_ref)·odds(p_reward)^(1/β)",
                        "computed": str(exact), "agrees": bool(exact <= target_q)},
        }, evidence, readings=readings)
    if not direction_ok:
        p_rew, b = Fraction(4, 5), Fraction(1, 10)
        exact = _rational_pair_preference(half, p_rew, 10)
        solver = float(rlhf.f_rlhf_pair_preference(float(logit(0.8)), 0.0, beta=0.1))
        stated = "p_rlhf < p_reward (shrunk)" if not amplifies_below_one else "p_rlhf > p_reward (amplified)"
        return refuted({
            "inputs": {"beta": str(b), "p_ref": "1/2", "p_reward": str(p_rew)},
            "predicted": stated, "computed": solver,
            "recheck": {"method": "exact rational arithmetic: odds(p_ref)·odds(p_reward)^(1/β)",
                        "computed": str(exact), "agrees": bool((exact > p_rew) != amplifies_below_one)},
        }, evidence, readings=readings)
    # severity: bias at β = 1/10 against β = 1/2 at p_reward = 4/5 (β = 1/2 is the square).
    p_rew = Fraction(4, 5)
    bias_01 = _rational_pair_preference(half, p_rew, 10) - p_rew
    bias_05 = _rational_pair_preference(half, p_rew, 2) - p_rew
    return refuted({
        "inputs": {"betas": ["1/10", "1/2"], "p_ref": "1/2", "p_reward": str(p_rew)},
        "predicted": "bias at β = 1/2 > bias at β = 1/10" if not smaller_beta_more_bias else
        "bias at β = 1/10 > bias at β = 1/2",
        "computed": {"bias_beta_0.1": float(rlhf.f_rlhf_pair_preference(float(logit(0.8)), 0.0, beta=0.1)) - 0.8,
                     "bias_beta_0.5": float(rlhf.f_rlhf_pair_preference(float(logit(0.8)), 0.0, beta=0.5)) - 0.8},
        "recheck": {"method": "exact rational arithmetic",
                    "computed": {"beta_1/10": str(bias_01), "beta_1/2": str(bias_05)},
                    "agrees": bool((bias_01 > bias_05) != smaller_beta_more_bias)},
    }, evidence, readings=readings)
