"""The concave paths of :mod:`pmtheory.certified`, cvxpy and the monotone root solve, and
the certificate that every path assembles (:class:`CertifiedSolution`).

- ``"cvxpy-clarabel"`` / ``"cvxpy-scs"``: every h_i is concave and π·R(π) translates to a DCP
  expression; cvxpy solves it (Clarabel, SCS as the fallback).
- ``"monotone-root"``: every h_i is concave; ψ_i = h_i' is non-increasing, so the
  maximizer of h_i(π) − λπ on [0, 1] is a root or a boundary, Σ_i π_i(λ) is non-increasing
  in λ, and a bisection on λ inside a bracket taken from the math finds Σπ = 1.

Every answer carries a certificate computed here from the returned π, independently of the
path that produced it: the dual bound g(λ) = λ + Σ_i max_{π∈[0,1]} (h_i(π) − λπ), an upper
bound on the optimum by weak duality, and the KKT residual. A cvxpy answer is re-certified:
π is clipped at 0 and renormalized, and λ (the π-weighted mean of ψ_i(π_i)), the objective,
the dual bound and the KKT residual are all recomputed here from that π.

Shape letters: ``K`` is the number of responses; the tolerances are explained in the module
doc of :mod:`pmtheory.certified`.
Source: seed 001 (shared/seeds/001_c8a06c444314e79a.txt) (Xiao et al., PMR), §3: eq 3.5 /
3.12 (the finite form), eq 3.8 and Theorem 1 (the PM regularizer, whose optimum is softmax(r)).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from pmtheory.certified._analysis import _LOG_BISECTIONS, _LOG_TINY, _TINY, _Instance, _Symbolic

# Clarabel tightened from its 1e-8 defaults: near the optimum the objective is flat, so a
# gap tolerance τ leaves π off by about √τ (1e-5 at the defaults). Even at 1e-12 Clarabel
# often stops "inaccurate" with π off by up to ~1e-6, and which settings do best varies from
# input to input, so it is run with three settings (plain, long iterative refinement, and
# that with a smaller static regularization) and the π with the best objective is kept.
# SCS (first-order, asked for 1e-9) is the fallback when every Clarabel run fails.
_CLARABEL_TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "max_iter": 500}
_CLARABEL_REFINED = {**_CLARABEL_TIGHT, "iterative_refinement_reltol": 1e-16,
                     "iterative_refinement_abstol": 1e-16, "iterative_refinement_max_iter": 50}
_CVXPY_SOLVERS = (
    ("CLARABEL", _CLARABEL_TIGHT),
    ("CLARABEL", _CLARABEL_REFINED),
    ("CLARABEL", {**_CLARABEL_REFINED, "static_regularization_constant": 1e-10}),
    ("SCS", {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 100_000}),
)


@dataclass(frozen=True)
class CertifiedSolution:
    """A maximizer of Σ_i π_i (r_i + R_i(π_i)) over the simplex, with its certificate."""

    policy: np.ndarray  # π, shape (K,); π ≥ 0 and Σπ = 1 to rounding
    multiplier: float  # λ of Σπ = 1 (reward units): ψ_i(π_i) = λ where 0 < π_i < 1
    objective: float  # Σ_i h_i(π_i) at the returned π: the primal value, ≤ the optimum
    dual_bound: float  # g(λ) at λ = multiplier: an upper bound on the optimum
    duality_gap: float  # dual_bound − objective ≥ optimum − objective; ≥ −(rounding)
    kkt_residual: float  # scaled first-order violation of π at λ (see the function doc)
    method: str  # "cvxpy-clarabel", "cvxpy-scs", "monotone-root" or "dual-global"
    concave: bool  # True when every h_i(π) = π(r_i + R_i(π)) is concave on (0, 1]
    concavity_proof: str  # how `concave` was decided: "symbolic" or "numeric grid"


# ---------------------------------------------------------------------------------------
# The concave paths: cvxpy and the monotone root solve.


def _build_cvxpy(symbolic: _Symbolic, problem: _Instance):
    """A DCP cvxpy problem for the instance, or None when it does not translate."""
    if symbolic.cvx_plan is None:
        return None
    import cvxpy as cp

    k = problem.k
    policy = cp.Variable(k, nonneg=True)
    parts = [problem.rewards @ policy]
    constant = 0.0
    for kind, coefficient_fn, extra in symbolic.cvx_plan:
        with np.errstate(all="ignore"):
            coefficient = np.broadcast_to(np.asarray(coefficient_fn(*problem.values), dtype=np.float64), (k,))
        if not np.all(np.isfinite(coefficient)):
            return None
        if not np.any(coefficient):
            continue
        if kind == "constant":
            constant += math.fsum(coefficient.tolist())
            continue
        if kind == "linear":
            parts.append(coefficient @ policy)
            continue
        if kind == "x_log_x":  # c·π log π = (−c)·entr(π)
            atom, coefficient = cp.entr(policy), -coefficient
        elif kind == "log":
            atom = cp.log(policy)
        elif kind == "power":
            atom = cp.inv_pos(policy) if extra == -1.0 else cp.sqrt(policy) if extra == 0.5 else cp.power(policy, extra)
        else:  # exp(a·π)
            rate = np.broadcast_to(np.asarray(extra(*problem.values), dtype=np.float64), (k,))
            if not np.all(np.isfinite(rate)):
                return None
            atom = cp.exp(cp.multiply(rate, policy))
        parts.append(cp.sum(cp.multiply(coefficient, atom)))
    objective = parts[0]
    for part in parts[1:]:
        objective = objective + part
    cvx_problem = cp.Problem(cp.Maximize(objective + constant), [cp.sum(policy) == 1])
    if not cvx_problem.is_dcp():
        return None
    return cvx_problem, policy


def _solve_cvxpy(cvx_problem, policy, problem: _Instance):
    """(π clipped at 0 and renormalized, solver name) with the best objective among the runs
    of the first solver in :data:`_CVXPY_SOLVERS` that succeeds, or None if all failed."""
    import cvxpy as cp

    best, best_value, best_solver = None, -np.inf, None
    for solver, options in _CVXPY_SOLVERS:
        if best is not None and solver != best_solver:
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "solution may be inaccurate": re-certified
                cvx_problem.solve(solver=solver, **options)
        except (cp.error.SolverError, ValueError, ArithmeticError):
            continue
        if cvx_problem.status not in ("optimal", "optimal_inaccurate") or policy.value is None:
            continue
        value = np.clip(np.asarray(policy.value, dtype=np.float64), 0.0, None)
        if not np.all(np.isfinite(value)) or value.sum() <= 0:
            continue
        value = value / value.sum()
        objective = problem.h(value)
        if np.all(np.isfinite(objective)) and math.fsum(objective.tolist()) > best_value:
            best, best_value, best_solver = value, math.fsum(objective.tolist()), solver
    return None if best is None else (best, best_solver)


def _concave_argmax(problem: _Instance, lam) -> np.ndarray:
    """argmax_{π∈[0,1]} h_i(π) − λπ for concave h_i: bisection of ψ_i = λ in log π.

    ``lam`` is one multiplier (-> shape (K,)) or m of them, shape (m,) (-> shape (m, K)): the
    bisections for all of them run together, one evaluation of ψ per halving.
    """
    k = problem.k
    lam = np.asarray(lam, dtype=np.float64)[..., None]  # (1,) or (m, 1), against ψ's (K,)
    at_one = problem.psi(np.ones(k)) >= lam
    near_zero = problem.psi(np.full(k, _TINY))
    if np.any(np.isnan(near_zero)):
        bad = int(np.argmax(np.isnan(near_zero)))
        raise ValueError(
            f"ψ_{bad}(π) = r + (π·R)'(π) is not a number at π = {_TINY:.3g} (the boundary probe); "
            "rewrite the regularizer so that it evaluates near 0 without 0/0 or ∞ − ∞"
        )
    at_zero = ~at_one & ~(near_zero > lam)
    lo = np.full(at_one.shape, _LOG_TINY)  # ψ(e^lo) > λ for the interior responses
    hi = np.zeros(at_one.shape)  # ψ(e^hi) < λ
    for _ in range(_LOG_BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = problem.psi(np.exp(mid)) > lam
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(at_one, 1.0, np.where(at_zero, 0.0, np.exp(0.5 * (lo + hi))))


# The multipliers tried per round of the search on λ: the bracket is cut into this many
# parts (in the order of float64 values) and the maximizers at the cut points are found by
# one batched bisection, so a round costs about the Python overhead of one bisection and
# shrinks the bracket 32-fold, where a halving shrinks it 2-fold. Measured on PMR-P5.1's 300
# solves: 29.4 s in this search by halving, 5.3 s with 8 parts, 4.0 s with 32.
_SECTIONS = 32


def _solve_monotone(problem: _Instance):
    """Search on λ for Σ_i π_i(λ) = 1, with π_i(λ) from :func:`_concave_argmax`.

    Bracket (ψ_i non-increasing): at λ = max_i ψ_i(1) the top response has π_i = 1, and at
    λ = min_i ψ_i(1/K) every π_i ≥ 1/K, so Σπ ≥ 1 at the larger of the two; at
    λ = max_i ψ_i(1/K) every π_i ≤ 1/K, so Σπ ≤ 1. Each round cuts the bracket at up to
    ``_SECTIONS`` − 1 interior floats, spaced evenly in the order of float64 values, and keeps
    the part between the last cut with Σπ ≥ 1 and the first with Σπ < 1 (a bisection that
    tests the cuts in increasing order), until the ends are adjacent floats.
    """
    k = problem.k
    psi_share = problem.psi(np.full(k, 1.0 / k))
    if not np.all(np.isfinite(psi_share)):
        bad = int(np.argmin(np.isfinite(psi_share)))
        raise ValueError(
            f"ψ_{bad}(1/K) = {psi_share[bad]!r} is not finite: the regularizer must be differentiable on (0, 1)"
        )
    psi_one = problem.psi(np.ones(k))
    lower = [float(np.min(psi_share))]
    if np.any(np.isfinite(psi_one)):
        lower.append(float(np.max(psi_one[np.isfinite(psi_one)])))
    lo, hi = max(lower), float(np.max(psi_share))
    lo = min(lo, hi)
    pi_lo, pi_hi = _concave_argmax(problem, lo), _concave_argmax(problem, hi)
    while True:
        cuts = _float_cuts(lo, hi, _SECTIONS)
        if not cuts.size:
            break
        policies = _concave_argmax(problem, cuts)
        below = np.flatnonzero(~(policies.sum(axis=-1) >= 1.0))
        first = int(below[0]) if below.size else cuts.size
        if first > 0:
            lo, pi_lo = float(cuts[first - 1]), policies[first - 1]
        if first < cuts.size:
            hi, pi_hi = float(cuts[first]), policies[first]
    return _interpolate(pi_lo, lo, pi_hi, hi)


def _float_ordinal(value: float) -> int:
    """The position of ``value`` in the order of float64 values (0.0 at 0, −0.0 too)."""
    bits = int(np.float64(value).view(np.int64))
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def _float_of_ordinal(ordinal: int) -> float:
    if ordinal >= 0:
        return float(np.int64(ordinal).view(np.float64))
    return -float(np.int64(-ordinal).view(np.float64))


def _float_cuts(lo: float, hi: float, parts: int) -> np.ndarray:
    """The floats strictly inside (lo, hi) that cut it into ``parts`` parts holding equal counts
    of float64 values (fewer where the interval holds fewer floats), increasing, shape (n,)."""
    start, stop = _float_ordinal(lo), _float_ordinal(hi)
    ordinals = sorted({start + (stop - start) * j // parts for j in range(1, parts)} - {start, stop})
    return np.array([_float_of_ordinal(ordinal) for ordinal in ordinals if start < ordinal < stop], dtype=np.float64)


def _float_midpoint(lo: float, hi: float) -> float:
    """The middle float of [lo, hi] in the order of float64 values.

    Halving the count of floats in the bracket (not its width) reaches adjacent floats in at
    most 64 steps whatever the bracket, e.g. [-1e137, 3] as well as [1.7, 3.1].
    """
    return _float_of_ordinal((_float_ordinal(lo) + _float_ordinal(hi)) // 2)


def _interpolate(pi_lo, lam_lo, pi_hi, lam_hi):
    """The point on the segment between the bracket ends' maximizers with Σπ = 1."""
    s_lo, s_hi = pi_lo.sum(), pi_hi.sum()
    theta = 1.0 if s_lo <= s_hi else float(np.clip((1.0 - s_hi) / (s_lo - s_hi), 0.0, 1.0))
    policy = theta * pi_lo + (1.0 - theta) * pi_hi
    total = policy.sum()
    if not total > 0:
        raise ValueError("the maximizers of the Lagrangian carry no mass; the regularizer is degenerate")
    return policy / total, theta * lam_lo + (1.0 - theta) * lam_hi


def _kkt_residual(problem: _Instance, policy, lam) -> float:
    psi = problem.psi(np.where(policy > 0, policy, _TINY))
    with np.errstate(invalid="ignore"):
        violation = np.where(policy == 0, np.maximum(psi - lam, 0.0),
                             np.where(policy >= 1, np.maximum(lam - psi, 0.0), np.abs(psi - lam)))
    if np.any(np.isnan(violation)):
        bad = int(np.argmax(np.isnan(violation)))
        raise ValueError(f"ψ_{bad}(π_{bad} = {policy[bad]!r}) is not a number; the regularizer is singular there")
    return max(float(np.max(violation)) / problem.scale, abs(math.fsum(policy.tolist()) - 1.0))


def _mass_weighted_multiplier(problem: _Instance, policy) -> float:
    """λ estimated from π alone: Σ_i π_i ψ_i(π_i) over the support (exact at an interior optimum)."""
    support = policy > 0
    psi = problem.psi(np.where(support, policy, 1.0))
    weights = np.where(support, policy, 0.0)
    usable = support & np.isfinite(psi)
    if not usable.any():
        raise ValueError("ψ is not finite anywhere on the support of the solution; λ cannot be estimated")
    return float(np.sum(weights[usable] * psi[usable]) / np.sum(weights[usable]))


def _certify_concave(problem: _Instance, policy, lam, method, proof) -> CertifiedSolution:
    if lam is None:
        lam = _mass_weighted_multiplier(problem, policy)
    inner = _concave_argmax(problem, lam)
    dual = _dual_value(problem, lam, inner)
    return _assemble(problem, policy, lam, dual, method, True, proof)


def _dual_value(problem: _Instance, lam, inner) -> float:
    values = problem.h(inner) - lam * inner
    if not np.all(np.isfinite(values)):
        raise ValueError(f"the Lagrangian dual is not finite at λ = {lam!r}; the regularizer is singular on [0, 1]")
    return math.fsum([lam, *values.tolist()])


def _assemble(problem, policy, lam, dual, method, concave, proof) -> CertifiedSolution:
    objective = problem.objective(policy)
    residual = _kkt_residual(problem, policy, lam)
    if not (math.isfinite(lam) and math.isfinite(dual)):
        raise ValueError(f"the certificate is not finite (λ = {lam!r}, g(λ) = {dual!r}); the regularizer is singular")
    return CertifiedSolution(
        policy=policy,
        multiplier=float(lam),
        objective=objective,
        dual_bound=dual,
        duality_gap=dual - objective,
        kkt_residual=residual,
        method=method,
        concave=bool(concave),
        concavity_proof=proof,
    )
