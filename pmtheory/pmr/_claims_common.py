"""Helpers shared by the PMR claim checks (seed 001, Xiao et al. 2024: preference matching RLHF).

Used by the ``claims_*`` modules of :mod:`pmtheory.pmr`. For §3, the PM regularizer (eq 3.6-3.8,
Theorems 1-3, Remarks, Examples) and §4 (Theorem 4, Definition 4.1), Table 1's rows: the
tolerances of the certified solves, the one raise site of a property (:func:`_require`), the
strategies of the constants C1 and C2, the certified solver, the exact support enumeration and
the two values of π·(C2/π) at π = 0 (the paper's convention and the other one). For the binary
preferences of §5.1-§5.2 (Prop 3.7, eq (5.1)-(5.3), Fig 2): the log-odds tolerance, the pair
instances, the mpmath optimum and the two-response cvxpy/Clarabel solve.
"""

from __future__ import annotations

import functools
import itertools

import mpmath
import numpy as np
import sympy as sp
from hypothesis import strategies as st
from scipy.special import logit, logsumexp

from pmtheory.certified import solve_pointwise_regularized
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.testing import POLICY_ATOL, betas, log_references, reward_vectors

# =======================================================================================
# §3: the PM regularizer (eq 3.6-3.8, Theorems 1-3, Remarks, Examples) and §4 (Theorem 4,
# Definition 4.1), Table 1's rows.
# =======================================================================================

# Agreement demanded of the certified solver's monotone-root path against a closed form: it
# bisects log π to an absolute eps, so π is right to a few ulps; 1e-10 is POLICY_ATOL.
_CERT_ATOL = POLICY_ATOL
# A regularizer "misses" the target when the certified optimum is this far (max |Δπ|) from
# it: 1e4 times the solver's accuracy, so a miss can never be rounding.
_MISS_THRESHOLD = 1e-6
# Objective values of instances with |r|, |C| up to 1e4 are compared to this relative
# accuracy: a sum of K ≤ 8 terms of size ≤ 1e4 carries ~K·eps·1e4 rounding.
_VALUE_RTOL = 1e-12
# Digits for the sympy/mpmath rechecks.
_DIGITS = 50


def _require(condition, message: str) -> None:
    """Fail a property check (one raise site, so hypothesis reports one failure kind)."""
    if not condition:
        raise AssertionError(message)


def _counterexample_or(outcome, fallback):
    """The property search's counterexample, or ``fallback`` (an instance of the same form) when
    the search passed and another part of the check (symbolic, batched) failed."""
    return outcome.counterexample if outcome.counterexample is not None else fallback


_c1_values = st.one_of(st.sampled_from([0.0, -1e4, 1e4, 1e-300]), st.floats(-100.0, 100.0))
_nonneg_c2_values = st.one_of(st.sampled_from([0.0, 1e-300, 1e4]), st.floats(0.0, 100.0))


def _certified(rewards, regularizer, parameters=None, method="monotone"):
    return solve_pointwise_regularized(np.asarray(rewards, dtype=float), regularizer, parameters=parameters,
                                       method=method)


def _best_support(rewards, c1, c2, *, convention: str = "support") -> tuple[float, tuple[int, ...]]:
    """The exact optimum of the PM objective E_π[r + R(π)] over the whole simplex.

    On the face with support S the objective is Σ_S π(r − log π) + C1 + (the C2 term),
    maximized by softmax over S at log Σ_S e^r + C1 + (the C2 term). The C2 term depends on
    the value of π·(C2/π) at π = 0 (``convention``): "support" (E over y ∼ π never draws
    y off S, 0·(C2/0) = 0) gives Σ_S C2; "continuous" (the limit lim_{π→0+} π·(C2/π) = C2,
    the paper's Σ_y π(y)·C2/π(y) = k·C2 of Remark 3.4) gives Σ_y C2 on every face. The
    optimum is the best face: all 2^K − 1 supports are enumerated (K ≤ 8 here).
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    rewards = np.asarray(rewards, dtype=float)
    c2 = np.broadcast_to(np.asarray(c2, dtype=float), rewards.shape)
    k = rewards.size
    masks = np.array(list(itertools.product([False, True], repeat=k))[1:])
    c2_term = (np.where(masks, c2, 0.0).sum(axis=1) if convention == "support"
               else np.full(len(masks), c2.sum()))
    values = logsumexp(np.where(masks, rewards, -np.inf), axis=1) + c2_term + c1
    best = int(np.argmax(values))
    return float(values[best]), tuple(int(i) for i in np.flatnonzero(masks[best]))


# The two values of π·(C2/π) at π = 0 (see _c2_term).
_CONVENTIONS = ("support", "continuous")


@functools.lru_cache(maxsize=1)
def _c2_limit_at_zero():
    """lim_{π→0+} π·(C2/π), by sympy (it is C2: the continuous extension of the term), as a
    function of C2 evaluated in mpmath."""
    p, c = sp.Symbol("p", positive=True), sp.Symbol("C2", real=True)
    return sp.lambdify(c, sp.limit(p * (c / p), p, 0, "+"), modules="mpmath")


def _c2_term(policy, c2, convention: str):
    """Σ_y π(y)·(C2,y/π(y)) at 50 digits, literally as written where π(y) > 0; where π(y) = 0
    the term is 0 ("support": y ∼ π never draws y) or sympy's limit lim_{π→0+} π·(C2/π)
    ("continuous"). Returns an mpmath number."""
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    limit = _c2_limit_at_zero()
    c2 = np.broadcast_to(np.asarray(c2, dtype=float), np.shape(policy))
    with mpmath.workdps(_DIGITS):
        terms = []
        for p, c in zip(policy, c2):
            if p > 0:
                terms.append(mpmath.mpf(float(p)) * (mpmath.mpf(float(c)) / mpmath.mpf(float(p))))
            elif convention == "continuous":
                terms.append(mpmath.mpf(limit(mpmath.mpf(float(c)))))
        return mpmath.fsum(terms)


# The convention the §3 verdicts use, and why (seed 001, Remark 3.4, Remark 3.6, §3.5).
_PAPER_CONVENTION = ("π·(C2/π) = C2 at π = 0, the continuous extension (lim_{π→0+} π·C2/π = C2): the paper "
                     "evaluates E_{y∼π}[C2/π(y)] as Σ_y π(y)·C2/π(y) = k·C2 over all k responses "
                     "(Remark 3.4, Remark 3.6, §3.5)")
_OTHER_CONVENTION = ("π·(C2/π) = 0 at π = 0: the expectation over y ∼ π never draws a response off supp π, so the "
                     "C2 term is Σ_{y∈supp π} C2,y")


# ---------------------------------------------------------------------------------------
# Binary preferences (§5.1-§5.2): pair instances, exact and cvxpy solves.

# Agreement demanded between two exact evaluations of one binary preference (log-odds),
# relative to 1 + |log-odds|: the solvers' policies are accurate to ~1e-13 relative, so a
# log-odds gap is good to ~1e-12; 1e-9 leaves room and is still far below any real bias.
LOG_ODDS_RTOL = 1e-9


def _close(x, y, rtol=LOG_ODDS_RTOL) -> bool:
    """x ≈ y as log-odds (±inf must match exactly)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    same_inf = (x == y) & ~np.isfinite(x)
    with np.errstate(invalid="ignore"):
        near = np.abs(x - y) <= rtol * (1.0 + np.abs(x))
    return bool(np.all(same_inf | near))


def _pairs(k: int):
    return st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)).filter(lambda ij: ij[0] != ij[1])


@st.composite
def _pair_instances(draw, *, max_k: int = 6, min_log_prob: float = -750.0):
    """(rewards, log_reference, beta, (i, j)) with K in [2, max_k] (testing.instances' corners)."""
    k = draw(st.integers(2, max_k))
    return (draw(reward_vectors(k)), draw(log_references(k, min_log_prob=min_log_prob)), draw(betas()),
            draw(_pairs(k)))


def _mp_policy(rewards, log_q, divergence, beta):
    return np.exp(high_precision_optimal_policy(np.asarray(rewards, float), np.asarray(log_q, float),
                                                divergence=divergence, beta=beta, digits=50))


def _cvxpy_pair_preference(p_reward: float, p_ref: float, beta: float, divergence: str = "reverse_kl") -> float | None:
    """p_rlhf(y₁) of the two-response f-RLHF problem solved by cvxpy/Clarabel (exponential cone
    for KL: shares nothing with the closed form (5.1)); None if the solver fails."""
    from pmtheory.cvx import cvxpy_optimal_policy

    solution = cvxpy_optimal_policy(np.array([float(logit(p_reward)), 0.0]), np.array([p_ref, 1.0 - p_ref]),
                                    divergence=divergence, beta=beta)
    if solution.policy is None or not str(solution.status).startswith("optimal"):
        return None
    return float(solution.policy[0] / np.sum(solution.policy))
