"""Checks of the MOD claims on sub-optimal base policies (Thm 4, Lemmas 2-3, Props 3-4) and the
appendices (D.2, D.3, G, G.2) and token-level decoding (seed 004, Shi et al. 2024).

Split from :mod:`pmtheory.mod.claims_theory`, whose conventions (and shared helpers) it uses.
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import sympy as sp
from hypothesis import strategies as st
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_softmax, logsumexp, softmax

from pmtheory.claims import (
    ProofGap,
    Reading,
    answered,
    holds,
    mutant,
    refuted,
)
from pmtheory.cvx import cvxpy_optimal_policy
from pmtheory.divergences import f_divergence, f_divergence_from_log, get_divergence
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.mod.policy import implied_rewards, prop1_bracket
from pmtheory.mod.policy import optimal_policy as mod_optimal_policy
from pmtheory.mod.baselines import (
    autoregressive_instance,
    compare_token_and_sequence_level,
    pareto_fronts,
    token_level_log_policy,
)
from pmtheory.mod.claims_theory import (
    BARRIER_DIVERGENCES,
    _bases,
    _in_bracket,
    _mp_thm5_scores,
    _require,
    _search_record,
    _split,
    _weighted_instance,
)
from pmtheory.mod.decoding import (
    published_code_log_scores,
    sampling_policy,
    thm5_log_scores,
    thm5_rule_defined,
)
from pmtheory.solvers import optimal_policy, regularized_objective
from pmtheory.testing import POLICY_ATOL, property_search
from pmtheory.mod.paper import PAPER

# ---------------------------------------------------------------------------------------
# MOD-T4, MOD-L2, MOD-P3, MOD-L3, MOD-P4: sub-optimal base policies
# ---------------------------------------------------------------------------------------


def _kl_from_log(log_p: np.ndarray, log_q: np.ndarray) -> float:
    """KL(p‖q) in nats from log-probabilities."""
    return float(f_divergence_from_log(log_p, log_q, "reverse_kl"))


def _value_nats(log_policy: np.ndarray, combined_reward: np.ndarray, log_reference: np.ndarray, beta: float) -> float:
    """V(π) = E_π[Σ w R]/β − KL(π‖π_ref), the KL-regularized value in nats (Prop 3's scaling)."""
    return float(np.exp(log_policy) @ combined_reward / beta - _kl_from_log(log_policy, log_reference))


@st.composite
def _suboptimal_instance(draw):
    """(R (M, K), w, log π_ref, β, log p_i (optimal), log π_i (perturbed)) for Thm 4 / Prop 4."""
    m, k = draw(st.integers(2, 3)), draw(st.integers(2, 6))
    scale = draw(st.sampled_from([0.3, 2.0, 8.0]))
    rewards = np.asarray(draw(st.lists(st.floats(-1, 1), min_size=m * k, max_size=m * k))).reshape(m, k) * scale
    raw = np.asarray(draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]), min_size=m, max_size=m)))
    if raw.sum() == 0:
        raw[0] = 1.0
    log_reference = log_softmax(np.asarray(draw(st.lists(st.floats(-6, 0), min_size=k, max_size=k))))
    beta = draw(st.sampled_from([0.1, 1.0, 10.0]))
    size = draw(st.sampled_from([1e-3, 0.1, 0.5, 2.0]))
    noise = np.asarray(draw(st.lists(st.floats(-1, 1), min_size=m * k, max_size=m * k))).reshape(m, k) * size
    optimal = optimal_policy(rewards, log_reference=log_reference, divergence="reverse_kl", beta=beta).log_policy
    perturbed = log_softmax(optimal + noise, axis=-1)
    return rewards, raw / raw.sum(), log_reference, beta, optimal, perturbed


def _thm4_constants(optimal: np.ndarray, perturbed: np.ndarray, log_reference: np.ndarray) -> tuple[float, float]:
    """Thm 4's smallest admissible L = max_{i,y} |log p_i − log π_i| and
    C = max_i max(KL(π_ref‖π_i), KL(π_ref‖p_i))."""
    spread = float(np.max(np.abs(optimal - perturbed)))
    c = max(max(_kl_from_log(log_reference, row) for row in perturbed),
            max(_kl_from_log(log_reference, row) for row in optimal))
    return spread, c


def _thm4_quantities(instance, units: str = "nats") -> dict:
    """V* − V (in ``units``: "nats", V = E_π[Σ w R]/β − KL(π‖π_ref), or "reward",
    V = E_π[Σ w R] − β KL(π‖π_ref)), L, C, e^C L, and the proof's AM-GM step."""
    rewards, weights, log_reference, beta, optimal, perturbed = instance
    combined = weights @ rewards
    log_star = log_softmax(weights @ optimal)  # π* ∝ Π p_i^{w_i} (the optimum for Σ w R, eq 7)
    log_w = log_softmax(weights @ perturbed)  # π_w ∝ Π π_i^{w_i}
    gap = _value_nats(log_star, combined, log_reference, beta) - _value_nats(log_w, combined, log_reference, beta)
    spread, c = _thm4_constants(optimal, perturbed, log_reference)
    step = _thm4_am_gm_step(weights, optimal, perturbed)
    return {"gap_nats": gap, "gap_reward_units": beta * gap, "gap": gap if units == "nats" else beta * gap,
            "L": spread, "C": c, "e_C_L": math.exp(c) * spread, "bound": 2.0 * math.exp(c) * spread,
            "proof_am_gm_step_fails": step["fails"]}


def _thm4_am_gm_step(weights, optimal, perturbed) -> dict:
    """The two 'AM-GM' steps of the proof of Thm 4 (App E.4): with d = Σ_i w_i log(p_i/π_i),
    (a) E_{π*}[d] ≤ (1/Z*) Σ_y (Σ_i w_i p_i(y)) d(y) and (b) E_{π_w}[−d] ≤ (1/Z_w) Σ_y
    (Σ_i w_i π_i(y)) (−d(y)): each multiplies Π p^w ≤ Σ w p (AM-GM) by a factor of either sign."""
    d = weights @ (optimal - perturbed)
    star_lhs = float(softmax(weights @ optimal) @ d)
    star_rhs = float(np.exp(-logsumexp(weights @ optimal)) * np.sum((weights @ np.exp(optimal)) * d))
    w_lhs = float(softmax(weights @ perturbed) @ -d)
    w_rhs = float(np.exp(-logsumexp(weights @ perturbed)) * np.sum((weights @ np.exp(perturbed)) * -d))
    return {"step_a_lhs": star_lhs, "step_a_rhs": star_rhs, "step_b_lhs": w_lhs, "step_b_rhs": w_rhs,
            "fails": bool(star_lhs > star_rhs + 1e-12 or w_lhs > w_rhs + 1e-12)}


def _thm4_am_gm_witness() -> dict:
    """K = 2, π_ref = (1/2, 1/2), w = (1/2, 1/2), p_1 = (0.1, 0.9), p_2 = (0.6, 0.4) (optimal for
    R_i = β log(2 p_i)), π_1 = (0.9, 0.1), π_2 = (0.4, 0.6): both AM-GM steps fail (the best
    witness on a grid of tenths), while the theorem's bound holds there."""
    weights = np.array([0.5, 0.5])
    optimal = np.log([[0.1, 0.9], [0.6, 0.4]])
    perturbed = np.log([[0.9, 0.1], [0.4, 0.6]])
    log_reference = np.log([0.5, 0.5])
    rewards = np.log(2.0 * np.exp(optimal))  # β = 1
    step = _thm4_am_gm_step(weights, optimal, perturbed)
    values = _thm4_quantities((rewards, weights, log_reference, 1.0, optimal, perturbed))
    return {"reference": [0.5, 0.5], "weights": weights, "p": np.exp(optimal), "pi": np.exp(perturbed),
            **step, "V_star_minus_V_nats": values["gap_nats"], "bound_2_e_C_L": values["bound"]}


def _thm4_swap_instance(s: float, beta: float = 1.0):
    """The extremal family of Thm 4: K = 2, π_ref = (1/2, 1/2), M = 2 identical objectives
    (w = (1/2, 1/2)) with p_i = (s, 1 − s) and π_i = (1 − s, s). Then V* − V = KL(π_w‖π*) =
    (1 − 2s) L with L = log((1 − s)/s) and e^C = 1/(2√(s(1 − s))), so (V* − V)/(e^C L) =
    2(1 − 2s)√(s(1 − s)), largest (= 1/2) at s = (2 − √2)/4."""
    log_reference = np.log([0.5, 0.5])
    optimal = np.log([[s, 1 - s], [s, 1 - s]])
    perturbed = np.log([[1 - s, s], [1 - s, s]])
    rewards = beta * (optimal - log_reference)
    return rewards, np.array([0.5, 0.5]), log_reference, beta, optimal, perturbed


def _thm4_extremal_ratio() -> tuple[float, float]:
    """(s, (V* − V)/(e^C L)) maximized over the swap family by a bounded scalar search."""
    def ratio(s):
        values = _thm4_quantities(_thm4_swap_instance(s))
        return values["gap_nats"] / values["e_C_L"]

    found = minimize_scalar(lambda s: -ratio(s), bounds=(1e-3, 0.5 - 1e-3), method="bounded",
                            options={"xatol": 1e-10})
    return float(found.x), float(ratio(found.x))


@PAPER.check("MOD-T4", mutants=[
    mutant("V in reward units", "Thm 4 with V(π) = E_π[Σ w_i R_i] − β KL(π‖π_ref) (reward units): "
           "β(V* − V) ≤ 2·e^C·L", units="reward"),
    mutant("constant 1/4", "V* − V ≤ (1/4)·e^C·L under Thm 4's hypotheses", constant=0.25),
])
def check_thm4(*, quick: bool, constant: float = 2.0, units: str = "nats"):
    """Seed 004, Thm 4 (§4.3, proof App E.4): with max_y |log p_i − log π_i| ≤ L and
    KL(π_ref‖π_i), KL(π_ref‖p_i) ≤ C, V* − V ≤ 2·e^C·L for π_w ∝ Π π_i^{w_i}.

    Parameters (the statement): ``constant`` is the 2 of the bound ``constant·e^C·L``;
    ``units`` says what V is: "nats", V(π) = E_π[Σ w R]/β − KL(π‖π_ref), the scaling of Prop 3
    through which the proof defines V* − V = KL(π_w‖π*) (the paper's own reading), or
    "reward", V(π) = E_π[Σ w R] − β KL(π‖π_ref).

    V is computed directly (not through Prop 3) on random instances with perturbed base
    policies (L and C the smallest admissible values), on the extremal family
    :func:`_thm4_swap_instance` (ratio (V* − V)/(e^C L) maximized by a scalar search: the
    tight constant is 1/2, found also by an unconstrained optimizer over K ≤ 3, M ≤ 2), and on
    a large-β instance for the reward-unit reading. The proof's AM-GM steps are recorded
    beside the verdict as a proof gap.
    """
    if units not in ("nats", "reward"):
        raise ValueError(f"units must be 'nats' or 'reward', got {units!r}")
    stats = {"max_ratio_to_bound": 0.0, "max_ratio_to_2L": 0.0, "max_ratio_to_e_C_L": 0.0,
             "max_ratio_reward_units_to_bound": 0.0, "proof_am_gm_step_fails": 0}

    def violates(values) -> bool:
        # 1e-9 relative: V is a difference of two sums of K ≤ 6 float64 terms.
        return values["gap"] > constant * values["e_C_L"] * (1 + 1e-9) + 1e-12

    def check(instance):
        values = _thm4_quantities(instance, units)
        if values["L"] <= 0:
            return
        stats["max_ratio_to_bound"] = max(stats["max_ratio_to_bound"], values["gap_nats"] / values["bound"])
        stats["max_ratio_to_2L"] = max(stats["max_ratio_to_2L"], values["gap_nats"] / (2 * values["L"]))
        stats["max_ratio_to_e_C_L"] = max(stats["max_ratio_to_e_C_L"], values["gap_nats"] / values["e_C_L"])
        stats["max_ratio_reward_units_to_bound"] = max(stats["max_ratio_reward_units_to_bound"],
                                                       values["gap_reward_units"] / values["bound"])
        stats["proof_am_gm_step_fails"] += int(values["proof_am_gm_step_fails"])
        _require(not violates(values), (
            f"bound: V* − V = {values['gap']} ({units}) > {constant:g}·e^C·L = {constant * values['e_C_L']}"))

    outcome = property_search(_suboptimal_instance(), check, examples=25 if quick else 300, seed=131)
    s_star, tight = _thm4_extremal_ratio()
    units_example = _thm4_units_example()
    evidence = {"instances": outcome.examples, "units_of_V": units, "constant": constant, **stats,
                "extremal_family": {"s": s_star, "max_ratio_to_e_C_L": tight,
                                    "closed_form": "2(1 − 2s)√(s(1 − s)), max 1/2 at s = (2 − √2)/4"},
                "tight_constant_numerical": max(tight, stats["max_ratio_to_e_C_L"]),
                "units_counterexample": units_example}
    counterexample = outcome.counterexample
    if counterexample is None:
        for candidate in (_thm4_swap_instance(s_star), _thm4_units_example_instance()):
            if violates(_thm4_quantities(candidate, units)):
                counterexample = candidate
                break
    if counterexample is not None:
        values = _thm4_quantities(counterexample, units)
        rewards, weights, log_reference, beta, optimal, perturbed = counterexample
        mp_gap = _mp_value_gap(rewards, weights, log_reference, beta, perturbed)
        mp_gap = mp_gap if units == "nats" else beta * mp_gap
        bound = constant * values["e_C_L"]
        return refuted({"inputs": {"rewards": rewards, "weights": weights, "log_reference": log_reference,
                                   "beta": beta, "log_optimal_policies": optimal, "log_perturbed_policies": perturbed,
                                   "units": units},
                        "predicted": f"V* − V ≤ {constant:g}·e^C·L = {bound} (L = {values['L']}, C = {values['C']})",
                        "computed": {"V_star_minus_V": values["gap"]},
                        "recheck": {"method": "mpmath values at 30 digits, π* rebuilt from the rewards",
                                    "computed": {"V_star_minus_V": mp_gap}, "agrees": bool(mp_gap > bound)}},
                       evidence)
    witness = _thm4_am_gm_witness()
    gap = ProofGap(
        step="App E.4, proof of Thm 4: the display bounded by exp(C)·L via Eq. (18), (20), and the KL display "
             "marked '(AM-GM inequality)'",
        finding="Both steps replace Π_i p_i^{w_i} (resp. Π_i π_i^{w_i}) by the larger Σ_i w_i p_i inside a sum "
                "multiplied by d = Σ_i w_i log(p_i/π_i) (resp. −d), which takes both signs, so the inequality can "
                "reverse. The conclusion survives: |d| ≤ L pointwise, so E_{π*}[d] ≤ L ≤ e^C L directly, and "
                "V* − V = KL(π_w‖π*) = E_{π_w}[−d] + log(Z*/Z_w) ≤ L + L = 2L ≤ 2e^C L.",
        witness=witness)
    readings = [
        Reading("V in nats, V(π) = E_π[Σ w_i R_i]/β − KL(π‖π_ref): the scaling of Prop 3, by which the proof "
                "writes V* − V = KL(π_w‖π*)",
                # the largest (V* − V)/(e^C L) in nats seen (search and extremal family) against the constant,
                # with violates()'s 1e-9 relative allowance
                "holds" if evidence["tight_constant_numerical"] <= constant * (1 + 1e-9) else "refuted"),
        Reading("V in reward units, V(π) = E_π[Σ w_i R_i] − β KL(π‖π_ref): the gap is β times larger",
                "refuted" if units_example["recheck_agrees"] else "holds"),
    ]
    return holds(evidence, f"{outcome.examples} property examples, the extremal family (tight constant "
                           f"{tight:.6g} < {constant:g}), and the bound V* − V ≤ 2L (Jensen; max ratio to 2L "
                           f"{stats['max_ratio_to_2L']:.3g}); V in {units}",
                 proof_gaps=[gap] if witness["fails"] else [], readings=readings if units == "nats" else [])


def _thm4_units_example_instance(beta: float = 100.0):
    """Thm 4 in reward units: K = 2, uniform π_ref, zero rewards (p_i = π_ref), π_i = (0.9, 0.1)."""
    log_reference = np.log([0.5, 0.5])
    rewards = np.zeros((2, 2))
    optimal = optimal_policy(rewards, log_reference=log_reference, beta=beta).log_policy
    perturbed = np.log(np.array([[0.9, 0.1], [0.9, 0.1]]))
    return rewards, np.array([0.5, 0.5]), log_reference, beta, optimal, perturbed


def _thm4_units_example(beta: float = 100.0) -> dict:
    """The reward-unit reading's counterexample: β(V* − V) > 2e^C L at β = 100 (mpmath recheck)."""
    instance = _thm4_units_example_instance(beta)
    values = _thm4_quantities(instance)
    rewards, weights, log_reference, _, _, perturbed = instance  # π* is rebuilt from the rewards
    mp_gap = _mp_value_gap(rewards, weights, log_reference, beta, perturbed)
    return {"beta": beta, "L": values["L"], "C": values["C"], "bound": values["bound"],
            "gap_nats": values["gap_nats"], "gap_reward_units": values["gap_reward_units"],
            "recheck_mpmath_gap_reward_units": beta * mp_gap,
            "recheck_agrees": bool(beta * mp_gap > values["bound"] and values["gap_reward_units"] > values["bound"])}


def _mp_value_gap(rewards, weights, log_reference, beta, perturbed) -> float:
    """V(π*) − V(π_w) in nats, in mpmath: π* from the reverse-KL closed form with R (not from
    the float64 optimal policies), π_w from the perturbed policies."""
    with mpmath.workdps(30):
        k = len(log_reference)
        combined = [mpmath.fsum(mpmath.mpf(float(w)) * mpmath.mpf(float(r[y])) for w, r in zip(weights, rewards))
                    for y in range(k)]
        q = [mpmath.exp(mpmath.mpf(float(v))) for v in log_reference]
        star = [qi * mpmath.exp(c / beta) for qi, c in zip(q, combined)]
        star = [s / mpmath.fsum(star) for s in star]
        mixed = [mpmath.exp(mpmath.fsum(mpmath.mpf(float(w)) * mpmath.mpf(float(row[y]))
                                        for w, row in zip(weights, perturbed))) for y in range(k)]
        mixed = [s / mpmath.fsum(mixed) for s in mixed]

        def value(pi):
            return mpmath.fsum(p * c / beta - p * mpmath.log(p / qi) for p, c, qi in zip(pi, combined, q))

        return float(value(star) - value(mixed))



def _lemma2_log_bound(c: float, exponent_scale: float = 1.0) -> float:
    """Lemma 2's lower bound, in logs: log e^{−sC} = −sC (the paper: s = 1)."""
    return -exponent_scale * c


def _lemma2_minimum(log_x: np.ndarray, c: float) -> float:
    """min Σ x_i e^{−y_i} s.t. Σ x_i y_i ≤ C, by SLSQP from y = 0 (a second method: the lemma
    says it is e^{−C}, attained at y ≡ C)."""
    x = np.exp(log_x)
    found = minimize(lambda y: float(x @ np.exp(-y)), np.zeros(x.size), jac=lambda y: -x * np.exp(-y),
                     constraints=[{"type": "ineq", "fun": lambda y: c - float(x @ y), "jac": lambda y: -x}],
                     method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
    return float(found.fun)


@PAPER.check("MOD-L2", mutants=[
    mutant("e^{−C/2}", "Σ x_i e^{−y_i} ≥ e^{−C/2} when Σ x_i y_i ≤ C", exponent_scale=0.5),
    mutant("reversed", "Σ x_i e^{−y_i} ≤ e^{−C} when Σ x_i y_i ≤ C", direction="le"),
])
def check_lemma2(*, quick: bool, exponent_scale: float = 1.0, direction: str = "ge"):
    """Seed 004, Lemma 2 (App E.4): x in the open simplex, Σ x_i y_i ≤ C ⇒ Σ x_i e^{−y_i} ≥ e^{−C}.

    Parameters (the statement): ``exponent_scale`` s in the bound e^{−sC} (paper: 1);
    ``direction`` "ge" (≥, the paper) or "le" (≤).

    Property check in log space (x down to 1e-300, |y| up to 700, C from Σ x y to Σ x y + 10, also
    negative: the lemma needs no sign of C), plus the equality case y ≡ C and a second method:
    SLSQP minimizes Σ x e^{−y} over {Σ x y ≤ C} and must reach e^{−C}.
    """
    if direction not in ("ge", "le"):
        raise ValueError(f"direction must be 'ge' or 'le', got {direction!r}")
    stats = {"min_log_slack": np.inf}

    def slack_of(log_x, ys, c):
        # log Σ x e^(−y) − log e^(−sC); the lemma says ≥ 0 (for "le": ≤ 0).
        slack = float(logsumexp(log_x - ys) - _lemma2_log_bound(c, exponent_scale))
        return slack if direction == "ge" else -slack

    @st.composite
    def instance(draw):
        n = draw(st.integers(1, 6))
        logits = np.asarray(draw(st.lists(st.floats(-690, 0), min_size=n, max_size=n)))
        ys = np.asarray(draw(st.lists(st.floats(-700, 700), min_size=n, max_size=n)))
        extra = draw(st.sampled_from([0.0, 1e-12, 0.5, 10.0]))
        return log_softmax(logits), ys, extra

    def check(example):
        log_x, ys, extra = example
        c = float(np.exp(log_x) @ ys) + extra
        slack = slack_of(log_x, ys, c)
        stats["min_log_slack"] = min(stats["min_log_slack"], slack)
        # 1e-9 relative to |C|: Σ x y and the logsumexp are float64 sums of ≤ 6 terms up to 700.
        _require(slack >= -1e-9 * (1 + abs(c)), f"lemma: log Σ x e^(−y) − log bound = {slack} (direction {direction})")

    outcome = property_search(instance(), check, examples=40 if quick else 400, seed=141)
    # The equality case y ≡ C (x uniform on 3, C = 1) and the SLSQP minimum (second method).
    equality = (np.log(np.full(3, 1 / 3)), np.ones(3), 0.0)
    minima = []
    for seed in range(3 if quick else 10):
        rng = np.random.default_rng(seed)
        log_x, c = log_softmax(rng.normal(size=4)), float(rng.uniform(0, 3))
        minima.append(abs(math.log(_lemma2_minimum(log_x, c)) + c))
    evidence = {"instances": outcome.examples, **stats, "exponent_scale": exponent_scale, "direction": direction,
                "slsqp_max_abs_log_min_plus_C": max(minima), "slsqp_instances": len(minima)}
    found = outcome.counterexample
    if found is None and slack_of(equality[0], equality[1], 1.0) < -1e-9:
        found = equality
    if found is not None:
        log_x, ys, extra = found
        with mpmath.workdps(40):
            x = [mpmath.exp(mpmath.mpf(float(v))) for v in log_x]
            x = [v / mpmath.fsum(x) for v in x]
            c = mpmath.fsum(a * mpmath.mpf(float(b)) for a, b in zip(x, ys)) + extra
            lhs = mpmath.fsum(a * mpmath.exp(-mpmath.mpf(float(b))) for a, b in zip(x, ys))
            bound = mpmath.exp(-exponent_scale * c)
            agrees = bool(lhs < bound if direction == "ge" else lhs > bound)
        return refuted({"inputs": {"log_x": log_x, "y": ys, "C": float(c)},
                        "predicted": f"Σ x e^(−y) {'≥' if direction == 'ge' else '≤'} e^(−{exponent_scale:g}·C)",
                        "computed": outcome.message or "equality case y ≡ C",
                        "recheck": {"method": "mpmath at 40 digits", "computed": {"lhs": float(lhs), "bound": float(bound)},
                                    "agrees": agrees}}, evidence)
    gap = ProofGap(
        step="App E.4, proof of Lemma 2: 'Then we have Σ x_i exp(−y_i) = λ*'",
        finding="The equality holds at the KKT point y* (e^{−y_i*} = λ*), not at the arbitrary y of the statement; "
                "the missing step is Σ x e^{−y} ≥ Σ x e^{−y*} (y* minimizes the convex program), and the chain "
                "then ends with equality e^{−Σ x y*} = e^{−C} (λ* > 0 forces Σ x y* = C). Jensen gives the lemma in "
                "one line.",
        witness={"x": [0.5, 0.5], "y": [0.0, 2.0], "C": 1.0, "sum_x_exp_minus_y": 0.5 * (1 + math.exp(-2)),
                 "lambda_star": math.exp(-1.0)})
    return holds(evidence, f"{outcome.examples} property examples, the equality case y ≡ C and an SLSQP minimum "
                           "on {Σ x y ≤ C}; it is Jensen's inequality (e^(−y) convex), for every real C",
                 proof_gaps=[gap])


def _prop3_symbolic(reward_scale: str = "1/beta", constant: str = "log Z") -> bool:
    """sympy, K = 3: s·E_π r − KL(π‖π_ref) + KL(π‖π_opt) − const = 0 for Σπ = 1, with s = 1/β
    (or 1) and const = log Σ π_ref e^{r/β} (or 0); π_opt ∝ π_ref e^{r/β} (reverse KL, β)."""
    beta = sp.Symbol("beta", positive=True)
    r = sp.symbols("r1:4", real=True)
    q = sp.symbols("q1:4", positive=True)
    p1, p2 = sp.symbols("p1 p2", positive=True)
    pi = (p1, p2, 1 - p1 - p2)
    z = sum(qi * sp.exp(ri / beta) for qi, ri in zip(q, r))
    opt = [qi * sp.exp(ri / beta) / z for qi, ri in zip(q, r)]
    scale = 1 / beta if reward_scale == "1/beta" else sp.Integer(1)
    lhs = scale * sum(p * ri for p, ri in zip(pi, r)) - sum(p * sp.log(p / qi) for p, qi in zip(pi, q))
    rhs = -sum(p * sp.log(p / o) for p, o in zip(pi, opt)) + (sp.log(z) if constant == "log Z" else 0)
    difference = sp.expand(sp.expand_log(lhs - rhs, force=True))
    return sp.simplify(difference) == 0


def _prop3_constant(rewards: np.ndarray, log_q: np.ndarray, beta: float, constant: str = "log Z") -> float:
    """Prop 3's constant: log Z = log Σ_y π_ref(y) e^{r(y)/β} (the proof's Z(x)), or 0."""
    return float(logsumexp(log_q + rewards / beta)) if constant == "log Z" else 0.0


@PAPER.check("MOD-P3", mutants=[
    mutant("constant 0", "(1/β)E_π r − KL(π‖π_ref) = −KL(π‖π_opt)", constant="0"),
    mutant("without 1/β", "E_π r − KL(π‖π_ref) = −KL(π‖π_opt) + log Σ π_ref e^{r/β}", reward_scale="1"),
])
def check_prop3(*, quick: bool, reward_scale: str = "1/beta", constant: str = "log Z"):
    """Seed 004, Prop 3 (App E.4): (1/β)E_π r − KL(π‖π_ref) = −KL(π‖π_opt) + constant, the
    constant being (proof) log Σ_y π_ref(y) e^{r(y)/β}.

    Parameters (the statement): ``reward_scale`` "1/beta" (paper) or "1", the factor of E_π r;
    ``constant`` "log Z" (paper's proof) or "0".

    sympy proves the identity for K = 3 (π on the simplex); a property check evaluates both
    sides for random π (with zeros and near-zeros), r, π_ref, β.
    """
    if reward_scale not in ("1/beta", "1") or constant not in ("log Z", "0"):
        raise ValueError(f"reward_scale must be '1/beta' or '1' and constant 'log Z' or '0', got "
                         f"{reward_scale!r}, {constant!r}")
    symbolic = _prop3_symbolic(reward_scale, constant)
    stats = {"max_error": 0.0}

    def scale_of(beta):
        return 1.0 / beta if reward_scale == "1/beta" else 1.0

    @st.composite
    def instance(draw):
        k = draw(st.integers(1, 6))
        rewards = np.asarray(draw(st.lists(st.floats(-50, 50), min_size=k, max_size=k)))
        log_q = log_softmax(np.asarray(draw(st.lists(st.floats(-30, 0), min_size=k, max_size=k))))
        raw = np.asarray(draw(st.lists(st.sampled_from([0.0, 1e-300, 1e-8, 0.3, 1.0]), min_size=k, max_size=k)))
        if raw.sum() == 0:
            raw[0] = 1.0
        return rewards, log_q, raw / raw.sum(), draw(st.sampled_from([0.01, 1.0, 100.0]))

    def check(example):
        rewards, log_q, pi, beta = example
        with np.errstate(divide="ignore"):
            log_pi = np.log(pi)
        log_opt = optimal_policy(rewards, log_reference=log_q, beta=beta).log_policy
        lhs = float(pi @ rewards) * scale_of(beta) - _kl_from_log(log_pi, log_q)
        rhs = -_kl_from_log(log_pi, log_opt) + _prop3_constant(rewards, log_q, beta, constant)
        error = abs(lhs - rhs)
        stats["max_error"] = max(stats["max_error"], error)
        # 1e-9 relative to max|r|/β: the sides are sums of terms up to max|r|/β in float64.
        _require(error <= 1e-9 * (1 + np.abs(rewards).max() / beta), f"identity: sides differ by {error}")

    outcome = property_search(instance(), check, examples=30 if quick else 300, seed=151)
    evidence = {"sympy_identity_K3": symbolic, "instances": outcome.examples, "reward_scale": reward_scale,
                "constant": constant, **stats}
    if outcome.counterexample is not None or not symbolic:
        if outcome.counterexample is None:
            raise RuntimeError("Prop 3: sympy did not reduce the identity to 0 while every numeric example held")
        rewards, log_q, pi, beta = outcome.counterexample
        with mpmath.workdps(40):
            q = [mpmath.exp(mpmath.mpf(float(v))) for v in log_q]
            z = mpmath.fsum(qi * mpmath.exp(mpmath.mpf(float(r)) / beta) for qi, r in zip(q, rewards))
            terms = [(mpmath.mpf(float(p)), qi, mpmath.mpf(float(r))) for p, qi, r in zip(pi, q, rewards) if p > 0]
            scale = 1 / mpmath.mpf(beta) if reward_scale == "1/beta" else mpmath.mpf(1)
            lhs = mpmath.fsum(p * r * scale - p * mpmath.log(p / qi) for p, qi, r in terms)
            rhs = -mpmath.fsum(p * mpmath.log(p / (qi * mpmath.exp(r / beta) / z)) for p, qi, r in terms) + \
                (mpmath.log(z) if constant == "log Z" else 0)
        return refuted({"inputs": {"rewards": rewards, "log_reference": log_q, "policy": pi, "beta": beta},
                        "predicted": "sides equal", "computed": outcome.message,
                        "recheck": {"method": "mpmath at 40 digits", "computed": float(lhs - rhs),
                                    "agrees": bool(abs(lhs - rhs) > 1e-20)}}, evidence)
    return holds(evidence, f"sympy proof (K = 3) and {outcome.examples} property examples")


def _ece(policy: np.ndarray, truth: np.ndarray) -> float:
    """ECE(π) = Σ_y π(y)|P(y) − π(y)| (seed 004, Def 3, one prompt)."""
    return float(policy @ np.abs(truth - policy))


def _kl_probabilities(first: np.ndarray, second: np.ndarray) -> float:
    """KL(π1‖π2) with 0·log(0/·) = 0 (responses that neither policy draws are allowed)."""
    mask = first > 0
    return float(np.sum(first[mask] * (np.log(first[mask]) - np.log(second[mask]))))


def _lemma3_bound(kl: float, constant: float = 2.0) -> float:
    """Lemma 3's bound constant·√(2 KL(π1‖π2)) (the paper: constant 2)."""
    return constant * math.sqrt(2.0 * max(kl, 0.0))


# The first-order optimum of the Lemma 3 family: a = (1 + √17)/8 maximizes a(1 − a)(1 + a)².
_LEMMA3_A = (1.0 + math.sqrt(17.0)) / 8.0


def _lemma3_family(a: float = _LEMMA3_A, delta: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P, π1, π2), K = 3: π2 = (a, 0, 1 − a), π1 = (a + δ, 0, 1 − a − δ), P = (0, a, 1 − a).
    ECE(π1) − ECE(π2) = (1 + a)δ + O(εδ) exactly to first order (response 1 has P = 0, slope 2a;
    response 3 sits at the kink P = π2, slope −(1 − a) for mass leaving it), and KL ≈
    δ²/(2a(1 − a)), so the ratio to √KL tends to (1 + a)√(2a(1 − a)) ≈ 1.1133."""
    truth = np.array([0.0, a, 1.0 - a])
    second = np.array([a, 0.0, 1.0 - a])
    first = np.array([a + delta, 0.0, 1.0 - a - delta])
    return truth, first, second


def _lemma3_polish(start) -> tuple[float, tuple]:
    """Nelder-Mead on logits of (P, π1, π2) from ``start`` (zeros floored at 1e-9), maximizing
    (ECE(π1) − ECE(π2))/√KL(π1‖π2): the numerically tight constant near the family."""
    k = len(start[0])

    def unpack(z):
        return softmax(z[:k]), softmax(z[k:2 * k]), softmax(z[2 * k:])

    def negative_ratio(z):
        truth, first, second = unpack(z)
        kl = _kl_probabilities(first, second)
        return 0.0 if kl <= 1e-14 else -(_ece(first, truth) - _ece(second, truth)) / math.sqrt(kl)

    z0 = np.concatenate([np.log(np.maximum(v, 1e-9)) for v in start])
    found = minimize(negative_ratio, z0, method="Nelder-Mead",
                     options={"maxiter": 4000, "xatol": 1e-10, "fatol": 1e-14})
    return float(-found.fun), unpack(found.x)


@PAPER.check("MOD-L3", mutants=[
    mutant("√KL", "ECE(π1) − ECE(π2) ≤ E √KL(π1‖π2) (constant 1/√2 in front of √(2KL))", constant=1 / math.sqrt(2)),
])
def check_lemma3(*, quick: bool, constant: float = 2.0):
    """Seed 004, Lemma 3 (Thm 2 of Wang et al. 2024a): ECE(π1) − ECE(π2) ≤ 2√(2 KL(π1‖π2))
    (per prompt, hence in expectation).

    Parameter (the statement): ``constant``, the 2 in front of √(2KL).

    Property check over random ground truths P and policies π1, π2 (entries down to 1e-12),
    then the near-extremal family :func:`_lemma3_family` (first-order ratio to √KL
    (1 + a)√(2a(1 − a)) ≈ 1.113) and a Nelder-Mead polish from it. The largest constant in front
    of √(2KL) found is ≈ 0.79 (a random-start optimizer over K ≤ 4 reached 1.1227/√2 ≈ 0.794),
    not 2; the paper's 2 is safe (|ECE(π1) − ECE(π2)| ≤ 2‖π1 − π2‖₁ ≤ 2√(2KL), Pinsker), and a
    constant of 1 (√(2KL)) has no counterexample, so only a constant below ≈ 0.79 is a mutant.
    """
    stats = {"max_ratio": 0.0, "max_ratio_to_2_l1": 0.0}

    @st.composite
    def instance(draw):
        k = draw(st.integers(1, 6))

        def simplex():
            raw = np.asarray(draw(st.lists(st.sampled_from([1e-12, 0.01, 0.1, 0.5, 1.0, 3.0]), min_size=k, max_size=k)))
            jitter = np.asarray(draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
            values = raw * (1 + jitter)
            return values / values.sum()

        return simplex(), simplex(), simplex()

    def violates(truth, first, second) -> bool:
        left = _ece(first, truth) - _ece(second, truth)
        return left > _lemma3_bound(_kl_probabilities(first, second), constant) + 1e-12  # float64 sums of ≤ 6 terms

    def check(example):
        truth, first, second = example
        left = _ece(first, truth) - _ece(second, truth)
        bound = _lemma3_bound(_kl_probabilities(first, second))
        if bound > 0:
            stats["max_ratio"] = max(stats["max_ratio"], left / bound)
        l1 = float(np.abs(first - second).sum())
        if l1 > 0:
            stats["max_ratio_to_2_l1"] = max(stats["max_ratio_to_2_l1"], left / (2 * l1))
        _require(not violates(truth, first, second),
                 f"lemma: ECE difference {left} > {constant:g}√(2KL) = {_lemma3_bound(_kl_probabilities(first, second), constant)}")

    outcome = property_search(instance(), check, examples=60 if quick else 600, seed=161)
    family = _lemma3_family()
    family_ratio = (_ece(family[1], family[0]) - _ece(family[2], family[0])) / math.sqrt(
        _kl_probabilities(family[1], family[2]))
    polished_ratio, polished = _lemma3_polish(family)
    evidence = {"instances": outcome.examples, "constant": constant, **stats,
                "family_ratio_to_sqrt_kl": family_ratio,
                "family_first_order_ratio": (1 + _LEMMA3_A) * math.sqrt(2 * _LEMMA3_A * (1 - _LEMMA3_A)),
                "polished_ratio_to_sqrt_kl": polished_ratio,
                "largest_constant_found_before_sqrt_2kl": max(family_ratio, polished_ratio) / math.sqrt(2)}
    found = outcome.counterexample
    if found is None:
        for candidate in (family, polished):
            if violates(*candidate):
                found = candidate
                break
    if found is not None:
        truth, first, second = found
        with mpmath.workdps(30):
            t, a, b = ([mpmath.mpf(float(v)) for v in vec] for vec in (truth, first, second))
            left = mpmath.fsum(x * abs(p - x) for x, p in zip(a, t)) - mpmath.fsum(x * abs(p - x) for x, p in zip(b, t))
            kl = mpmath.fsum(x * mpmath.log(x / y) for x, y in zip(a, b) if x > 0)
            bound = constant * mpmath.sqrt(2 * kl)
        return refuted({"inputs": {"truth": truth, "pi1": first, "pi2": second},
                        "predicted": f"ECE(π1) − ECE(π2) ≤ {constant:g}√(2KL)",
                        "computed": outcome.message or {"ece_difference": _ece(first, truth) - _ece(second, truth),
                                                        "bound": _lemma3_bound(_kl_probabilities(first, second), constant)},
                        "recheck": {"method": "mpmath at 30 digits", "computed": {"left": float(left), "bound": float(bound)},
                                    "agrees": bool(left > bound)}}, evidence)
    return holds(evidence, f"{outcome.examples} property examples and the near-extremal family (largest ratio to √(2KL) "
                           f"found {evidence['largest_constant_found_before_sqrt_2kl']:.4g} < {constant:g}); per response "
                           "|π1|P−π1| − π2|P−π2|| ≤ 2|π1 − π2|, so the difference is ≤ 2‖π1 − π2‖₁ ≤ 2√(2KL) by Pinsker")


def _prop4_bound(c: float, spread: float, constant: float = 4.0) -> float:
    """Prop 4's bound constant·√(e^C L) (the paper: constant 4)."""
    return constant * math.sqrt(math.exp(c) * spread)


def _prop4_swap_instance(s: float, eps: float = 1e-9):
    """The extremal family of Prop 4 (K = 3, M = 2 identical objectives, w = (1/2, 1/2), β = 1):
    π_ref = (ε, (1 − ε)/2, (1 − ε)/2), p_i = (ε, 1 − s − ε/2, s − ε/2) (optimal for R_i =
    log(p_i/π_ref)), π_i = (ε, s − ε/2, 1 − s − ε/2), ground truth P = (s, 1 − s, 0). To first order in ε:
    ECE(π_w) − ECE(π*) = 1 − s − 2s², L = log((1 − s)/s), e^C = 1/(2√(s(1 − s)))."""
    reference = np.array([eps, (1 - eps) / 2, (1 - eps) / 2])
    optimal = np.log([[eps, 1 - s - eps / 2, s - eps / 2]] * 2)
    perturbed = np.log([[eps, s - eps / 2, 1 - s - eps / 2]] * 2)
    log_reference = np.log(reference)
    base = (optimal - log_reference, np.array([0.5, 0.5]), log_reference, 1.0, optimal, perturbed)
    return base, np.array([s, 1 - s, 0.0])


def _prop4_ratio(example) -> float:
    base, truth = example
    _, weights, _, _, optimal, perturbed = base
    values = _thm4_quantities(base)
    left = _ece(softmax(weights @ perturbed), truth) - _ece(softmax(weights @ optimal), truth)
    return left / math.sqrt(math.exp(values["C"]) * values["L"])


def _prop4_extremal() -> tuple[float, float]:
    """(s, ratio to √(e^C L)) maximized over the family by a bounded scalar search."""
    found = minimize_scalar(lambda s: -_prop4_ratio(_prop4_swap_instance(s)), bounds=(0.01, 0.49),
                            method="bounded", options={"xatol": 1e-10})
    return float(found.x), float(-found.fun)


@PAPER.check("MOD-P4", mutants=[
    mutant("constant 1/2", "ECE(π_w) ≤ ECE(π_opt) + (1/2)·√(e^C L)", constant=0.5),
])
def check_prop4(*, quick: bool, constant: float = 4.0):
    """Seed 004, Prop 4 (App E.4): ECE(π_w) ≤ ECE(π_opt) + 4√(e^C L), with L and C as in Thm 4.

    Parameter (the statement): ``constant``, the 4 in front of √(e^C L).

    On Thm 4's random instances (perturbed base policies) with random ground truths P, then on
    the extremal family :func:`_prop4_swap_instance` (ratio maximized over s by a scalar search:
    ≈ 0.555, also the largest a random-start optimizer found over K ≤ 3 with M = 1 and K = 2 with
    M = 2), so the constant could be ≈ 0.56 instead of 4; only constants below it are mutants.
    """
    stats = {"max_ratio": 0.0}

    @st.composite
    def instance(draw):
        base = draw(_suboptimal_instance())
        k = base[0].shape[1]
        truth = np.asarray(draw(st.lists(st.floats(0.001, 1), min_size=k, max_size=k)))
        return base, truth / truth.sum()

    def left_and_bound(example):
        base, truth = example
        _, weights, _, _, optimal, perturbed = base
        values = _thm4_quantities(base)
        left = _ece(softmax(weights @ perturbed), truth) - _ece(softmax(weights @ optimal), truth)
        return left, _prop4_bound(values["C"], values["L"], constant), _prop4_bound(values["C"], values["L"])

    def check(example):
        left, bound, paper = left_and_bound(example)
        if paper > 0:
            stats["max_ratio"] = max(stats["max_ratio"], left / paper)
        # 1e-12 absolute: ECE values are float64 sums of ≤ 6 terms of size ≤ 1.
        _require(left <= bound + 1e-12, f"bound: ECE(π_w) − ECE(π_opt) = {left} > {bound}")

    outcome = property_search(instance(), check, examples=25 if quick else 300, seed=171)
    s_star, tight = _prop4_extremal()
    evidence = {"instances": outcome.examples, "constant": constant, **stats,
                "extremal_family": {"s": s_star, "ratio_to_sqrt_e_C_L": tight,
                                    "first_order": "(1 − s − 2s²)·√(2√(s(1 − s))/log((1 − s)/s))"},
                "tight_constant_numerical": tight}
    found = outcome.counterexample
    if found is None:
        candidate = _prop4_swap_instance(s_star)
        left, bound, _ = left_and_bound(candidate)
        if left > bound + 1e-12:
            found = candidate
    if found is not None:
        base, truth = found
        values = _thm4_quantities(base)
        rewards, weights, log_reference, beta, optimal, perturbed = base
        with mpmath.workdps(30):
            def mix(rows):
                logs = [mpmath.fsum(mpmath.mpf(float(w)) * mpmath.mpf(float(r[y])) for w, r in zip(weights, rows))
                        for y in range(len(truth))]
                total = mpmath.fsum(mpmath.exp(v) for v in logs)
                return [mpmath.exp(v) / total for v in logs]
            t = [mpmath.mpf(float(v)) for v in truth]
            left = mpmath.fsum(x * abs(p - x) for x, p in zip(mix(perturbed), t)) - mpmath.fsum(
                x * abs(p - x) for x, p in zip(mix(optimal), t))
        bound = _prop4_bound(values["C"], values["L"], constant)
        return refuted({"inputs": {"rewards": rewards, "weights": weights, "log_reference": log_reference,
                                   "beta": beta, "log_optimal_policies": optimal, "log_perturbed_policies": perturbed,
                                   "truth": truth},
                        "predicted": f"ECE(π_w) − ECE(π_opt) ≤ {constant:g}√(e^C L) = {bound}",
                        "computed": outcome.message or {"ece_difference": left_and_bound(found)[0]},
                        "recheck": {"method": "mpmath ECE at 30 digits (L, C from float64)", "computed": float(left),
                                    "agrees": bool(left > bound)}}, evidence)
    return holds(evidence, f"{outcome.examples} property examples and the extremal family (tight constant "
                           f"≈ {tight:.4g} < {constant:g}); Lemma 3 with KL(π_w‖π*) ≤ 2e^C L gives 4")


# ---------------------------------------------------------------------------------------
# MOD-D2: the closed-form decoding rules and the published code
# ---------------------------------------------------------------------------------------

_D2_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.3", "alpha:0.5", "hellinger")


def _code_branch(name: str) -> str:
    """The published code's branch for ``name``: Hellinger's rule is alpha:0.5's (f scaled by 1/2)."""
    return "alpha:0.5" if name == "hellinger" else name


def _closed_form_log_scores(name: str, log_pi: np.ndarray, weights: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """App D.2's Thm 5 rules written out per divergence (derived here; the seed's table is empty).

    reverse KL Π π_i^{w_i}; forward KL 1/Σ w_i/π_i; α (Σ w_i π_i^{−α})^{−1/α}; Hellinger
    (Σ w_i π_i^{−1/2})^{−2}; JS π_ref·e^u/(2 − e^u) with e^u = Π_i (2ρ_i/(1+ρ_i))^{w_i}, ρ = π/π_ref."""
    pi, q = np.exp(log_pi), np.exp(log_q)
    if name == "reverse_kl":
        return np.log(np.prod(pi ** weights[:, None], axis=0))
    if name == "forward_kl":
        return -np.log(weights @ (1.0 / pi))
    if name == "hellinger":
        return -2.0 * np.log(weights @ pi ** -0.5)
    if name.startswith("alpha:"):
        a = get_divergence(name).alpha
        return -np.log(weights @ pi ** -a) / a
    rho = pi / q
    eu = np.prod((2 * rho / (1 + rho)) ** weights[:, None], axis=0)
    return np.log(q * eu / (2 - eu))


def _js_shortcut_counterexample() -> dict:
    """The cleanest disagreement of the JS rule and the code's Σ w log π on a grid of tenths
    (K = 3, M = 2, w = (1/2, 1/2)): the one whose two argmaxes win by the largest margins."""
    points = np.array([(a, b, 10 - a - b) for a in range(1, 9) for b in range(1, 9) if a + b < 10]) / 10.0
    index = np.arange(len(points))
    q, p1, p2 = (points[arr.ravel()] for arr in np.meshgrid(index, index, index, indexing="ij"))
    weights = np.array([0.5, 0.5])
    log_policies = np.log(np.stack([p1, p2]))
    js = thm5_log_scores(log_policies, weights, np.log(q), divergence="js")
    product = published_code_log_scores(log_policies, weights, divergence="js")

    def margin(log_scores):
        top = np.sort(log_scores, axis=-1)
        return -np.expm1(top[:, -2] - top[:, -1])  # (best − second)/best

    differ = np.argmax(js, axis=-1) != np.argmax(product, axis=-1)
    quality = np.where(differ, np.minimum(margin(js), margin(product)), -np.inf)
    if not differ.any():
        return {"reference": None, "policies": None, "weights": weights, "grid_disagreements": 0,
                "grid_size": int(differ.size), "margin": None}
    best = int(np.argmax(quality))
    return {"reference": q[best], "policies": np.vstack([p1[best], p2[best]]), "weights": weights,
            "grid_disagreements": int(differ.sum()), "grid_size": int(differ.size), "margin": float(quality[best])}


@PAPER.check("MOD-D2", mutants=[
    mutant("JSD shortcut exact", "The published code's JSD shortcut (Σ w log π, as for reverse KL) picks Thm 5's JSD "
           "response on every instance (disagreement 0)", asserted_js_disagreement=0.0),
    mutant("Z-free sampling exact", "For every f, sampling ∝ the Z-free Thm 5 score gives Prop 1's optimal policy π* "
           "(KL 0)", asserted_sampling_kl=0.0),
])
def check_decoding_rules(*, quick: bool, asserted_js_disagreement: float | None = None,
                         asserted_sampling_kl: float | None = None):
    """Seed 004, App D.2 and App F (a question): do the closed-form decoding rules (reverse KL,
    forward KL, JSD, α) and the published code's formulas (no π_ref, no Z, JSD as reverse KL)
    agree with Thm 5's rule and Prop 1's optimal policy? Quantify any gap.

    For each divergence, on random instances: the written-out D.2 rule must equal the Thm 5
    score; the code's score is compared with it (same scores for reverse and forward KL, a·score
    for α, a different rule for JS) by argmax; every rule's sampling distribution is compared
    with Prop 1's π* (KL in nats) and its argmax with π*'s mode. The JS shortcut is also
    searched exhaustively on a grid of tenths for the cleanest disagreement.

    Parameters (a wrong answer asserted as a claim; default None: answer the question):
    ``asserted_js_disagreement``, the claim that the JS shortcut disagrees with Thm 5's JSD choice
    on at most this fraction of the grid; ``asserted_sampling_kl``, the claim that for every f
    sampling ∝ the Thm 5 score is within this KL (nats) of π*.
    """
    per_divergence, worst_sampling = {}, {"kl": -1.0}
    for name in _D2_DIVERGENCES:
        stats = {"closed_form_vs_thm5": 0.0, "code_score_vs_thm5_spread": 0.0, "code_argmax_differs": 0,
                 "thm5_argmax_differs_from_mode_of_optimum": 0, "max_kl_thm5_sampling_to_optimum": 0.0,
                 "max_kl_code_sampling_to_optimum": 0.0}

        def check(instance, name=name, stats=stats):
            rewards, weights, reference, beta = instance
            bases = _bases(rewards, reference, name, beta)
            log_pi, log_q = np.log(bases), np.log(reference)
            rule = thm5_log_scores(log_pi, weights, log_q, divergence=name)
            closed = _closed_form_log_scores(name, log_pi, weights, log_q)
            stats["closed_form_vs_thm5"] = max(stats["closed_form_vs_thm5"], float(np.max(np.abs(closed - rule))))
            code = published_code_log_scores(log_pi, weights, divergence=_code_branch(name))
            scale = get_divergence(_code_branch(name)).alpha or 1.0
            stats["code_score_vs_thm5_spread"] = max(stats["code_score_vs_thm5_spread"],
                                                     float(np.ptp(code - scale * rule)))
            tol = 1e-10 * (1 + float(np.abs(rule).max()))  # rounding of log-scores of size max|rule|
            if rule[int(np.argmax(code))] < rule.max() - tol:
                stats["code_argmax_differs"] += 1
            exact = mod_optimal_policy(bases, weights, reference, divergence=name, beta=beta).log_policy
            if exact[int(np.argmax(rule))] < exact.max() - 1e-10:
                stats["thm5_argmax_differs_from_mode_of_optimum"] += 1
            kl = _kl_from_log(np.log(sampling_policy(rule)), exact)
            stats["max_kl_thm5_sampling_to_optimum"] = max(stats["max_kl_thm5_sampling_to_optimum"], kl)
            if kl > worst_sampling["kl"]:
                worst_sampling.update(kl=kl, name=name, rewards=rewards, weights=weights, reference=reference,
                                      beta=beta, sampling=sampling_policy(rule))
            stats["max_kl_code_sampling_to_optimum"] = max(
                stats["max_kl_code_sampling_to_optimum"], _kl_from_log(np.log(sampling_policy(code)), exact))
            _require(stats["closed_form_vs_thm5"] <= 1e-9, f"closed form: D.2's {name} rule ≠ Thm 5 score")

        outcome = property_search(_weighted_instance(min_k=2), check, examples=10 if quick else 80, seed=181)
        per_divergence[name] = _search_record(outcome, {"code_branch": _code_branch(name), **stats})
    evidence, failed = _split(per_divergence)
    if failed:
        raise RuntimeError(f"MOD-D2: a written-out D.2 rule disagrees with thm5_log_scores: {failed}")
    grid = _js_shortcut_counterexample()
    fraction = grid["grid_disagreements"] / grid["grid_size"]
    evidence["js_shortcut_grid"] = {k: grid[k] for k in ("grid_disagreements", "grid_size", "margin")}
    evidence["js_shortcut_grid"]["fraction"] = fraction
    evidence["closed_forms"] = {"reverse_kl": "Π π_i^w_i", "forward_kl": "1/Σ w_i/π_i",
                                "alpha:a": "(Σ w_i π_i^(−a))^(−1/a)", "hellinger": "(Σ w_i π_i^(−1/2))^(−2)",
                                "js": "π_ref·e^u/(2 − e^u), e^u = Π (2ρ_i/(1+ρ_i))^w_i"}
    example = _js_shortcut_example(grid) if grid["grid_disagreements"] else None
    evidence["js_shortcut_example"] = example
    evidence["asserted_js_disagreement"] = asserted_js_disagreement
    evidence["asserted_sampling_kl"] = asserted_sampling_kl
    max_sampling = {n: v["max_kl_thm5_sampling_to_optimum"] for n, v in per_divergence.items()}
    if asserted_js_disagreement is not None:
        if example is not None and fraction > asserted_js_disagreement:
            return refuted(example, evidence)
        return holds(evidence, f"{grid['grid_size']}-triple grid: the shortcut disagrees on a fraction {fraction:.4g} "
                               f"≤ {asserted_js_disagreement:g}")
    if asserted_sampling_kl is not None:
        # 1e-12 nats: KL between two float64 distributions that are equal up to rounding.
        if worst_sampling["kl"] > asserted_sampling_kl + 1e-12:
            return refuted(_sampling_counterexample(worst_sampling, asserted_sampling_kl), evidence)
        return holds(evidence, f"{sum(v['instances'] for v in per_divergence.values())} property examples: sampling "
                               f"∝ the Thm 5 score is within {asserted_sampling_kl:g} nats of π*")
    agreeing = [n for n in _D2_DIVERGENCES if n != "js" and per_divergence[n]["code_argmax_differs"] == 0]
    if example is None:
        shortcut = "the code's JSD-as-reverse-KL shortcut picks Thm 5's JSD response on the whole grid of tenths"
    else:
        inputs = example["inputs"]
        shortcut = (f"the code's JSD-as-reverse-KL shortcut picks a different response from Thm 5's JSD rule on "
                    f"{grid['grid_disagreements']}/{grid['grid_size']} ({100 * fraction:.1f}%) of a grid of tenths "
                    f"(e.g. π_ref = {np.round(inputs['reference'], 3).tolist()}, π_1, π_2 = "
                    f"{np.round(inputs['policies'], 3).tolist()}: Thm 5 picks y{example['computed']['thm5_choice']}, "
                    f"the code y{example['computed']['code_choice']})")
    exact_sampling = [n for n, v in max_sampling.items() if v <= 1e-12]
    answer = (f"The written-out App D.2 rules equal Thm 5's score for every f and the code's branches for "
              f"{', '.join(agreeing)} pick Thm 5's response on every instance, but {shortcut}; and, Z being dropped, "
              f"sampling ∝ the Z-free score gives Prop 1's π* only for {', '.join(exact_sampling) or 'no f'} (largest KL "
              f"to π* otherwise: {max(v for n, v in max_sampling.items() if n not in exact_sampling):.3g} nats, "
              f"{max(max_sampling, key=max_sampling.get)}).")
    return answered(answer, evidence, f"{sum(v['instances'] for v in per_divergence.values())} property examples "
                                      f"and a {grid['grid_size']}-triple grid, with an mpmath recheck of the JSD example")


def _js_shortcut_example(grid: dict) -> dict:
    """The grid's cleanest JS disagreement, as a counterexample to 'the shortcut picks Thm 5's
    JSD response', rechecked in mpmath (the JS rule from sympy's f', (f')⁻¹ by bisection)."""
    reference, policies, weights = grid["reference"], grid["policies"], grid["weights"]
    js_scores = _mp_thm5_scores("js", policies, weights, reference)
    with mpmath.workdps(30):
        code_scores = [mpmath.fsum(mpmath.mpf(w) * mpmath.log(mpmath.mpf(float(p[y])))
                                   for w, p in zip(weights, policies))
                       for y in range(3)]
    js_choice = max(range(3), key=lambda y: js_scores[y])
    code_choice = max(range(3), key=lambda y: code_scores[y])
    log_pi, log_q = np.log(policies), np.log(reference)
    computed_rule = thm5_log_scores(log_pi, weights, log_q, divergence="js")
    computed_code = published_code_log_scores(log_pi, weights, divergence="js")
    star = mod_optimal_policy(policies, weights, reference, divergence="js").policy
    return {
        "inputs": {"divergence": "js", "reference": reference, "policies": policies, "weights": weights},
        "predicted": "the code's JSD score (Σ w log π) picks the Thm 5 JSD response",
        "computed": {"thm5_js_scores": np.exp(computed_rule), "code_scores_exp": np.exp(computed_code),
                     "thm5_choice": int(np.argmax(computed_rule)), "code_choice": int(np.argmax(computed_code)),
                     "prop1_optimum": star},
        "recheck": {"method": "mpmath: the JS rule from sympy's f' with (f')⁻¹ by bisection; Σ w log π at 30 digits",
                    "computed": {"js_scores": [float(v) for v in js_scores], "js_choice": js_choice,
                                 "code_choice": code_choice},
                    "agrees": bool(js_choice != code_choice and js_choice == int(np.argmax(computed_rule)))},
    }


def _sampling_counterexample(worst: dict, asserted: float) -> dict:
    """The instance where sampling ∝ the Thm 5 score is farthest (KL) from π*, rechecked against
    cvxpy's optimum for Σ w R (a second solver)."""
    name, weights, rewards, reference, beta = (worst[k] for k in ("name", "weights", "rewards", "reference", "beta"))
    cvx = cvxpy_optimal_policy(weights @ rewards, reference, divergence=name, beta=beta)
    kl = None if cvx.policy is None else float(f_divergence(worst["sampling"], np.maximum(cvx.policy, 1e-300),
                                                            "reverse_kl"))
    return {"inputs": {"divergence": name, "rewards": rewards, "weights": weights, "reference": reference,
                       "beta": beta},
            "predicted": f"KL(sampling ∝ Thm 5 score ‖ π*) ≤ {asserted:g}",
            "computed": {"kl_to_prop1_optimum": worst["kl"], "sampling": worst["sampling"]},
            "recheck": {"method": "cvxpy (Clarabel) optimum for Σ w R", "computed": {"kl_to_cvxpy_optimum": kl},
                        "agrees": bool(kl is not None and kl > asserted + 1e-6)}}


# ---------------------------------------------------------------------------------------
# MOD-D3: proxy-tuning, jail-breaking, DeRa and MODPO in the tabular setting
# ---------------------------------------------------------------------------------------


def _modpo_minimizer(log_reference, rewards, log_policies, weights, beta, scale: str = "1/w1") -> np.ndarray:
    """Minimize MODPO's population loss over tabular log π (App D.3), by BFGS with its gradient.

    Pairs (y, y') ~ π_ref × π_ref, the winner drawn by Bradley-Terry on R_1; the logit of the
    loss is (1/w_1)[β log π/π_ref(y) − β log π/π_ref(y') − Σ_{i≥2} w_i (β log π_i/π_ref(y) − same at y')].
    Returns the minimizing log π, normalized. ``scale`` "1" drops the 1/w_1 (a mutant)."""
    divisor = weights[0] if scale == "1/w1" else 1.0
    q = np.exp(log_reference)
    pair = np.outer(q, q)
    prefer = expit(rewards[0][:, None] - rewards[0][None, :])  # P(y beats y')
    margin = beta * (weights[1:] @ (log_policies[1:] - log_reference))
    margin = margin[:, None] - margin[None, :]

    def loss(theta):
        implied = beta * (theta - log_reference)
        logit = ((implied[:, None] - implied[None, :]) - margin) / divisor
        value = -np.sum(pair * prefer * np.log(expit(logit)))
        slope = pair * prefer * expit(-logit) / divisor * beta  # −d/dlogit log σ = σ(−logit)
        gradient = -(slope.sum(axis=1) - slope.sum(axis=0))
        return value, gradient

    result = minimize(loss, np.zeros(q.size), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 5000})
    return log_softmax(result.x)


def _mp_d3_gap(key: str, logs, rewards, weights, beta: float, beta_new: float, *, proxy_ratio: str,
               dera_exponent: str) -> float:
    """max_y |log LHS − log RHS| (both normalized) of one App D.3 identity, in mpmath at 30 digits:
    P_{M_i+} ∝ P_{M−}·e^{r_i/β} and every right-hand side P·e^{r/β} rebuilt from the rewards."""
    with mpmath.workdps(30):
        def normalized(values):
            total = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in values))
            return [v - total for v in values]

        mp = lambda v: mpmath.mpf(float(v))
        large, small = [mp(v) for v in logs[0]], [mp(v) for v in logs[1]]
        k = len(large)
        r = [[mp(v) for v in row] for row in rewards]
        w = [mp(v) for v in weights]
        tuned = [normalized([small[y] + r[i][y] / beta for y in range(k)]) for i in range(len(r))]
        ratio = [tuned[0][y] - small[y] for y in range(k)]
        if proxy_ratio != "plus_over_minus":
            ratio = [-v for v in ratio]
        exponent = mp(beta / beta_new) if dera_exponent == "beta/beta_new" else mp(beta_new / beta)
        combined = [mpmath.fsum(wi * ri[y] for wi, ri in zip(w, r)) for y in range(k)]
        sides = {
            "proxy_tuning": ([large[y] + ratio[y] for y in range(k)], [large[y] + r[0][y] / beta for y in range(k)]),
            "jail_breaking": ([large[y] + small[y] - tuned[0][y] for y in range(k)],
                              [large[y] - r[0][y] / beta for y in range(k)]),
            "multi_objective_proxy_tuning": (
                [large[y] - small[y] + mpmath.fsum(wi * t[y] for wi, t in zip(w, tuned)) for y in range(k)],
                [large[y] + combined[y] / beta for y in range(k)]),
            "dera": ([small[y] + exponent * (tuned[0][y] - small[y]) for y in range(k)],
                     [small[y] + r[0][y] / beta_new for y in range(k)]),
        }
        left, right = (normalized(v) for v in sides[key])
        return float(max(abs(a - b) for a, b in zip(left, right)))


@PAPER.check("MOD-D3", mutants=[
    mutant("DeRa exponent β'/β", "P_{M−}(P_{M+}/P_{M−})^{β'/β} ∝ P_{M−}·e^{r/β'}", dera_exponent="beta_new/beta"),
    mutant("MODPO without 1/w_1", "MODPO's loss without the 1/w_1 factor is minimized by Π π_i^{w_i}", modpo_scale="1"),
    mutant("proxy-tuning inverted", "P_M·P_{M−}/P_{M+} ∝ P_M·e^{r/β} (the jail-breaking ratio as proxy-tuning)",
           proxy_ratio="minus_over_plus"),
])
def check_extended_variants(*, quick: bool, dera_exponent: str = "beta/beta_new", modpo_scale: str = "1/w1",
                            proxy_ratio: str = "plus_over_minus"):
    """Seed 004, App D.3: with P_{M+} ∝ P_{M−}·e^{r/β}: proxy-tuning P_M·P_{M+}/P_{M−} ∝ P_M·e^{r/β},
    jail-breaking (P_{M+} and P_{M−} swapped) ∝ P_M·e^{−r/β}, multi-objective proxy-tuning
    P_M/P_{M−}·Π P_{M_i+}^{w_i} ∝ P_M·e^{Σ w r_i/β}, DeRa P_{M−}(P_{M+}/P_{M−})^{β/β'} ∝ P_{M−}·e^{r/β'},
    and MODPO's loss minimized by Π π_i^{w_i}.

    Parameters (the statement): ``dera_exponent`` "beta/beta_new" (paper: β/β') or
    "beta_new/beta"; ``modpo_scale`` "1/w1" (paper: the loss's logit is divided by w_1) or "1";
    ``proxy_ratio`` "plus_over_minus" (paper: P_{M+}/P_{M−}) or "minus_over_plus".

    On random tabular instances (the right-hand sides from the exact solver, not from the
    identities), and MODPO's population loss minimized numerically (BFGS, gradient 1e-12).
    The MODPO display writes the second term as (w_{−1}^T/w_1) Σ_{i=2}^M (…), a row vector
    times a scalar; it is read as Σ_{i≥2} w_i(…)/w_1, the only well-formed reading.
    """
    if dera_exponent not in ("beta/beta_new", "beta_new/beta") or modpo_scale not in ("1/w1", "1") or \
            proxy_ratio not in ("plus_over_minus", "minus_over_plus"):
        raise ValueError(f"bad statement parameters {dera_exponent!r}, {modpo_scale!r}, {proxy_ratio!r}")
    stats = {"proxy_tuning": 0.0, "jail_breaking": 0.0, "multi_objective_proxy_tuning": 0.0, "dera": 0.0,
             "modpo_reward_difference_identity": 0.0, "modpo_minimizer_vs_product": 0.0}

    @st.composite
    def instance(draw):
        k, m = draw(st.integers(2, 6)), draw(st.integers(2, 3))
        logits = np.asarray(draw(st.lists(st.floats(-6, 0), min_size=3 * k, max_size=3 * k))).reshape(3, k)
        rewards = np.asarray(draw(st.lists(st.floats(-3, 3), min_size=m * k, max_size=m * k))).reshape(m, k)
        raw = np.asarray(draw(st.lists(st.sampled_from([0.1, 0.5, 1.0, 2.0]), min_size=m, max_size=m)))
        beta = draw(st.sampled_from([0.3, 1.0, 4.0]))
        beta_new = draw(st.sampled_from([0.2, 0.7, 2.5]))
        return log_softmax(logits, axis=-1), rewards, raw / raw.sum(), beta, beta_new

    def check(example):
        logs, rewards, weights, beta, beta_new = example
        large, small = logs[0], logs[1]  # P_M, P_{M−}
        tuned = optimal_policy(rewards, log_reference=small, beta=beta).log_policy  # P_{M_i+}
        target = optimal_policy(rewards[0], log_reference=large, beta=beta).log_policy
        ratio = tuned[0] - small if proxy_ratio == "plus_over_minus" else small - tuned[0]
        exponent = beta / beta_new if dera_exponent == "beta/beta_new" else beta_new / beta
        errors = {
            "proxy_tuning": log_softmax(large + ratio) - target,
            "jail_breaking": log_softmax(large + small - tuned[0])
            - optimal_policy(-rewards[0], log_reference=large, beta=beta).log_policy,
            "multi_objective_proxy_tuning": log_softmax(large - small + weights @ tuned)
            - optimal_policy(weights @ rewards, log_reference=large, beta=beta).log_policy,
            "dera": log_softmax(small + exponent * (tuned[0] - small))
            - optimal_policy(rewards[0], log_reference=small, beta=beta_new).log_policy,
        }
        scale = 1e-12 * (1 + np.abs(rewards).max() / min(beta, beta_new))
        for key, error in errors.items():
            value = float(np.max(np.abs(error)))
            stats[key] = max(stats[key], value)
            _require(value <= scale, f"{key}: log-probabilities differ by {value}")
        # MODPO: β log π_i/π_ref differences are R_i differences, and the loss minimizer is Π π_i^{w_i}.
        reference = logs[2]
        bases = optimal_policy(rewards, log_reference=reference, beta=beta).log_policy
        implied = beta * (bases - reference)
        pairwise_implied = implied[:, :, None] - implied[:, None, :]
        pairwise_rewards = rewards[:, :, None] - rewards[:, None, :]
        identity = float(np.max(np.abs(pairwise_implied - pairwise_rewards)))
        stats["modpo_reward_difference_identity"] = max(stats["modpo_reward_difference_identity"], identity)
        _require(identity <= scale * 10,
                 f"modpo identity: β log π_i/π_ref differences miss R_i differences by {identity}")
        minimizer = _modpo_minimizer(reference, rewards, bases, weights, beta, scale=modpo_scale)
        product = log_softmax(weights @ bases)
        gap = float(np.max(np.abs(np.exp(minimizer) - np.exp(product))))
        stats["modpo_minimizer_vs_product"] = max(stats["modpo_minimizer_vs_product"], gap)
        _require(gap <= 1e-6, f"modpo: the loss minimizer differs from Π π_i^w_i by {gap}")

    outcome = property_search(instance(), check, examples=10 if quick else 80, seed=191)
    evidence = {"instances": outcome.examples, **stats,
                "statement": {"dera_exponent": dera_exponent, "modpo_scale": modpo_scale, "proxy_ratio": proxy_ratio},
                "modpo_reading": "(w_{−1}^T/w_1) Σ_{i=2}^M (…) read as Σ_{i≥2} w_i(…)/w_1 (a row vector times a "
                                 "scalar is not a number; the inner product is the only well-formed reading)",
                "tolerances": "identities 1e-12 relative (exact in log space); MODPO 1e-6 (BFGS at gradient 1e-12)"}
    if outcome.counterexample is not None:
        logs, rewards, weights, beta, beta_new = outcome.counterexample
        key = outcome.message.split(":")[0]
        cvx_target = cvxpy_optimal_policy(weights @ rewards, np.exp(logs[2]), divergence="reverse_kl", beta=beta)
        bases = optimal_policy(rewards, log_reference=logs[2], beta=beta).log_policy
        if key == "modpo" and cvx_target.policy is not None:
            minimizer = np.exp(_modpo_minimizer(logs[2], rewards, bases, weights, beta, scale=modpo_scale))
            gap = float(np.max(np.abs(minimizer - cvx_target.policy)))
            recheck = {"method": "cvxpy optimum for Σ w R against the MODPO minimizer", "computed": {"gap": gap},
                       "agrees": bool(gap > 1e-4)}
        elif key == "modpo":
            raise RuntimeError("MOD-D3: cvxpy found no optimum for the MODPO recheck")
        else:
            gap = _mp_d3_gap(key, logs, rewards, weights, beta, beta_new, proxy_ratio=proxy_ratio,
                             dera_exponent=dera_exponent)
            recheck = {"method": f"mpmath at 30 digits: both sides of the {key} identity, P_{{M+}} ∝ P_{{M−}}e^{{r/β}} "
                                 "rebuilt from the rewards", "computed": {"max_log_gap": gap},
                       "agrees": bool(gap > 1e-12 * (1 + np.abs(rewards).max() / min(beta, beta_new)))}
        return refuted({"inputs": {"log_models": logs, "rewards": rewards, "weights": weights, "beta": beta,
                                   "beta_new": beta_new},
                        "predicted": "the App D.3 identity", "computed": outcome.message,
                        "recheck": recheck}, evidence)
    return holds(evidence, f"{outcome.examples} property examples of the five identities (sequence level, exact "
                           "solver for the right-hand sides; MODPO by BFGS on the population loss, w_1 > 0)")


# ---------------------------------------------------------------------------------------
# MOD-NEG: weights with negative entries (App G.2)
# ---------------------------------------------------------------------------------------


def _table1_instance(name: str) -> dict:
    """The paper's Table 1 weights w = (5, −4) on K = 2, uniform π_ref, π_1 = (0.9, 0.1),
    π_2 = (0.1, 0.9): where the Z-free rule and the code are defined, and Prop 1 vs cvxpy."""
    reference = np.array([0.5, 0.5])
    policies = np.array([[0.9, 0.1], [0.1, 0.9]])
    weights = np.array([5.0, -4.0])
    log_pi, log_q = np.log(policies), np.log(reference)
    defined = thm5_rule_defined(log_pi, weights, log_q, divergence=name)
    optimum = mod_optimal_policy(policies, weights, reference, divergence=name)
    rewards = implied_rewards(policies, reference, divergence=name)  # R_i up to constants (β = 1)
    cvx = cvxpy_optimal_policy(weights @ rewards, reference, divergence=name)
    try:
        published_code_log_scores(log_pi, weights, divergence=_code_branch(name))
        code = "defined"
    except ValueError as error:
        code = f"undefined: {error}"
    return {"thm5_rule_defined_per_response": defined, "prop1_optimum": optimum.policy,
            "prop1_kkt_residual": float(optimum.kkt_residual),
            "cvxpy_optimum": cvx.policy, "cvxpy_vs_prop1": float(np.max(np.abs(cvx.policy - optimum.policy)))
            if cvx.policy is not None else None, "published_code": code}


@PAPER.check("MOD-NEG", mutants=[
    mutant("weights summing to 2", "Weights with negative entries summing to 2 still give, through Π π_i^{w_i}, the "
           "optimum for Σ w_i R_i (reverse KL)", weight_sum=2.0),
    mutant("negative weights clipped", "With negative entries, MOD with the weights clipped to 0 and renormalized gives "
           "the optimum for Σ w_i R_i (reverse KL)", clip_negative=True),
])
def check_negative_weights(*, quick: bool, weight_sum: float = 1.0, clip_negative: bool = False):
    """Seed 004, §G.2 (Safety Alignment, Table 1): "we can apply not-all-positive preference
    weightings w ∈ R^M as long as Σ w_i = 1, thus allowing us to optimize for a reward function
    −R". The assertion judged is the catalogue's: for reverse KL, π ∝ Π π_i^{w_i} (eq 7) with
    such w is the optimum for Σ w_i R_i. The request "say for which f the formula stays defined"
    is answered in the evidence, not in the verdict.

    Parameters (the statement): ``weight_sum`` the sum the real weights have (paper: 1);
    ``clip_negative`` whether MOD is run with max(w, 0) renormalized instead of w (paper: no).

    Reverse KL, on random instances with a negative weight: the normalized product must equal the
    direct optimum for Σ w_i R_i (exact solver); a failure is rechecked by the mpmath solver.
    Evidence, for every barrier f (when the statement is the paper's): Prop 1 with its Z against
    the direct optimum and Z in [t1, t2], instances where the Z-free Thm 5 rule is undefined,
    and the paper's w = (5, −4) (rule and published code defined or not).
    """
    stats = {"product_vs_direct": 0.0, "weight_sums": weight_sum, "clip_negative": clip_negative}

    def statement_weights(weights):
        weights = np.asarray(weights, dtype=float) * weight_sum  # Σ w = weight_sum
        if clip_negative:
            clipped = np.maximum(weights, 0.0)
            return weights, clipped / clipped.sum()
        return weights, weights

    def check(instance):
        rewards, weights, reference, beta = instance
        target, used = statement_weights(weights)
        bases = _bases(rewards, reference, "reverse_kl", beta)
        direct = optimal_policy(target @ rewards, reference, divergence="reverse_kl", beta=beta).policy
        product = softmax(used @ np.log(bases))
        gap = float(np.max(np.abs(product - direct)))
        stats["product_vs_direct"] = max(stats["product_vs_direct"], gap)
        # 1e-9: both sides are softmaxes of float64 log-sums of size ≤ max|R|/β ≲ 100.
        _require(gap <= 1e-9, f"product: Π π_i^w_i with w = {target.tolist()} misses the optimum by {gap}")

    outcome = property_search(_weighted_instance(negative=True), check, examples=10 if quick else 80, seed=201)
    evidence = {"reverse_kl_assertion": {"instances": outcome.examples, **stats}}
    if outcome.counterexample is not None:
        rewards, weights, reference, beta = outcome.counterexample
        target, used = statement_weights(weights)
        bases = _bases(rewards, reference, "reverse_kl", beta)
        product = softmax(used @ np.log(bases))
        star = np.exp(high_precision_optimal_policy(target @ rewards, np.log(reference), divergence="reverse_kl",
                                                    beta=beta))
        gap = float(np.max(np.abs(product - star)))
        return refuted({"inputs": {"divergence": "reverse_kl", "rewards": rewards, "weights": target,
                                   "weights_used_by_mod": used, "reference": reference, "beta": beta},
                        "predicted": "Π π_i^w_i (normalized) = the optimum for Σ w R", "computed": outcome.message,
                        "recheck": {"method": "mpmath optimum for Σ w R (pmtheory.highprec)",
                                    "computed": {"mpmath": star, "product": product, "gap": gap},
                                    "agrees": bool(gap > POLICY_ATOL)}}, evidence)
    if weight_sum == 1.0 and not clip_negative:
        evidence.update(_negative_weights_other_f(quick))
    return holds(evidence, f"{outcome.examples} property examples with a negative weight (reverse KL): Σ w log π_i = "
                           "Σ w R/β + log π_ref + const exactly when Σ w = 1, whatever the signs")


def _negative_weights_other_f(quick: bool) -> dict:
    """For every barrier f (the request): does Prop 1 with its Z stay exact and Z in [t1, t2],
    where is the Z-free Thm 5 rule defined, and is the published code defined at w = (5, −4)?"""
    per_divergence = {}
    for name in BARRIER_DIVERGENCES:
        stats = {"formula_vs_direct": 0.0, "z_outside_bracket": 0, "thm5_rule_undefined_instances": 0}

        def check(instance, name=name, stats=stats):
            rewards, weights, reference, beta = instance
            bases = _bases(rewards, reference, name, beta)
            direct = optimal_policy(weights @ rewards, reference, divergence=name, beta=beta).policy
            formula = mod_optimal_policy(bases, weights, reference, divergence=name, beta=beta)
            stats["formula_vs_direct"] = max(stats["formula_vs_direct"],
                                             float(np.max(np.abs(formula.policy - direct))))
            t1, t2 = prop1_bracket(bases, weights, reference, divergence=name)
            stats["z_outside_bracket"] += int(not _in_bracket(float(formula.multiplier) / beta, t1, t2))
            defined = thm5_rule_defined(np.log(bases), weights, np.log(reference), divergence=name)
            stats["thm5_rule_undefined_instances"] += int(not np.all(defined))

        outcome = property_search(_weighted_instance(negative=True), check, examples=10 if quick else 80, seed=201)
        per_divergence[name] = {"instances": outcome.examples, **stats, "table1_weights": _table1_instance(name)}
    always = [n for n in BARRIER_DIVERGENCES if math.isinf(get_divergence(n).sup_f_prime)]
    seen_undefined = [n for n in BARRIER_DIVERGENCES
                      if not all(per_divergence[n]["table1_weights"]["thm5_rule_defined_per_response"])
                      or per_divergence[n]["thm5_rule_undefined_instances"] > 0]
    code_defined = [n for n in BARRIER_DIVERGENCES
                    if per_divergence[n]["table1_weights"]["published_code"] == "defined"]
    prop1_exact = [n for n in BARRIER_DIVERGENCES
                   if per_divergence[n]["formula_vs_direct"] <= 1e-9 and per_divergence[n]["z_outside_bracket"] == 0]
    return {**per_divergence, "z_free_rule_defined_for_all_inputs": always,
            "z_free_rule_seen_undefined": seen_undefined,
            "published_code_defined_with_negative_weight": code_defined,
            "prop1_with_z_exact_with_negative_weights": prop1_exact,
            "other_f_answer": (f"Prop 1 with its Z stays defined and exact for {', '.join(prop1_exact)} (the bracket "
                               f"never uses w ≥ 0); the Z-free Thm 5 rule stays defined for all inputs only for "
                               f"{', '.join(always)} (sup ∇f = ∞); for the others sup ∇f < ∞ and Σ w ∇f(π_i/π_ref) can "
                               f"reach it (seen for {', '.join(seen_undefined)}, e.g. at w = (5, −4)); the published code is defined only on its "
                               f"{', '.join(code_defined)} branches (it takes log w_i elsewhere)")}


# ---------------------------------------------------------------------------------------
# MOD-PAR: Pareto fronts in a tabular two-objective problem
# ---------------------------------------------------------------------------------------

_PAR_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.3", "hellinger")
# The soups compared with MOD's front.
_SOUPS = ("rs_softmax_linear", "rs_relu")


def _par_problems(count: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(R (2, K), π_ref, β): the clean K = 3 problem first, then seeded random ones."""
    problems = [(np.array([[-1.0, 1.0, 1.0], [1.0, 1.0, -1.0]]), np.full(3, 1.0 / 3.0), 1.0)]
    rng = np.random.default_rng(2024)
    for _ in range(count):
        k = int(rng.integers(3, 8))
        problems.append((rng.normal(size=(2, k)) * rng.choice([0.5, 2.0]), rng.dirichlet(np.ones(k)),
                         float(rng.choice([0.5, 1.0, 2.0]))))
    return problems


def _domination_gap(front: np.ndarray, point: np.ndarray) -> float:
    """max over front points F of min(F_1 − x, F_2 − y): ≥ 0 iff some front point weakly dominates."""
    return float(np.max(np.minimum(front[:, 0] - point[0], front[:, 1] - point[1])))


@PAPER.check("MOD-PAR", mutants=[
    mutant("soups never beyond MOD", "In a tabular setting MOD's Pareto front lies on or above every rewarded-soup "
           "point (no RS point beyond it)", asserted_rs_beyond_front=0),
    mutant("MOD short of MORLHF", "MOD's policy differs from the retrained MORLHF optimum by at least 0.01 (max "
           "|Δπ|) at every w", asserted_mod_morlhf_gap=0.01),
])
def check_pareto(*, quick: bool, asserted_rs_beyond_front: int | None = None,
                 asserted_mod_morlhf_gap: float | None = None):
    """Seed 004, App G: in a tabular setting MOD's Pareto front equals the retrained (MORLHF)
    optimum and lies on or above rewarded soups.

    For each divergence and problem, along a grid of w: MOD (Prop 1) must equal MORLHF (to
    1e-10), and MOD's regularized objective must be ≥ every other method's (it is the optimum).
    In the plane of expected rewards (E R_1, E R_2), where the paper draws its fronts, each RS
    point (softmax-linear and 2-layer ReLU soups, λ = w) is tested for domination by a dense
    MOD front.

    Parameters (a wrong answer asserted as a claim; default None: answer the question):
    ``asserted_rs_beyond_front``, at most this many RS points lie beyond MOD's front;
    ``asserted_mod_morlhf_gap``, MOD differs from MORLHF by at least this much at every w.
    """
    coarse = np.linspace(0.0, 1.0, 11 if quick else 41)
    dense = np.linspace(0.0, 1.0, 201 if quick else 801)
    problems = _par_problems(2 if quick else 8)
    stats = {}
    worst_gap, not_dominated = 0.0, {}
    objective_violation = 0.0
    for name in _PAR_DIVERGENCES:
        counts = {soup: 0 for soup in _SOUPS}
        deepest = {soup: 0.0 for soup in _SOUPS}
        for index, (rewards, reference, beta) in enumerate(problems):
            fronts = pareto_fronts(rewards, reference, coarse, divergence=name, beta=beta)
            worst_gap = max(worst_gap, float(np.max(np.abs(fronts.policies["mod"] - fronts.policies["morlhf"]))))
            best = fronts.objectives["mod"]
            for values in fronts.objectives.values():
                objective_violation = max(objective_violation, float(np.max(values - best)))
            front = _dense_mod_front(rewards, reference, dense, name, beta)
            for soup in _SOUPS:
                for j, point in enumerate(fronts.points[soup]):
                    gap = _domination_gap(front, point)
                    if gap < -1e-9:
                        counts[soup] += 1
                        deepest[soup] = min(deepest[soup], gap)
                        not_dominated.setdefault((name, soup, index), {})[round(float(coarse[j]), 12)] = (point, gap)
        stats[name] = {"rs_points_beyond_mod_front": counts, "deepest_domination_gap": deepest}
    evidence = {"problems": len(problems), "weights_per_front": int(coarse.size), "dense_front_points": int(dense.size),
                "rs_points_per_soup_and_divergence": len(problems) * int(coarse.size),
                "max_mod_vs_morlhf": worst_gap, "max_objective_above_mod": objective_violation,
                "reading": "MOD = MORLHF and, in the regularized objective Σ w E R − β I_f, MOD ≥ every method at "
                           "every w (max excess above); the counts are RS points that no point of MOD's front "
                           "dominates in the (E R_1, E R_2) plane", **stats}
    # 1e-10 / 1e-9: two exact solvers of the same strictly concave problem agree to rounding.
    mod_is_morlhf = worst_gap <= 1e-10 and objective_violation <= 1e-9
    beyond = sum(sum(stats[n]["rs_points_beyond_mod_front"].values()) for n in _PAR_DIVERGENCES)
    evidence["rs_points_beyond_mod_front_total"] = beyond
    evidence["rs_points_total"] = len(problems) * int(coarse.size) * len(_SOUPS) * len(_PAR_DIVERGENCES)
    clean = not_dominated.get(("reverse_kl", "rs_relu", 0), {}).get(0.5)
    if not_dominated and clean is None:
        (name, soup, index), _ = next(iter(not_dominated.items()))
        raise RuntimeError(f"MOD-PAR: an RS point lies beyond the front ({name}, {soup}, problem {index}) but not in "
                           "the problem with a symbolic recheck; extend the recheck")
    example = _par_counterexample(clean) if clean is not None else None
    evidence["rs_beyond_front_example"] = example
    if asserted_mod_morlhf_gap is not None:
        rewards, reference, beta = problems[0]
        w = np.array([0.5, 0.5])
        bases = _bases(rewards, reference, "reverse_kl", beta)
        cvx = cvxpy_optimal_policy(w @ rewards, reference, divergence="reverse_kl", beta=beta)
        mod = mod_optimal_policy(bases, w, reference, divergence="reverse_kl", beta=beta).policy
        gap = None if cvx.policy is None else float(np.max(np.abs(mod - cvx.policy)))
        if worst_gap < asserted_mod_morlhf_gap and gap is not None:
            return refuted({"inputs": {"divergence": "reverse_kl", "rewards": rewards, "reference": reference,
                                       "beta": beta, "weights": w},
                            "predicted": f"max |π_MOD − π_MORLHF| ≥ {asserted_mod_morlhf_gap:g}",
                            "computed": {"max_gap_over_all_problems_and_w": worst_gap},
                            "recheck": {"method": "cvxpy (Clarabel) MORLHF optimum for Σ w R",
                                        "computed": {"gap": gap}, "agrees": bool(gap < asserted_mod_morlhf_gap)}},
                           evidence)
        return holds(evidence, f"MOD differs from MORLHF by up to {worst_gap:.3g} ≥ {asserted_mod_morlhf_gap:g}")
    if asserted_rs_beyond_front is not None:
        if beyond > asserted_rs_beyond_front and example is not None:
            return refuted(example, evidence)
        return holds(evidence, f"{beyond} RS points beyond MOD's front ≤ {asserted_rs_beyond_front}")
    if not mod_is_morlhf:
        equality = (f"MOD's policy differs from the MORLHF optimum by up to {worst_gap:.3g} (objective excess "
                    f"{objective_violation:.3g})")
    else:
        equality = (f"MOD's policy equals the retrained MORLHF optimum at every w (max |Δπ| {worst_gap:.1e}) and "
                    "maximizes Σ w_i E R_i − β I_f")
    if example is None:
        soups = "every rewarded-soup point lies on or below its front in the (E R_1, E R_2) plane"
    else:
        relu = sum(stats[n]["rs_points_beyond_mod_front"]["rs_relu"] for n in _PAR_DIVERGENCES)
        linear = sum(stats[n]["rs_points_beyond_mod_front"]["rs_softmax_linear"] for n in _PAR_DIVERGENCES)
        margin = example["recheck"]["computed"]["soup_minus_front"]
        soups = (f"it does not always lie on or above rewarded soups in the (E R_1, E R_2) plane: {relu} 2-layer ReLU "
                 f"soup points and {linear} softmax-linear ones (of {evidence['rs_points_total'] // 2} each) lie beyond "
                 f"it, e.g. reverse KL, π_ref uniform on 3, R_1 = (−1, 1, 1), R_2 = (1, 1, −1), β = 1, λ = w = (1/2, 1/2), "
                 f"where the soup's E R_1 + E R_2 exceeds the front's largest, 2e/(e + 2), by {margin:.3g}")
    return answered(f"In the tabular setting {equality}, but {soups}.", evidence,
                    f"{len(problems)} problems × {len(_PAR_DIVERGENCES)} divergences, dense fronts; sympy recheck of "
                    "the soup example")


def _dense_mod_front(rewards, reference, grid, name: str, beta: float) -> np.ndarray:
    """MOD's front (E R_1, E R_2) on a dense grid of w_1, shape (W, 2): Prop 1 batched over w, i.e.
    the optimum for the implied rewards β(w_1 ∇f(π_1/π_ref) + (1 − w_1) ∇f(π_2/π_ref))."""
    bases = _bases(rewards, reference, name, beta)
    implied = get_divergence(name).f_prime_of_log(np.log(bases) - np.log(reference))
    combined = grid[:, None] * implied[0] + (1.0 - grid)[:, None] * implied[1]
    return optimal_policy(beta * combined, reference, divergence=name, beta=beta).policy @ rewards.T


def _par_counterexample(found, w1: float = 0.5) -> dict:
    """K = 3, π_ref uniform, R_1 = (−1, 1, 1), R_2 = (1, 1, −1), β = 1, reverse KL, ReLU soup at λ = w = (1/2, 1/2).

    Exact: the soup's logits are (Σ λ_i √ℓ_i)² = (1/2, 2, 1/2), so E R_1 + E R_2 = 2e²/(2√e + e²);
    along MOD's front π_w ∝ exp(w R_1 + (1−w) R_2), E R_1 + E R_2 = 2e/(e^{1−2w} + e + e^{2w−1}),
    whose maximum over w (sympy) is 2e/(e + 2) — smaller, so no front point dominates the soup."""
    point, gap = found
    w = sp.Symbol("w", real=True)
    e = sp.E
    total_front = 2 * e / (sp.exp(1 - 2 * w) + e + sp.exp(2 * w - 1))
    critical = sp.solve(sp.diff(total_front, w), w)
    sup_front = sp.Max(*[sp.simplify(total_front.subs(w, c)) for c in critical],
                       total_front.subs(w, 0), total_front.subs(w, 1))
    soup_total = 2 * e**2 / (2 * sp.sqrt(e) + e**2)
    margin = sp.N(soup_total - sup_front, 30)
    return {
        "inputs": {"divergence": "reverse_kl", "rewards": [[-1, 1, 1], [1, 1, -1]], "reference": "uniform on 3",
                   "beta": 1, "soup": "2-layer ReLU network of Thm 2(ii), λ = w", "weights": [w1, 1 - w1]},
        "predicted": "MOD's front lies on or above the rewarded-soup point",
        "computed": {"soup_point": point, "domination_gap": gap},
        "recheck": {"method": "sympy: max over w of E R_1 + E R_2 on MOD's front vs the soup's exact sum",
                    "computed": {"sup_front_sum": str(sp.simplify(sup_front)), "soup_sum": str(soup_total),
                                 "soup_minus_front": float(margin)},
                    "agrees": bool(margin > 0)},
    }


# ---------------------------------------------------------------------------------------
# MOD-TOK: token-level greedy MOD against the sequence-level optimum
# ---------------------------------------------------------------------------------------

_TOK_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.5")


def _factorized_instance(seed: int, name: str, vocab: int = 3, length: int = 3):
    """A position-wise factorized problem: π_ref a product of per-position distributions and
    rewards additive over positions; base policies are the exact sequence-level optima."""
    rng = np.random.default_rng(seed)
    log_reference = np.zeros((vocab,) * length)
    rewards = np.zeros((2,) + (vocab,) * length)
    for t in range(length):
        shape = [1] * length
        shape[t] = vocab
        log_reference = log_reference + np.log(rng.dirichlet(np.ones(vocab))).reshape(shape)
        for i in range(2):
            rewards[i] = rewards[i] + rng.normal(size=vocab).reshape(shape)
    flat = optimal_policy(rewards.reshape(2, -1), log_reference=log_reference.reshape(-1), divergence=name).log_policy
    return log_reference, flat.reshape(rewards.shape)


def _mp_token_gap(log_policies: np.ndarray, weights) -> float:
    """KL(π_tok‖π*) for reverse KL by brute force in mpmath: π_tok multiplies next-token
    distributions ∝ Π_i π_i(s|prefix)^{w_i}, π* ∝ Π_i π_i(y)^{w_i} (π_ref drops out of both
    for reverse KL with Σ w_i = 1, eq 7, so it is not an argument)."""
    vocab, length = log_policies.shape[1], log_policies.ndim - 1
    with mpmath.workdps(30):
        sequences = list(itertools.product(range(vocab), repeat=length))
        probs = [{seq: mpmath.exp(mpmath.mpf(float(log_policies[(i,) + seq]))) for seq in sequences}
                 for i in range(log_policies.shape[0])]
        w = [mpmath.mpf(float(v)) for v in weights]

        def prefix(i, head):
            return mpmath.fsum(p for seq, p in probs[i].items() if seq[:len(head)] == head)

        token, star = {}, {}
        for seq in itertools.product(range(vocab), repeat=length):
            value = mpmath.mpf(1)
            for t in range(length):
                head = seq[:t]
                scores = [mpmath.fprod(mpmath.power(prefix(i, head + (s,)) / prefix(i, head), w[i])
                                       for i in range(len(w)))
                          for s in range(vocab)]
                value *= scores[seq[t]] / mpmath.fsum(scores)
            token[seq] = value
            star[seq] = mpmath.fprod(mpmath.power(probs[i][seq], w[i]) for i in range(len(w)))
        norm = mpmath.fsum(star.values())
        return float(mpmath.fsum(token[s] * mpmath.log(token[s] / (star[s] / norm)) for s in token))


@PAPER.check("MOD-TOK", mutants=[
    mutant("no token-level gap", "Token-level MOD (reverse KL) attains the sequence-level optimum on every "
           "enumerable instance (objective gap 0)", asserted_gap=0.0),
    mutant("factorized exact for every f", "On position-wise factorized problems token-level MOD is the "
           "sequence-level optimum for every barrier f", asserted_factorized_exact=True),
])
def check_token_level(*, quick: bool, asserted_gap: float | None = None, asserted_factorized_exact: bool = False):
    """Seed 004, §3.2-3.3: token-level (greedy) MOD versus the exact sequence-level optimum on an
    enumerable autoregressive model (V = 3 tokens, T = 3 positions, 27 sequences).

    Measured per divergence and weight: the objective gap (J(π*) − J(π_tok))/β in nats of
    sampling token by token with Prop 1 per prefix, and whether greedy decoding (eq 6) returns
    the sequence-level Thm 5 choice. Position-wise factorized problems test when the gap vanishes.

    Parameters (a wrong answer asserted as a claim; default: answer the question):
    ``asserted_gap``, the reverse-KL objective gap is at most this many nats on every instance;
    ``asserted_factorized_exact``, on factorized problems the gap vanishes for every f.
    """
    seeds = range(2 if quick else 8)
    grid = (0.25, 0.5, 0.75) if quick else tuple(np.linspace(0.1, 0.9, 9))
    stats, worst_reverse = {}, (0.0, None)
    negative = None
    for name in _TOK_DIVERGENCES:
        entry = {"cases": 0, "max_objective_gap_nats": 0.0, "mean_objective_gap_nats": 0.0,
                 "greedy_differs_from_sequence_rule": 0, "max_greedy_score_gap": 0.0,
                 "factorized_max_objective_gap_nats": 0.0}
        total = 0.0
        for seed in seeds:
            instance = autoregressive_instance(seed, vocab=3, length=3, objectives=2, divergence=name)
            for w1 in grid:
                weights = np.array([w1, 1.0 - w1])
                comparison = compare_token_and_sequence_level(instance.log_policies, weights, instance.log_reference,
                                                              divergence=name)
                entry["cases"] += 1
                total += comparison.objective_gap
                entry["max_objective_gap_nats"] = max(entry["max_objective_gap_nats"], comparison.objective_gap)
                entry["greedy_differs_from_sequence_rule"] += int(
                    comparison.greedy_sequence != comparison.rule_sequence)
                entry["max_greedy_score_gap"] = max(entry["max_greedy_score_gap"], comparison.greedy_score_gap)
                if comparison.objective_gap < -1e-9 and negative is None:
                    negative = (name, seed, w1, comparison.objective_gap)
                if name == "reverse_kl" and comparison.objective_gap > worst_reverse[0]:
                    worst_reverse = (comparison.objective_gap, (seed, w1))
            log_reference, log_policies = _factorized_instance(seed, name)
            factorized = compare_token_and_sequence_level(log_policies, [0.5, 0.5], log_reference, divergence=name)
            entry["factorized_max_objective_gap_nats"] = max(entry["factorized_max_objective_gap_nats"],
                                                             abs(factorized.objective_gap))
        entry["mean_objective_gap_nats"] = total / entry["cases"]
        stats[name] = entry
    evidence = {"vocabulary": 3, "length": 3, "weights": list(grid), "seeds": len(seeds), **stats}
    if negative is not None:
        name, seed, w1, gap = negative
        instance = autoregressive_instance(seed, divergence=name)
        weights = np.array([w1, 1 - w1])
        star = cvxpy_optimal_policy(weights @ instance.rewards.reshape(2, -1),
                                    np.exp(instance.log_reference.reshape(-1)), divergence=name)
        token = np.exp(token_level_log_policy(instance.log_policies, weights, instance.log_reference, divergence=name))
        rewards = weights @ instance.rewards.reshape(2, -1)
        reference = np.exp(instance.log_reference.reshape(-1))
        better = float(regularized_objective(token.reshape(-1), rewards, reference, divergence=name)
                       - regularized_objective(star.policy, rewards, reference, divergence=name))
        raise RuntimeError(f"MOD-TOK: token-level MOD beats the sequence-level Prop 1 policy ({name}, seed {seed}, "
                           f"w1 = {w1}, gap {gap}; token minus cvxpy objective {better}): a solver fault, not an answer")
    gap, where = worst_reverse
    if where is None:
        recheck = 0.0
        evidence["reverse_kl_worst_recheck"] = None
    else:
        seed, w1 = where
        instance = autoregressive_instance(seed, vocab=3, length=3, objectives=2)
        recheck = _mp_token_gap(instance.log_policies, [w1, 1 - w1])
        evidence["reverse_kl_worst_recheck"] = {"seed": seed, "w1": w1, "objective_gap_nats": gap,
                                                "mpmath_kl_token_to_sequence": recheck,
                                                "agrees": bool(abs(recheck - gap) <= 1e-9 * (1 + gap))}
        if not evidence["reverse_kl_worst_recheck"]["agrees"]:
            raise RuntimeError("MOD-TOK: the mpmath recheck of the reverse-KL gap disagrees: "
                               f"{evidence['reverse_kl_worst_recheck']}")
    factorized = {n: v["factorized_max_objective_gap_nats"] for n, v in stats.items()}
    if asserted_gap is not None:
        # 1e-12 nats: a KL between float64 distributions equal up to rounding.
        if where is not None and gap > asserted_gap + 1e-12:
            return refuted({"inputs": {"divergence": "reverse_kl", "seed": seed, "vocab": 3, "length": 3,
                                       "weights": [w1, 1 - w1]},
                            "predicted": f"(J(π*) − J(π_tok))/β ≤ {asserted_gap:g} nats",
                            "computed": {"objective_gap_nats": gap},
                            "recheck": {"method": "brute-force KL(π_tok‖π*) over the 27 sequences in mpmath",
                                        "computed": {"kl_nats": recheck}, "agrees": bool(recheck > asserted_gap)}},
                           evidence)
        return holds(evidence, f"reverse-KL gap ≤ {asserted_gap:g} nats on every instance")
    if asserted_factorized_exact:
        name = max((n for n in factorized if n != "reverse_kl"), key=factorized.get)
        if factorized[name] > 1e-9:
            return refuted(_factorized_counterexample(name), evidence)
        return holds(evidence, "every f's factorized gap ≤ 1e-9 nats")
    summary = "; ".join(f"{n}: max {v['max_objective_gap_nats']:.3g} nats, mean {v['mean_objective_gap_nats']:.3g}, "
                        f"greedy ≠ sequence-level choice in {v['greedy_differs_from_sequence_rule']}/{v['cases']}"
                        for n, v in stats.items())
    evidence["summary"] = summary
    if all(v["max_objective_gap_nats"] <= 1e-12 for v in stats.values()):
        answer = ("Token-level MOD equals the sequence-level optimum on every enumerable instance tried "
                  f"(V = 3, T = 3): {summary}.")
    else:
        others = ", ".join(f"{n}: {v:.3g}" for n, v in factorized.items() if n != "reverse_kl")
        answer = (f"Token-level MOD is not the sequence-level optimum in general: on random enumerable models "
                  f"(V = 3, T = 3) it loses up to {stats['reverse_kl']['max_objective_gap_nats']:.3g} nats of the "
                  f"objective for reverse KL (mean {stats['reverse_kl']['mean_objective_gap_nats']:.3g}; mpmath "
                  f"recheck {recheck:.6g}) and up to {max(v['max_objective_gap_nats'] for v in stats.values()):.3g} "
                  f"for the other f, greedy decoding misses the sequence-level Thm 5 choice in "
                  f"{sum(v['greedy_differs_from_sequence_rule'] for v in stats.values())}/"
                  f"{sum(v['cases'] for v in stats.values())} cases, and of the f tried the gap vanishes only for reverse KL "
                  f"on position-wise factorized problems ({factorized['reverse_kl']:.1e} nats; other f there: {others}).")
    return answered(answer, evidence, f"{sum(v['cases'] for v in stats.values())} (instance, w) pairs by exhaustive "
                                      "enumeration of the sequence space; mpmath recheck")


def _factorized_counterexample(name: str, seed: int = 0) -> dict:
    """A factorized problem where token-level MOD misses the optimum for ``name``, rechecked by
    cvxpy: the optimum of E_π u − I_f(π‖π_ref) over the 27 sequences (u = Σ w ∇f(π_i/π_ref),
    the weighted reward over β up to a constant) against the token-level policy's value."""
    log_reference, log_policies = _factorized_instance(seed, name)
    weights = np.array([0.5, 0.5])
    comparison = compare_token_and_sequence_level(log_policies, weights, log_reference, divergence=name)
    flat_reference = np.exp(log_reference.reshape(-1))
    implied = get_divergence(name).f_prime_of_log(log_policies.reshape(2, -1) - log_reference.reshape(-1))
    u = weights @ implied
    cvx = cvxpy_optimal_policy(u, flat_reference, divergence=name)
    token = np.exp(comparison.token_log_policy.reshape(-1))
    token = token / token.sum()
    loss = None if cvx.policy is None else float(
        regularized_objective(cvx.policy, u, flat_reference, divergence=name)
        - regularized_objective(token, u, flat_reference, divergence=name))
    return {"inputs": {"divergence": name, "seed": seed, "vocab": 3, "length": 3, "weights": weights,
                       "problem": "π_ref a product of per-position distributions, rewards additive over positions"},
            "predicted": "token-level MOD is the sequence-level optimum (gap 0)",
            "computed": {"objective_gap_nats": comparison.objective_gap},
            "recheck": {"method": "cvxpy (Clarabel) optimum over the 27 sequences against the token-level policy",
                        "computed": {"cvxpy_minus_token_objective": loss},
                        "agrees": bool(loss is not None and loss > 1e-6)}}
