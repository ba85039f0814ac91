"""Certified maximizers of pointwise-regularized reward over the probability simplex.

For rewards ``r`` on K responses and a regularizer R_i applied to each response's own
probability, the problem is

.. math::  \\max_π Σ_i h_i(π_i),   h_i(π) = π·(r_i + R_i(π)),   π ≥ 0,  Σ_i π_i = 1.

This is eq 3.5 of the PMR seed (eq 3.12 with a response-dependent R_i, the form of eq 3.11).
The regularizer is given symbolically (sympy), so the module can decide, per response,
whether h_i is concave on (0, 1], and pick a solve it can stand behind:

- ``"cvxpy-clarabel"`` / ``"cvxpy-scs"``: every h_i is concave and π·R(π) translates to a DCP
  expression; cvxpy solves it (Clarabel, SCS as the fallback).
- ``"monotone-root"``: every h_i is concave; ψ_i = h_i' is non-increasing, so the
  maximizer of h_i(π) − λπ on [0, 1] is a root or a boundary, Σ_i π_i(λ) is non-increasing
  in λ, and a bisection on λ inside a bracket taken from the math finds Σπ = 1.
- ``"dual-global"``: some h_i is not concave; the Lagrangian dual g(λ) (below), an upper
  bound on the optimum for every λ, is minimized with globally computed inner maxima, and a
  primal point is built from the inner maximizers and polished.

Every answer carries a certificate computed here from the returned π, independently of the
path that produced it:

.. math::  g(λ) = λ + Σ_i \\max_{π∈[0,1]} (h_i(π) − λπ)  ≥  \\max_{π ∈ Δ} Σ_i h_i(π_i)

(weak duality: for π on the simplex, Σ_i h_i(π_i) = λ + Σ_i (h_i(π_i) − λπ_i) ≤ g(λ)), so
``dual_bound − objective`` bounds how far the returned π is from optimal, whatever solver
found it.

Shape letters: ``K`` is the number of responses.
Source: seed 001 (shared/seeds/001_c8a06c444314e79a.txt) (Xiao et al., PMR), §3: eq 3.1 (the
regularized objective), eq 3.5 / 3.12 (its finite form), eq 3.11 (response-dependent R),
eq 3.8 and Theorem 1 (the PM regularizer −log π + C1 + C2/π, whose optimum is softmax(r)).

Tolerances, and why:

- Bisections (on log π for the inner maximizers, on λ for the multiplier) run to the float64
  resolution: log π to an absolute eps (a relative eps in π), λ to adjacent floats (halving
  the number of floats in its bracket, ≤ 64 steps); the last step interpolates between the
  two bracket ends so that Σπ = 1 holds to rounding.
- cvxpy's interior-point solvers stop at their own gap/feasibility tolerances (1e-8 by
  default, tightened to 1e-12 for Clarabel here). π is then off by about the square root of
  the tolerance, since the objective is flat at the optimum; Clarabel often stops
  "inaccurate" before that, so three settings are tried and the best π kept; and entries
  far below the tolerances come back as noise (tiny positive values where the optimum has
  0, or the reverse). That is why a cvxpy answer is re-certified: π is clipped at 0 and
  renormalized, and λ (the π-weighted mean of ψ_i(π_i)), the objective, the dual bound and
  the KKT residual are all recomputed here from that π.
- The global path is global up to its grid of (0, 1] (below): the inner maxima take the
  best of the grid nodes, the endpoints and every local maximum bracketed between two
  nodes (refined by bisection), so two stationary points inside one grid cell can be
  missed. Its primal point is the best of several starts, each improved by Newton on the
  KKT system of its support and by the best two-response mass transfers; a positive
  ``duality_gap`` after that is reported as it is.
- Concavity on (0, 1] is decided by sympy where it can (the sign of h'' for every π > 0, for
  π = 1/(1 + u) with u ≥ 0, or ``solveset`` of h'' > 0 on (0, 1]); otherwise by the sign of
  h'' on a dense grid of (0, 1] (log-spaced down to the smallest normal float, plus
  uniform), where h'' counts as positive only above 64·eps times the sum of the absolute
  values of its terms (the rounding error of evaluating that sum). A grid point with
  h'' > 0 that sympy confirms exactly at that rational point proves non-concavity
  ("symbolic"). Regularizers with kinks (Abs, Piecewise, Max, ...) are judged by ψ being
  non-increasing on the grid, since h'' misses a kink.

Layout. ``pmtheory.certified`` is a package: this ``__init__`` holds the public API (this
guide, :func:`solve_pointwise_regularized`, and :class:`CertifiedSolution` re-exported), and
the internals sit in private topic modules, one per stage of a solve: ``_analysis`` (input
handling, the symbolic analysis, numeric evaluation for one instance, concavity),
``_concave`` (the concave paths, cvxpy and the monotone root solve, with the certificate
that every path assembles) and ``_nonconvex`` (the nonconvex path). A package rather than
private sibling modules (``pmtheory/_certified_*.py``) keeps one solver's pieces in one
folder, as ``pmtheory/claims/`` and the paper folders do, with the import path unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from pmtheory._validation import as_float_array, check_finite
from pmtheory.certified._analysis import (
    _analyse,
    _check_parameters,
    _decide_concavity,
    _Instance,
    _parse_regularizer,
    _short,
)
from pmtheory.certified._concave import (
    _CVXPY_SOLVERS,
    CertifiedSolution,
    _build_cvxpy,
    _certify_concave,
    _solve_cvxpy,
    _solve_monotone,
)
from pmtheory.certified._nonconvex import _solve_dual_global
from pmtheory.solvers import SolverError

__all__ = ["CertifiedSolution", "solve_pointwise_regularized"]

_METHODS = ("auto", "cvxpy", "monotone", "dual-global")
# The certificate solve_pointwise_regularized enforces (check=True), relative to
# 1 + |objective| + |dual_bound| (the size of the sums the gap is a difference of; the rounding
# terms also add |λ|, the size of the terms inside g(λ)):
# |Σπ − 1| and, for every path, a negative duality gap (weak duality makes g(λ) an upper
# bound, so only rounding can make it negative) within _ROUNDING_ULPS·eps·(K + 1), the
# rounding of two sums of K + 1 terms (the tests' gap_tolerance, with 4× margin); and on the
# concave paths, where strong duality holds, a positive gap within _ENFORCED_GAP. That is
# loose enough for a cvxpy answer (π off by ~√(solver tolerance) gives a gap of about the
# tolerance, 1e-12 here) and rejects a wrong one. A nonconvex problem's positive gap is
# reported, not enforced: it may be the problem's own duality gap.
_ROUNDING_ULPS = 256.0
_ENFORCED_GAP = 1e-9


def solve_pointwise_regularized(rewards, regularizer, *, variable: str = "pi", parameters=None,
                                method: str = "auto", check: bool = True) -> CertifiedSolution:
    """Certified maximizer of Σ_i π_i (r_i + R_i(π_i)) over the probability simplex.

    .. math::  \\max_{π ∈ Δ_K} Σ_i h_i(π_i),  h_i(π) = π (r_i + R_i(π));
               ψ_i(π) = h_i'(π);  g(λ) = λ + Σ_i \\max_{[0,1]} (h_i(π) − λπ).

    Source: seed 001 (PMR), §3, eq 3.1 and 3.5 (objective), eq 3.11 / 3.12 (R depending on
    the response through ``parameters``), eq 3.8 (PM regularizer: optimum softmax(r)).

    Args:
      rewards: r, shape (K,), finite, K ≥ 1.
      regularizer: R as a sympy expression or a string sympy can parse, in ``variable``,
        e.g. ``"-log(pi) + C1 + C2/pi"`` or ``"-beta*log(pi/q)"``. In a string, a bare name
        not followed by ``(`` is a symbol (``E``, and ``pi`` when it is not the variable or
        a parameter, are the constants e and π); ``^`` means power. Strings are parsed with
        sympy's ``parse_expr``, which evaluates Python: pass only trusted text.
      variable: the name of the probability variable in ``regularizer``.
      parameters: dict name -> scalar or array of shape (K,) (one value per response, the
        response dependence of eq 3.11), for every other free symbol of ``regularizer``.
      method: "auto" (cvxpy if every h_i is concave and π·R translates to DCP, else the
        monotone root solve if concave, else the dual-global solve; a cvxpy failure falls
        back to the monotone solve), or one of "cvxpy", "monotone", "dual-global" to force
        a path ("cvxpy" and "monotone" need every h_i concave). Under "auto" a cvxpy answer
        that fails the certificate below is replaced by the monotone solve.
      check: enforce the certificate (default): raise :class:`pmtheory.SolverError` when π
        is not finite and non-negative, |Σπ − 1| or a negative duality gap exceeds the
        rounding of the sums, 256·eps·(K + 1)·(1 + |objective| + |dual_bound|), or, on a
        concave path, the duality gap exceeds 1e-9·(1 + |objective| + |dual_bound|).
        ``False`` returns the answer with its certificate for inspection.

    Returns:
      :class:`CertifiedSolution`. ``kkt_residual`` is computed from the returned π and λ: the
      largest of |Σπ − 1| and, divided by 1 + max|r − max r| (the size of the reward terms that
      ψ_i − λ cancels, measured from the best reward: the problem and its certificate are the
      same for r + c), max over i of |ψ_i(π_i) − λ| for 0 < π_i < 1, max(0, ψ_i(0+) − λ) for π_i
      = 0 (ψ probed at the smallest normal float, 2.2e-308) and max(0, λ − ψ_i(1)) for π_i = 1.
      The duality gap, too, is taken on r − max r. Its floor is eps times the size of the terms
      in ψ, so when the regularizer's terms dwarf the rewards (β·|log q| ≫ |r| in KL) an exact
      solve can show more than eps. ``dual_bound`` is g at the returned λ with inner maxima
      computed here (exact roots for concave h_i, a global grid-and-refine search otherwise), so
      it is an upper bound on the optimum up to float rounding; ``duality_gap`` is reported as
      computed, positive gaps included (a nonconvex problem may have one). For "dual-global" a
      positive gap also shows in ``kkt_residual``, since the returned λ is the dual minimizer
      rather than the primal point's own multiplier.

    Raises:
      SolverError: (a ValueError) with ``check``, an answer that fails its certificate.
      ValueError: bad ``rewards``, ``regularizer``, ``variable``, ``parameters`` or
        ``method``; a forced method that does not apply; a regularizer whose objective is
        unbounded or not finite on (0, 1].
      RuntimeError: cvxpy failed with every solver under ``method="cvxpy"``.

    >>> import numpy as np
    >>> sol = solve_pointwise_regularized(np.array([0.0, np.log(3.0)]), "-log(pi)", method="monotone")
    >>> np.round(sol.policy, 12).tolist(), sol.method, sol.concavity_proof
    ([0.25, 0.75], 'monotone-root', 'symbolic')
    """
    rewards = as_float_array(rewards, "rewards")
    if rewards.ndim != 1:
        raise ValueError(f"rewards must have shape (K,) for one prompt, got shape {rewards.shape}")
    check_finite(rewards, "rewards")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    k = rewards.size
    names, values = _check_parameters(parameters, variable, k)
    expr, x, symbols = _parse_regularizer(regularizer, variable, names, values)
    symbolic = _analyse(expr, x, symbols)
    # Σπ = 1 makes the problem the same for r − c, with λ, the objective and the dual bound
    # shifted by c; solving and certifying it measured from c = max r keeps the certificate's
    # scales (1 + max|r|, 1 + |objective| + |dual bound|) from growing with a common offset of
    # the rewards, which would let a wrong answer through (an offset of 1e20 allowed a duality
    # gap of 1e11). When max r − min r overflows, c is the midpoint, and r − c stays finite.
    with np.errstate(over="ignore"):
        shift = float(rewards.max()) if np.isfinite(np.ptp(rewards)) else float(rewards.max() / 2 + rewards.min() / 2)
    problem = _Instance(symbolic, rewards - shift, tuple(values[s.name] for s in symbols))
    concave, proof = _decide_concavity(symbolic, problem)

    if method in ("cvxpy", "monotone") and not concave:
        raise ValueError(
            f"method={method!r} needs every h_i(π) = π(r_i + R_i(π)) concave on (0, 1], but "
            f"regularizer {_short(expr)} is not ({proof}); use method='dual-global' or 'auto'"
        )
    if method == "dual-global" or not concave:
        return _enforced(_solve_dual_global(problem, concave, proof), check, shift)
    if method in ("auto", "cvxpy"):
        # cvxpy gets the rewards as given (an interior-point solve's rounding would change with the
        # shift); its answer is certified, like every other, on r − max r.
        given = problem if shift == 0.0 else _Instance(symbolic, rewards, problem.values)
        built = _build_cvxpy(symbolic, given)
        if built is None and method == "cvxpy":
            raise ValueError(
                f"method='cvxpy' needs π·R(π) to translate to a DCP expression, but regularizer "
                f"{_short(expr)} does not (supported: constants, c·π, c·π·log π with c ≤ 0, "
                "c·log π with c ≥ 0, c·π^p with the DCP sign, c·exp(a·π) with c ≤ 0); "
                "use method='monotone' or 'auto'"
            )
        if built is not None:
            solved = _solve_cvxpy(*built, given)
            if solved is not None:
                policy, solver = solved
                answer = _certify_concave(problem, policy, None, f"cvxpy-{solver.lower()}", proof)
                if method == "cvxpy" or _certificate_failure(answer) is None:
                    return _enforced(answer, check, shift)
            if method == "cvxpy":
                raise RuntimeError(
                    f"cvxpy failed with every solver ({', '.join(sorted({s for s, _ in _CVXPY_SOLVERS}))}) "
                    "on this input; use method='monotone'"
                )
    policy, lam = _solve_monotone(problem)
    return _enforced(_certify_concave(problem, policy, lam, "monotone-root", proof), check, shift)


def _certificate_failure(sol: CertifiedSolution) -> str | None:
    """What of the enforced certificate (see ``_ENFORCED_GAP``) ``sol`` fails, or None."""
    size = 1.0 + abs(sol.objective) + abs(sol.dual_bound)
    # g(λ) = λ + Σ max(h_i − λπ) sums terms of size |λ| that cancel, so its rounding scales with
    # |λ| too (K = 1, r = 2.5e-4, C1 = −1e4, C2 = 1e4: λ ≈ −1e4, the exact answer π = 1 has a
    # gap of −8.6e-13, and 1 + |objective| + |g| alone would allow only 1.1e-13).
    multiplier = abs(sol.multiplier) if np.isfinite(sol.multiplier) else 0.0
    rounding = _ROUNDING_ULPS * np.finfo(np.float64).eps * (sol.policy.size + 1) * (size + multiplier)
    total = math.fsum(sol.policy.tolist()) if np.all(np.isfinite(sol.policy)) else math.nan
    if not (np.all(np.isfinite(sol.policy)) and sol.policy.min() >= 0.0):
        return f"π is not finite and non-negative (min π = {float(np.min(sol.policy)):.3g})"
    if not abs(total - 1.0) <= rounding:
        return f"Σπ − 1 = {total - 1.0:.3g} exceeds the rounding tolerance {rounding:.3g}"
    if not sol.duality_gap >= -rounding:
        return f"the duality gap {sol.duality_gap:.3g} is below −{rounding:.3g}: the dual bound is wrong"
    if sol.concave and not sol.duality_gap <= _ENFORCED_GAP * size + rounding:
        return (f"the duality gap {sol.duality_gap:.3g} of a concave problem exceeds "
                f"{_ENFORCED_GAP * size + rounding:.3g}: the solve did not reach the optimum")
    return None


def _enforced(sol: CertifiedSolution, check: bool, shift: float) -> CertifiedSolution:
    """``sol``, the solution of the problem with rewards r − ``shift``, for the rewards r (λ,
    the objective and the dual bound shifted back); with ``check``, a SolverError naming what
    of its certificate, taken before the shift back, fails."""
    failure = _certificate_failure(sol) if check else None
    if failure is not None:
        raise SolverError(
            f"solve_pointwise_regularized ({sol.method}): {failure} (objective {sol.objective:.6g}, "
            f"dual bound {sol.dual_bound:.6g}, KKT residual {sol.kkt_residual:.3g}); rescale the rewards "
            "or the regularizer's parameters, try another method, or pass check=False to inspect the answer"
        )
    if shift == 0.0:
        return sol
    return replace(sol, multiplier=sol.multiplier + shift, objective=sol.objective + shift,
                   dual_bound=sol.dual_bound + shift)
