"""Inclusive learning (IL) and SLiC with margin δ under Assumption 3: losses and exact global
minimizers (seed 002).

Each loss depends on the data only through the composition counts and reduces to a 1-D problem
in the policy's log-odds t; the data term is convex in t, the KL term is not, so the minimizer
is found globally (a grid locates every local minimum, bisection refines each to adjacent
floats, the lowest wins).

Shape letters: ``...`` a batch (datasets, grid points), ``n`` = |Y| messages per choice
set, ``K`` messages, ``N`` data.

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), §4.3 (IL, SLiC), §5.5 (Props 6-7),
Appendix A.3-A.4.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, log_expit

from pmtheory.iia._common import _assumption3_inputs, _bisect, _category_sizes, _positive, _size
from pmtheory.iia.rlpo_dpo import CategoryPolicyFit

__all__ = [
    "fit_il_assumption3",
    "fit_slic_assumption3",
    "il_loss_assumption3",
    "slic_loss_assumption3",
]


# Grid points of the global 1-D search for the non-convex IL and SLiC problems (the data
# term is convex in t, the KL term is not). Every local minimum whose basin is wider than
# the grid spacing is found, then refined by bisection to adjacent floats.
GLOBAL_GRID_POINTS = 2049



# ---------------------------------------------------------------------------------------
# IL and SLiC under Assumption 3
# ---------------------------------------------------------------------------------------


def _kl_category(t: np.ndarray, zeta: float) -> np.ndarray:
    """KL(P_π ‖ P_ref) under Assumption 3 with P_ref uniform within categories: the KL of
    the category distribution (1−q, q), q = σ(t), against (ζ, 1−ζ)."""
    q = expit(t)
    return q * (log_expit(t) - math.log1p(-zeta)) + (1 - q) * (log_expit(-t) - math.log(zeta))


def _kl_category_slope(t: np.ndarray, zeta: float) -> np.ndarray:
    """d KL / dt = σ(t)σ(−t)(t − c) with c = ln((1−ζ)/ζ)."""
    center = math.log1p(-zeta) - math.log(zeta)
    return expit(t) * expit(-t) * (t - center)


def _il_parts(table: np.ndarray, n: int):
    k1 = np.arange(1, n, dtype=np.float64)
    return np.log(k1), np.log(n - k1), table[..., 1:n, 0], table[..., 1:n, 1]


def il_loss_assumption3(log_odds_m2, counts, *, p_ref_m1: float, m1_size, m2_size, beta: float) -> np.ndarray:
    """The inclusive-learning loss under Assumption 3 at policy log-odds t = ln P(M2)/P(M1).

    .. math:: L_{IL}(π) = −Σ_{(Y,y)} \\ln \\frac{P_π(y)}{Σ_{y'∈Y} P_π(y')} + β\\,KL(P_π ‖ P_{ref})

    Source: seed 002, §4.3 (L_IL), Assumption 3, eq (24).

    Args:
      log_odds_m2: (...) t.
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or (...)).
      beta: β > 0.

    Returns:
      (...) the loss.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    m1, m2 = _category_sizes(m1_size, m2_size)
    t, u = _policy_and_message_log_odds(log_odds_m2, m1, m2)
    return _il_value(t, u, table, n, zeta, beta)


def _policy_and_message_log_odds(log_odds_m2, m1: np.ndarray, m2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t, u): the policy's category log-odds t and the per-message log-odds u = t − ln(|M2|/|M1|)."""
    t = np.asarray(log_odds_m2, dtype=np.float64)
    return t, t - (np.log(m2) - np.log(m1))


def _il_value(t, u, table, n, zeta, beta):
    log_k1, log_k2, chose_1, chose_2 = _il_parts(table, n)
    log_norm = np.logaddexp(log_k1, log_k2 + u[..., None])
    data = (chose_1 * log_norm).sum(axis=-1) + (chose_2 * (log_norm - u[..., None])).sum(axis=-1)
    pure = (table[..., 0, 1] + table[..., n, 0]) * math.log(n)
    return data + pure + beta * _kl_category(t, zeta)


def _il_slope(t, u, table, n, zeta, beta):
    log_k1, log_k2, chose_1, chose_2 = _il_parts(table, n)
    offsets = log_k2 - log_k1
    data = ((chose_1 * expit(u[..., None] + offsets)).sum(axis=-1)
            - (chose_2 * expit(-u[..., None] - offsets)).sum(axis=-1))
    return data + beta * _kl_category_slope(t, zeta)


def _slic_terms(u, table, n, delta):
    """Hinge arguments and their u-derivatives for mixed compositions (k1 = 1..n-1)."""
    k1 = np.arange(1, n, dtype=np.float64)
    k2 = n - k1
    with np.errstate(divide="ignore"):
        log_k1m, log_k2m = np.log(k1 - 1), np.log(k2 - 1)
    u = u[..., None]
    # Choice in M1: P(Y\{y})/P(y) = (k1 − 1) + k2 e^u.
    arg_1 = np.logaddexp(log_k1m, np.log(k2) + u) + delta
    slope_1 = expit(u + np.log(k2) - log_k1m)
    # Choice in M2: P(Y\{y})/P(y) = k1 e^{-u} + (k2 − 1).
    arg_2 = np.logaddexp(np.log(k1) - u, log_k2m) + delta
    slope_2 = -expit(np.log(k1) - u - log_k2m)
    return arg_1, slope_1, arg_2, slope_2


def slic_loss_assumption3(log_odds_m2, counts, *, p_ref_m1: float, m1_size, m2_size, beta: float,
                          delta: float) -> np.ndarray:
    """The SLiC loss under Assumption 3 at policy log-odds t = ln P(M2)/P(M1).

    .. math:: L_{SLiC}(π) = Σ_{(Y,y)} (\\ln \\frac{P_π(Y∖\\{y\\})}{P_π(y)} + δ)_+ + β\\,KL(P_π‖P_{ref})

    Defined here for every |Y| >= 2 (the paper states it for |Y| = 2), with P_π(Y∖{y}) the
    probability of the other members of the (multi)set.

    Source: seed 002, §4.3 (L_SLiC), Assumption 3, proof of Lemma 17.

    Args:
      log_odds_m2: (...) t.
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or (...)).
      beta: β > 0.
      delta: the margin δ > 0.

    Returns:
      (...) the loss.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    delta = _positive(delta, "delta")
    m1, m2 = _category_sizes(m1_size, m2_size)
    t, u = _policy_and_message_log_odds(log_odds_m2, m1, m2)
    return _slic_value(t, u, table, n, zeta, beta, delta)


def _slic_value(t, u, table, n, zeta, beta, delta):
    arg_1, _, arg_2, _ = _slic_terms(u, table, n, delta)
    chose_1, chose_2 = table[..., 1:n, 0], table[..., 1:n, 1]
    data = (chose_1 * np.maximum(arg_1, 0.0)).sum(axis=-1) + (chose_2 * np.maximum(arg_2, 0.0)).sum(axis=-1)
    pure = (table[..., 0, 1] + table[..., n, 0]) * max(math.log(n - 1) + delta, 0.0)
    return data + pure + beta * _kl_category(t, zeta)


def _slic_slope(t, u, table, n, zeta, beta, delta):
    """A derivative in t that is the right-derivative at kinks (used only for its sign changes)."""
    arg_1, slope_1, arg_2, slope_2 = _slic_terms(u, table, n, delta)
    chose_1, chose_2 = table[..., 1:n, 0], table[..., 1:n, 1]
    data = (chose_1 * np.where(arg_1 >= 0, slope_1, 0.0)).sum(axis=-1) + \
        (chose_2 * np.where(arg_2 > 0, slope_2, 0.0)).sum(axis=-1)
    return data + beta * _kl_category_slope(t, zeta)


def _tail_bracket(table, n, zeta, beta, log_m, lo_extra, hi_extra, a_lo, a_hi):
    """[T_lo, T_hi] outside of which the loss's t-derivative has a fixed sign.

    With c = ln((1−ζ)/ζ): for t ≤ min(0, c) the KL slope is ≤ −β(c−t)e^t/4 and the data
    slope's positive part is ≤ A_lo e^t, so the derivative is negative for t < c − 4A_lo/β;
    symmetrically for t ≥ max(0, c). ``lo_extra``/``hi_extra`` add the kinks below / above
    which hinge terms are inactive.
    """
    center = math.log1p(-zeta) - math.log(zeta)
    lo = np.minimum(np.minimum(0.0, center - 4.0 * a_lo / beta), lo_extra) - 1.0
    hi = np.maximum(np.maximum(0.0, center + 4.0 * a_hi / beta), hi_extra) + 1.0
    return lo, hi, center


def _global_minimize(value, slope, lo, hi, center, grid_points=GLOBAL_GRID_POINTS):
    """Global minimizer of a 1-D function on [lo, hi] (per batch row), whose derivative is
    negative at lo and positive at hi.

    A grid in asinh(t − center) locates every sign change − → + of the derivative (each a
    local minimum); each is refined by bisection to adjacent floats; the lowest value wins.
    ``value(t, rows)`` and ``slope(t, rows)`` evaluate at points t of rows ``rows``.

    Returns (t*, bracket width).
    """
    batch = lo.shape[0]
    rows = np.arange(batch)
    s = np.linspace(np.arcsinh(lo - center), np.arcsinh(hi - center), grid_points, axis=-1)
    grid = center[:, None] + np.sinh(s)
    grid[:, 0], grid[:, -1] = lo, hi
    slopes = slope(grid, rows[:, None])
    negative = slopes < 0
    starts = negative[:, :-1] & ~negative[:, 1:]
    starts[:, 0] |= ~negative[:, 0]  # a non-negative slope at lo (not expected): keep lo as a candidate
    row_index, cell = np.nonzero(starts)
    a = grid[row_index, cell]
    b = grid[row_index, cell + 1]
    a = np.where(negative[row_index, cell], a, np.nextafter(a, -np.inf))
    a, b = _bisect(lambda x: slope(x, row_index), a, b)
    candidates = np.where(np.abs(slope(a, row_index)) < np.abs(slope(b, row_index)), a, b)
    values = value(candidates, row_index)
    order = np.lexsort((values, row_index))  # by row, then by value: the first per row is its lowest
    rows_sorted = row_index[order]
    first = order[np.r_[True, rows_sorted[1:] != rows_sorted[:-1]]]
    if first.size != batch or np.any(~np.isfinite(values[first])):
        raise RuntimeError("the global 1-D search found no finite local minimum in some row; the bracket is wrong")
    return candidates[first], (b - a)[first]


def _global_category_fit(loss_value, loss_slope, flat, log_m, batch_shape, lo, hi, center) -> CategoryPolicyFit:
    """The global minimizer in t of a loss under Assumption 3, one flattened batch row at a time.

    ``loss_value(t, u, tables)`` and ``loss_slope(t, u, tables)`` evaluate the loss and its
    t-derivative at policy log-odds t with per-message log-odds u = t − ln m, for the rows'
    count tables; [lo, hi] is the bracket of :func:`_tail_bracket` and ``center`` its c.
    """
    center = np.full(flat.shape[0], center)

    def value(t, rows):
        return loss_value(t, t - log_m[rows], flat[rows])

    def slope(t, rows):
        return loss_slope(t, t - log_m[rows], flat[rows])

    t, width = _global_minimize(value, slope, lo, hi, center)
    t = t.reshape(batch_shape)
    return CategoryPolicyFit(log_odds_m2=t, p_m1=expit(-t), has_minimizer=np.ones(batch_shape, dtype=bool),
                             certificate=width.reshape(batch_shape))


def _batched_params(table, m1_size, m2_size):
    batch_shape = table.shape[:-2]
    m1 = np.broadcast_to(_size(m1_size, "m1_size"), batch_shape).reshape(-1)
    m2 = np.broadcast_to(_size(m2_size, "m2_size"), batch_shape).reshape(-1)
    flat = table.reshape((-1,) + table.shape[-2:])
    return batch_shape, flat, np.log(m2) - np.log(m1)


def fit_il_assumption3(counts, *, p_ref_m1: float, m1_size, m2_size, beta: float) -> CategoryPolicyFit:
    """Global minimizer of the IL loss under Assumption 3 (a 1-D problem in t).

    The data term is convex in t but β·KL is not, so the minimizer is found globally: every
    stationary point lies in a bracket from the math (below it the derivative is negative,
    above it positive), a grid locates the local minima, bisection refines each to adjacent
    floats, and the lowest wins. β > 0 makes a minimizer exist for every dataset.

    Source: seed 002, §4.3 (L_IL), Assumption 3, Prop 6, Lemma 15.

    Args:
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2| (scalars or broadcastable to (...)).
      beta: β > 0.

    Returns:
      A :class:`CategoryPolicyFit`.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    batch_shape, flat, log_m = _batched_params(table, m1_size, m2_size)
    k1 = np.arange(1, n, dtype=np.float64)
    # σ(u + b) <= e^{u+b} and σ(−u−b) <= e^{−u−b}, b = ln(k2/k1), u = t − ln m.
    a_lo = (flat[:, 1:n, 0] * (n - k1) / k1).sum(axis=-1) * np.exp(-log_m)
    a_hi = (flat[:, 1:n, 1] * k1 / (n - k1)).sum(axis=-1) * np.exp(log_m)
    lo, hi, center = _tail_bracket(flat, n, zeta, beta, log_m, np.inf, -np.inf, a_lo, a_hi)
    return _global_category_fit(lambda t, u, tables: _il_value(t, u, tables, n, zeta, beta),
                                lambda t, u, tables: _il_slope(t, u, tables, n, zeta, beta),
                                flat, log_m, batch_shape, lo, hi, center)


def fit_slic_assumption3(counts, *, p_ref_m1: float, m1_size, m2_size, beta: float, delta: float) -> CategoryPolicyFit:
    """Global minimizer of the SLiC loss under Assumption 3 (a 1-D problem in t).

    As :func:`fit_il_assumption3`; the hinge kinks are handled by bisecting on the sign of
    the (right-)derivative, which converges to a kink when the minimum sits there.

    Source: seed 002, §4.3 (L_SLiC), Assumption 3, Prop 7, Lemma 17.

    Args:
      counts: (..., n+1, 2) composition counts.
      p_ref_m1: ζ in (0, 1).
      m1_size, m2_size: |M1|, |M2|.
      beta: β > 0.
      delta: δ > 0.

    Returns:
      A :class:`CategoryPolicyFit`.
    """
    table, n, zeta, beta = _assumption3_inputs(counts, p_ref_m1, beta)
    delta = _positive(delta, "delta")
    batch_shape, flat, log_m = _batched_params(table, m1_size, m2_size)
    k1 = np.arange(1, n, dtype=np.float64)
    k2 = n - k1
    with np.errstate(divide="ignore", invalid="ignore"):
        # Always-active hinge terms decay exponentially; k1 = 1 (k2 = 1) terms switch off
        # below (above) their kink.
        ratio_lo = np.where(k1 >= 2, k2 / (k1 - 1), 0.0)
        ratio_hi = np.where(k2 >= 2, k1 / (k2 - 1), 0.0)
    a_lo = (flat[:, 1:n, 0] * ratio_lo).sum(axis=-1) * np.exp(-log_m)
    a_hi = (flat[:, 1:n, 1] * ratio_hi).sum(axis=-1) * np.exp(log_m)
    log_spread = math.log(n - 1)
    lo, hi, center = _tail_bracket(flat, n, zeta, beta, log_m, log_m - delta - log_spread,
                                   log_m + delta + log_spread, a_lo, a_hi)
    return _global_category_fit(lambda t, u, tables: _slic_value(t, u, tables, n, zeta, beta, delta),
                                lambda t, u, tables: _slic_slope(t, u, tables, n, zeta, beta, delta),
                                flat, log_m, batch_shape, lo, hi, center)

