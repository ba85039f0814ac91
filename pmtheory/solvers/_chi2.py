"""The chi2 solver of :mod:`pmtheory.solvers` (not a barrier): an exact active-set Newton.

π(y) = q(y)·max(0, 1 + (a(y) − Z)/2); Z by Newton on the convex, piecewise-linear
normalizer, which solves each linear piece exactly and stops on the exact breakpoint
solution in finitely many steps.

Shape letters: ``K`` responses, ``B`` rows (the flattened batch). "The module doc" below is
that of :mod:`pmtheory.solvers` (its tolerances and the KKT residual's scaling).
Sources: seed 004 (MOD), Lemma 1 / eq 3 (the optimum π = q·(f')⁻¹(r/β − Z)) and Prop 1 (its
t1 = min a as the start); seed 001 (PMR), §5.2.
"""

from __future__ import annotations

import numpy as np

from pmtheory._validation import check_log_normalization
from pmtheory.divergences import get_divergence
from pmtheory.solvers._common import (
    _LINEAR_FLOOR,
    _SUBSAMPLE,
    SolverError,
    _blocks,
    _Inputs,
    _kkt_residual,
    _row_argmax,
    _row_dot,
    _row_max,
    _row_sum,
    _scaled_gap,
    _scratch,
    _setup_block,
    _subsample_columns,
)

# A row whose certificate exceeds this after the solve from the largest-q pivot is solved
# again from the best response (see _solve_chi2); the enforced certificate of optimal_policy
# starts at 1e-9, and exact solves reach 1e-12.
_RETRY_RESIDUAL = 1e-10


def _solve_chi2(inputs: _Inputs, pivot=None):
    """Exact active-set solve of Σ q·max(0, 1 + (a − Z)/2) = 1, a = r/β (shifted below).

    φ(Z) = Σ q·max(0, 1 + (a − Z)/2) − 1 is convex, decreasing and piecewise linear, so
    Newton's step solves the current linear piece exactly: on the active set A at Z,
    Z⁺ = (2(W − 1) + Σ_A q·a)/W with W = Σ_A q. From the left of the root (φ ≥ 0) the steps
    increase monotonically, the active set only shrinks, and they stop on the exact
    breakpoint solution (Z⁺ = Z) after at most K steps; a start on the right takes one step
    to the left first. The start is the root for a subsample of the responses when K is
    large (:func:`_chi2_warm_start`), else Prop 1's t1 = min a, where every response is
    active. Each step is one blocked pass (a comparison, a sum and a dot product).

    Rewards are measured from a pivot, the response with the largest q (in the rows where it
    ends inactive, re-chosen among the active ones and those rows solved again from there), so
    that the terms that dominate W enter with small |a| and the slack 1 + (a − Z)/2 is not a
    difference of two large numbers. ``inputs`` from :func:`_prepare` (its deferred check of
    log_reference is made in the first pass here). Returns (log π, π, λ, residual, passes),
    ``passes`` counting the Newton passes and the final one.

    When r/β spans more than float64 resolves (spread ≳ 2^53 in units of 2β), the largest-q
    pivot can be inactive with the slack of the best response below the resolution of its
    own a − a_pivot, and the solve loses the active set. Rows whose certificate then exceeds
    ``_RETRY_RESIDUAL`` are solved again (``pivot``, shape (B,), given for those calls) with
    the pivot at the response with the largest single-response lower bound on Z,
    a_y + 2 − 2/q_y (the one that carries the mass when r/β is extreme: its slack is then not
    a difference of two large numbers), then, if still failing, at the best response; each
    time the answer with the smaller certificate is kept.
    """
    rewards, log_q, beta = inputs.rewards, inputs.log_q, inputs.beta
    count = rewards.shape[0]
    blocks = list(_blocks(rewards.shape))
    rows = np.arange(count)
    # The two outputs serve as work arrays until the final pass: log π holds a − a_pivot,
    # π holds q.
    centred = np.empty_like(rewards)
    q = np.empty_like(rewards)
    retry = pivot is None
    pivot = _row_argmax(log_q)[0] if pivot is None else pivot
    shift = rewards[rows, pivot]
    lowest = (inputs.lowest - shift) / beta  # min a, measured from the pivot
    z = _chi2_warm_start(lambda columns: (rewards[:, columns] - shift[:, None]) / beta, log_q, lowest)
    # The first pass writes a − a_pivot and q, checks the reference, and takes the sums of
    # the first Newton step at the warm start.
    mass, smallest, sums = _centred_and_reference(rewards, shift, beta, log_q, centred, q, blocks, z)
    if inputs.unchecked is not None:
        check_log_normalization(inputs.unchecked, "log_reference", mass, float(smallest.min()))
    z, steps = _chi2_newton(centred, q, z, lowest, blocks, sums)
    mass, worst = _chi2_final_pass(centred, q, log_q, z, blocks)
    passes = steps + 1
    log_policy, policy = centred, q  # overwritten by the final pass
    again = np.flatnonzero(np.isneginf(log_policy[rows, pivot]))
    if again.size:
        # The pivot ended inactive in these rows: re-centre them on their largest active q and
        # solve them again from the same Z (measured from the new pivot); the certificate
        # judges the second solve. (The other rows would repeat their solve to the last bit.)
        new_pivot = np.argmax(np.where(np.isneginf(log_policy[again]), -np.inf, log_q[again]), axis=-1)
        new_shift = rewards[again, new_pivot]
        moved = (shift[again] - new_shift) / beta
        sub_rewards, sub_log_q = rewards[again], log_q[again]
        sub_centred, sub_q = np.empty_like(sub_rewards), np.empty_like(sub_rewards)
        sub_blocks = list(_blocks(sub_rewards.shape))
        sub_z, sub_lowest = z[again] + moved, lowest[again] + moved
        _, _, sums = _centred_and_reference(sub_rewards, new_shift, beta, sub_log_q, sub_centred, sub_q, sub_blocks,
                                            sub_z)
        sub_z, steps = _chi2_newton(sub_centred, sub_q, sub_z, sub_lowest, sub_blocks, sums)
        mass[again], worst[again] = _chi2_final_pass(sub_centred, sub_q, sub_log_q, sub_z, sub_blocks)
        passes += steps + 1
        log_policy[again], policy[again] = sub_centred, sub_q
        z[again], lowest[again], shift[again] = sub_z, sub_lowest, new_shift
    residual = np.maximum(np.abs(mass - 1.0), worst)
    if not smallest.min() >= -_LINEAR_FLOOR:
        # q underflows in linear space: certify those rows from log π and log q instead.
        tiny = np.flatnonzero(smallest < -_LINEAR_FLOOR)
        # The final pass formed π = q·slack with q = e^{log q} subnormal or 0 there, so an
        # entry whose π is in float range came out 0 or with lost digits (log q = −788 and
        # slack e^{595}: π = 0 for log π = −193.5); π = e^{log π} is right to its rounding.
        with np.errstate(under="ignore"):
            policy[tiny] = np.exp(log_policy[tiny])
        gap = _scaled_gap(rewards[tiny], shift[tiny], beta)
        residual[tiny] = _kkt_residual(get_divergence("chi2"), gap, log_q[tiny], log_policy[tiny], policy[tiny],
                                       z[tiny])
    multiplier = beta * z + shift  # formed from the pivot: keeps its digits when |max r| ≫ |λ|
    for candidate in ("single-response bound", "best r") if retry else ():
        again = np.flatnonzero(~(residual <= _RETRY_RESIDUAL))
        if not again.size:
            break
        subset = inputs._replace(
            rewards=np.ascontiguousarray(rewards[again]), log_q=np.ascontiguousarray(log_q[again]),
            unchecked=None, first=inputs.first[again], best=inputs.best[again], lowest=inputs.lowest[again])
        if candidate == "best r":
            new_pivot = subset.first
        else:
            # argmax_y (a_y − 2/q_y): each term of Σπ = 1 is at most 1, so Z ≥ a_y + 2 − 2/q_y for
            # every y, and the y with the largest such bound carries the mass when r/β is extreme.
            with np.errstate(over="ignore", invalid="ignore"):
                bound = (subset.rewards - subset.best[:, None]) / beta - 2.0 * np.exp(-subset.log_q)
            new_pivot = np.argmax(np.where(np.isnan(bound), -np.inf, bound), axis=-1)
        sub_log, sub_policy, sub_multiplier, sub_residual, sub_passes = _solve_chi2(subset, pivot=new_pivot)
        better = ~(sub_residual >= residual[again])  # a NaN certificate is replaced too
        keep = again[better]
        log_policy[keep], policy[keep] = sub_log[better], sub_policy[better]
        multiplier[keep], residual[keep] = sub_multiplier[better], sub_residual[better]
        passes += sub_passes
    for row in np.flatnonzero(~(residual <= _RETRY_RESIDUAL)) if retry else ():
        row_log, row_policy, row_multiplier, row_residual = _chi2_sorted(rewards[row], log_q[row], beta)
        if not row_residual >= residual[row]:
            log_policy[row], policy[row], multiplier[row], residual[row] = (
                row_log, row_policy, row_multiplier, row_residual)
    return log_policy, policy, multiplier, residual, passes


def _chi2_sorted(rewards, log_q, beta):
    """The last resort for one row (shapes (K,)) that every pivot above failed: the active set
    is a top set of a = r/β (the slack 1 + (a − Z)/2 increases with a), so it is found by
    sorting. With the responses ranked by r (a_1 ≥ a_2 ≥ ...) and the m best active,
    Z_m = a_1 + 2 − 2/W_m − Σ_{i≤m} q_i(a_1 − a_i)/W_m (W_m = Σ_{i≤m} q_i), so that
    2 + a_m − Z_m = (2 − S_m)/W_m with S_j = Σ_{i<j} q_i (a_i − a_j): the answer is the
    largest m with S_m < 2 (then S_{m+1} ≥ 2 leaves the next response inactive). S_j is
    non-decreasing in j, a sum of non-negative terms S_{j+1} = S_j + W_j·(a_j − a_{j+1}), so
    the active set {j : S_j < 2} is found without a difference of large numbers; the ranking
    and the steps a_j − a_{j+1} are taken from r itself (a measured from the best response
    rounds responses whose rewards differ far below max r into false ties). The sums are in
    log space (q may be below float range), and Z and π are re-formed from the likeliest
    active response, as in :func:`_solve_chi2` (Newton's intermediate active sets, whose Z can
    be unresolvable next to a, are never formed). Returns (log π, π, λ, residual);
    O(K log K)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        order = np.argsort(-rewards, kind="stable")
        log_weight = np.logaddexp.accumulate(log_q[order])  # log W_m
        ranked = rewards[order]
        steps = (ranked[:-1] - ranked[1:]) / beta  # a_j − a_{j+1} ≥ 0
        log_s = np.concatenate([[-np.inf], np.logaddexp.accumulate(log_weight[:-1] + np.log(steps))])
    m = max(1, int(np.count_nonzero(log_s < np.log(2.0))))  # log S_j: non-decreasing in j
    active = order[:m]
    pivot = int(active[np.argmax(log_q[active])])
    shift = rewards[pivot]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        from_pivot = (rewards - shift) / beta  # a − a_p
        terms = log_q[active] + np.log(np.abs(from_pivot[active]))
        up = np.logaddexp.reduce(np.where(from_pivot[active] > 0, terms, -np.inf))
        down = np.logaddexp.reduce(np.where(from_pivot[active] < 0, terms, -np.inf))
        log_w = log_weight[m - 1]
        z_pivot = 2.0 - 2.0 * np.exp(-log_w) + np.exp(up - log_w) - np.exp(down - log_w)
        slack = np.zeros_like(log_q)
        slack[active] = np.maximum(1.0 + (from_pivot[active] - z_pivot) / 2.0, 0.0)
        log_policy = log_q + np.log(slack)
    policy = np.exp(log_policy)
    residual = _kkt_residual(get_divergence("chi2"), _scaled_gap(rewards[None], np.array([shift]), beta), log_q[None],
                             log_policy[None], policy[None], np.array([z_pivot]))[0]
    return log_policy, policy, beta * z_pivot + shift, residual

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
    only be rounding at the fixed point, and ends the iteration there. Rows that have settled
    leave later passes: the work arrays are cut down to the rows still stepping once those are
    half of the arrays' rows or fewer (as in :class:`pmtheory.solvers._barrier._RootState`)."""
    z = z.copy()
    moved_right = np.zeros(z.shape, dtype=bool)
    current = np.arange(z.size)  # the rows of ``centred`` and ``q``
    pending = current  # the positions in ``current`` of rows still stepping
    passes = 0
    for _ in range(centred.shape[-1] + 3):
        index = current[pending]
        if sums is None:
            passes += 1
            weight, moment = (part[pending] for part in _chi2_sums(centred, q, z[current], blocks))
        else:
            (weight, moment), sums = sums, None
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (2.0 * (weight - 1.0) + moment) / weight
        step = np.where(weight > 0, step, lowest[index])
        at = z[index]
        stalled = moved_right[index] & (step < at)
        done = (step == at) | stalled
        moved_right[index] |= step > at
        z[index] = np.where(done & ~stalled, at, step)
        if done.all():
            return z, passes
        pending = pending[~done]
        if 2 * pending.size <= current.size:
            centred, q = centred[pending], q[pending]
            current, pending = current[pending], np.arange(pending.size)
            blocks = list(_blocks(centred.shape))
    raise SolverError(f"chi2: the active-set iteration did not settle in {centred.shape[-1] + 3} steps; "
                      "rescale the rewards or β, or check the inputs for extreme scales")


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


def _chi2_final_pass(centred, q, log_q, z, blocks):
    """π = q·max(0, 1 + (a − Z)/2) written over ``q`` and log π = log q + log max(0, ·) over
    ``centred`` (a measured from the pivot), block by block, with the certificate of what was
    written. Returns (Σπ, max scaled KKT violation), shapes (B,).

    With u = a − Z + 2 and ρ = π/q, the KKT conditions of f(ρ) = (ρ − 1)² are stationarity
    u = 2ρ where π > 0 and complementary slackness u ≤ 0 where π = 0; both read
    max(u, 0) − 2ρ = 0, whose size is scaled by 1 + max(|a − Z|, |f'(ρ)|) = 1 + max(|u − 2|,
    |2ρ − 2|) (module doc).
    """
    count = centred.shape[0]
    mass = np.zeros(count)
    worst = np.zeros(count)
    work = zip(*_scratch(centred.shape, blocks, 4))
    with np.errstate(divide="ignore", under="ignore", invalid="ignore"):
        for (rows, columns), (doubled, slack, policy, scale) in zip(blocks, work):
            block_centred = centred[rows, columns]
            block = q[rows, columns]
            np.subtract(block_centred, (z[rows] - 2.0)[:, None], out=doubled)  # u
            np.maximum(doubled, 0.0, out=doubled)
            np.multiply(doubled, 0.5, out=slack)
            np.multiply(block, slack, out=policy)
            ratio = np.divide(policy, block, out=block)  # ρ, over q
            ratio *= 2.0
            np.subtract(block_centred, z[rows, None], out=scale)  # a − Z
            np.abs(scale, out=scale)
            np.subtract(doubled, ratio, out=doubled)  # max(u, 0) − 2ρ
            ratio -= 2.0  # f'(ρ) = 2ρ − 2
            np.maximum(scale, np.abs(ratio, out=ratio), out=scale)
            scale += 1.0
            violation = np.abs(doubled, out=doubled)
            violation /= scale
            worst[rows] = np.maximum(worst[rows], _row_max(violation))
            block[...] = policy
            mass[rows] += _row_sum(policy)
            np.log(slack, out=block_centred)
            block_centred += log_q[rows, columns]
    return mass, worst
