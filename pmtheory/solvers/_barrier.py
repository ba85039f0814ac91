"""The barrier divergences of :mod:`pmtheory.solvers` (sup f' = S < ∞: ``forward_kl``, ``js``,
``alpha:<a>``, ``hellinger``): a safeguarded Halley iteration on the normalizer.

With a = r/β, a* = max a and Δ = a* − a ≥ 0, stationarity reads π(y) = q(y)·h(Δ(y) + d)
where h(D) = (f')⁻¹(S − D) and d = S − a* + Z > 0 is the one unknown.
``F(ℓ) = log Σ_y q(y) h(Δ(y) + e^ℓ)`` is strictly decreasing in ℓ = log d; a safeguarded
Halley iteration on ``F(ℓ) = 0`` (cubic; Newton's in log space) runs vectorized over the
batch inside the bracket ``[ℓ_lo, ℓ_hi]``: ``ℓ_hi = log(S − f'(1))`` is MOD Prop 1's t2, and
``ℓ_lo`` is the larger of Prop 1's t1 and the bound from one best response alone
(q*·h(d) ≤ 1). The iterations stop when log Σπ is within ``_ROOT_TOLERANCE``·(1 + log2 K)
of 0, the rounding of the sum itself (or when the bracket has collapsed to adjacent floats,
and the policy is then renormalized).

From K = 16 up, forward KL, JS, Hellinger and alpha:0.5 evaluate F and make the final pass in
the optional compiled kernel where it is built (:mod:`pmtheory.solvers._kernel`; the numpy
passes here are its reference), with the same iteration around it.

Shape letters: ``K`` responses, ``B`` rows (the flattened batch). "The module doc" below is
that of :mod:`pmtheory.solvers` (its tolerances and the KKT residual's scaling).
Sources: seed 004 (MOD), Lemma 1 / eq 3 (the optimum π = q·(f')⁻¹(r/β − Z)) and Prop 1 (the
bracket [t1, t2] for the normalizer Z, used here as the root-finding bracket); seed 001
(PMR), §5.2.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pmtheory._validation import check_log_normalization, logsumexp
from pmtheory.divergences import Divergence
from pmtheory.solvers._common import (
    _LINEAR_FLOOR,
    _SUBSAMPLE,
    _TINY,
    SolverError,
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
    _subsample_columns,
)
from pmtheory.solvers._kernel import barrier_passes

# The Newton iterations stop once |log Σπ| is below 8 ulps of 1.0 times (1 + log2 K): the
# accuracy to which a blocked pairwise sum of K positive terms (relative error ≲ eps·log2 K)
# and its log can be evaluated in float64. Asking for less than that rounding noise only
# buys extra passes that cannot improve the answer.
_ROOT_TOLERANCE = 8.0 * np.finfo(np.float64).eps
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
# Enough safeguarded steps to bisect any float64 bracket to adjacent floats (≈ 64 halvings of
# the exponent plus 53 of the mantissa), with room to spare; Newton normally needs < 10.
_MAX_ITERATIONS = 200


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
    # h(Δ + d) ≤ h(d_lo) = 1/Σ_top q stays finite, so nothing overflows at any iterate. The
    # choice is made row by row: a batch with rows on both sides is split in two.
    far = ~(smallest >= -_LINEAR_FLOOR)
    if far.any() and not far.all():
        return _solve_split(div, inputs, far)
    if far.any():
        ell, passes, _ = _find_root(_log_evaluator(div, gap, gap == 0.0, log_q), ell, lower, upper, tolerance)
        log_policy = _assemble_barrier_policy(div, gap, gap == 0.0, log_q, ell)
        policy = np.exp(log_policy)
        z = np.exp(ell) - div.sup_f_prime  # d = S − max a + Z with max a = 0
        return log_policy, policy, z, _kkt_residual(div, gap, log_q, log_policy, policy, z), passes
    state = _RootState(ell, lower, upper)
    passes = 1 + state.iterate(div, np.arange(count), gap, q, blocks, evaluation)
    passes += 1
    mass, smallest_policy, worst = _final_linear_pass(div, gap, q, state.ell, blocks)
    for _ in range(_MAX_ITERATIONS):
        with np.errstate(divide="ignore"):
            missed = np.flatnonzero((np.abs(np.log(mass)) > tolerance) & ~state.collapsed)
        if not missed.size:
            break
        # Σπ missed on these rows: form their Δ and q again (the final pass wrote over them),
        # iterate on them alone, and write their final pass over the earlier one.
        row_gap = _scaled_gap(rewards[missed], best[missed], beta)
        row_q = np.exp(log_q[missed])
        row_blocks = list(_blocks(row_gap.shape))
        evaluation = _linear_evaluator(div, row_gap, row_q, row_blocks)(state.ell[missed])
        passes += 2 + state.iterate(div, missed, row_gap, row_q, row_blocks, evaluation)
        row_mass, row_smallest, row_worst = _final_linear_pass(div, row_gap, row_q, state.ell[missed], row_blocks)
        gap[missed], q[missed] = row_gap, row_q
        mass[missed], smallest_policy[missed], worst[missed] = row_mass, row_smallest, row_worst
    else:
        raise SolverError(f"{div.name}: the normalizer did not converge in {_MAX_ITERATIONS} rounds; "
                          "rescale the rewards or β")
    ell = state.ell
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
        residual[rows] = _kkt_residual(div, row_gap, log_q[rows], log_policy[rows], policy[rows], z[rows])
    return log_policy, policy, z, residual, passes


def _solve_split(div: Divergence, inputs: _Inputs, far):
    """:func:`_solve_barrier` on the rows ``far`` (shape (B,), those with some q below
    e^-_LINEAR_FLOOR, solved in log space) and on the others (linear space) apart, its outputs
    put back together; so that a row's answer never depends on the rest of its batch. The
    reference has been checked. ``passes`` is the sum of the two solves'."""
    outputs = [np.empty_like(inputs.rewards), np.empty_like(inputs.rewards), np.empty(far.shape), np.empty(far.shape)]
    passes = 0
    for rows in (np.flatnonzero(far), np.flatnonzero(~far)):
        part = inputs._replace(rewards=inputs.rewards[rows], log_q=inputs.log_q[rows], unchecked=None,
                               first=inputs.first[rows], best=inputs.best[rows],
                               lowest=None if inputs.lowest is None else inputs.lowest[rows])
        *solved, part_passes = _solve_barrier(div, part)
        for whole, piece in zip(outputs, solved):
            whole[rows] = piece
        passes += part_passes
    return (*outputs, passes)


class _RootState:
    """The per-row state of the safeguarded iteration in linear space: ℓ, the bracket (lo, hi)
    inside the initial bounds [lower, upper], which bound has been evaluated (``tried``),
    and whether the bracket has collapsed; shapes (B,)."""

    def __init__(self, ell, lower, upper):
        self.ell, self.lower, self.upper = ell.copy(), lower, upper
        self.lo, self.hi = lower.copy(), upper.copy()
        self.tried_lower, self.tried_upper = ell == lower, ell == upper
        self.collapsed = np.zeros(ell.shape, dtype=bool)

    def iterate(self, div: Divergence, rows, gap, q, blocks, evaluation):
        """Steps the given ``rows`` (indices, sorted) until each is final; ``gap`` and ``q``
        hold their Δ and q (shape (len(rows), K), in ``blocks``), and ``evaluation`` is
        (F, F', F'' or None) at their ℓ. Returns the passes made over the responses.

        A row is final once a step from |F| < _FINAL_AFTER has been taken (its error is then
        cubic, far inside the root tolerance; rows already within the tolerance step too: the
        step is free, the final pass evaluates at the new ℓ anyway, and it takes |F| from the
        tolerance to its rounding), or when its bracket has collapsed to adjacent floats or
        its step rounds to ℓ itself. Final rows leave later passes: the work arrays are cut
        down to the rows still iterating once they are half of the arrays' rows or fewer
        (the worst rows of a batch often take two passes more than the median one).
        """
        current = rows  # the rows of ``gap`` and ``q``
        pending = np.arange(rows.size)  # the positions in ``current`` of rows still iterating
        evaluate = _linear_evaluator(div, gap, q, blocks)
        value, slope, curvature = evaluation
        passes = 0
        for _ in range(_MAX_ITERATIONS):
            # Every row of the state: views rather than gathers (sorted, so they are all rows).
            index = slice(None) if pending.size == self.ell.size else current[pending]
            ell, lower, upper = self.ell[index], self.lower[index], self.upper[index]
            lo = np.where(value > 0, ell, self.lo[index])
            hi = np.where(value <= 0, ell, self.hi[index])
            tried = (self.tried_lower[index] | (ell == lower), self.tried_upper[index] | (ell == upper))
            step, stalled = _safeguarded_step(ell, value, slope, curvature, lo, hi, lower, upper, tried)
            # A collapsed bracket or a step below the resolution of ℓ ends a row's iteration.
            collapsed = ~(np.nextafter(lo, np.inf) < hi) | stalled
            self.ell[index] = np.where(collapsed, ell, step)
            self.lo[index], self.hi[index] = lo, hi
            self.tried_lower[index], self.tried_upper[index] = tried
            self.collapsed[index] = collapsed
            going = ~collapsed & ~(np.abs(value) < _FINAL_AFTER)
            if not going.any():
                return passes
            pending = pending[going]
            # After a Halley step from |F| < _NEWTON_AFTER, |F| is far inside Newton's range:
            # such a row takes a Newton step next (its F'' is set to NaN, which
            # _safeguarded_step reads as Newton's), decided row by row so that a row's answer
            # does not depend on the rest of its batch.
            halley = ~(np.abs(value[going]) < _NEWTON_AFTER)
            if 2 * pending.size <= current.size:
                gap, q = gap[pending], q[pending]
                current, pending = current[pending], np.arange(pending.size)
                blocks = list(_blocks(gap.shape))
                evaluate = _linear_evaluator(div, gap, q, blocks)
            passes += 1
            evaluation = evaluate(self.ell[current], curvature=bool(halley.any()))
            value, slope, curvature = (evaluation if pending.size == current.size else
                                       (part if part is None else part[pending] for part in evaluation))
            if curvature is not None:
                curvature = np.where(halley, curvature, np.nan)
        raise SolverError(
            f"{div.name}: the normalizer did not converge in {_MAX_ITERATIONS} steps "
            f"(worst |log Σπ| = {np.max(np.abs(value)):.3g}); rescale the rewards or β"
        )


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
    raise SolverError(
        f"the normalizer did not converge in {_MAX_ITERATIONS} steps "
        f"(worst |log Σπ| = {np.max(np.abs(value)):.3g}); rescale the rewards or β"
    )


def _safeguarded_step(ell, value, slope, curvature, lo, hi, lower, upper, tried):
    """(next ℓ, stalled), shapes (B,). The step is Halley's ℓ − (F/F')/(1 − L/2) with
    L = F·F''/F'² where a curvature is given and |L| ≤ 1, else Newton's ℓ − F/F' (also in
    the rows whose F'' is NaN). Where it
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
    if inside.all():  # the usual case (ℓ is lo or hi, so no row is also stalled)
        return step, stalled
    tried_lower, tried_upper = tried
    bound = np.where((step <= lo) & (lo == lower) & ~tried_lower, lower,
                     np.where((step >= hi) & (hi == upper) & ~tried_upper, upper, np.nan))
    fallback = np.where(np.isnan(bound), 0.5 * (lo + hi), bound)
    return np.where(stalled, ell, np.where(inside, step, fallback)), stalled


class _Sums(NamedTuple):
    """Per row over the terms u = q·h(Δ + d) (see :func:`_linear_evaluator`): Σu, and two sums
    that give Σu·y and Σu·y² (:meth:`log_normalizer`). Where the basis is x = c0 + h
    (:attr:`Divergence.basis_offset`: forward KL, JS), ``linear`` = Σu·h and ``square`` =
    Σ(u·h·d)·h, so that no pass forms the basis itself; otherwise ``linear`` = Σu·y and
    ``square`` = Σu·y². The compiled kernel returns the same three sums."""

    total: np.ndarray
    linear: np.ndarray
    square: np.ndarray

    @classmethod
    def zeros(cls, count):
        return cls(np.zeros(count), np.zeros(count), np.zeros(count))

    def add_block(self, div: Divergence, gap, q, d, rows, curvature, work):
        with np.errstate(over="ignore", invalid="ignore"):  # see _safeguarded_step
            self._add_block(div, gap, q, d, rows, curvature, work)

    def _add_block(self, div: Divergence, gap, q, d, rows, curvature, work):
        """Adds one block's terms at d (shape (b,)) for the block's rows; ``work`` is three
        scratch arrays of the block's shape."""
        distance, ratio, basis = work
        d = d[:, None]
        np.add(gap, d, out=distance)
        offset = div.basis_offset
        if div.inverse_square is not None:
            div.ratio_and_basis(distance, d, ratio, basis)
        else:
            div.ratio_at_distance(distance, out=ratio)
            if offset is None:
                div.log_derivative_basis(distance, ratio, d, out=basis)
        terms = np.multiply(q, ratio, out=distance)
        self.total[rows] += _row_sum(terms)
        if offset is not None:
            basis = ratio  # the sums are taken with h (class doc)
        self.linear[rows] += _row_dot(terms, basis)
        if curvature:
            terms *= basis
            if offset is not None:
                terms *= d  # u·h·d ≤ u·(d/D)·const stays in range where u·h² may not
            self.square[rows] += _row_dot(terms, basis)

    def log_normalizer(self, div: Divergence, d, curvature):
        """(F, F', F'' or None), shapes (B,), from the sums at d. With a basis offset c0,
        Σuy = d(c0·Σu + Σuh) and Σuy² = d²(c0²·Σu + 2c0·Σuh) + d·Σ(uhd)h."""
        c1, c2, c3 = div.log_derivative_coefficients
        total, first, second = self
        offset = div.basis_offset
        # Non-finite sums come only from a non-finite reference, which the caller rejects.
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if offset is not None:
                first, second = (d * (offset * total + self.linear),
                                 d * d * (offset * offset * total + 2.0 * offset * self.linear) + d * self.square)
            slope = c1 * first / total
            value = np.log(total)
            if not curvature:
                return value, slope, None
            return value, slope, (c2 * second + (c1 + c3 * d) * first) / total - slope * slope


def _linear_evaluator(div: Divergence, gap, q, blocks=None):
    """F(ℓ), dF/dℓ and d²F/dℓ² with the terms u = q·h(Δ + d) in linear space, in blocks.

    With y = d·x the divergence's basis (:meth:`Divergence.log_derivative_basis`),
    dS/dℓ = c1·Σuy and d²S/dℓ² = c2·Σuy² + (c1 + c3·d)·Σuy for S = Σu, so F = log S,
    F' = S'/S and F'' = S''/S − F'² cost a sum and two dot products per block.
    """
    passes = barrier_passes(div, gap, q)
    if passes is not None:
        def evaluate_fused(ell, curvature=True):
            d = np.exp(ell)
            return _Sums(*passes.evaluate(d, curvature)).log_normalizer(div, d, curvature)

        return evaluate_fused
    blocks = list(_blocks(gap.shape)) if blocks is None else blocks
    work = list(zip(*_scratch(gap.shape, blocks, 3)))

    def evaluate(ell, curvature=True):
        d = np.exp(ell)
        sums = _Sums.zeros(gap.shape[0])
        for (rows, columns), block_work in zip(blocks, work):
            sums.add_block(div, gap[rows, columns], q[rows, columns], d[rows], rows, curvature, block_work)
        return sums.log_normalizer(div, d, curvature)

    return evaluate


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
    passes = barrier_passes(div, gap, q)  # the kernel evaluates after the set-up, in one call
    work = zip(*_scratch(gap.shape, blocks, 3)) if passes is None else [None] * len(blocks)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for (rows, columns), block_work in zip(blocks, work):
            block_gap, block_q = _setup_block(rewards, best, beta, log_q, gap, q, rows, columns, mass, smallest,
                                              from_shift=True)
            if passes is None:
                sums.add_block(div, block_gap, block_q, d[rows], rows, curvature, block_work)
    if passes is not None:
        sums = _Sums(*passes.evaluate(d, curvature))
    return (*sums.log_normalizer(div, d, curvature), mass, smallest)


def _final_linear_pass(div: Divergence, gap, q, ell, blocks):
    """π = q·h(Δ + d) at ℓ = log d written over ``q`` and log π over ``gap``, block by block,
    with the certificate of what was written. Returns (Σπ, min π where below _TINY (see
    :func:`_row_min_below`), max scaled stationarity violation), shapes (B,).

    The violation |a − Z − f'(π/q)| is |D − (S − f'(ρ))| with D = Δ + d and ρ = π/q the
    ratio of the written π (:meth:`Divergence.distance_at_inverse_ratio` of q/π), scaled by
    1 + max(|a − Z|, |f'(ρ)|) = 1 + max(|S − D|, |S − D(ρ)|) (module doc).
    """
    count = gap.shape[0]
    d = np.exp(ell)
    passes = barrier_passes(div, gap, q)
    if passes is not None:
        return passes.final(d)
    mass = np.zeros(count)
    smallest = np.full(count, np.inf)
    worst = np.zeros(count)
    work = zip(*_scratch(gap.shape, blocks, 4))
    # q/π overflows to +inf where π underflows below ~1e-308·q (extreme alpha and β); the
    # distance of +inf is the barrier's limit, which the residual below handles, so no warning.
    with np.errstate(divide="ignore", under="ignore", invalid="ignore", over="ignore"):
        for (rows, columns), (distance, policy, violation, scale) in zip(blocks, work):
            block_gap = gap[rows, columns]
            block = q[rows, columns]
            np.add(block_gap, d[rows, None], out=distance)
            div.ratio_at_distance(distance, out=policy)
            policy *= block
            violation = div.distance_at_inverse_ratio(np.divide(block, policy, out=violation), overwrite=True)
            block[...] = policy
            mass[rows] += _row_sum(policy)
            smallest[rows] = np.minimum(smallest[rows], _row_min_below(policy, _TINY))
            np.subtract(div.sup_f_prime, violation, out=scale)  # f'(ρ)
            np.abs(scale, out=scale)
            np.subtract(distance, violation, out=violation)
            np.abs(violation, out=violation)
            np.subtract(div.sup_f_prime, distance, out=distance)  # a − Z
            np.maximum(scale, np.abs(distance, out=distance), out=scale)
            scale += 1.0
            # Where π underflowed, the violation and the scale are infinite and their ratio NaN:
            # such rows have min π < _TINY and are certified again in log space by the caller.
            violation /= scale
            worst[rows] = np.maximum(worst[rows], _row_max(violation))
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
    # Others unnormalized (they are exact), best responses share 1 − Σ others ∝ q; formed only
    # on the rows that use it (in a batch, another row's Σ others may reach 1).
    rows = np.flatnonzero(use_remainder)
    top, terms = at_top[rows], log_terms[rows]
    others_raw = np.sum(np.where(top, 0.0, np.exp(terms)), axis=-1, keepdims=True)
    log_q_top = logsumexp(np.where(top, log_q[rows], -np.inf), axis=-1, keepdims=True)
    log_top = log_q[rows] - log_q_top + np.log1p(-np.minimum(others_raw, 1.0))
    log_direct[rows] = np.where(top, log_top, terms)
    return log_direct


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


def _warm_start(div: Divergence, gap_at, log_q, first, lower, upper, size=_SUBSAMPLE):
    """(starting ℓ, the subsample's F'' there or None): the root for a spread subsample of
    about ``size`` responses, when K is large, itself started from the root of a 16× smaller
    subsample of it (else the lower end of the bracket, and None).

    Why the lower end: from there the safeguarded Halley iteration reached |F| < 1e-5 after
    3.0 evaluations per row on average at K = 100 and 1000 (rewards ~ N(0, 1), references a
    softmax of N(0, 1) logits), against 4.3-4.8 from the upper end, MOD Prop 1's t2.

    ``gap_at(columns)`` gives Δ at those columns, shape (B, len(columns)), so that no full
    pass is needed first; ``first`` is the column of a best response (Δ = 0) per row, shape
    (B,). The subsample (:func:`_subsample_columns` plus that best response, the rest
    reweighted by K/m) estimates Σ q·h to a few tenths of a percent, so the iteration on the
    full problem starts within its fast range and needs 2-3 full passes instead of ~10. Any
    start inside the bracket is safe: the safeguard keeps the iteration in [lower, upper].
    """
    count, k = log_q.shape
    if k <= 4 * size:
        return lower.copy(), None
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
        start = lower.copy()
    # The subsample estimates Σ q·h only to about a percent: solving it closer than
    # _WARM_START_TOLERANCE buys nothing for the full problem.
    ell, _, curvature = _find_root(evaluate, start, lower, upper, _WARM_START_TOLERANCE)
    return ell, curvature
