"""The f-regularized problem as a generic convex program (cvxpy), the independent check.

.. math::  \\max_π Σ_y π(y) r(y) − β Σ_y q(y) f(π(y)/q(y))  s.t.  π ≥ 0, Σ π = 1

Each member of the family is written in DCP form without using anything from
:mod:`pmtheory.solvers`, so agreement between the two is evidence about both. cvxpy's
interior-point solvers stop at relative tolerances of about 1e-8 (1e-10 asked for here), and their π loses relative
accuracy on entries far below that; use this for moderate K and well-scaled inputs.
Source: seed 004, Lemma 1 (the objective); seed 001, eq 2.3 and §5.2.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from pmtheory._validation import as_float_array, check_finite, check_positive_scalar, check_probabilities
from pmtheory.divergences import get_divergence

__all__ = ["ConvexSolution", "cvxpy_optimal_policy", "f_divergence_expression"]


@dataclass(frozen=True)
class ConvexSolution:
    """A cvxpy solve of the f-regularized problem."""

    policy: np.ndarray | None  # π, shape (K,), clipped at 0 and renormalized; None on failure
    status: str  # cvxpy's status string, or "failed: <reason>"
    solver: str  # the cvxpy solver used
    seconds: float  # wall time of problem.solve


def f_divergence_expression(policy_var, q: np.ndarray, divergence):
    """Σ_y q f(π/q) as a convex cvxpy expression of the variable ``policy_var`` (shape (K,))."""
    import cvxpy as cp

    div = get_divergence(divergence)
    name = div.name
    if name == "reverse_kl":
        return cp.sum(cp.rel_entr(policy_var, q))
    if name == "forward_kl":
        return cp.sum(cp.rel_entr(q, policy_var))
    if name == "js":
        mid = (policy_var + q) / 2
        return cp.sum(cp.rel_entr(policy_var, mid) + cp.rel_entr(q, mid))
    if name == "hellinger":
        return cp.sum(policy_var - 2 * cp.multiply(np.sqrt(q), cp.sqrt(policy_var)) + q)
    if name == "chi2":
        return cp.sum(cp.multiply(1.0 / q, cp.square(policy_var - q)))
    if name == "tv":
        return cp.sum(cp.abs(policy_var - q)) / 2
    if div.alpha is not None:
        a = div.alpha
        # (π^{1-a} q^a − (1−a)π − a q)/(a(a−1)); the power is concave and a(a−1) < 0.
        concave = cp.multiply(q**a, cp.power(policy_var, 1 - a, approx=False))
        return cp.sum(-concave + (1 - a) * policy_var + a * q) / (a * (1 - a))
    raise ValueError(f"no cvxpy form for divergence {name!r}")


# Tighter than Clarabel's defaults (1e-8); at 1e-11 and below it often stops "inaccurate".
_CLARABEL_OPTIONS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10, "max_iter": 500}


def cvxpy_optimal_policy(rewards, reference, *, divergence="reverse_kl", beta=1.0,
                         solver: str = "CLARABEL", tight: bool = True) -> ConvexSolution:
    """Solve max Σπr − β·I_f(π‖q) over the simplex with cvxpy (one prompt).

    Args:
      rewards: shape (K,), finite.
      reference: shape (K,), strictly positive, summing to 1.
      solver: a cvxpy solver name ("CLARABEL", "SCS", ...).
      tight: with Clarabel, ask for 1e-12 gap and feasibility tolerances instead of the
        defaults (the benchmark times the defaults).

    Returns:
      :class:`ConvexSolution`; a solver failure is reported in ``status``, not raised.
    """
    import cvxpy as cp

    rewards = as_float_array(rewards, "rewards")
    reference = as_float_array(reference, "reference")
    check_finite(rewards, "rewards")
    check_probabilities(reference, "reference", strictly_positive=True)
    if rewards.ndim != 1 or reference.shape != rewards.shape:
        raise ValueError(f"rewards and reference must have the same shape (K,), got {rewards.shape}, {reference.shape}")
    beta = check_positive_scalar(beta, "beta")
    policy = cp.Variable(rewards.size, nonneg=True)
    # Divided by β (same maximizer): keeps the solver's absolute tolerances meaningful for
    # small β, where Σπr − β·I_f would otherwise be nearly flat in π.
    objective = (rewards / beta) @ policy - f_divergence_expression(policy, reference, divergence)
    problem = cp.Problem(cp.Maximize(objective), [cp.sum(policy) == 1])
    start = time.perf_counter()
    try:
        options = _CLARABEL_OPTIONS if (tight and solver == "CLARABEL") else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate": see status
            problem.solve(solver=solver, **options)
    except (cp.error.SolverError, ValueError, ArithmeticError) as error:
        return ConvexSolution(None, f"failed: {type(error).__name__}: {error}", solver, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if problem.status not in ("optimal", "optimal_inaccurate") or policy.value is None:
        return ConvexSolution(None, f"failed: status {problem.status}", solver, seconds)
    value = np.clip(np.asarray(policy.value, dtype=np.float64), 0.0, None)
    return ConvexSolution(value / value.sum(), problem.status, solver, seconds)
