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
from pmtheory.solvers import optimal_policy, regularized_objective
from pmtheory.testing import KKT_TOL, POLICY_ATOL, instances, property_search, reward_vectors

# cvxpy (Clarabel at 1e-12 tolerances) reaches about 1e-8 in π on well-scaled instances;
# 1e-6 leaves two orders of magnitude for harder ones without hiding a wrong closed form,
# which would be off by O(1).
_CVXPY_ATOL = 1e-6


def _lp_certificate(rewards: np.ndarray) -> dict:
    """Solve max Σπr over the simplex by HiGHS, and the LP that maximizes the mass off the
    best responses among all optimal π. Returns the numbers the verdict uses."""
    k = rewards.size
    best = rewards.max()
    value = linprog(-rewards, A_eq=np.ones((1, k)), b_eq=[1.0], bounds=[(0, None)] * k, method="highs")
    # Dual of the LP: min λ s.t. λ ≥ r_y for all y; its optimum is max r.
    gap = best - (-value.fun)
    off = rewards < best
    # Every optimal π satisfies Σ π_y (r* − r_y) ≤ 0; how much mass can such a π put off A?
    if off.any():
        spill = linprog(
            -off.astype(float),
            A_ub=(best - rewards)[None, :],
            b_ub=[0.0],
            A_eq=np.ones((1, k)),
            b_eq=[1.0],
            bounds=[(0, None)] * k,
            method="highs",
        )
        mass_off, spill_policy = float(-spill.fun), spill.x
    else:
        mass_off, spill_policy = 0.0, value.x
    return {"value": float(-value.fun), "dual_gap": float(gap), "mass_off_argmax": mass_off,
            "spill_policy": spill_policy}


@register("PMR-P3.1")
def check_unregularized_collapse(*, quick: bool):
    """Seed 001, Prop 3.1: max_π E_π r puts all mass on the highest-reward responses.

    Two methods. (1) Symbolic: for K = 4, Σπr = r* − Σπ_y(r* − r_y) on the simplex, so any
    mass off the argmax strictly lowers the value. (2) Exact, on random instances with ties
    and rewards up to ±1e4: HiGHS solves the LP with its dual certificate (gap to max r), and
    a second LP maximizes the mass that an optimal π could put off the argmax; the claim
    fails on an instance iff that mass is positive.
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

    worst = {"dual_gap": 0.0, "mass_off_argmax": 0.0}

    def check(rewards):
        cert = _lp_certificate(rewards)
        worst["dual_gap"] = max(worst["dual_gap"], abs(cert["dual_gap"]))
        worst["mass_off_argmax"] = max(worst["mass_off_argmax"], cert["mass_off_argmax"])
        scale = 1.0 + np.abs(rewards).max()
        assert abs(cert["dual_gap"]) <= 1e-9 * scale, f"LP value misses max r by {cert['dual_gap']}"
        assert cert["mass_off_argmax"] <= 1e-9, f"an optimal π puts {cert['mass_off_argmax']} off the argmax"

    strategy = st.integers(1, 8).flatmap(reward_vectors)
    outcome = property_search(strategy, check, examples=60 if quick else 400, seed=31)
    evidence = {"symbolic_identity_k": k_sym, "lp_instances": outcome.examples, **worst}
    if outcome.counterexample is not None:
        rewards = np.asarray(outcome.counterexample)
        spill = _lp_certificate(rewards)["spill_policy"]
        # Re-check in exact rational arithmetic: is the spilling policy really optimal?
        exact_r = [Fraction(float(x)) for x in rewards]
        exact_pi = [Fraction(float(x)) for x in spill]
        exact_pi = [x / sum(exact_pi) for x in exact_pi]
        value = sum(p * r for p, r in zip(exact_pi, exact_r))
        off = sum(p for p, r in zip(exact_pi, exact_r) if r < max(exact_r))
        return refuted(
            {
                "inputs": {"rewards": rewards.tolist()},
                "predicted": "every optimal policy is supported on argmax r",
                "computed": {"policy": spill.tolist(), "message": outcome.message},
                "recheck": {"method": "exact rational arithmetic (fractions)",
                            "computed": {"value_minus_max": float(value - max(exact_r)), "mass_off": float(off)},
                            "agrees": bool(value >= max(exact_r) and off > 0)},
            },
            evidence,
        )
    return holds(evidence, backing=f"symbolic identity (K={k_sym}) and {outcome.examples} exact LP "
                                   "instances with HiGHS dual certificates")


@register("PMR-P5.1")
def check_kl_rlhf_closed_form(*, quick: bool):
    """Seed 001, Prop 5.1: the KL-RLHF optimum is π_ref·e^{r/β}/Z.

    Methods: (1) symbolic, the proof's identity J(π)/β = −KL(π‖π*) + log Z for K = 3 with
    sympy; (2) exact: on random instances (ties, |r| ≤ 1e4, references down to e^-750,
    β in [1e-3, 1e3]) the closed form (evaluated in log space) is compared with an mpmath
    bisection on the stationarity condition at ≥ 40 digits, and with a direct cvxpy/Clarabel
    maximization of Σπr − β·KL on the well-scaled instances; no feasible transfer of mass
    improves the objective.
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

    def check(instance):
        rewards, log_q, b = instance
        closed = np.exp(log_q + rewards / b - np.logaddexp.reduce(log_q + rewards / b))
        sol = optimal_policy(rewards, log_reference=log_q, beta=b)
        reference = np.exp(high_precision_optimal_policy(rewards, log_q, divergence="reverse_kl", beta=b))
        diff = float(np.max(np.abs(sol.policy - reference)))
        worst["max_abs_diff_vs_mpmath"] = max(worst["max_abs_diff_vs_mpmath"], diff)
        worst["max_kkt_residual"] = max(worst["max_kkt_residual"], float(sol.kkt_residual))
        assert diff <= POLICY_ATOL, f"closed form differs from the mpmath optimum by {diff}"
        assert sol.kkt_residual <= KKT_TOL
        assert float(np.max(np.abs(closed - sol.policy))) <= 1e-12
        well_scaled = log_q.min() > -20 and np.ptp(rewards / b) < 50
        if well_scaled:
            cvx = cvxpy_optimal_policy(rewards, np.exp(log_q) / np.exp(log_q).sum(), beta=b)
            if cvx.policy is not None:
                cvxpy_runs[0] += 1
                gap = float(np.max(np.abs(cvx.policy - sol.policy)))
                worst["max_abs_diff_vs_cvxpy"] = max(worst["max_abs_diff_vs_cvxpy"], gap)
                ref = np.exp(log_q) / np.exp(log_q).sum()
                ours = regularized_objective(sol.policy, rewards, ref, beta=b)
                theirs = regularized_objective(cvx.policy, rewards, ref, beta=b)
                assert theirs <= ours + 1e-9 * (1 + abs(ours)), "cvxpy found a better policy"
                assert gap <= _CVXPY_ATOL, f"cvxpy's optimum differs by {gap}"

    outcome = property_search(instances(max_k=6, min_log_prob=-750.0), check,
                              examples=40 if quick else 300, seed=51)
    evidence = {"instances": outcome.examples, "cvxpy_comparisons": cvxpy_runs[0], **worst}
    if outcome.counterexample is not None:
        rewards, log_q, b = outcome.counterexample
        closed = np.exp(log_q + rewards / b - np.logaddexp.reduce(log_q + rewards / b))
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
