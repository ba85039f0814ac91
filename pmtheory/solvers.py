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
  the exact breakpoint solution in finitely many steps.
- ``tv``: a linear program with the exact solution below (see :func:`_solve_tv`).

Tolerances. The root iterations stop when the log-normalizer log Σπ is within
``_ROOT_TOLERANCE``·(1 + log2 K) of 0, the rounding of the sum itself (or when the bracket
has collapsed to adjacent floats, and the policy is then renormalized); Σπ = 1 to that
rounding. ``kkt_residual`` is computed from the returned policy through the divergence's
own f' (independently of the path that found it): max(|Σπ − 1|, max_y |a(y) − Z −
f'(π/q)| / (1 + |a(y)| + |Z|)) with a = r/β and Z = λ/β, the stationarity error relative to
the size of the terms it cancels; for chi2 and tv it measures the violation of the
sub-gradient / complementary-slackness conditions instead. Rewards and Z are measured from
a response that carries mass (the pivot) when forming it, so that large |max r|/β does not
turn the mass carriers' terms into differences of large numbers.

Speed. Every pass over a (B, K) array runs in cache-sized blocks (:func:`_blocks`); the
check of ``log_reference`` rides on each solver's first pass; the final pass writes π and
log π over the work arrays (which are the outputs, so a solve allocates no other full-size
array) and takes the certificate of what it writes. At K = 10⁶ (after a warm start on a
subsample) reverse KL makes two passes, the barrier divergences three (the setup with the
first Halley step, a Newton step, the final pass) and chi2 three or four (the setup with the
first Newton step, one or two more, the final pass). ``pmtheory bench`` measures them against
a plain numpy log-softmax.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pmtheory._validation import (
    as_float_array,
    check_finite,
    check_log_normalization,
    check_log_probabilities,
    check_positive_scalar,
    check_probabilities,
    logsumexp,
)
from pmtheory.divergences import Divergence, get_divergence

__all__ = ["Solution", "kkt_residual", "optimal_policy", "regularized_objective"]

# The Newton iterations stop once |log Σπ| is below 8 ulps of 1.0 times (1 + log2 K): the
# accuracy to which a blocked pairwise sum of K positive terms (relative error ≲ eps·log2 K)
# and its log can be evaluated in float64. Asking for less than that rounding noise only
# buys extra passes that cannot improve the answer.
_ROOT_TOLERANCE = 8.0 * np.finfo(np.float64).eps
# References at or above e^-690 are handled in linear space (h(d) ≤ 1/q stays below 1e300).
_LINEAR_FLOOR = 690.0
# Responses kept in the subsample that warm-starts Newton for large K, in runs of _CHUNK
# adjacent ones (a strided gather would miss the cache once per response).
_SUBSAMPLE = 16384
_CHUNK = 64
# The warm start stops once the subsample's |log Σπ| is below this (see _warm_start).
_WARM_START_TOLERANCE = 1e-6
# Once a full pass finds |log Σπ| below this, the Halley step from it lands within the root
# tolerance (its error is cubic in |log Σπ| with a constant of order one), so the next pass
# is the final one that writes π.
_FINAL_AFTER = 1e-5
# After a full pass with |log Σπ| below this, the next one needs no curvature: a Halley step
# from there lands near 0.05·|F|³ ≲ 1e-7 (the constant measured on the bench instances), from
# which one Newton step (quadratic, constant ≈ 0.2) reaches the root tolerance. Where the
# constants are larger this costs one more pass, never accuracy.
_NEWTON_AFTER = 1e-2
# Elements per block of the blocked passes over large arrays: 2^15 float64 = 256 KiB, so the
# six block-sized arrays that reverse KL's final pass touches (r, log q, log π, π and two
# scratch buffers) fit in a 2 MiB L2 cache together, and a K = 10^6 solve allocates no fresh
# page-faulted full-size temporaries (which cost more than the arithmetic). On the bench
# machine 2^15 was 5% faster than 2^16 for every divergence, and 2^14 slower (more blocks,
# more interpreter overhead per element).
_BLOCK = 1 << 15
# The logits of reverse KL are measured from max r unless the most likely response lies more
# than this many units of β below it: the extra rounding of its logit is then at most this
# many ulps, as small as the rounding that log q ≈ −log K already brings.
_PIVOT_SHIFT = 16.0
# Σ e^x is summed without a shift when max x (≤ 0) is at least this: the sum is then
# ≥ e^-600, and the entries that underflow (each below 5e-324) cannot change its digits.
_UNSHIFTED_FLOOR = -600.0
# Below this a linear-space probability has lost relative precision (subnormal range begins
# at 2.2e-308); rows with smaller entries are assembled in log space instead.
_TINY = 1e-290
# Enough safeguarded steps to bisect any float64 bracket to adjacent floats (≈ 64 halvings of
# the exponent plus 53 of the mantissa), with room to spare; Newton normally needs < 10.
_MAX_ITERATIONS = 200


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


class _Inputs(NamedTuple):
    """Validated inputs as (B, K) rows (see :func:`_prepare`)."""

    rewards: np.ndarray  # r, shape (B, K)
    log_q: np.ndarray  # log π_ref, shape (B, K) (a broadcast view where given broadcast)
    beta: float
    shape: tuple  # the broadcast shape (..., K) of the outputs
    unchecked: np.ndarray | None  # the given log_reference while its check is deferred
    first: np.ndarray  # the column of the first max r per row, shape (B,)
    best: np.ndarray  # max r per row, shape (B,)
    lowest: np.ndarray | None  # min r per row, shape (B,) (None without check_lowest)


def _prepare(rewards, reference, log_reference, beta, *, defer_log_check=False, check_lowest=True) -> _Inputs:
    """The inputs validated and broadcast to (B, K) rows, with the argmax and max of r per row.

    With ``defer_log_check`` a ``log_reference`` is checked only for shape here and returned
    as ``unchecked`` (else None): the caller must then pass it with the Σ e^{log q} of a pass
    it makes anyway to :func:`check_log_normalization`, before returning anything. Without
    ``check_lowest`` a −inf reward passes here (NaN and +inf never do); the caller's
    certificate must then come out non-finite on it (see :func:`optimal_policy`).
    """
    rewards = given = as_float_array(rewards, "rewards")
    beta = check_positive_scalar(beta, "beta")
    if reference is not None and log_reference is not None:
        raise ValueError("give either reference or log_reference, not both")
    unchecked = None
    if log_reference is not None:
        log_q = as_float_array(log_reference, "log_reference")
        if defer_log_check:
            unchecked = log_q
        else:
            check_log_probabilities(log_q, "log_reference")
        name = "log_reference"
    elif reference is not None:
        q = as_float_array(reference, "reference")
        check_probabilities(q, "reference", strictly_positive=True)
        log_q = np.log(q)
        name = "reference"
    else:
        k = rewards.shape[-1]
        log_q = np.full(k, -np.log(k))
        name = "reference"
    if log_q.shape[-1] != rewards.shape[-1]:
        raise ValueError(
            f"rewards and {name} must have the same number of responses K on the last axis, "
            f"got shapes {rewards.shape} and {log_q.shape}"
        )
    try:
        shape = np.broadcast_shapes(rewards.shape, log_q.shape)
    except ValueError:
        raise ValueError(
            f"rewards {rewards.shape} and {name} {log_q.shape} do not broadcast to one batch shape"
        ) from None
    # (np.argmax is ~3× slower on a read-only broadcast view, so broadcast only when needed.)
    rewards = (rewards if rewards.shape == shape else np.broadcast_to(rewards, shape)).reshape(-1, shape[-1])
    log_q = (log_q if log_q.shape == shape else np.broadcast_to(log_q, shape)).reshape(-1, shape[-1])
    first = np.argmax(rewards, axis=-1)
    best = rewards[np.arange(rewards.shape[0]), first]
    # argmax finds NaN and +inf (NaN counts as the max); only min sees −inf.
    lowest = rewards.min(axis=-1) if check_lowest else None
    if not (np.all(np.isfinite(best)) and (not check_lowest or np.all(np.isfinite(lowest)))):
        check_finite(given, "rewards")
    return _Inputs(rewards, log_q, beta, shape, unchecked, first, best, lowest)


def optimal_policy(
    rewards,
    reference=None,
    *,
    log_reference=None,
    divergence: str | Divergence = "reverse_kl",
    beta: float = 1.0,
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

    Returns:
      :class:`Solution` with arrays of the broadcast shape (..., K) and batch shape (...).
      For ``tv`` the optimum need not be unique: the returned one moves the least mass away
      from π_ref (responses exactly β below the best keep their reference mass) and gives
      the moved mass to the best responses in proportion to π_ref.

    >>> sol = optimal_policy([0.0, 1.0], [0.5, 0.5])
    >>> round(float(sol.policy[1]), 6)  # e / (1 + e)
    0.731059
    """
    div = get_divergence(divergence)
    given = rewards
    # Reverse KL skips the pass that looks for −inf rewards: one makes its certificate NaN.
    inputs = _prepare(rewards, reference, log_reference, beta,
                      defer_log_check=div.name != "tv", check_lowest=div.name != "reverse_kl")
    rewards, log_q, beta, shape, unchecked, best = (
        inputs.rewards, inputs.log_q, inputs.beta, inputs.shape, inputs.unchecked, inputs.best)
    multiplier = None  # λ = β·Z + max r unless a solver forms it more accurately
    gap = _scaled_gap(rewards, best, beta) if div.name == "tv" or rewards.shape[-1] == 1 else None
    iterations = 0
    residual = None
    if rewards.shape[-1] == 1:
        # The simplex is one point: π = 1, and stationarity a − Z = f'(1) gives Z (tv: the
        # dual optimum max a − 1/2 of _solve_tv).
        if unchecked is not None:
            check_log_probabilities(unchecked, "log_reference")
        log_policy, policy = np.zeros_like(rewards), np.ones_like(rewards)
        z = np.full(rewards.shape[0], -0.5 if div.name == "tv" else -div.f_prime_at_one)
    elif div.name == "reverse_kl":
        log_policy, policy, multiplier, residual = _solve_reverse_kl(inputs)
    elif div.name == "chi2":
        log_policy, policy, multiplier, residual, iterations = _solve_chi2(inputs)
    elif div.name == "tv":
        log_policy, z = _solve_tv(gap, log_q)
        policy = np.exp(log_policy)
    elif div.barrier and np.isfinite(div.sup_f_prime):
        log_policy, policy, z, residual, iterations = _solve_barrier(div, inputs)
    else:  # pragma: no cover - every member of the family is handled above
        raise ValueError(f"no exact solver for divergence {div.name!r}")
    if residual is None:
        residual = _kkt_residual(div, gap, log_q, log_policy, policy, z, best / beta)
    if not np.all(np.isfinite(residual)):
        # A non-finite certificate comes from an input that the folded checks let through
        # (a −inf reward or log-reference entry); the full checks name it.
        check_finite(as_float_array(given, "rewards"), "rewards")
        if unchecked is not None:
            check_log_probabilities(unchecked, "log_reference")
        raise RuntimeError(f"{div.name}: non-finite KKT residual on finite inputs; please report this input")
    batch = shape[:-1]
    return Solution(
        policy=policy.reshape(shape),
        log_policy=log_policy.reshape(shape),
        multiplier=(beta * z + best if multiplier is None else multiplier).reshape(batch),
        kkt_residual=residual.reshape(batch),
        divergence=div.name,
        beta=beta,
        iterations=iterations,
    )


def regularized_objective(policy, rewards, reference=None, *, log_reference=None,
                          divergence: str | Divergence = "reverse_kl", beta: float = 1.0) -> np.ndarray:
    """J(π) = Σ_y π(y) r(y) − β·I_f(π‖π_ref), shape (..., K) -> (...).

    Source: seed 004, Lemma 1 (the objective); seed 001, eq 2.3 (reverse KL).
    ``policy`` may have zeros (0·log 0 = 0); it must sum to 1.
    """
    div = get_divergence(divergence)
    policy = as_float_array(policy, "policy")
    check_probabilities(policy, "policy", strictly_positive=False)
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


def kkt_residual(policy=None, rewards=None, reference=None, *, log_policy=None, log_reference=None,
                 divergence: str | Divergence = "reverse_kl", beta: float = 1.0,
                 multiplier=None) -> np.ndarray:
    """Scaled KKT violation of any candidate ``policy`` for Σπr − β·I_f(π‖π_ref), shape (...).

    The measure is the one :class:`Solution` reports (module doc), so a policy from another
    solver (cvxpy, say) is certified on the same footing. Without ``multiplier`` the one
    implied by stationarity at the most probable response is used, r/β − f'(π/π_ref) there
    (for tv, the dual optimum max r − β/2).

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
    residual = _kkt_residual(div, gap, log_q, log_policy, policy, z, shift / beta)
    return residual.reshape(shape[:-1])


def _blocks(shape):
    """(row slice, column slice) pairs covering a (B, K) array in blocks of about _BLOCK
    elements: column blocks of one row when K is large, blocks of whole rows otherwise."""
    rows, columns = shape
    if columns >= _BLOCK:
        for row in range(rows):
            for start in range(0, columns, _BLOCK):
                yield slice(row, row + 1), slice(start, start + _BLOCK)
    else:
        step = max(1, _BLOCK // max(columns, 1))
        for start in range(0, rows, step):
            yield slice(start, start + step), slice(None)


def _scratch(shape, blocks, count):
    """``count`` lists of work arrays, one per block of a (B, K) array of ``shape``, each of its
    block's shape: views of ``count`` buffers of the largest block's size, allocated once per
    solve rather than once per block."""
    rows, columns = shape
    block_shapes = [(len(range(*r.indices(rows))), len(range(*c.indices(columns)))) for r, c in blocks]
    size = max(b * k for b, k in block_shapes)
    buffers = [np.empty(size) for _ in range(count)]
    return [[buffer[:b * k].reshape(b, k) for b, k in block_shapes] for buffer in buffers]


def _scaled_gap(rewards, best, beta):
    """Δ = (best − r)/β, shape (B, K): with ``best`` = max r (shape (B,)), Δ ≥ 0 and 0 exactly
    at the best responses; any other per-row shift gives the same differences from it.

    Shifting before dividing by β rounds the differences that decide the policy once,
    relative to their own size rather than to max|r|/β.
    """
    gap = np.empty_like(rewards)
    for rows, columns in _blocks(rewards.shape):
        block = gap[rows, columns]
        np.subtract(best[rows, None], rewards[rows, columns], out=block)
        block /= beta
    return gap


def _solve_reverse_kl(inputs: _Inputs):
    """Seed 001 Prop 5.1: log π = log q + a − logsumexp(log q + a); Z = logsumexp − f'(1).

    The logits are measured from a shift: max r, unless the most likely response (the pivot)
    lies more than ``_PIVOT_SHIFT`` below it, in which case they are re-formed from the
    pivot's reward, so that the responses carrying the mass never get logits that are sums
    of two large numbers. The multiplier λ = β·Z + shift and the certificate are measured
    from the same shift. Two blocked passes: the logits with their running maximum and
    logsumexp; then log π, π and the KKT residual of the returned log π, taken block by
    block as it is written. The first pass also makes the deferred check of log_reference
    (see :func:`_prepare`). Returns (log π, π, λ, residual), shapes (B, K), (B, K), (B,), (B,).
    """
    rewards, log_q, beta, best, unchecked = inputs.rewards, inputs.log_q, inputs.beta, inputs.best, inputs.unchecked
    count = rewards.shape[0]
    blocks = list(_blocks(rewards.shape))
    log_policy = np.empty_like(rewards)
    policy = np.empty_like(rewards)  # e^x until the second pass scales it to π = e^x/e^L
    shift = best
    mass = np.zeros(count) if unchecked is not None else None
    log_norm, peak = _shifted_logits(rewards, shift, beta, log_q, log_policy, policy, blocks, mass)
    if unchecked is not None:
        # A −inf entry of log q (a zero probability) is not looked for here: it makes the
        # certificate NaN, and optimal_policy then runs the full check.
        check_log_normalization(unchecked, "log_reference", mass, None)
    # The pivot p (the argmax of the logits x = log q − Δ) has Δ_p = log q_p − max x ≤ −max x,
    # so only rows with max x < −_PIVOT_SHIFT can need it.
    far = np.flatnonzero(peak < -_PIVOT_SHIFT)
    if far.size:
        pivot = np.argmax(log_policy[far], axis=-1)
        pivot_reward = rewards[far, pivot]
        recentre = (best[far] - pivot_reward) / beta > _PIVOT_SHIFT
        if recentre.any():
            shift = best.copy()
            shift[far[recentre]] = pivot_reward[recentre]
            log_norm, _ = _shifted_logits(rewards, shift, beta, log_q, log_policy, policy, blocks)
    # f'(t) = log t + 1, so a − Z = log(π/q) + 1 gives Z = log_norm − 1 from the shift.
    z = log_norm - 1.0
    offset = shift / beta
    # Stationarity residual log π − log q − (a − Z) + 1 = log π − log q + w with
    # w = (shift + β·log_norm − r)/β, formed in one subtraction per block; its scale is
    # 1 + |a| + |Z| (module doc), with |a| = |r|/β.
    numerator = shift + beta * log_norm
    scale_offset = 1.0 + np.abs(z + offset)
    mass = np.zeros(count)
    worst = np.zeros(count)
    # π = e^x·e^-L (more accurate than e^(x − L) once |x − L| ≫ 1), except in blocks where
    # some e^x has fallen below the normal range and e^-L > 1 would scale up its few digits.
    with np.errstate(over="ignore"):  # e^-L = inf only where every e^x is below e^-709: exp path
        factor = np.exp(-log_norm)
    violations, scales = _scratch(rewards.shape, blocks, 2)
    with np.errstate(invalid="ignore"):  # a −inf input makes the certificate NaN (optimal_policy)
        for (block_rows, columns), violation, scale in zip(blocks, violations, scales):
            logits = log_policy[block_rows, columns]
            logits -= log_norm[block_rows, None]
            block = policy[block_rows, columns]
            if block.min() < _TINY and np.any(factor[block_rows] > 1.0):
                np.exp(logits, out=block)
            else:
                block *= factor[block_rows, None]
            mass[block_rows] += block.sum(axis=-1)
            block_rewards = rewards[block_rows, columns]
            np.subtract(numerator[block_rows, None], block_rewards, out=violation)
            if beta != 1.0:
                violation /= beta
            violation += logits
            violation -= log_q[block_rows, columns]
            np.abs(violation, out=violation)
            np.abs(block_rewards, out=scale)
            if beta != 1.0:
                scale /= beta
            scale += scale_offset[block_rows, None]
            violation /= scale
            worst[block_rows] = np.maximum(worst[block_rows], violation.max(axis=-1))
    return log_policy, policy, beta * z + shift, np.maximum(np.abs(mass - 1.0), worst)


def _shifted_logits(rewards, shift, beta, log_q, out, exp_out, blocks, reference_mass=None):
    """Writes x = log q + (r − shift)/β into ``out`` and e^x into ``exp_out`` (shapes (B, K))
    in one blocked pass and returns (logsumexp x, max x), shapes (B,).

    The shift is max r or the reward of the argmax, so x ≤ log q ≤ 0 and Σ e^x is summed
    without a shift; rows whose max x is below ``_UNSHIFTED_FLOOR`` (where the unshifted sum
    could lose digits to underflow) are summed again from their maximum. ``reference_mass``,
    when given, is a (B,) array that receives Σ e^{log q} of the same pass, for the deferred
    check of ``log_reference``.
    """
    count = rewards.shape[0]
    peak = np.full(count, -np.inf)
    total = np.zeros(count)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for rows, columns in blocks:
            logits = out[rows, columns]
            block_q = log_q[rows, columns]
            if reference_mass is not None:
                reference_mass[rows] += np.exp(block_q).sum(axis=-1)
            np.subtract(rewards[rows, columns], shift[rows, None], out=logits)
            if beta != 1.0:
                logits /= beta
            logits += block_q
            peak[rows] = np.maximum(peak[rows], logits.max(axis=-1))
            total[rows] += np.exp(logits, out=exp_out[rows, columns]).sum(axis=-1)
    with np.errstate(divide="ignore"):
        log_norm = np.log(total)
    low = ~(peak >= _UNSHIFTED_FLOOR)
    if low.any():
        log_norm[low] = logsumexp(out[low], axis=-1)
    return log_norm, peak


def _solve_barrier(div: Divergence, inputs: _Inputs):
    """Safeguarded Halley/Newton on ℓ = log d for F(ℓ) = log Σ q·h(Δ + e^ℓ) = 0 (module doc).

    ``inputs`` from :func:`_prepare` (its deferred check of log_reference is made in the
    first pass here). Returns (log π, π, Z, residual, passes); Z is measured from max a =
    max r/β, and ``passes`` counts the passes that evaluated h over all K responses.

    In linear space (every q ≥ e^-690) the passes are: one that forms Δ and q (and checks
    the reference); Halley steps, whose error is cubic, until |F| < _FINAL_AFTER; then one
    final pass at the stepped ℓ that writes π = q·h(Δ + d) and log π over the work arrays
    with the certificate of what it wrote, accepted once |log Σπ| is within the root
    tolerance (or the bracket has collapsed), and otherwise treated as one more step.
    """
    rewards, log_q, beta, best, first = inputs.rewards, inputs.log_q, inputs.beta, inputs.best, inputs.first
    count = rewards.shape[0]
    rows = np.arange(count)
    blocks = list(_blocks(rewards.shape))
    s_minus_f1 = div.sup_f_prime - div.f_prime_at_one  # S − f'(1) > 0
    # Upper end: MOD Prop 1's t2 (Z ≤ −f'(1) + max a) is d ≤ S − f'(1).
    upper = np.full(count, np.log(s_minus_f1))
    # Lower end: a best response alone may carry at most mass 1, so h(d)·q_best ≤ 1 ...
    lower = div.log_distance_at_log_ratio(-log_q[rows, first])
    # ... and MOD Prop 1's t1 (Z ≥ −f'(1) + min a) is d ≥ S − f'(1) − (max a − min a).
    prop1 = s_minus_f1 - (best - inputs.lowest) / beta
    with np.errstate(divide="ignore"):
        lower = np.maximum(lower, np.where(prop1 > 0, np.log(np.where(prop1 > 0, prop1, 1.0)), -np.inf))
    lower = np.minimum(lower, upper)
    offset = best / beta
    tolerance = _ROOT_TOLERANCE * (1.0 + np.log2(rewards.shape[-1]))
    ell, curvature_hint = _warm_start(div, lambda columns: (best[:, None] - rewards[:, columns]) / beta,
                                      log_q, first, lower, upper)
    # The two outputs serve as work arrays until the final pass: log π holds Δ, π holds q.
    # The first pass writes them, checks the reference, and evaluates F at the warm start.
    gap = np.empty_like(rewards)
    q = np.empty_like(rewards)
    *evaluation, mass, smallest = _first_linear_pass(div, inputs, gap, q, ell, blocks, curvature_hint is None)
    if curvature_hint is not None:
        evaluation[2] = curvature_hint
    if inputs.unchecked is not None:
        check_log_normalization(inputs.unchecked, "log_reference", mass, float(smallest.min()))
    # Linear space is exact and much cheaper when every q ≥ e^-_LINEAR_FLOOR: then every
    # h(Δ + d) ≤ h(d_lo) = 1/Σ_top q stays finite, so nothing overflows at any iterate.
    if not smallest.min() >= -_LINEAR_FLOOR:
        ell, passes, _ = _find_root(_log_evaluator(div, gap, gap == 0.0, log_q), ell, lower, upper, tolerance)
        log_policy = _assemble_barrier_policy(div, gap, gap == 0.0, log_q, ell)
        policy = np.exp(log_policy)
        z = np.exp(ell) - div.sup_f_prime  # d = S − max a + Z with max a = 0
        return log_policy, policy, z, _kkt_residual(div, gap, log_q, log_policy, policy, z, offset), passes
    evaluate = _linear_evaluator(div, gap, q, blocks)
    lo, hi = lower.copy(), upper.copy()
    tried = (ell == lower, ell == upper)
    passes = 1
    final = False
    collapsed = np.zeros(count, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        if final:
            passes += 1
            mass, smallest_policy, worst = _final_linear_pass(div, gap, q, ell, offset, blocks)
            with np.errstate(divide="ignore"):
                accepted = (np.abs(np.log(mass)) <= tolerance) | collapsed
            if accepted.all():
                break
            # Σπ missed: restore the work arrays, evaluating there again, and take another step.
            passes += 1
            *evaluation, _, _ = _first_linear_pass(div, inputs, gap, q, ell, blocks, True)
        if evaluation:
            value, slope, curvature = evaluation
            evaluation = None
        else:
            passes += 1
            # After a Halley step from |F| < _NEWTON_AFTER, |F| is far inside Newton's range.
            value, slope, curvature = evaluate(ell, curvature=not np.all(np.abs(value) < _NEWTON_AFTER))
        lo = np.where(value > 0, ell, lo)
        hi = np.where(value <= 0, ell, hi)
        tried = (tried[0] | (ell == lower), tried[1] | (ell == upper))
        step, stalled = _safeguarded_step(ell, value, slope, curvature, lo, hi, lower, upper, tried)
        # A collapsed bracket or a step below the resolution of ℓ ends a row's iteration.
        collapsed = ~(np.nextafter(lo, np.inf) < hi) | stalled
        active = (np.abs(value) > tolerance) & ~collapsed
        # Rows already within the tolerance step too: the step is free (the final pass
        # evaluates at the new ℓ anyway) and takes |F| from the tolerance to its rounding.
        ell = np.where(collapsed, ell, step)
        final = not active.any() or bool(np.all(np.abs(value) < _FINAL_AFTER))
    else:
        raise RuntimeError(
            f"{div.name}: the normalizer did not converge in {_MAX_ITERATIONS} steps "
            f"(worst |log Σπ| = {np.max(np.abs(value)):.3g}); please report this input"
        )
    log_policy, policy = gap, q  # overwritten by the final pass
    z = np.exp(ell) - div.sup_f_prime
    residual = np.maximum(np.abs(mass - 1.0), worst)
    # Rows the final pass cannot deliver as written: a collapsed bracket (or a stalled step)
    # left Σπ off by more than the tolerance (renormalized), or an entry fell below the normal
    # float range (assembled in log space). Both recompute their certificate from scratch.
    with np.errstate(divide="ignore"):
        redo = (np.abs(np.log(mass)) > tolerance) | (smallest_policy < _TINY)
    if redo.any():
        rows = np.flatnonzero(redo)
        row_gap = _scaled_gap(rewards[rows], best[rows], beta)
        row_log = _assemble_barrier_policy(div, row_gap, row_gap == 0.0, log_q[rows], ell[rows])
        log_policy[rows] = row_log
        policy[rows] = np.exp(row_log)
        residual[rows] = _kkt_residual(div, row_gap, log_q[rows], log_policy[rows], policy[rows], z[rows], offset[rows])
    return log_policy, policy, z, residual, passes


def _find_root(evaluate, ell, lower, upper, tolerance):
    """Safeguarded Halley/Newton for F(ℓ) = 0 (F decreasing) inside [lower, upper], from
    ``ell``: stops when |F| ≤ ``tolerance``, the bracket has collapsed to adjacent floats, or
    the step is below the resolution of ℓ. Returns (ℓ, evaluations, F'' or None); the last
    evaluation (whose F'' is returned) was at the returned ℓ."""
    lo, hi = lower.copy(), upper.copy()
    tried = (ell == lower, ell == upper)
    value = None
    for iteration in range(1, _MAX_ITERATIONS + 1):
        value, slope, curvature = evaluate(ell)
        lo = np.where(value > 0, ell, lo)
        hi = np.where(value <= 0, ell, hi)
        tried = (tried[0] | (ell == lower), tried[1] | (ell == upper))
        active = (np.abs(value) > tolerance) & (np.nextafter(lo, np.inf) < hi)
        step, stalled = _safeguarded_step(ell, value, slope, curvature, lo, hi, lower, upper, tried)
        active &= ~stalled
        if not active.any():
            return ell, iteration, curvature
        ell = np.where(active, step, ell)
    raise RuntimeError(
        f"the normalizer did not converge in {_MAX_ITERATIONS} steps "
        f"(worst |log Σπ| = {np.max(np.abs(value)):.3g}); please report this input"
    )


def _safeguarded_step(ell, value, slope, curvature, lo, hi, lower, upper, tried):
    """(next ℓ, stalled), shapes (B,). The step is Halley's ℓ − (F/F')/(1 − L/2) with
    L = F·F''/F'² where a curvature is given and |L| ≤ 1, else Newton's ℓ − F/F'. Where it
    leaves the open bracket (lo, hi) it is clamped to the end it crossed if that end is
    still the initial bound ``lower`` or ``upper`` and not yet evaluated (``tried``, a pair
    of (B,) masks the caller keeps), since a root can sit on that bound to rounding (the top
    response alone nearly exhausting the mass); it is replaced by bisection otherwise.
    ``stalled`` marks rows whose step rounds to ℓ itself: F is then zero to the
    resolution of ℓ (a correction below half an ulp of ℓ), and no iteration can improve it."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # caught by isfinite
        correction = value / slope
        if curvature is not None:
            ratio = value * curvature / (slope * slope)
            correction = np.where(np.abs(ratio) <= 1.0, correction / (1.0 - 0.5 * ratio), correction)
        step = ell - correction
    # A slope that overflowed (far from the root, where q·h·h can exceed the float range)
    # gives a zero correction that is no sign of convergence: bisect there instead.
    usable = np.isfinite(slope) & np.isfinite(correction)
    stalled = usable & (step == ell)
    inside = usable & (step > lo) & (step < hi)
    tried_lower, tried_upper = tried
    bound = np.where((step <= lo) & (lo == lower) & ~tried_lower, lower,
                     np.where((step >= hi) & (hi == upper) & ~tried_upper, upper, np.nan))
    fallback = np.where(np.isnan(bound), 0.5 * (lo + hi), bound)
    return np.where(stalled, ell, np.where(inside, step, fallback)), stalled


# OpenBLAS hands a dot product of more than 10 000 entries to its thread pool; waking the
# pool for each block costs more than the sum itself (chi2 at K = 10^6: 18.6 ms with it,
# 14.3 ms in chunks of this length, which it sums on the calling thread).
_DOT_CHUNK = 8192


def _row_dot(a, b):
    """Σ_k a·b along the last axis of two (B, k) arrays, shape (B,), by BLAS, in chunks of
    at most ``_DOT_CHUNK`` entries."""
    k = a.shape[-1]
    if k <= _DOT_CHUNK:
        return _stacked_dot(a, b)
    whole = k - k % _DOT_CHUNK
    rows = a.shape[0]
    total = _stacked_dot(a[:, :whole].reshape(rows, -1, _DOT_CHUNK),
                         b[:, :whole].reshape(rows, -1, _DOT_CHUNK)).sum(axis=-1)
    if whole < k:
        total += _stacked_dot(a[:, whole:], b[:, whole:])
    return total


def _stacked_dot(a, b):
    """Σ a·b along the last axis, shape (..., k) -> (...), one BLAS dot per vector."""
    return np.matmul(a[..., None, :], b[..., :, None])[..., 0, 0]


class _Sums(NamedTuple):
    """Σu, Σu·y and Σu·y² per row over the terms u = q·h(Δ + d) (see :func:`_linear_evaluator`)."""

    total: np.ndarray
    first: np.ndarray
    second: np.ndarray

    @classmethod
    def zeros(cls, count):
        return cls(np.zeros(count), np.zeros(count), np.zeros(count))

    def add_block(self, div: Divergence, gap, q, d, rows, curvature, work):
        with np.errstate(over="ignore", invalid="ignore"):  # see _safeguarded_step
            self._add_block(div, gap, q, d, rows, curvature, work)

    def _add_block(self, div: Divergence, gap, q, d, rows, curvature, work):
        """Adds one block's terms at d (shape (b,)) for the block's rows; ``work`` is three
        scratch arrays of the block's shape. Where the basis is x = c0 + h
        (:attr:`Divergence.basis_offset`), Σuy = d(c0·Σu + Σuh) and Σuy² = d²(c0²·Σu +
        2c0·Σuh) + d·Σu(dh)h need dot products with h only, not the basis itself."""
        distance, ratio, basis = work
        d = d[:, None]
        np.add(gap, d, out=distance)
        div.ratio_at_distance(distance, out=ratio)
        offset = div.basis_offset
        if offset is None:
            div.log_derivative_basis(distance, ratio, d, out=basis)
        terms = np.multiply(q, ratio, out=distance)
        total = terms.sum(axis=-1)
        self.total[rows] += total
        d = d[:, 0]
        if offset is None:
            self.first[rows] += _row_dot(terms, basis)
            if curvature:
                terms *= basis
                self.second[rows] += _row_dot(terms, basis)
            return
        with_h = _row_dot(terms, ratio)
        self.first[rows] += d * (offset * total + with_h)
        if curvature:
            scaled = np.multiply(terms, ratio, out=basis)
            scaled *= d[:, None]  # u·h·d ≤ u·(d/D)·const stays in range where u·h² may not
            self.second[rows] += d * d * (offset * offset * total + 2.0 * offset * with_h) + d * _row_dot(scaled, ratio)

    def log_normalizer(self, div: Divergence, d, curvature):
        """(F, F', F'' or None), shapes (B,), from the sums at d."""
        c1, c2, c3 = div.log_derivative_coefficients
        # Non-finite sums come only from a non-finite reference, which the caller rejects.
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = c1 * self.first / self.total
            value = np.log(self.total)
            if not curvature:
                return value, slope, None
            return value, slope, (c2 * self.second + (c1 + c3 * d) * self.first) / self.total - slope * slope


def _linear_evaluator(div: Divergence, gap, q, blocks=None):
    """F(ℓ), dF/dℓ and d²F/dℓ² with the terms u = q·h(Δ + d) in linear space, in blocks.

    With y = d·x the divergence's basis (:meth:`Divergence.log_derivative_basis`),
    dS/dℓ = c1·Σuy and d²S/dℓ² = c2·Σuy² + (c1 + c3·d)·Σuy for S = Σu, so F = log S,
    F' = S'/S and F'' = S''/S − F'² cost a sum and two dot products per block.
    """
    blocks = list(_blocks(gap.shape)) if blocks is None else blocks
    work = list(zip(*_scratch(gap.shape, blocks, 3)))

    def evaluate(ell, curvature=True):
        d = np.exp(ell)
        sums = _Sums.zeros(gap.shape[0])
        for (rows, columns), block_work in zip(blocks, work):
            sums.add_block(div, gap[rows, columns], q[rows, columns], d[rows], rows, curvature, block_work)
        return sums.log_normalizer(div, d, curvature)

    return evaluate


def _setup_block(rewards, shift, beta, log_q, scaled, q, rows, columns, mass, smallest, *, from_shift):
    """One block of a solver's first pass: writes (shift − r)/β (``from_shift``: Δ ≥ 0 from
    max r) or (r − shift)/β into ``scaled`` and q = e^{log q} into ``q``, and accumulates Σ q
    and min log q of the block's rows into ``mass`` and ``smallest`` (for the deferred check
    of log_reference). Returns the two written blocks."""
    block = scaled[rows, columns]
    if from_shift:
        np.subtract(shift[rows, None], rewards[rows, columns], out=block)
    else:
        np.subtract(rewards[rows, columns], shift[rows, None], out=block)
    if beta != 1.0:
        block /= beta
    block_log_q = log_q[rows, columns]
    smallest[rows] = np.minimum(smallest[rows], block_log_q.min(axis=-1))
    block_q = np.exp(block_log_q, out=q[rows, columns])
    mass[rows] += block_q.sum(axis=-1)
    return block, block_q


def _first_linear_pass(div: Divergence, inputs: _Inputs, gap, q, ell, blocks, curvature):
    """Writes Δ = (max r − r)/β into ``gap`` and q = e^{log q} into ``q`` (shape (B, K)),
    block by block, and evaluates F, F' (and F'' if ``curvature``, else None) at ℓ on each
    block while it is in cache (as :func:`_linear_evaluator`). Returns (F, F', F'', Σq,
    min log q), shapes (B,); the last two are for the deferred check of log_reference and the
    choice of linear space."""
    rewards, log_q, beta, best = inputs.rewards, inputs.log_q, inputs.beta, inputs.best
    count = rewards.shape[0]
    d = np.exp(ell)
    sums = _Sums.zeros(count)
    mass = np.zeros(count)
    smallest = np.full(count, np.inf)
    work = zip(*_scratch(gap.shape, blocks, 3))
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for (rows, columns), block_work in zip(blocks, work):
            block_gap, block_q = _setup_block(rewards, best, beta, log_q, gap, q, rows, columns, mass, smallest,
                                              from_shift=True)
            sums.add_block(div, block_gap, block_q, d[rows], rows, curvature, block_work)
    return (*sums.log_normalizer(div, d, curvature), mass, smallest)


def _final_linear_pass(div: Divergence, gap, q, ell, offset, blocks):
    """π = q·h(Δ + d) at ℓ = log d written over ``q`` and log π over ``gap``, block by block,
    with the certificate of what was written. Returns (Σπ, min π, max scaled stationarity
    violation), shapes (B,).

    The violation |a − Z − f'(π/q)| is |D − (S − f'(ρ))| with D = Δ + d and ρ = π/q the
    ratio of the written π (:meth:`Divergence.distance_at_inverse_ratio` of q/π), scaled by
    1 + |a| + |Z| with a = max a − Δ (module doc).
    """
    count = gap.shape[0]
    d = np.exp(ell)
    z = d - div.sup_f_prime
    scale_offset = 1.0 + np.abs(z + offset)
    mass = np.zeros(count)
    smallest = np.full(count, np.inf)
    worst = np.zeros(count)
    work = zip(*_scratch(gap.shape, blocks, 3))
    # q/π overflows to +inf where π underflows below ~1e-308·q (extreme alpha and β); the
    # distance of +inf is the barrier's limit, which the residual below handles, so no warning.
    with np.errstate(divide="ignore", under="ignore", invalid="ignore", over="ignore"):
        for (rows, columns), (distance, policy, violation) in zip(blocks, work):
            block_gap = gap[rows, columns]
            block = q[rows, columns]
            np.add(block_gap, d[rows, None], out=distance)
            div.ratio_at_distance(distance, out=policy)
            policy *= block
            violation = div.distance_at_inverse_ratio(np.divide(block, policy, out=violation), overwrite=True)
            block[...] = policy
            mass[rows] += policy.sum(axis=-1)
            smallest[rows] = np.minimum(smallest[rows], policy.min(axis=-1))
            np.subtract(distance, violation, out=violation)
            np.abs(violation, out=violation)
            scale = np.subtract(offset[rows, None], block_gap, out=distance)
            np.abs(scale, out=scale)
            scale += scale_offset[rows, None]
            violation /= scale
            worst[rows] = np.maximum(worst[rows], violation.max(axis=-1))
            np.log(policy, out=block_gap)
    return mass, smallest, worst


def _assemble_barrier_policy(div: Divergence, gap, at_top, log_q, ell):
    """log π at the root ℓ, taking the best responses' mass as 1 − Σ others where that is
    the more accurate of the two ways.

    ℓ = log d carries an absolute rounding error of eps·|ℓ|, i.e. a relative error of
    eps·|ℓ| in d, which reaches the best responses' q·h(d) amplified by the elasticity
    |d log h/d log D|; it is damped by d/(Δ + d) in the others. When d is tiny (references
    far below float range put ℓ near −1e4), the others are exact and so is 1 − Σ others.
    """
    d = np.exp(ell)[:, None]
    distance = gap + d
    with np.errstate(divide="ignore"):
        log_distance = np.where(at_top, ell[:, None], np.log(distance))
    log_terms = log_q + div.log_ratio_at_distance(log_distance)
    log_direct = log_terms - logsumexp(log_terms, axis=-1, keepdims=True)
    # Error estimates (in units of eps) of the two ways to get the best responses' mass.
    elasticity = np.abs(div.distance_elasticity(np.exp(log_distance)) * np.ones_like(gap))
    share = np.where(at_top, 1.0, d / np.where(at_top, 1.0, distance))
    mass = np.exp(log_direct)
    spread = np.abs(ell)[:, None] * elasticity * share * mass
    direct_error = np.sum(np.where(at_top, spread, 0.0), axis=-1)
    others = np.sum(np.where(at_top, 0.0, mass), axis=-1)
    remainder_error = 1.0 + np.sum(np.where(at_top, 0.0, spread), axis=-1) / np.maximum(1.0 - others, 1e-300)
    use_remainder = (remainder_error < direct_error) & (others < 1.0)
    if not use_remainder.any():
        return log_direct
    # Others unnormalized (they are exact), best responses share 1 − Σ others ∝ q.
    others_raw = np.sum(np.where(at_top, 0.0, np.exp(log_terms)), axis=-1, keepdims=True)
    log_q_top = logsumexp(np.where(at_top, log_q, -np.inf), axis=-1, keepdims=True)
    log_top = log_q - log_q_top + np.log1p(-np.minimum(others_raw, 1.0))
    log_remainder = np.where(at_top, log_top, log_terms)
    return np.where(use_remainder[:, None], log_remainder, log_direct)


def _log_evaluator(div: Divergence, gap, at_top, log_q):
    """F(ℓ) and dF/dℓ in log space, for references below float range (no curvature: the
    iteration on it is Newton's)."""

    def evaluate(ell):
        d = np.exp(ell)[:, None]
        distance = gap + d
        with np.errstate(divide="ignore"):
            log_distance = np.where(at_top, ell[:, None], np.log(distance))
        log_terms = log_q + div.log_ratio_at_distance(log_distance)
        peak = log_terms.max(axis=-1, keepdims=True)
        weights = np.exp(log_terms - peak)
        total = weights.sum(axis=-1)
        # d/D is 1 at the best responses (D = d exactly there, even when d underflows).
        share = np.where(at_top, 1.0, d / np.where(at_top, 1.0, distance))
        elasticity = div.distance_elasticity(np.exp(log_distance))
        slope = np.sum(weights * elasticity * share, axis=-1) / total
        return np.log(total) + peak[:, 0], slope, None

    return evaluate


def _subsample_columns(k, size):
    """About ``size`` of the columns 0..k−1 (k > 4·size), spread evenly: runs of _CHUNK
    adjacent columns at a fixed spacing, so that a gather reads whole cache lines."""
    runs = max(1, size // _CHUNK)
    starts = np.arange(runs) * (k // runs)
    return (starts[:, None] + np.arange(_CHUNK)).ravel()


def _warm_start(div: Divergence, gap_at, log_q, first, lower, upper, size=_SUBSAMPLE):
    """(starting ℓ, the subsample's F'' there or None): the root for a spread subsample of
    about ``size`` responses, when K is large, itself started from the root of a 16× smaller
    subsample of it (else the upper end of the bracket, and None).

    ``gap_at(columns)`` gives Δ at those columns, shape (B, len(columns)), so that no full
    pass is needed first; ``first`` is the column of a best response (Δ = 0) per row, shape
    (B,). The subsample (:func:`_subsample_columns` plus that best response, the rest
    reweighted by K/m) estimates Σ q·h to a few tenths of a percent, so the iteration on the
    full problem starts within its fast range and needs 2-3 full passes instead of ~10. Any
    start inside the bracket is safe: the safeguard keeps the iteration in [lower, upper].
    """
    count, k = log_q.shape
    if k <= 4 * size:
        return upper.copy(), None
    columns = _subsample_columns(k, size)
    sub_gap = np.concatenate([gap_at(columns), np.zeros((count, 1))], axis=-1)
    weight = np.log((k - 1) / columns.size)
    sub_log_q = np.concatenate([log_q[:, columns] + weight, log_q[np.arange(count), first][:, None]], axis=-1)
    if sub_log_q.min() >= -_LINEAR_FLOOR:  # as in _solve_barrier: nothing can overflow
        evaluate = _linear_evaluator(div, sub_gap, np.exp(sub_log_q))
    else:
        evaluate = _log_evaluator(div, sub_gap, sub_gap == 0.0, sub_log_q)
    if size >= 16 * 256:
        sub_first = np.full(count, sub_gap.shape[-1] - 1)
        start, _ = _warm_start(div, lambda c: sub_gap[:, c], sub_log_q, sub_first, lower, upper, size // 16)
    else:
        start = upper.copy()
    # The subsample estimates Σ q·h only to about a percent: solving it closer than
    # _WARM_START_TOLERANCE buys nothing for the full problem.
    ell, _, curvature = _find_root(evaluate, start, lower, upper, _WARM_START_TOLERANCE)
    return ell, curvature


def _solve_chi2(inputs: _Inputs):
    """Exact active-set solve of Σ q·max(0, 1 + (a − Z)/2) = 1, a = r/β (shifted below).

    φ(Z) = Σ q·max(0, 1 + (a − Z)/2) − 1 is convex, decreasing and piecewise linear, so
    Newton's step solves the current linear piece exactly: on the active set A at Z,
    Z⁺ = (2(W − 1) + Σ_A q·a)/W with W = Σ_A q. From the left of the root (φ ≥ 0) the steps
    increase monotonically, the active set only shrinks, and they stop on the exact
    breakpoint solution (Z⁺ = Z) after at most K steps; a start on the right takes one step
    to the left first. The start is the root for a subsample of the responses when K is
    large (:func:`_chi2_warm_start`), else Prop 1's t1 = min a, where every response is
    active. Each step is one blocked pass (a comparison, a sum and a dot product).

    Rewards are measured from a pivot, the response with the largest q (re-chosen among the
    active ones, and the solve repeated from there, in the rare case it ends inactive), so
    that the terms that dominate W enter with small |a| and the slack 1 + (a − Z)/2 is not a
    difference of two large numbers. ``inputs`` from :func:`_prepare` (its deferred check of
    log_reference is made in the first pass here). Returns (log π, π, λ, residual, passes),
    ``passes`` counting the Newton passes and the final one.
    """
    rewards, log_q, beta = inputs.rewards, inputs.log_q, inputs.beta
    count = rewards.shape[0]
    blocks = list(_blocks(rewards.shape))
    rows = np.arange(count)
    # The two outputs serve as work arrays until the final pass: log π holds a − a_pivot,
    # π holds q.
    centred = np.empty_like(rewards)
    q = np.empty_like(rewards)
    pivot = np.argmax(log_q, axis=-1)
    shift = rewards[rows, pivot]
    lowest = (inputs.lowest - shift) / beta  # min a, measured from the pivot
    z = _chi2_warm_start(lambda columns: (rewards[:, columns] - shift[:, None]) / beta, log_q, lowest)
    # The first pass writes a − a_pivot and q, checks the reference, and takes the sums of
    # the first Newton step at the warm start.
    mass, smallest, sums = _centred_and_reference(rewards, shift, beta, log_q, centred, q, blocks, z)
    if inputs.unchecked is not None:
        check_log_normalization(inputs.unchecked, "log_reference", mass, float(smallest.min()))
    passes = 0
    for attempt in range(2):
        z, steps = _chi2_newton(centred, q, z, lowest, blocks, sums)
        mass, worst = _chi2_final_pass(centred, q, log_q, z, shift / beta, blocks)
        passes += steps + 1
        log_policy, policy = centred, q  # overwritten by the final pass
        inactive = np.isneginf(log_policy[rows, pivot])
        if attempt or not inactive.any():
            break
        # The pivot ended inactive: re-centre on the largest active q and solve again from
        # the same Z (measured from the new pivot). The certificate judges the second solve.
        pivot = np.argmax(np.where(np.isneginf(log_policy), -np.inf, log_q), axis=-1)
        moved = (shift - rewards[rows, pivot]) / beta
        z, lowest, shift = z + moved, lowest + moved, rewards[rows, pivot]
        _, smallest, sums = _centred_and_reference(rewards, shift, beta, log_q, centred, q, blocks, z)
    residual = np.maximum(np.abs(mass - 1.0), worst)
    if not smallest.min() >= -_LINEAR_FLOOR:
        # q underflows in linear space: certify those rows from log π and log q instead.
        tiny = np.flatnonzero(smallest < -_LINEAR_FLOOR)
        gap = _scaled_gap(rewards[tiny], shift[tiny], beta)
        residual[tiny] = _kkt_residual(get_divergence("chi2"), gap, log_q[tiny], log_policy[tiny], policy[tiny],
                                       z[tiny], shift[tiny] / beta)
    # λ = β·Z + r_pivot, formed from the pivot so that it keeps its digits when |max r| ≫ |λ|.
    return log_policy, policy, beta * z + shift, residual, passes


def _centred_and_reference(rewards, shift, beta, log_q, centred, q, blocks, z):
    """One blocked pass that writes (r − shift)/β into ``centred`` and q = e^{log q} into ``q``
    (shape (B, K)) and takes the sums of :func:`_chi2_sums` at ``z`` on each block while it
    is in cache; returns per row, shapes (B,): Σ q, min log q, and (W, Σ_A q·a)."""
    count = rewards.shape[0]
    mass = np.zeros(count)
    smallest = np.full(count, np.inf)
    weight = np.zeros(count)
    moment = np.zeros(count)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for (rows, columns), active in zip(blocks, _scratch(rewards.shape, blocks, 1)[0]):
            block, block_q = _setup_block(rewards, shift, beta, log_q, centred, q, rows, columns, mass, smallest,
                                          from_shift=False)
            _add_chi2_sums(block, block_q, z[rows], active, weight, moment, rows)
    return mass, smallest, (weight, moment)


def _chi2_sums(centred, q, z, blocks):
    """W = Σ_A q and Σ_A q·a on the active set A = {a − Z > −2} at Z, shapes (B,), as two
    dot products with the indicator of A."""
    count = centred.shape[0]
    weight = np.zeros(count)
    moment = np.zeros(count)
    for (rows, columns), active in zip(blocks, _scratch(centred.shape, blocks, 1)[0]):
        _add_chi2_sums(centred[rows, columns], q[rows, columns], z[rows], active, weight, moment, rows)
    return weight, moment


def _add_chi2_sums(centred, q, z, active, weight, moment, rows):
    """Adds one block's W and Σ_A q·a (``active``: a scratch array of the block's shape)."""
    np.copyto(active, centred > (z - 2.0)[:, None])
    weight[rows] += _row_dot(q, active)
    active *= q
    moment[rows] += _row_dot(active, centred)


def _chi2_newton(centred, q, z, lowest, blocks, sums=None):
    """Newton's steps Z⁺ = (2(W − 1) + Σ_A q·a)/W from ``z`` to the fixed point (see
    :func:`_solve_chi2`), shape (B,); returns (Z, passes). ``sums``, when given, are the
    sums at ``z`` (taken by the caller's pass). A start with no active response restarts from
    min a (everything active); after the first step to the right, a step back to the left can
    only be rounding at the fixed point, and ends the iteration there."""
    moved_right = np.zeros(z.shape, dtype=bool)
    passes = 0
    for _ in range(centred.shape[-1] + 3):
        if sums is None:
            passes += 1
            weight, moment = _chi2_sums(centred, q, z, blocks)
        else:
            (weight, moment), sums = sums, None
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (2.0 * (weight - 1.0) + moment) / weight
        step = np.where(weight > 0, step, lowest)
        stalled = moved_right & (step < z)
        done = (step == z) | stalled
        if done.all():
            return np.where(stalled, step, z), passes
        moved_right |= step > z
        z = np.where(done, z, step)
    raise RuntimeError("chi2: the active-set iteration did not settle; please report this input")


def _chi2_warm_start(centred_at, log_q, lowest):
    """A starting Z: the fixed point for a spread subsample of the responses (reweighted as in
    :func:`_warm_start`), when K is large; else Prop 1's t1 = min a (shapes (B,)).
    ``centred_at(columns)`` gives a − a_pivot at those columns, shape (B, len(columns))."""
    k = log_q.shape[-1]
    if k <= 4 * _SUBSAMPLE:
        return lowest.copy()
    columns = _subsample_columns(k, _SUBSAMPLE)
    sub_centred = centred_at(columns)
    sub_q = np.exp(log_q[:, columns] + np.log(k / columns.size))
    start = sub_centred.min(axis=-1)
    z, _ = _chi2_newton(sub_centred, sub_q, start, start, list(_blocks(sub_centred.shape)))
    return z


def _chi2_final_pass(centred, q, log_q, z, offset, blocks):
    """π = q·max(0, 1 + (a − Z)/2) written over ``q`` and log π = log q + log max(0, ·) over
    ``centred`` (a measured from the pivot), block by block, with the certificate of what was
    written. Returns (Σπ, max scaled KKT violation), shapes (B,).

    With u = a − Z + 2 and ρ = π/q, the KKT conditions of f(ρ) = (ρ − 1)² are stationarity
    u = 2ρ where π > 0 and complementary slackness u ≤ 0 where π = 0; both read
    max(u, 0) − 2ρ = 0, whose size is scaled by 1 + |a| + |Z| (module doc), a = offset + centred.
    """
    count = centred.shape[0]
    scale_offset = 1.0 + np.abs(z + offset)
    mass = np.zeros(count)
    worst = np.zeros(count)
    work = zip(*_scratch(centred.shape, blocks, 3))
    with np.errstate(divide="ignore", under="ignore", invalid="ignore"):
        for (rows, columns), (doubled, slack, policy) in zip(blocks, work):
            block_centred = centred[rows, columns]
            block = q[rows, columns]
            np.subtract(block_centred, (z[rows] - 2.0)[:, None], out=doubled)  # u
            np.maximum(doubled, 0.0, out=doubled)
            np.multiply(doubled, 0.5, out=slack)
            np.multiply(block, slack, out=policy)
            violation = np.divide(policy, block, out=block)  # ρ
            violation *= 2.0
            np.subtract(doubled, violation, out=violation)
            np.abs(violation, out=violation)
            scale = np.add(block_centred, offset[rows, None], out=doubled)
            np.abs(scale, out=scale)
            scale += scale_offset[rows, None]
            violation /= scale
            worst[rows] = np.maximum(worst[rows], violation.max(axis=-1))
            block[...] = policy
            mass[rows] += policy.sum(axis=-1)
            np.log(slack, out=block_centred)
            block_centred += log_q[rows, columns]
    return mass, worst


def _solve_tv(gap, log_q):
    """Exact optimum of Σπa − Σ|π − q|/2 (rewards in units of β) over the simplex.

    Moving mass δ from y to a best response gains δ·(a* − a(y)) and costs δ (δ/2 at each
    end), so every response more than 1 below a* = max a (Δ > 1) gives up all its mass, and
    the rest keep theirs. The dual optimum is Z = a* − 1/2 (the multiplier in units of β),
    −1/2 measured from a*.
    """
    at_top = gap == 0.0
    drop = gap > 1.0
    log_moved = logsumexp(np.where(drop, log_q, -np.inf), axis=-1, keepdims=True)
    log_top_mass = logsumexp(np.where(at_top, log_q, -np.inf), axis=-1, keepdims=True)
    # Best responses: q·(Σ_top q + moved)/Σ_top q, in log space.
    boost = np.logaddexp(log_top_mass, log_moved) - log_top_mass
    log_policy = np.where(drop, -np.inf, np.where(at_top, log_q + boost, log_q))
    return log_policy, np.full(gap.shape[0], -0.5)


def _kkt_residual(div: Divergence, gap, log_q, log_policy, policy, z, offset):
    """Scaled KKT violation of the returned policy (module doc), shape (B,), in blocks.

    ``gap`` = Δ = (shift − r)/β and ``z`` are measured from ``offset`` = shift/β, for any
    per-row shift (max r, or the reward of a response that carries mass).
    """
    feasibility = np.abs(policy.sum(axis=-1) - 1.0)
    worst = np.zeros(gap.shape[0])
    zeros_possible = not div.barrier
    for rows, columns in _blocks(gap.shape):
        worst[rows] = np.maximum(worst[rows], _block_violation(
            div, gap[rows, columns], log_q[rows, columns], log_policy[rows, columns], z[rows], offset[rows],
            zeros_possible=zeros_possible))
    return np.maximum(feasibility, worst)


def _block_violation(div: Divergence, gap, log_q, log_policy, z, offset, *, zeros_possible):
    """max_y |a − Z − f'(π/q)| / (1 + |a| + |Z|) over one block, shape (b, k) -> (b,).

    ``gap`` = Δ = (shift − r)/β and ``z`` (shape (b,)) are measured from ``offset`` =
    shift/β, so a − Z = −Δ − z; the scale uses the unshifted sizes |r/β| and |λ/β| of the terms
    that stationarity cancels. Where π = 0 (only when ``zeros_possible``: chi2, tv) the
    condition is complementary slackness instead, and tv uses its sub-gradient.
    """
    z = z[:, None]
    offset = offset[:, None]
    scale = np.subtract(offset, gap)
    np.abs(scale, out=scale)
    scale += 1.0 + np.abs(z + offset)
    if div.name == "tv":
        excess = -gap - z  # a − Z, which stationarity equates with f'(π/q)
        zero = np.isneginf(log_policy)
        ratio_gt_one = log_policy > log_q
        # ∂f(ρ) is {1/2} for ρ > 1, [−1/2, 1/2] at ρ = 1, (−∞, −1/2] at ρ = 0 (with μ ≥ 0).
        violation = np.where(
            ratio_gt_one,
            np.abs(excess - 0.5),
            np.where(zero, np.maximum(excess + 0.5, 0.0), np.maximum(np.abs(excess) - 0.5, 0.0)),
        )
    elif zeros_possible and np.isneginf(log_policy).any():
        excess = -gap - z
        zero = np.isneginf(log_policy)
        log_ratio = np.where(zero, 0.0, log_policy - log_q)
        stationarity = np.abs(excess - div.f_prime_of_log(log_ratio))
        # Where π = 0 (chi2 only) complementary slackness needs a − Z ≤ f'(0+).
        violation = np.where(zero, np.maximum(excess - div.f_prime_at_zero, 0.0), stationarity)
    else:
        # |f'(π/q) + Δ + z| = |a − Z − f'(π/q)|, in place.
        violation = div.f_prime_of_log(np.subtract(log_policy, log_q))
        violation += gap
        violation += z
        np.abs(violation, out=violation)
    violation /= scale
    return violation.max(axis=-1)
