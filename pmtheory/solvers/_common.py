"""What the solvers of :mod:`pmtheory.solvers` share: the validated inputs, the blocked passes
over (B, K) arrays and their dot products, the subsample of a warm start, and the KKT
certificate of a returned policy.

Every pass over a (B, K) array runs in cache-sized blocks (:func:`_blocks`). ``kkt_residual``
is computed from the returned policy through the divergence's own f' (independently of the
path that found it): max(|Σπ − 1|, max_y |a(y) − Z − f'(π/q)| / (1 + max(|a(y) − Z|,
|f'(π/q)|))) with a = r/β and Z = λ/β; for chi2 and tv it measures the violation of the sub-gradient /
complementary-slackness conditions instead.

Shape letters: ``K`` responses, ``B`` rows (the flattened batch). "The module doc" below is
that of :mod:`pmtheory.solvers` (its tolerances and the KKT residual's scaling).
Sources: seed 001 (PMR), Prop 5.1 / eq 5.1 and §5.2; seed 004 (MOD), Lemma 1 / eq 3.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pmtheory._validation import (
    as_float_array,
    check_finite,
    check_log_probabilities,
    check_positive_scalar,
    check_probabilities,
    input_epsilon,
    logsumexp,
    normalization_tolerance,
)
from pmtheory.divergences import Divergence

# References at or above e^-690 are handled in linear space (h(d) ≤ 1/q stays below 1e300).
_LINEAR_FLOOR = 690.0
# Responses kept in the subsample that warm-starts Newton for large K, in runs of _CHUNK
# adjacent ones (a strided gather would miss the cache once per response).
_SUBSAMPLE = 16384
_CHUNK = 64
# Elements per block of the blocked passes over large arrays: 2^17 float64 = 1 MiB, so the
# six block-sized arrays that reverse KL's final pass touches (r, log q, log π, π and two
# scratch buffers) stay in the 32 MiB L3 cache together, and a K = 10^6 solve allocates no
# fresh page-faulted full-size temporaries (which cost more than the arithmetic). Each block
# costs ~20 numpy calls per pass, so smaller blocks pay interpreter overhead: on the bench
# machine (2 MiB L2, 32 MiB L3) at N·K = 10^6, 2^17 was 5-20% faster than 2^15 at K = 100,
# 1000 and 10^6 for every divergence, equal at K = 3 and 10, and faster than 2^18 and 2^19
# (2026-12-03; an earlier measurement had preferred 2^15, before converged rows left passes).
_BLOCK = 1 << 17
# Below this a linear-space probability has lost relative precision (subnormal range begins
# at 2.2e-308); rows with smaller entries are assembled in log space instead.
_TINY = 1e-290


# Up to this many responses per row, reductions along the last axis avoid numpy's own
# reductions, which pay a loop set-up per row along a short contiguous axis. Measured on the
# bench machine (10^6 entries), a sum over K = 3 / 10 / 16 took 5.1 / 2.1 / 1.2 ms by
# x.sum(axis=-1), 0.54 / 0.90 / 1.0 ms column by column and 2.0 / 0.39 / 0.25 ms by
# np.einsum("ij->i"); a max over K = 3 took 11.8 ms and 0.55 ms column by column. So sums go
# column by column below _EINSUM and through einsum from there up to _PAIRWISE, max and min
# column by column up to _SHORT. Both add each row's terms in an order fixed by K alone, so a
# row's answer never depends on the rest of its batch (BLAS's x @ 1, faster still, does not: its
# rounding changed with the number of rows). The rounding is at most K − 1 ulps.
_SHORT = 16
_EINSUM = 8
# einsum's sum adds each row in a few SIMD accumulators and sums those at the end, where
# x.sum(axis=-1) does the same in 8 accumulators up to 128 terms and pairwise above: up to 128
# the two round alike (≲ 16 ulps), and einsum took 0.16-0.32 against 0.41-0.54 ns per entry at
# K = 100 on 2^17-entry blocks (2026-12-04). Above 128, einsum's error would grow linearly with
# K, while the root tolerance of the barrier solvers assumes a pairwise sum's log2 K, so numpy's
# own sum stays. (Row independence, alignment included, is tested bit for bit up to K = 1000.)
_PAIRWISE = 128


def _column_fold(x, ufunc):
    """``ufunc`` folded over the columns of a (B, k) array in order, shape (B,) (see _SHORT)."""
    out = x[:, 0].copy()
    for column in range(1, x.shape[-1]):
        ufunc(out, x[:, column], out=out)
    return out


def _row_sum(x):
    """Σ along the last axis of a (B, k) array, shape (B,); each row's sum is computed the
    same way whatever the other rows (see _SHORT and _PAIRWISE)."""
    k = x.shape[-1]
    if not 0 < k <= _PAIRWISE:
        return x.sum(axis=-1)
    return np.einsum("ij->i", x) if k >= _EINSUM else _column_fold(x, np.add)


def _row_max(x):
    """max along the last axis of a (B, k) array (NaN propagates), shape (B,)."""
    return _column_fold(x, np.maximum) if 0 < x.shape[-1] <= _SHORT else x.max(axis=-1)


def _row_min(x):
    """min along the last axis of a (B, k) array (NaN propagates), shape (B,)."""
    return _column_fold(x, np.minimum) if 0 < x.shape[-1] <= _SHORT else x.min(axis=-1)


def _row_min_below(x, threshold):
    """min along the last axis of a (B, k) array where it matters for ``min ≥ threshold``,
    shape (B,): each row's minimum if some entry of the array is below ``threshold`` (or NaN),
    else the array's minimum in every row. Either way ``_row_min_below(x, t) >= t`` is
    ``_row_min(x) >= t`` row by row, and the overall minimum is exact, for the price of one
    flat min (0.11-0.13 ns per entry on a 2^17-entry block, against 0.54-0.87 ns for a row min
    at K ≤ 100 on the bench machine)."""
    flat = x.min() if x.size else np.inf
    if flat >= threshold:
        return np.full(x.shape[0], flat)
    return _row_min(x)


def _row_argmax(x):
    """(column of the first maximum, the maximum) along the last axis of a (B, k) array,
    shapes (B,). The maximum is NaN in a row with a NaN (np.argmax then points at it)."""
    k = x.shape[-1]
    if not 0 < k <= _SHORT:
        index = np.argmax(x, axis=-1)
        return index, x[np.arange(x.shape[0]), index]
    index = np.zeros(x.shape[0], dtype=np.intp)
    out = x[:, 0].copy()
    for column in range(1, k):
        np.copyto(index, column, where=x[:, column] > out)
        np.maximum(out, x[:, column], out=out)
    return index, out


class SolverError(ValueError):
    """A solver's answer failed its own certificate (Σπ = 1, π ≥ 0, the scaled KKT residual
    within its tolerance) on an input it accepted: typically rewards/β spread beyond what float64
    resolves. A ``ValueError`` because the input, not the caller's code, is what to change
    (rescale the rewards or β); the message names the divergence, the row and the residuals."""


SolverError.__module__ = "pmtheory.solvers"  # where users import it from


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
        epsilon = input_epsilon(log_reference)
        tolerance = normalization_tolerance(epsilon, log_q.shape[-1])
        if epsilon > np.finfo(np.float64).eps:
            # Normalized in a narrower float: checked to its own tolerance, then renormalized
            # in float64, which every solver computes in.
            check_log_probabilities(log_q, "log_reference", tolerance)
            log_q = log_q - logsumexp(log_q, axis=-1, keepdims=True)
        elif defer_log_check:
            unchecked = log_q
        else:
            check_log_probabilities(log_q, "log_reference")
        name = "log_reference"
    elif reference is not None:
        q = as_float_array(reference, "reference")
        epsilon = input_epsilon(reference)
        check_probabilities(q, "reference", strictly_positive=True,
                            tolerance=normalization_tolerance(epsilon, q.shape[-1]))
        if epsilon > np.finfo(np.float64).eps:
            q = q / q.sum(axis=-1, keepdims=True)  # renormalized in float64 (see log_reference)
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
    first, best = _row_argmax(rewards)
    # argmax finds NaN and +inf (NaN counts as the max); only min sees −inf.
    lowest = _row_min(rewards) if check_lowest else None
    if not (np.all(np.isfinite(best)) and (not check_lowest or np.all(np.isfinite(lowest)))):
        check_finite(given, "rewards")
    return _Inputs(rewards, log_q, beta, shape, unchecked, first, best, lowest)


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


# OpenBLAS hands a dot product of more than 10 000 entries to its thread pool; waking the
# pool for each block costs more than the sum itself (chi2 at K = 10^6: 18.6 ms with it,
# 14.3 ms in chunks of this length, which it sums on the calling thread).
_DOT_CHUNK = 8192


def _row_dot(a, b):
    """Σ_k a·b along the last axis of two (B, k) arrays, shape (B,), by BLAS, in chunks of
    at most ``_DOT_CHUNK`` entries."""
    k = a.shape[-1]
    if _EINSUM <= k <= _SHORT:
        return np.einsum("ij,ij->i", a, b)  # (see _SHORT)
    if k <= _SHORT:
        return _row_sum(np.multiply(a, b))
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


def _setup_block(rewards, shift, beta, log_q, scaled, q, rows, columns, mass, smallest, *, from_shift):
    """One block of a solver's first pass: writes (shift − r)/β (``from_shift``: Δ ≥ 0 from
    max r) or (r − shift)/β into ``scaled`` and q = e^{log q} into ``q``, and accumulates Σ q
    and min log q of the block's rows into ``mass`` and ``smallest`` (for the deferred check
    of log_reference and the rows below e^-_LINEAR_FLOOR; exact where below it and overall, see
    :func:`_row_min_below`). Returns the two written blocks."""
    block = scaled[rows, columns]
    if from_shift:
        np.subtract(shift[rows, None], rewards[rows, columns], out=block)
    else:
        np.subtract(rewards[rows, columns], shift[rows, None], out=block)
    if beta != 1.0:
        block /= beta
    block_log_q = log_q[rows, columns]
    smallest[rows] = np.minimum(smallest[rows], _row_min_below(block_log_q, -_LINEAR_FLOOR))
    block_q = np.exp(block_log_q, out=q[rows, columns])
    mass[rows] += _row_sum(block_q)
    return block, block_q


def _subsample_columns(k, size):
    """About ``size`` of the columns 0..k−1 (k > 4·size), spread evenly: runs of _CHUNK
    adjacent columns at a fixed spacing, so that a gather reads whole cache lines."""
    runs = max(1, size // _CHUNK)
    starts = np.arange(runs) * (k // runs)
    return (starts[:, None] + np.arange(_CHUNK)).ravel()


def _kkt_residual(div: Divergence, gap, log_q, log_policy, policy, z):
    """Scaled KKT violation of the returned policy (module doc), shape (B,), in blocks.

    ``gap`` = Δ = (c − r)/β and ``z`` = (λ − c)/β are measured from one per-row reward c (the
    pivot: max r, or the reward of a response that carries mass).
    """
    feasibility = np.abs(_row_sum(policy) - 1.0)
    worst = np.zeros(gap.shape[0])
    zeros_possible = not div.barrier
    for rows, columns in _blocks(gap.shape):
        worst[rows] = np.maximum(worst[rows], _block_violation(
            div, gap[rows, columns], log_q[rows, columns], log_policy[rows, columns], z[rows],
            zeros_possible=zeros_possible))
    return np.maximum(feasibility, worst)


def _block_violation(div: Divergence, gap, log_q, log_policy, z, *, zeros_possible):
    """max_y |a − Z − f'(π/q)| / (1 + max(|a − Z|, |f'(π/q)|)) over one block, shape (b, k) -> (b,).

    ``gap`` = Δ = (c − r)/β and ``z`` (shape (b,)) are measured from a pivot reward c, so
    a − Z = −Δ − z is formed without the size of c/β. The scale is the size of the two sides
    stationarity equates (the larger, so that it cannot overflow). Like the problem, it depends
    neither on c nor on a constant added to every reward: a scale of 1 + |a| + |Z| measured
    from 0 divided a wrong policy's violation by 1e20 under a common reward offset of 1e20, and
    one measured from the pivot let the pivot's frame, where Z keeps only eps·|Z − c/β| of its
    digits, excuse a wrong policy of the other responses. Where π = 0 (only when
    ``zeros_possible``: chi2, tv) the condition is complementary slackness instead, and tv uses
    its sub-gradient.
    """
    excess = np.add(gap, z[:, None])
    np.negative(excess, out=excess)  # a − Z, which stationarity equates with f'(π/q)
    if div.name == "tv":
        zero = np.isneginf(log_policy)
        # ∂f(ρ) is {1/2} for ρ > 1, [−1/2, 1/2] at ρ = 1, {−1/2} for 0 < ρ < 1 and (−∞, −1/2]
        # at ρ = 0 (with μ ≥ 0).
        violation = np.where(
            log_policy > log_q,
            np.abs(excess - 0.5),
            np.where(zero, np.maximum(excess + 0.5, 0.0),
                     np.where(log_policy < log_q, np.abs(excess + 0.5), np.maximum(np.abs(excess) - 0.5, 0.0))),
        )
        slope = 0.5
    elif zeros_possible and np.isneginf(log_policy).any():
        zero = np.isneginf(log_policy)
        slope = div.f_prime_of_log(np.where(zero, 0.0, log_policy - log_q))
        # Where π = 0 (chi2 only) complementary slackness needs a − Z ≤ f'(0+).
        violation = np.where(zero, np.maximum(excess - div.f_prime_at_zero, 0.0), np.abs(excess - slope))
        slope = np.where(zero, div.f_prime_at_zero, slope)
    else:
        slope = div.f_prime_of_log(np.subtract(log_policy, log_q))
        violation = np.subtract(excess, slope)
        np.abs(violation, out=violation)
    scale = np.abs(excess, out=excess)
    np.maximum(scale, np.abs(slope), out=scale)
    scale += 1.0
    violation /= scale
    return _row_max(violation)


# The certificate optimal_policy enforces (check=True). A row fails when π has a negative or
# NaN entry, or when its scaled KKT residual (which includes |Σπ − 1|) exceeds
# _ENFORCED_KKT + _LOG_FLOOR_ULPS·eps·(max|log q| + |S|). _ENFORCED_KKT is 1000× the 1e-12
# that the tests pin for every exact solve (pmtheory.testing.KKT_TOL), so only a solve that
# has lost the answer raises; the second term is the floor that float64 log-probabilities of
# size L put on f'(π/q) (the tests' kkt_tolerance uses 16 ulps of it; 64 here for margin),
# plus that of Z = e^ℓ − S for a barrier with sup f' = S < ∞ (alpha:1e-7 has S = 1e7, and
# Z is then resolved only to eps·S, measured 1.7e-9).
_ENFORCED_KKT = 1e-9
_LOG_FLOOR_ULPS = 64.0


def _certificate_failures(div: Divergence, policy, residual, log_q):
    """Rows of a (B, K) solve that fail the enforced certificate (above), with their
    tolerances: (rows, tolerances), shapes (n,). Costs one pass for the sign (min π) and,
    only for rows whose residual exceeds _ENFORCED_KKT, one over their log q."""
    suspect = ~(residual <= _ENFORCED_KKT)
    if not (policy.min() >= 0.0):  # a negative or NaN entry somewhere
        suspect |= ~(_row_min(policy) >= 0.0)
    rows = np.flatnonzero(suspect)
    if not rows.size:
        return rows, np.zeros(0)
    floor = np.max(np.abs(np.where(np.isfinite(log_q[rows]), log_q[rows], 0.0)), axis=-1)
    if np.isfinite(div.sup_f_prime):
        floor = floor + abs(div.sup_f_prime)
    tolerance = _ENFORCED_KKT + _LOG_FLOOR_ULPS * np.finfo(np.float64).eps * floor
    signed = policy[rows].min(axis=-1) >= 0.0
    failed = ~(signed & (residual[rows] <= tolerance))
    return rows[failed], tolerance[failed]


def _certificate_error(name, beta, rewards, policy, residual, rows, tolerance, batch) -> SolverError:
    """The SolverError for the failed ``rows`` of a (B, K) solve, naming the first one."""
    row = int(rows[0])
    index = tuple(int(i) for i in np.unravel_index(row, batch)) if batch else ()
    with np.errstate(invalid="ignore", over="ignore"):
        width = float(np.ptp(rewards[row]))  # inf when max r − min r overflows
        spread = width / beta  # inf when r/β overflows
        total = float(np.sum(policy[row])) - 1.0
        lowest = float(np.min(policy[row]))
    if not np.isfinite(spread):
        return SolverError(
            f"{name}: the reward spread divided by β overflows float64 at batch index {index} "
            f"(max r − min r = {width:.3g}, β = {beta:.3g}), so the optimality "
            "conditions cannot be evaluated; keep (max r − min r)/β below 1e308 (a larger β; if max r − "
            "min r itself overflows, divide the rewards and β by a common scale)"
        )
    return SolverError(
        f"{name}: the solution fails its certificate in {rows.size} of {residual.size} row(s); "
        f"first at batch index {index}: Σπ − 1 = {total:.3g}, min π = {lowest:.3g}, "
        f"KKT residual = {float(residual[row]):.3g} (tolerance {float(tolerance[0]):.3g}), "
        f"with β = {beta:.3g} and reward spread/β = {spread:.3g}. Such inputs are beyond what float64 "
        "resolves for this divergence: rescale the rewards or β, or pass check=False to get the "
        "answer with its residuals"
    )
