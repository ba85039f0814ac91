"""Checks of the PMR claims (seed 001, Xiao et al. 2024: preference matching RLHF).

Each check computes its verdict; nothing here states a verdict without the computation that
earns it. ``quick`` shrinks the number of random instances, never the kind of check.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp
from hypothesis import strategies as st
from scipy.optimize import linprog

from pmtheory.claims import holds, refuted, register
from pmtheory.cvx import cvxpy_optimal_policy
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.rlhf import kl_rlhf_log_policy
from pmtheory.solvers import kkt_residual, regularized_objective
from pmtheory.testing import KKT_TOL, POLICY_ATOL, instances, property_search, reward_vectors



def _lp_value_certificate(rewards: np.ndarray) -> float:
    """HiGHS's value for max Σπr over the simplex, minus max r (its dual optimum): the gap."""
    k = rewards.size
    value = linprog(-rewards, A_eq=np.ones((1, k)), b_eq=[1.0], bounds=[(0, None)] * k, method="highs")
    return float(rewards.max() - (-value.fun))


def _max_mass_off_argmax(rewards: np.ndarray) -> tuple[Fraction, list[Fraction]]:
    """Exactly: the most mass an optimal π can put off argmax r, and a π attaining it.

    π is optimal iff Σ π_y g_y ≤ 0 with g = max r − r ≥ 0. The feasible set is the simplex
    cut by that half-space; a linear objective peaks at one of its vertices, which are the
    simplex vertices e_y with g_y ≤ 0 and the points where an edge [e_i, e_j] with
    g_i < 0 < g_j crosses Σ π g = 0. All in rational arithmetic (every float is a rational).
    """
    exact = [Fraction(float(x)) for x in rewards]
    top = max(exact)
    g = [top - r for r in exact]
    k = len(g)
    off = [gi > 0 for gi in g]
    best_mass, best_point = Fraction(-1), None
    candidates = []
    for i in range(k):
        if g[i] <= 0:
            candidates.append({i: Fraction(1)})
        for j in range(k):
            if g[i] < 0 < g[j]:
                candidates.append({i: g[j] / (g[j] - g[i]), j: -g[i] / (g[j] - g[i])})
    for point in candidates:
        mass = sum((w for y, w in point.items() if off[y]), Fraction(0))
        if mass > best_mass:
            best_mass, best_point = mass, point
    return best_mass, [best_point.get(y, Fraction(0)) for y in range(k)]


@register("PMR-P3.1")
def check_unregularized_collapse(*, quick: bool):
    """Seed 001, Prop 3.1: max_π E_π r puts all mass on the highest-reward responses.

    Two methods. (1) Symbolic: for K = 4, Σπr = r* − Σπ_y(r* − r_y) on the simplex, so any
    mass off the argmax strictly lowers the value. (2) Exact, on random instances with ties,
    near-ties (gaps of 1e-290) and rewards up to ±1e4: the most mass an optimal π can put off
    argmax r, by rational vertex enumeration of the optimal set (the claim fails on an
    instance iff it is positive), and HiGHS's LP value with its dual certificate.
    """
    k_sym = 4
    pis = sp.symbols(f"pi0:{k_sym}", nonnegative=True)
    rs = sp.symbols(f"r0:{k_sym}", real=True)
    r_star = sp.Symbol("r_star", real=True)
    simplex = {pis[-1]: 1 - sum(pis[:-1])}
    identity = sp.simplify(
        (sum(p * r for p, r in zip(pis, rs)) - (r_star - sum(p * (r_star - r) for p, r in zip(pis, rs)))).subs(simplex)
    )
    if identity != 0:
        raise RuntimeError(f"the symbolic identity behind the check failed: {identity}")

    worst = {"lp_dual_gap": 0.0, "max_mass_off_argmax": 0.0}

    def check(rewards):
        gap = _lp_value_certificate(rewards)
        worst["lp_dual_gap"] = max(worst["lp_dual_gap"], abs(gap))
        assert abs(gap) <= 1e-9 * (1.0 + np.abs(rewards).max()), f"HiGHS's LP value misses max r by {gap}"
        mass, _ = _max_mass_off_argmax(rewards)
        worst["max_mass_off_argmax"] = max(worst["max_mass_off_argmax"], float(mass))
        assert mass <= 0, f"an optimal π puts mass {mass} off the argmax"

    strategy = st.integers(1, 8).flatmap(reward_vectors)
    outcome = property_search(strategy, check, examples=60 if quick else 400, seed=31)
    evidence = {"symbolic_identity_k": k_sym, "instances": outcome.examples, **worst}
    if outcome.counterexample is not None:
        rewards = np.asarray(outcome.counterexample)
        mass, point = _max_mass_off_argmax(rewards)
        policy = np.array([float(x) for x in point])
        # Re-check with HiGHS: the spilling policy's value against the LP optimum.
        value_gap = float(rewards.max() - policy @ rewards) if mass > 0 else None
        return refuted(
            {
                "inputs": {"rewards": rewards.tolist()},
                "predicted": "every optimal policy is supported on argmax r",
                "computed": {"policy": policy.tolist(), "mass_off_argmax": float(mass), "message": outcome.message},
                "recheck": {"method": "floating-point value of the policy against HiGHS's LP optimum",
                            "computed": {"value_gap": value_gap, "lp_gap": _lp_value_certificate(rewards)},
                            "agrees": bool(value_gap is not None and abs(value_gap) <= 1e-12)},
            },
            evidence,
        )
    return holds(evidence, backing=f"symbolic identity (K={k_sym}) and {outcome.examples} instances: exact "
                                   "rational vertex enumeration of the optimal set, HiGHS dual certificates")


@register("PMR-P5.1")
def check_kl_rlhf_closed_form(*, quick: bool):
    """Seed 001, Prop 5.1: the KL-RLHF optimum is π_ref·e^{r/β}/Z.

    Methods: (1) symbolic, the proof's identity J(π)/β = −KL(π‖π*) + log Z for K = 3 with
    sympy; (2) exact: on random instances (ties, |r| ≤ 1e4, references down to e^-750,
    β in [1e-3, 1e3]) the closed form (evaluated in log space) is compared with an mpmath
    bisection on the stationarity condition at ≥ 40 digits, certified by its KKT residual, and
    compared with a direct cvxpy/Clarabel maximization of Σπr − β·KL on the well-scaled
    instances, which must not find a better objective.
    """
    k = 3
    p = sp.symbols("p0:3", positive=True)
    q = sp.symbols("q0:3", positive=True)
    r = sp.symbols("r0:3", real=True)
    beta = sp.Symbol("beta", positive=True)
    z = sum(qi * sp.exp(ri / beta) for qi, ri in zip(q, r))
    star = [qi * sp.exp(ri / beta) / z for qi, ri in zip(q, r)]
    objective = sum(pi * ri for pi, ri in zip(p, r)) / beta - sum(pi * sp.log(pi / qi) for pi, qi in zip(p, q))
    claimed = -sum(pi * sp.log(pi / si) for pi, si in zip(p, star)) + sp.log(z)
    difference = sp.expand_log(sp.expand(objective - claimed), force=True).subs(p[2], 1 - p[0] - p[1])
    if sp.simplify(difference) != 0:
        raise RuntimeError(f"the symbolic identity of the proof of Prop 5.1 failed: {difference}")

    worst = {"max_abs_diff_vs_mpmath": 0.0, "max_abs_diff_vs_cvxpy": 0.0, "max_kkt_residual": 0.0}
    cvxpy_runs = [0]
    cvxpy_uncertified = [0]

    def check(instance):
        rewards, log_q, b = instance
        log_closed = kl_rlhf_log_policy(rewards, log_q, b)
        closed = np.exp(log_closed)
        reference = np.exp(high_precision_optimal_policy(rewards, log_q, divergence="reverse_kl", beta=b))
        residual = float(kkt_residual(log_policy=log_closed, rewards=rewards, log_reference=log_q, beta=b))
        worst["max_kkt_residual"] = max(worst["max_kkt_residual"], residual)
        assert residual <= KKT_TOL, f"the closed form violates the KKT conditions by {residual}"
        diff = float(np.max(np.abs(closed - reference)))
        worst["max_abs_diff_vs_mpmath"] = max(worst["max_abs_diff_vs_mpmath"], diff)
        assert diff <= POLICY_ATOL, f"the closed form differs from the mpmath optimum by {diff}"
        well_scaled = log_q.min() > -20 and np.ptp(rewards / b) < 50
        if well_scaled:
            cvx = cvxpy_optimal_policy(rewards, np.exp(log_q) / np.exp(log_q).sum(), beta=b)
            if cvx.status != "optimal":
                cvxpy_uncertified[0] += 1  # "optimal_inaccurate" or a failure: no comparison
            else:
                cvxpy_runs[0] += 1
                gap = float(np.max(np.abs(cvx.policy - closed)))
                worst["max_abs_diff_vs_cvxpy"] = max(worst["max_abs_diff_vs_cvxpy"], gap)
                ref = np.exp(log_q) / np.exp(log_q).sum()
                ours = regularized_objective(closed / closed.sum(), rewards, ref, beta=b)
                theirs = regularized_objective(cvx.policy, rewards, ref, beta=b)
                assert theirs <= ours + 1e-9 * (1 + abs(ours)), f"cvxpy beats the closed form by {theirs - ours}"

    outcome = property_search(instances(max_k=6, min_log_prob=-750.0), check,
                              examples=40 if quick else 300, seed=51)
    evidence = {"instances": outcome.examples, "cvxpy_comparisons": cvxpy_runs[0],
                "cvxpy_not_optimal_skipped": cvxpy_uncertified[0], **worst}
    if outcome.counterexample is not None:
        rewards, log_q, b = outcome.counterexample
        closed = np.exp(kl_rlhf_log_policy(rewards, log_q, b))
        recheck = np.exp(high_precision_optimal_policy(rewards, log_q, divergence="reverse_kl", beta=b, digits=400))
        return refuted(
            {
                "inputs": {"rewards": rewards.tolist(), "log_reference": log_q.tolist(), "beta": b},
                "predicted": closed.tolist(),
                "computed": outcome.message,
                "recheck": {"method": "mpmath bisection at 400 digits", "computed": recheck.tolist(),
                            "agrees": bool(np.max(np.abs(recheck - closed)) > POLICY_ATOL)},
            },
            evidence,
        )
    return holds(evidence, backing=f"sympy identity (K={k}) and {outcome.examples} instances against an "
                                   f"mpmath optimum ({cvxpy_runs[0]} also against cvxpy/Clarabel)")
