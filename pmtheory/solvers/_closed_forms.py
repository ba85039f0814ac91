"""The closed forms of :mod:`pmtheory.solvers`: reverse KL and tv.

- ``reverse_kl``: closed form in log space, ``log π = log q + r/β − logsumexp(log q + r/β)``.
- ``tv``: a linear program with the exact solution below (see :func:`_solve_tv`).

Shape letters: ``K`` responses, ``B`` rows (the flattened batch). "The module doc" below is
that of :mod:`pmtheory.solvers` (its tolerances and the KKT residual's scaling).
Sources: seed 001 (PMR), Prop 5.1 / eq 5.1 (reverse KL) and §5.2 (f-divergence RLHF).
"""

from __future__ import annotations

import numpy as np

from pmtheory._validation import check_log_normalization, logsumexp
from pmtheory.divergences import get_divergence
from pmtheory.solvers._common import (
    _LINEAR_FLOOR,
    _TINY,
    _blocks,
    _Inputs,
    _kkt_residual,
    _row_dot,
    _row_max,
    _row_min_below,
    _row_sum,
    _scaled_gap,
    _scratch,
    _setup_block,
)
from pmtheory.solvers._kernel import reverse_kl_passes

# The logits of reverse KL are measured from max r unless the most likely response lies more
# than this many units of β below it: the extra rounding of its logit is then at most this
# many ulps, as small as the rounding that log q ≈ −log K already brings.
_PIVOT_SHIFT = 16.0
# Σ e^x is summed without a shift when max x (≤ 0) is at least this: the sum is then
# ≥ e^-600, and the entries that underflow (each below 5e-324) cannot change its digits.
_UNSHIFTED_FLOOR = -600.0


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
    passes = reverse_kl_passes(rewards, log_q)
    if passes is not None:
        return _solve_reverse_kl_fused(inputs, passes)
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
    recentred = _recentred_shift(rewards, best, beta, peak, log_policy)
    if recentred is not None:
        shift = recentred
        log_norm, _ = _shifted_logits(rewards, shift, beta, log_q, log_policy, policy, blocks)
    # f'(t) = log t + 1, so a − Z = log(π/q) + 1 gives Z = log_norm − 1 from the shift.
    z = log_norm - 1.0
    # Stationarity residual f'(π/q) − (a − Z) = log π − log q + w with w = (shift − r)/β +
    # log_norm (a − Z = 1 − w), the reward difference taken first: forming shift + β·log_norm
    # would round log_norm to the ulp of the shift (2.4e-7 at a common offset of 2^30). Its scale
    # is 1 + max(|a − Z|, |f'(π/q)|) (module doc), which no common reward offset changes.
    mass = np.zeros(count)
    worst = np.zeros(count)
    # π = e^x·e^-L (more accurate than e^(x − L) once |x − L| ≫ 1), except in rows where
    # some e^x has fallen below the normal range and e^-L > 1 would scale up its few digits.
    with np.errstate(over="ignore"):  # e^-L = inf only where every e^x is below e^-709: exp path
        factor = np.exp(-log_norm)
    violations, scales, slopes = _scratch(rewards.shape, blocks, 3)
    with np.errstate(invalid="ignore"):  # a −inf input makes the certificate NaN (optimal_policy)
        for (block_rows, columns), violation, scale, slope in zip(blocks, violations, scales, slopes):
            logits = log_policy[block_rows, columns]
            logits -= log_norm[block_rows, None]
            block = policy[block_rows, columns]
            # Decided row by row (not block by block), so that a row's π never depends on its batch.
            by_exp = (_row_min_below(block, _TINY) < _TINY) & (factor[block_rows] > 1.0)
            block *= factor[block_rows, None]
            if by_exp.any():
                tiny = np.flatnonzero(by_exp)
                block[tiny] = np.exp(logits[tiny])
            mass[block_rows] += _row_sum(block)
            np.subtract(shift[block_rows, None], rewards[block_rows, columns], out=violation)
            if beta != 1.0:
                violation /= beta
            violation += log_norm[block_rows, None]  # w
            np.subtract(1.0, violation, out=scale)  # a − Z
            np.abs(scale, out=scale)
            np.subtract(logits, log_q[block_rows, columns], out=slope)  # log(π/q)
            violation += slope  # f'(π/q) − (a − Z)
            slope += 1.0  # f'(π/q)
            np.abs(slope, out=slope)
            np.maximum(scale, slope, out=scale)
            scale += 1.0
            np.abs(violation, out=violation)
            violation /= scale
            worst[block_rows] = np.maximum(worst[block_rows], _row_max(violation))
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
                reference_mass[rows] += _row_sum(np.exp(block_q))
            np.subtract(rewards[rows, columns], shift[rows, None], out=logits)
            if beta != 1.0:
                logits /= beta
            logits += block_q
            peak[rows] = np.maximum(peak[rows], _row_max(logits))
            total[rows] += _row_sum(np.exp(logits, out=exp_out[rows, columns]))
    return _log_normalizer(total, peak, out), peak


def _log_normalizer(total, peak, logits):
    """log Σ e^x per row from the unshifted Σ e^x (``total``) and max x (``peak``), shapes (B,),
    summed again from the maximum in the rows where ``peak`` < ``_UNSHIFTED_FLOOR`` (see
    :func:`_shifted_logits`); ``logits`` is x, shape (B, K)."""
    with np.errstate(divide="ignore"):
        log_norm = np.log(total)
    low = ~(peak >= _UNSHIFTED_FLOOR)
    if low.any():
        log_norm[low] = logsumexp(logits[low], axis=-1)
    return log_norm


def _recentred_shift(rewards, best, beta, peak, logits):
    """The per-row shift of reverse KL's logits (see :func:`_solve_reverse_kl`), shape (B,), or
    None where every row keeps max r. The pivot p (the argmax of the logits x = log q − Δ,
    shape (B, K), with maxima ``peak``) has Δ_p = log q_p − max x ≤ −max x, so only rows with
    max x < −_PIVOT_SHIFT can need it."""
    far = np.flatnonzero(peak < -_PIVOT_SHIFT)
    if not far.size:
        return None
    pivot = np.argmax(logits[far], axis=-1)
    pivot_reward = rewards[far, pivot]
    recentre = (best[far] - pivot_reward) / beta > _PIVOT_SHIFT
    if not recentre.any():
        return None
    shift = best.copy()
    shift[far[recentre]] = pivot_reward[recentre]
    return shift


def _solve_reverse_kl_fused(inputs: _Inputs, passes):
    """:func:`_solve_reverse_kl` with its two passes fused in the compiled kernel
    (:mod:`pmtheory.solvers._kernel`): the same logits, shift, pivot, log normalizer and
    certificate, each row's π written as e^x·e^{−L}, or as e^{x − L} in a row where some e^x is
    below ``_TINY`` and e^{−L} > 1."""
    rewards, beta, best, unchecked = inputs.rewards, inputs.beta, inputs.best, inputs.unchecked
    log_policy = np.empty(rewards.shape)
    policy = np.empty(rewards.shape)
    peak, total, mass, least = passes.logits(best, beta, unchecked is not None, log_policy, policy)
    if unchecked is not None:
        check_log_normalization(unchecked, "log_reference", mass, None)
    shift = _recentred_shift(rewards, best, beta, peak, log_policy)
    if shift is None:
        shift = best
    else:
        peak, total, _, least = passes.logits(shift, beta, False, log_policy, policy)
    log_norm = _log_normalizer(total, peak, log_policy)
    with np.errstate(over="ignore"):  # as in _solve_reverse_kl
        by_exp = (least < _TINY) & (np.exp(-log_norm) > 1.0)
    mass, worst = passes.policy(shift, beta, log_norm, by_exp, log_policy, policy)
    z = log_norm - 1.0
    return log_policy, policy, beta * z + shift, np.maximum(np.abs(mass - 1.0), worst)


def _solve_tv(inputs: _Inputs):
    """Exact optimum of Σπa − Σ|π − q|/2 (rewards in units of β) over the simplex.

    Moving mass δ from y to a best response gains δ·(a* − a(y)) and costs δ (δ/2 at each
    end), so every response more than 1 below a* = max a (Δ > 1) gives up all its mass M, and
    the rest keep theirs; the best responses share M in proportion to q, each scaled by
    1 + M/T with T their total reference mass. The dual optimum is Z = a* − 1/2 (the
    multiplier in units of β), −1/2 measured from a*.

    Two blocked passes in linear space: Δ and q with the sums M and T (and the deferred check
    of log_reference, see :func:`_prepare`); then log π, π and the certificate of what is
    written. Rows with a reference entry below e^-690, where q may underflow, are solved in
    log space (:func:`_solve_tv_log`). Returns (log π, π, Z, residual), shapes (B, K), (B, K),
    (B,), (B,).
    """
    rewards, log_q, beta, best = inputs.rewards, inputs.log_q, inputs.beta, inputs.best
    count = rewards.shape[0]
    blocks = list(_blocks(rewards.shape))
    log_policy = np.empty_like(rewards)  # Δ until the second pass
    policy = np.empty_like(rewards)  # q until the second pass
    moved, top, mass = np.zeros(count), np.zeros(count), np.zeros(count)
    smallest = np.full(count, np.inf)
    for rows, columns in blocks:
        gap, q = _setup_block(rewards, best, beta, log_q, log_policy, policy, rows, columns, mass, smallest,
                              from_shift=True)
        moved[rows] += _row_dot(q, gap > 1.0)
        top[rows] += _row_dot(q, gap == 0.0)
    if inputs.unchecked is not None:
        check_log_normalization(inputs.unchecked, "log_reference", mass, float(smallest.min()))
    z = np.full(count, -0.5)
    with np.errstate(divide="ignore", invalid="ignore"):  # rows with T = 0 are redone in log space
        share = moved / top
        log_boost = np.log1p(share)
    residual = np.zeros(count)
    for (rows, columns), saved_gap, violation in zip(blocks, *_scratch(rewards.shape, blocks, 2)):
        gap, q = log_policy[rows, columns], policy[rows, columns]
        block_log_q = log_q[rows, columns]
        at_top, drop = gap == 0.0, gap > 1.0
        np.copyto(saved_gap, gap)
        np.multiply(at_top, log_boost[rows, None], out=gap)
        gap += block_log_q
        np.copyto(gap, -np.inf, where=drop)
        np.multiply(at_top, share[rows, None], out=violation)
        violation += 1.0
        q *= violation
        np.copyto(q, 0.0, where=drop)
        residual[rows] = np.maximum(residual[rows], _tv_violation(saved_gap, block_log_q, gap, violation))
    residual = np.maximum(residual, np.abs(_row_sum(policy) - 1.0))
    far = np.flatnonzero(~(smallest >= -_LINEAR_FLOOR))
    if far.size:
        gap = _scaled_gap(rewards[far], best[far], beta)
        log_policy[far], z[far] = _solve_tv_log(gap, log_q[far])
        policy[far] = np.exp(log_policy[far])
        residual[far] = _kkt_residual(get_divergence("tv"), gap, log_q[far], log_policy[far], policy[far], z[far])
    return log_policy, policy, z, residual


def _tv_violation(gap, log_q, log_policy, work):
    """The scaled KKT violation of tv (module doc of :mod:`pmtheory.solvers`) of one block of
    a policy solved from the best reward, shape (b, k) -> (b,): with Z = a* − 1/2 and Δ ≥ 0,
    a − Z = 1/2 − Δ, so the sub-gradient conditions of :func:`_block_violation` read Δ = 0
    where π > q, Δ ≤ 1 where π = q, Δ = 1 where 0 < π < q and Δ ≥ 1 where π = 0, each
    violation scaled by 1 + max(|a − Z|, 1/2) = max(Δ, 1) + 1/2. ``work`` is a scratch
    array of the block's shape; ``gap`` (Δ) is overwritten."""
    above = log_policy > log_q
    below = log_policy < log_q
    zero = np.isneginf(log_policy)
    excess = np.subtract(gap, 1.0, out=work)  # Δ − 1
    violation = np.where(above, gap, np.where(zero, np.maximum(-excess, 0.0),
                                              np.where(below, np.abs(excess), np.maximum(excess, 0.0))))
    np.maximum(gap, 1.0, out=gap)
    gap += 0.5
    violation /= gap
    return _row_max(violation)


def _solve_tv_log(gap, log_q):
    """:func:`_solve_tv` in log space, for rows with references below float range: Δ = gap,
    shape (b, K), -> (log π, Z)."""
    at_top = gap == 0.0
    drop = gap > 1.0
    log_moved = logsumexp(np.where(drop, log_q, -np.inf), axis=-1, keepdims=True)
    log_top_mass = logsumexp(np.where(at_top, log_q, -np.inf), axis=-1, keepdims=True)
    # Best responses: q·(Σ_top q + moved)/Σ_top q, in log space.
    boost = np.logaddexp(log_top_mass, log_moved) - log_top_mass
    log_policy = np.where(drop, -np.inf, np.where(at_top, log_q + boost, log_q))
    return log_policy, np.full(gap.shape[0], -0.5)
