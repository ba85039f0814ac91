"""The nonconvex path of :mod:`pmtheory.certified` (``"dual-global"``): global inner maxima,
dual minimization, primal repair and polish.

Some h_i is not concave; the Lagrangian dual g(λ), an upper bound on the optimum for every
λ, is minimized with globally computed inner maxima, and a primal point is built from the
inner maximizers and polished. The path is global up to its grid of (0, 1]: the inner
maxima take the best of the grid nodes, the endpoints and every local maximum bracketed
between two nodes (refined by bisection), so two stationary points inside one grid cell can
be missed. Its primal point is the best of several starts, each improved by Newton on the
KKT system of its support and by the best two-response mass transfers; a positive
``duality_gap`` after that is reported as it is.

Shape letters: ``K`` is the number of responses; "the module doc" below is that of
:mod:`pmtheory.certified`.
Source: seed 001 (shared/seeds/001_c8a06c444314e79a.txt) (Xiao et al., PMR), §3: eq 3.5 /
3.12 (the finite form), eq 3.11 (response-dependent R).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from pmtheory.certified._analysis import _EPS, _LOG_BISECTIONS, _TINY, _grid, _Instance
from pmtheory.certified._concave import (
    CertifiedSolution,
    _assemble,
    _float_midpoint,
    _interpolate,
    _mass_weighted_multiplier,
)

# ---------------------------------------------------------------------------------------
# The nonconvex path: global inner maxima, dual minimization, primal repair and polish.


class _GlobalInner:
    """argmax and max over [0, 1] of h_i(π) − λπ for any h_i, by grid, sign changes of
    ψ_i − λ between grid nodes (each refined by bisection in log π) and the endpoints.

    Global up to the grid: two stationary points inside one grid cell can be missed, and
    then the best grid node stands in for them (the module doc gives the grid).
    """

    def __init__(self, problem: _Instance):
        self.problem = problem
        self.grid = _grid()
        column = self.grid[:, None]
        self.h_grid = np.asarray(problem.h(column))
        self.psi_grid = np.asarray(problem.psi(column))
        if np.any(np.isnan(self.h_grid)) or np.any(self.h_grid == np.inf):
            row, col = np.argwhere(np.isnan(self.h_grid) | (self.h_grid == np.inf))[0]
            raise ValueError(
                f"h_{col}(π) = π(r + R(π)) is {self.h_grid[row, col]!r} at π = {self.grid[row]!r}; the "
                "regularizer must be finite on (0, 1] for a global solve"
            )
        if np.any(np.isnan(self.psi_grid)):
            row, col = np.argwhere(np.isnan(self.psi_grid))[0]
            raise ValueError(f"ψ_{col}(π) is not a number at π = {self.grid[row]!r}; the regularizer must be "
                             "differentiable on (0, 1]")

    def __call__(self, lam: float):
        problem, grid = self.problem, self.grid
        k = problem.k
        values = self.h_grid - lam * grid[:, None]
        best_row = np.argmax(values, axis=0)
        columns = np.arange(k)
        best_pi = grid[best_row].copy()
        best_value = values[best_row, columns].copy()
        # The endpoint 0 (the grid starts at the smallest normal float).
        zero_wins = problem.at_zero > best_value
        best_pi = np.where(zero_wins, 0.0, best_pi)
        best_value = np.where(zero_wins, problem.at_zero, best_value)
        # Local maxima of h − λπ: ψ − λ changes from > 0 to ≤ 0 between grid nodes j, j+1.
        phi = self.psi_grid - lam
        rows, cols = np.nonzero((phi[:-1] > 0) & (phi[1:] <= 0))
        if rows.size:
            lo, hi = np.log(grid[rows]), np.log(grid[rows + 1])
            for _ in range(_LOG_BISECTIONS):
                mid = 0.5 * (lo + hi)
                above = problem.psi(np.exp(mid), cols) > lam
                lo = np.where(above, mid, lo)
                hi = np.where(above, hi, mid)
            roots = np.exp(0.5 * (lo + hi))
            root_values = problem.h(roots, cols) - lam * roots
            for root, value, col in zip(roots, root_values, cols):
                if value > best_value[col]:
                    best_pi[col], best_value[col] = root, value
        return best_pi, best_value


def _solve_dual_global(problem: _Instance, concave, proof) -> CertifiedSolution:
    inner = _GlobalInner(problem)
    k = problem.k

    def evaluate(lam):
        pi, value = inner(lam)
        return pi, math.fsum([lam, *value.tolist()])

    # Bracket from the math, then verified (the grid stands in for sup/inf): for
    # λ ≥ sup_{[1/K, 1]} ψ_i every h_i − λπ is non-increasing on [1/K, 1], so π_i(λ) ≤ 1/K;
    # for λ ≤ inf_{(0, 1]} ψ_i (one i) that h_i − λπ is non-decreasing, so π_i(λ) = 1, and
    # for λ ≤ inf_{(0, 1/K]} ψ_i (all i) every π_i(λ) ≥ 1/K.
    share = inner.grid >= 1.0 / k
    finite_psi = np.where(np.isfinite(inner.psi_grid), inner.psi_grid, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        hi = float(np.nanmax(finite_psi[share]))
        lows = [np.nanmax(np.nanmin(finite_psi, axis=0)), np.nanmin(finite_psi[~share]) if (~share).any() else np.nan]
    lows = [float(v) for v in lows if np.isfinite(v)]
    if not np.isfinite(hi):
        raise ValueError("ψ is not finite anywhere on [1/K, 1]; the dual cannot be bracketed")
    lo = min(max(lows), hi) if lows else hi - 1.0
    pi_lo, g_lo = evaluate(lo)
    pi_hi, g_hi = evaluate(hi)
    step = max(1.0, abs(lo), abs(hi))
    for _ in range(200):
        if pi_lo.sum() >= 1.0:
            break
        lo, step = lo - step, 2.0 * step
        pi_lo, g_lo = evaluate(lo)
    step = max(1.0, abs(lo), abs(hi))
    for _ in range(200):
        if pi_hi.sum() <= 1.0:
            break
        hi, step = hi + step, 2.0 * step
        pi_hi, g_hi = evaluate(hi)
    if pi_lo.sum() < 1.0 or pi_hi.sum() > 1.0:
        raise RuntimeError("the dual minimizer could not be bracketed; please report this regularizer")
    # g is convex with subgradient 1 − Σπ(λ); bisect its sign to the float resolution of λ.
    while True:
        mid = _float_midpoint(lo, hi)
        if not lo < mid < hi:
            break
        pi_mid, g_mid = evaluate(mid)
        if pi_mid.sum() >= 1.0:
            lo, pi_lo, g_lo = mid, pi_mid, g_mid
        else:
            hi, pi_hi, g_hi = mid, pi_mid, g_mid
    lam, dual = (lo, g_lo) if g_lo <= g_hi else (hi, g_hi)

    policy = _best_primal(problem, pi_lo, lo, pi_hi, hi, dual)
    # g is flat between its kinks, and a minimizer inside the flat piece may match the
    # primal's own multiplier (ψ_i(π_i) averaged over the support) where the bisection's end
    # does not; prefer it when g there is as low, up to the rounding of the two sums.
    try:
        own = _mass_weighted_multiplier(problem, policy)
    except ValueError:
        own = None
    if own is not None and math.isfinite(own):
        g_own = evaluate(own)[1]
        if g_own <= dual + 8.0 * _EPS * (k + 1) * (1.0 + abs(dual) + abs(own)):
            lam, dual = own, g_own
    return _assemble(problem, policy, lam, dual, "dual-global", concave, proof)


def _best_primal(problem: _Instance, pi_lo, lam_lo, pi_hi, lam_hi, dual):
    """The best feasible point found from several starts: the repaired inner maximizers at
    the two ends of the final λ bracket, the best vertex and the uniform policy, each
    improved by :func:`_pairwise_ascent` and :func:`_newton_polish`.

    When the repaired maximizers already reach the dual bound (to rounding), they are optimal
    and returned as they are.
    """
    k = problem.k
    mix = _interpolate(pi_lo, lam_lo, pi_hi, lam_hi)[0]
    values = problem.h(mix)
    closed = 16.0 * _EPS * (k + 1) * (1.0 + abs(dual) + math.fsum(np.abs(values).tolist()))
    if np.all(np.isfinite(values)) and dual - math.fsum(values.tolist()) <= closed:
        return mix
    starts = [mix]
    for pi in (pi_lo, pi_hi):
        if pi.sum() > 0:
            starts.append(pi / pi.sum())
    # Vertex e_j has value h_j(1) + Σ_{i≠j} h_i(0).
    vertex_values = problem.h(np.ones(k)) - problem.at_zero
    vertex = np.zeros(k)
    vertex[int(np.argmax(vertex_values))] = 1.0
    starts += [vertex, np.full(k, 1.0 / k)]
    best, best_value = None, -np.inf
    for start in starts:
        for candidate in (start, _pairwise_ascent(problem, start)):
            if candidate is None:
                continue
            values = problem.h(candidate)
            if np.all(np.isfinite(values)):
                value = math.fsum(values.tolist())
                if value > best_value:
                    best, best_value = candidate, value
    if best is None:
        raise ValueError("no feasible point with a finite objective was found; the regularizer is singular on [0, 1]")
    return best


def _transfer_grid() -> np.ndarray:
    """Fractions s ∈ [0, 1] of the largest possible transfer: uniform, plus geometric toward
    both ends (a transfer that leaves a response with 1e-16 of its mass, or moves 1e-16)."""
    geometric = 10.0 ** -np.arange(1.0, 17.0)
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, 97), geometric, 1.0 - geometric]))


def _pairwise_ascent(problem: _Instance, policy, rounds: int = 30):
    """Alternates :func:`_newton_polish` (fast convergence to the KKT point of the current
    support) with the best move of mass between two responses: the best over all pairs (of
    the 24 most promising responses) and over each pair's whole feasible segment (the grid
    of :func:`_transfer_grid`, then the sign change of the slope around the best node
    bisected), so that a move may jump between the branches of a nonconcave h_i.

    Stops when no move improves the objective by more than its rounding (the point is then
    optimal against every two-response transfer on the grid, among those responses), or
    after ``rounds`` moves.
    """
    k = problem.k
    if k == 1:
        return policy
    policy = policy.copy()
    fractions = _transfer_grid()
    for _ in range(rounds):
        policy = _newton_polish(problem, policy)
        values = problem.h(policy)
        tolerance = 16.0 * _EPS * (1.0 + math.fsum(np.abs(values).tolist()))
        psi = problem.psi(np.where(policy > 0, policy, _TINY))
        candidates = _promising(psi, policy)
        first, second = np.triu_indices(candidates.size, 1)
        i, j = candidates[first], candidates[second]
        # t > 0 moves mass from j to i, t < 0 from i to j.
        up = np.minimum(policy[j], 1.0 - policy[i])
        down = np.minimum(policy[i], 1.0 - policy[j])
        t = np.concatenate([up[:, None] * fractions, -down[:, None] * fractions[1:]], axis=1)
        ii, jj = np.broadcast_to(i[:, None], t.shape), np.broadcast_to(j[:, None], t.shape)
        gain = _pair_gain(problem, policy, values, ii, jj, t)
        gain = np.where(np.isfinite(gain), gain, -np.inf)
        pair, node = np.unravel_index(np.argmax(gain), gain.shape)
        if not gain[pair, node] > tolerance:
            break
        step = _refine_transfer(problem, policy, i[pair], j[pair], t[pair], node, gain[pair, node], values)
        policy[i[pair]] = min(max(policy[i[pair]] + step, 0.0), 1.0)
        policy[j[pair]] = min(max(policy[j[pair]] - step, 0.0), 1.0)
        policy /= policy.sum()
    return policy


def _promising(psi, policy, size: int = 12):
    """Up to 2·size responses: the highest ψ among π < 1 and the lowest ψ among π > 0."""
    k = policy.size
    if k <= 2 * size:
        return np.arange(k)
    order = np.argsort(psi)
    receivers = [int(i) for i in order[::-1] if policy[i] < 1.0][:size]
    givers = [int(i) for i in order if policy[i] > 0.0][:size]
    return np.unique(np.array(receivers + givers, dtype=np.int64))


def _pair_gain(problem, policy, values, i, j, t):
    new_i = np.clip(policy[i] + t, 0.0, 1.0)
    new_j = np.clip(policy[j] - t, 0.0, 1.0)
    return (problem.h(new_i, i) - values[i]) + (problem.h(new_j, j) - values[j])


def _refine_transfer(problem, policy, i, j, t, node, gain, values):
    """Bisect the slope ψ_i(π_i + t) − ψ_j(π_j − t) between the best node's neighbours."""
    best = t[node]
    order = np.argsort(t)
    position = int(np.nonzero(order == node)[0][0])
    lo = t[order[max(position - 1, 0)]]
    hi = t[order[min(position + 1, t.size - 1)]]

    def slope(step):
        a = np.clip(policy[i] + step, _TINY, 1.0)
        b = np.clip(policy[j] - step, _TINY, 1.0)
        return float(problem.psi(np.array([a]), np.array([i]))[0] - problem.psi(np.array([b]), np.array([j]))[0])

    if not (slope(lo) > 0 > slope(hi)):
        return best
    for _ in range(_LOG_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if slope(mid) > 0:
            lo = mid
        else:
            hi = mid
    root = 0.5 * (lo + hi)
    root_gain = _pair_gain(problem, policy, values, np.array([i]), np.array([j]), np.array([root]))[0]
    return root if root_gain >= gain else best


def _newton_polish(problem: _Instance, policy, steps: int = 30):
    """Newton's method on the KKT system of the support, ψ_i(π_i) = μ and Σπ = 1, in u = log π.

    With d_i = h_i''(π_i)·π_i (the derivative of ψ_i in u_i) and F_i = ψ_i − μ, the Newton
    step is δμ = (Σ π_i F_i/d_i − (Σπ − 1)) / Σ π_i/d_i and δu_i = (δμ − F_i)/d_i. A step is
    kept only if it lowers the stationarity error without lowering the objective (beyond
    rounding), so the polish never makes the point worse.
    """
    support = (policy > 0) & (policy < 1)
    if support.sum() < 2:
        return policy
    second_fn = problem.symbolic.second_fn
    if second_fn is None:
        return policy
    index = np.nonzero(support)[0]
    fixed = math.fsum(policy[~support].tolist())
    pi = policy[index].copy()

    def state(pi):
        psi = problem.psi(pi, index)
        weights = pi / pi.sum()
        mu = float(np.sum(weights * psi))
        error = max(float(np.max(np.abs(psi - mu))), abs(math.fsum(pi.tolist()) + fixed - 1.0))
        return psi, mu, error

    def total(pi):
        trial = policy.copy()
        trial[index] = pi
        return math.fsum(problem.h(trial).tolist())

    psi, mu, error = state(pi)
    value = total(pi)
    for _ in range(steps):
        d = problem._call(second_fn, pi, index) * pi
        if not np.all(np.isfinite(d)) or np.any(d == 0) or not np.all(np.isfinite(psi)):
            break
        f = psi - mu
        g = math.fsum(pi.tolist()) + fixed - 1.0
        denominator = float(np.sum(pi / d))
        if denominator == 0 or not math.isfinite(denominator):
            break
        d_mu = (float(np.sum(pi * f / d)) - g) / denominator
        with np.errstate(all="ignore"):
            trial = pi * np.exp(np.clip((d_mu - f) / d, -50.0, 50.0))
        if not np.all(np.isfinite(trial)) or np.any(trial >= 1.0) or np.any(trial <= 0):
            break
        trial_psi, trial_mu, trial_error = state(trial)
        trial_value = total(trial)
        tolerance = 16.0 * _EPS * (1.0 + abs(value))
        if not (trial_error < error and trial_value >= value - tolerance):
            break
        pi, psi, mu, error, value = trial, trial_psi, trial_mu, trial_error, trial_value
    result = policy.copy()
    result[index] = pi
    return result / result.sum()
