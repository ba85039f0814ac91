"""Exact maximizers of f-regularized reward on a finite response set.

For rewards ``r`` and a reference ``q`` on K responses, each solver returns the maximizer of

.. math::  J(π) = Σ_y π(y) r(y) − β · I_f(π ‖ q)   over the simplex,

batched over leading axes (prompts). Shape letters: ``K`` responses; ``...`` any batch shape.

Sources: seed 001 (PMR), Prop 5.1 / eq 5.1 (reverse KL) and §5.2 (f-divergence RLHF);
seed 004 (MOD), Lemma 1 / eq 3 (the optimum π = q·(f')⁻¹(r/β − Z)) and Prop 1 (the bracket
[t1, t2] for the normalizer Z, used here as the root-finding bracket).

How each divergence is solved:

- ``reverse_kl``: closed form in log space, ``log π = log q + r/β − logsumexp(log q + r/β)``.
- barrier divergences with sup f' = S < ∞ (``forward_kl``, ``js``, ``alpha:<a>``,
  ``hellinger``): with a = r/β, a* = max a and Δ = a* − a ≥ 0, stationarity reads
  π(y) = q(y)·h(Δ(y) + d) where h(D) = (f')⁻¹(S − D) and d = S − a* + Z > 0 is the one
  unknown. ``F(ℓ) = log Σ_y q(y) h(Δ(y) + e^ℓ)`` is strictly decreasing in ℓ = log d; a
  safeguarded Halley iteration on ``F(ℓ) = 0`` (cubic; Newton's in log space) runs
  vectorized over the batch inside the bracket ``[ℓ_lo, ℓ_hi]``: ``ℓ_hi = log(S − f'(1))``
  is MOD Prop 1's t2, and ``ℓ_lo`` is the larger of Prop 1's t1 and the bound from one best
  response alone (q*·h(d) ≤ 1). Working with d rather than Z keeps the top response exact
  when d is far below the float resolution of Z (references of 1e-300 or log-references of
  −1e4 need d ~ 1e-300).
- ``chi2`` (not a barrier): π(y) = q(y)·max(0, 1 + (a(y) − Z)/2); Z by Newton on the
  convex, piecewise-linear normalizer, which solves each linear piece exactly and stops on
  the exact breakpoint solution in finitely many steps. Rows whose certificate fails (r/β
  spread beyond float resolution) are solved again from other pivots and, last, by sorting
  (see :mod:`pmtheory.solvers._chi2`).
- ``tv``: a linear program with the exact solution below (see :func:`_solve_tv`).

Tolerances. The root iterations stop when the log-normalizer log Σπ is within
``_ROOT_TOLERANCE``·(1 + log2 K) of 0, the rounding of the sum itself (or when the bracket
has collapsed to adjacent floats, and the policy is then renormalized); Σπ = 1 to that
rounding. ``kkt_residual`` is computed from the returned policy through the divergence's
own f' (independently of the path that found it): max(|Σπ − 1|, max_y |a(y) − Z −
f'(π/q)| / (1 + max(|a(y) − Z|, |f'(π/q)|))) with a = r/β and Z = λ/β, the stationarity error
relative to the size of the two sides it equates; for chi2 and tv it measures the violation
of the sub-gradient / complementary-slackness conditions instead. a − Z is formed from a
response that carries mass (the pivot), so that large |max r|/β does not turn the mass
carriers' terms into differences of large numbers. The certificate, like the problem, does
not change when a constant is added to every reward (a scale of 1 + |a| + |Z|, used before
2026-12-03, divided a wrong policy's violation by 1e20 under a common offset of 1e20).

Enforcement. :func:`optimal_policy` raises :class:`SolverError` (a ``ValueError``) when a
row's π has a negative or NaN entry or its residual exceeds 1e-9 + 64·eps·(max|log q| +
|sup f'|) (``check=False`` returns such answers with their residuals), and when r/β spreads
beyond float64 range. Inputs are computed in float64 whatever their type; a reference in a
narrower float is held to its own rounding (see :func:`pmtheory._validation.normalization_tolerance`).

Speed. Every pass over a (B, K) array runs in cache-sized blocks (:func:`_blocks`); short rows
are reduced column by column or through einsum (numpy's reductions along a short axis pay a
set-up per row; see ``_SHORT`` and ``_PAIRWISE``), in the same order whatever the rest of the
batch, so that a row's answer never depends on its batch, bit for bit. The check of
``log_reference`` rides on each solver's first pass; the final pass writes π and log π over the
work arrays (which are the outputs, so a solve allocates no other full-size array) and takes the
certificate of what it writes. The root iterations start at the lower end of the bracket (or,
at K > 65 536, from the root for a subsample), and rows that have converged leave later passes:
at N·K = 10⁶ the barrier divergences make about three evaluations' worth of passes and the
final one, reverse KL two passes, tv two. From K = 16 up, reverse KL's two passes and the
barrier divergences' evaluations and final pass (forward KL, JS, Hellinger, alpha:0.5) run in an
optional compiled kernel where it is built (:mod:`pmtheory.solvers._kernel`: the same
operations fused per entry, the numpy passes its reference). ``pmtheory bench`` (``--shapes``
for batches) measures them against a plain numpy log-softmax.

Layout. ``pmtheory.solvers`` is a package: this ``__init__`` holds the public API (this
guide, :class:`Solution`, :func:`optimal_policy`, :func:`regularized_objective`,
:func:`kkt_residual`), and the internals sit in private topic modules, one per way of solving
in the list above: ``_closed_forms`` (reverse KL and tv), ``_barrier`` (the barrier
divergences' safeguarded Halley/Newton), ``_chi2`` (the active-set Newton), ``_common``
(what they share: the validated inputs, the blocked passes, the dot products and the KKT
certificate), and ``_kernel`` (the optional compiled kernel, ``_fused.c``, and its loader). A
package rather than private sibling modules (``pmtheory/_solvers_*.py``) keeps one solver
family in one folder, as ``pmtheory/claims/`` and the paper folders do, with the import path
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmtheory._torch_io import accepts_torch
from pmtheory._validation import (
    as_float_array,
    check_finite,
    check_log_probabilities,
    check_probabilities,
    input_epsilon,
    normalization_tolerance,
)
from pmtheory.divergences import Divergence, get_divergence
from pmtheory.solvers._barrier import _linear_evaluator as _linear_evaluator  # imported from here by tests
from pmtheory.solvers._barrier import _solve_barrier
from pmtheory.solvers._chi2 import _solve_chi2
from pmtheory.solvers._closed_forms import _solve_reverse_kl, _solve_tv
from pmtheory.solvers._common import (
    SolverError,
    _certificate_error,
    _certificate_failures,
    _kkt_residual,
    _prepare,
    _scaled_gap,
)
from pmtheory.solvers._common import _row_dot as _row_dot  # imported from here by tests

__all__ = ["Solution", "SolverError", "kkt_residual", "optimal_policy", "regularized_objective"]


@dataclass(frozen=True)
class Solution:
    """The maximizer of Σπr − β·I_f(π‖q) over the simplex, with its certificate."""

    policy: np.ndarray  # π, shape (..., K); sums to 1 along the last axis
    log_policy: np.ndarray  # log π, shape (..., K); −inf exactly where π = 0 (only chi2, tv)
    multiplier: np.ndarray  # λ of Σπ = 1 in reward units (λ = β·Z), shape (...)
    kkt_residual: np.ndarray  # scaled KKT violation of the returned π (module doc), shape (...)
    divergence: str  # canonical name of the divergence
    beta: float  # the regularization strength β > 0
    iterations: int  # root-iteration passes over all K responses, incl. the final one (0: closed forms)


@accepts_torch("rewards", "reference", "log_reference")
def optimal_policy(
    rewards,
    reference=None,
    *,
    log_reference=None,
    divergence: str | Divergence = "reverse_kl",
    beta: float = 1.0,
    check: bool = True,
) -> Solution:
    """Exact maximizer of Σ_y π(y) r(y) − β·I_f(π‖π_ref) over the probability simplex.

    .. math::  π^*(y) = π_{ref}(y) · (f')^{-1}(r(y)/β − Z),  Σ_y π^*(y) = 1.

    Source: seed 004, Lemma 1 (eq 3) and Prop 1 (the bracket for Z); seed 001, Prop 5.1
    (reverse KL: π* = π_ref·e^{r/β}/Z).

    Args:
      rewards: shape (..., K), finite.
      reference: π_ref, shape (..., K) or broadcastable, strictly positive, summing to 1.
        ``None`` with no ``log_reference`` means the uniform reference.
      log_reference: log π_ref instead of ``reference``, for probabilities below float range
        (sequence probabilities of a language model are often e^-1000); finite and
        normalized (logsumexp = 0 along the last axis).
      divergence: a name from :mod:`pmtheory.divergences` or a :class:`Divergence`.
      beta: β > 0.
      check: enforce the certificate (default): raise :class:`SolverError` when any row's
        π has a negative or NaN entry or its ``kkt_residual`` (which includes |Σπ − 1|)
        exceeds 1e-9 + 64·eps·(max|log π_ref| + |sup f'|) (1000× what exact solves
        reach; the second term is the floor of float64 log-probabilities and of Z). ``False`` returns the answer with
        its residuals (NaN where the certificate could not be formed) for inspection.

    Inputs may be anything with ``__array__`` (numpy arrays of any float dtype, torch CPU
    tensors, lists); everything is computed in float64. A reference in a narrower float
    (float32, float16) must be normalized to the rounding of its own precision,
    max(1e-8, 4·eps·√K), and is then renormalized in float64.

    Returns:
      :class:`Solution` with arrays of the broadcast shape (..., K) and batch shape (...).
      For ``tv`` the optimum need not be unique: the returned one moves the least mass away
      from π_ref (responses exactly β below the best keep their reference mass) and gives
      the moved mass to the best responses in proportion to π_ref.

    Raises:
      ValueError: bad inputs (the message names the argument).
      SolverError: (a ValueError) with ``check``, a row whose answer fails its certificate;
        the message names the divergence, the batch index and the residuals.

    >>> sol = optimal_policy([0.0, 1.0], [0.5, 0.5])
    >>> round(float(sol.policy[1]), 6)  # e / (1 + e)
    0.731059
    """
    div = get_divergence(divergence)
    given = rewards
    # Reverse KL skips the pass that looks for −inf rewards: one makes its certificate NaN.
    inputs = _prepare(rewards, reference, log_reference, beta,
                      defer_log_check=True, check_lowest=div.name != "reverse_kl")
    rewards, log_q, beta, shape, unchecked, best = (
        inputs.rewards, inputs.log_q, inputs.beta, inputs.shape, inputs.unchecked, inputs.best)
    multiplier = None  # λ = β·Z + max r unless a solver forms it more accurately
    batch = shape[:-1]
    if rewards.shape[0] == 0:  # an empty batch, e.g. (0, K): nothing to solve, as numpy does
        empty = np.zeros(shape)
        return Solution(policy=empty, log_policy=empty.copy(), multiplier=np.zeros(batch),
                        kkt_residual=np.zeros(batch), divergence=div.name, beta=beta, iterations=0)
    if check and inputs.lowest is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            overflow = np.flatnonzero(~np.isfinite((best - inputs.lowest) / beta))
        if overflow.size:  # (reverse KL, which skips the pass for min r, finds it in its certificate)
            raise _certificate_error(div.name, beta, rewards, rewards, np.full(best.shape, np.inf), overflow,
                                     np.full(overflow.size, np.inf), batch)
    with np.errstate(over="ignore"):
        gap = _scaled_gap(rewards, best, beta) if rewards.shape[-1] == 1 else None
    iterations = 0
    residual = None
    if rewards.shape[-1] == 1:
        # The simplex is one point: π = 1, and stationarity a − Z = f'(1) gives Z (tv: the
        # dual optimum max a − 1/2 of _solve_tv).
        if unchecked is not None:
            check_log_probabilities(unchecked, "log_reference")
        log_policy, policy = np.zeros_like(rewards), np.ones_like(rewards)
        z = np.full(rewards.shape[0], -0.5 if div.name == "tv" else -div.f_prime_at_one)
    else:
        # r/β beyond float range overflows quietly here: the certificate then comes out
        # non-finite, and the check below names the cause.
        with np.errstate(over="ignore", invalid="ignore"):
            if div.name == "reverse_kl":
                log_policy, policy, multiplier, residual = _solve_reverse_kl(inputs)
            elif div.name == "chi2":
                log_policy, policy, multiplier, residual, iterations = _solve_chi2(inputs)
            elif div.name == "tv":
                log_policy, policy, z, residual = _solve_tv(inputs)
            elif div.barrier and np.isfinite(div.sup_f_prime):
                log_policy, policy, z, residual, iterations = _solve_barrier(div, inputs)
            else:  # pragma: no cover - every member of the family is handled above
                raise ValueError(f"no exact solver for divergence {div.name!r}")
    if residual is None:
        with np.errstate(over="ignore", invalid="ignore"):
            residual = _kkt_residual(div, gap, log_q, log_policy, policy, z)
    if not np.all(np.isfinite(residual)):
        # A non-finite certificate comes from an input that the folded checks let through
        # (a −inf reward or log-reference entry); the full checks name it.
        check_finite(as_float_array(given, "rewards"), "rewards")
        if unchecked is not None:
            check_log_probabilities(unchecked, "log_reference")
    if check:
        failed, tolerance = _certificate_failures(div, policy, residual, log_q)
        if failed.size:
            raise _certificate_error(div.name, beta, rewards, policy, residual, failed, tolerance, batch)
    return Solution(
        policy=policy.reshape(shape),
        log_policy=log_policy.reshape(shape),
        multiplier=(beta * z + best if multiplier is None else multiplier).reshape(batch),
        kkt_residual=residual.reshape(batch),
        divergence=div.name,
        beta=beta,
        iterations=iterations,
    )


@accepts_torch("policy", "rewards", "reference", "log_reference")
def regularized_objective(policy, rewards, reference=None, *, log_reference=None,
                          divergence: str | Divergence = "reverse_kl", beta: float = 1.0) -> np.ndarray:
    """J(π) = Σ_y π(y) r(y) − β·I_f(π‖π_ref), shape (..., K) -> (...).

    Source: seed 004, Lemma 1 (the objective); seed 001, eq 2.3 (reverse KL).
    ``policy`` may have zeros (0·log 0 = 0); it must sum to 1 (to the rounding of its own
    float type, see :func:`optimal_policy`). Computed in float64.
    """
    div = get_divergence(divergence)
    epsilon = input_epsilon(policy)
    policy = as_float_array(policy, "policy")
    check_probabilities(policy, "policy", strictly_positive=False,
                        tolerance=normalization_tolerance(epsilon, policy.shape[-1]))
    rewards = as_float_array(rewards, "rewards")
    try:
        rewards = np.broadcast_to(rewards, np.broadcast_shapes(rewards.shape, policy.shape))
    except ValueError:
        raise ValueError(f"policy {policy.shape} and rewards {rewards.shape} do not broadcast") from None
    rewards_2d, log_q, beta, shape = _prepare(rewards, reference, log_reference, beta)[:4]
    policy = np.broadcast_to(policy, shape).reshape(-1, shape[-1])
    with np.errstate(divide="ignore"):
        log_policy = np.log(policy)
    value = np.sum(policy * rewards_2d, axis=-1) - beta * np.sum(div.term(log_policy, log_q), axis=-1)
    return value.reshape(shape[:-1])


@accepts_torch("policy", "rewards", "reference", "log_policy", "log_reference", "multiplier")
def kkt_residual(policy=None, rewards=None, reference=None, *, log_policy=None, log_reference=None,
                 divergence: str | Divergence = "reverse_kl", beta: float = 1.0,
                 multiplier=None) -> np.ndarray:
    """Scaled KKT violation of any candidate ``policy`` for Σπr − β·I_f(π‖π_ref), shape (...).

    The measure is the one :class:`Solution` reports (module doc), so a policy from another
    solver (cvxpy, say) is certified on the same footing. Without ``multiplier`` the ones
    implied by stationarity, r/β − f'(π/π_ref), at the most probable response and at the
    response whose π/π_ref is nearest 1 are tried, and the smaller residual is returned (KKT
    asks for some multiplier; the second resolves Z when the most probable response's r/β is
    far above the other mass carriers'); for tv, the dual optimum max r − β/2.

    Args:
      policy: shape (..., K), non-negative (normalization is part of what is measured).
      rewards, reference, log_reference, divergence, beta: as in :func:`optimal_policy`.
      log_policy: log π instead of ``policy``, for entries below float range (−inf is a
        zero); with a linear ``policy`` an underflowed entry counts as an exact zero.
      multiplier: λ of Σπ = 1 in reward units, shape (...), or None.
    """
    div = get_divergence(divergence)
    if rewards is None:
        raise ValueError("rewards is required")
    rewards_2d, log_q, beta, shape = _prepare(rewards, reference, log_reference, beta)[:4]
    if (policy is None) == (log_policy is None):
        raise ValueError("give exactly one of policy and log_policy")
    if policy is not None:
        policy = as_float_array(policy, "policy")
        check_finite(policy, "policy")
        if np.any(policy < 0):
            raise ValueError(f"policy must be non-negative, got min {policy.min()!r}")
        with np.errstate(divide="ignore"):
            log_policy = np.log(policy)
    else:
        log_policy = as_float_array(log_policy, "log_policy")
        if np.any(np.isnan(log_policy)) or np.any(log_policy == np.inf):
            raise ValueError("log_policy must be finite or -inf (a zero probability)")
    log_policy = np.broadcast_to(log_policy, shape).reshape(-1, shape[-1])
    policy = np.exp(log_policy)
    # Rewards and Z are measured from the reward of the most probable response (the shift
    # cancels in a − Z): the terms of the responses that carry the mass are then small
    # numbers, not differences of two numbers of size max|r|/β.
    rows = np.arange(rewards_2d.shape[0])
    top = np.argmax(log_policy, axis=-1)
    shift = rewards_2d[rows, top]
    gap = _scaled_gap(rewards_2d, shift, beta)
    if multiplier is not None:
        z = (np.broadcast_to(as_float_array(multiplier, "multiplier", min_ndim=0), shape[:-1]).reshape(-1)
             - shift) / beta
    elif div.name == "tv":
        z = (rewards_2d.max(axis=-1) - shift) / beta - 0.5  # the dual optimum max a − 1/2
    else:
        # Z implied by the most probable response: its terms are the best resolved ones.
        log_ratio = log_policy[rows, top] - log_q[rows, top]
        z = -div.f_prime_of_log(log_ratio)
    residual = _kkt_residual(div, gap, log_q, log_policy, policy, z)
    if multiplier is None and div.name != "tv":
        # Z implied at the most probable response is a − f'(π/q) there, measured from its own
        # reward: when that a is far above the other mass carriers' (chi2: the top response
        # alone carries 0.44 with r/β = 3.4e14, the rest share 0.56 near a = 0), Z − a_top
        # keeps only eps·|a_top| of Z's digits, and even the exact optimum scores 0.12. The
        # response whose π/q is nearest 1 (f' nearest 0, its a nearest Z) resolves Z in its
        # own frame; KKT asks for some Z, so the smaller of the two residuals certifies.
        ratio = np.subtract(log_policy, log_q)
        distance = np.abs(div.f_prime_of_log(np.where(np.isneginf(log_policy), 0.0, ratio)))
        near = np.argmin(np.where(np.isneginf(log_policy), np.inf, distance), axis=-1)
        near_shift = rewards_2d[rows, near]
        near_z = -div.f_prime_of_log(ratio[rows, near])
        residual = np.minimum(residual, _kkt_residual(div, _scaled_gap(rewards_2d, near_shift, beta), log_q,
                                                      log_policy, policy, near_z))
    return residual.reshape(shape[:-1])
