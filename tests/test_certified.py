"""Tests of pmtheory.certified: hand-derived optima of the PM, KL and max-entropy
regularizers on every path, a high-precision reference for a regularizer with no closed
form, nonconvex problems against brute force, the certificate's soundness, invariances and
input validation."""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, note, settings, target
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from pmtheory.certified import CertifiedSolution, _concave, solve_pointwise_regularized
from pmtheory.testing import references, reward_vectors

PM = "-log(pi) + C1 + C2/pi"
REWARDS = np.array([0.3, -1.0, 2.0, 0.0])
# Clarabel stops at gap tolerances of 1e-12, which leave π off by up to ~√1e-12 on
# well-scaled inputs (the objective is flat at the optimum).
CVXPY_ATOL = 1e-7
# The monotone and dual paths bisect to the float resolution of log π and λ.
EXACT_ATOL = 1e-10
# KKT residual of an exact solve: a few ulps of the scaled ψ − λ and of Σπ − 1.
KKT_TOL = 1e-12


def gap_tolerance(sol: CertifiedSolution) -> float:
    # The gap is a difference of two sums of K + 1 terms of size ~|objective|.
    return 64 * np.finfo(float).eps * (sol.policy.size + 1) * (1.0 + abs(sol.objective))


def mp_reference(rewards, slope, digits=40):
    """Maximizer of Σ h_i over the simplex for concave h_i with ψ_i(π) = r_i + slope(π)
    decreasing from +∞ at 0+: nested bisection in mpmath (π_i(λ), then Σπ_i(λ) = 1)."""
    with mpmath.workdps(digits):
        r = [mpmath.mpf(float(v)) for v in rewards]

        def share(ri, lam):
            lo, hi = mpmath.mpf(0), mpmath.mpf(1)
            if ri + slope(hi) >= lam:
                return hi
            for _ in range(4 * digits):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if ri + slope(mid) > lam else (lo, mid)
            return (lo + hi) / 2

        lam_lo, lam_hi = min(r) - 100, max(r) + 100
        for _ in range(4 * digits):
            lam = (lam_lo + lam_hi) / 2
            if sum(share(ri, lam) for ri in r) > 1:
                lam_lo = lam
            else:
                lam_hi = lam
        return np.array([float(share(ri, lam_lo)) for ri in r])


class TestPreferenceMatching:
    """R = −log π + C1 + C2/π (PMR eq 3.8, Theorem 1): the optimum is softmax(r)."""

    @pytest.mark.parametrize("c1, c2", [(0.0, 0.0), (0.7, -2.0), (-3.0, 5.0), (0.25, 0.0)])
    @pytest.mark.parametrize("method, atol", [("cvxpy", CVXPY_ATOL), ("monotone", EXACT_ATOL),
                                              ("dual-global", EXACT_ATOL)])
    def test_softmax(self, c1, c2, method, atol):
        sol = solve_pointwise_regularized(REWARDS, PM, parameters={"C1": c1, "C2": c2}, method=method)
        np.testing.assert_allclose(sol.policy, softmax(REWARDS), atol=atol, rtol=0)
        # PMR §3.5: the optimum is log Σ e^r + C1 + K·C2 (C2/π sums to the constant K·C2).
        assert sol.objective == pytest.approx(logsumexp(REWARDS) + c1 + 4 * c2, abs=1e-12)
        # λ from ψ_i = r_i − log π_i − 1 + C1 at π = softmax(r).
        assert sol.multiplier == pytest.approx(logsumexp(REWARDS) - 1 + c1, abs=1e-6)
        assert -gap_tolerance(sol) <= sol.duality_gap <= (1e-12 if method == "cvxpy" else gap_tolerance(sol))
        assert sol.concave and sol.concavity_proof == "symbolic"
        assert sol.method == {"cvxpy": "cvxpy-clarabel", "monotone": "monotone-root"}.get(method, method)
        # The gap is taken on r − max r (the certificate does not grow with a reward offset),
        # so it equals dual_bound − objective to the rounding of shifting them back.
        shifted_back = 4 * np.finfo(float).eps * (abs(sol.dual_bound) + abs(sol.objective))
        assert sol.duality_gap == pytest.approx(sol.dual_bound - sol.objective, abs=shifted_back)
        if method != "cvxpy":
            assert sol.kkt_residual < KKT_TOL

    def test_auto_picks_cvxpy_for_a_translatable_concave_regularizer(self):
        sol = solve_pointwise_regularized(REWARDS, "-log(pi) + 2 - 1/pi")
        assert sol.method == "cvxpy-clarabel"
        np.testing.assert_allclose(sol.policy, softmax(REWARDS), atol=CVXPY_ATOL, rtol=0)

    @given(st.integers(1, 6).flatmap(reward_vectors), st.sampled_from([0.0, 1.5]), st.sampled_from([0.0, -0.5]))
    @example(np.array([1e4, -1e4, 0.0]), 0.0, 0.0)
    @example(np.array([0.0, -745.0]), 1.5, 0.0)  # the second probability is ~ the smallest float
    def test_monotone_matches_softmax(self, rewards, c1, c2):
        sol = solve_pointwise_regularized(rewards, PM, parameters={"C1": c1, "C2": c2}, method="monotone")
        error = float(np.max(np.abs(sol.policy - softmax(rewards))))
        target(error, label="max |π − softmax(r)|")
        note(f"{sol}")
        assert error < EXACT_ATOL
        assert sol.kkt_residual < KKT_TOL
        assert abs(sol.duality_gap) <= gap_tolerance(sol)

    @settings(max_examples=25)
    @given(st.integers(2, 6).flatmap(reward_vectors))
    @example(np.array([0.0, 1e4, 0.0, 0.0]))
    def test_cvxpy_certificate_bounds_its_error(self, rewards):
        # With R = −log π the objective gap is exactly KL(π‖softmax(r)) (PMR §3.5), so the
        # certified gap must bound it, and Pinsker then bounds ‖π − softmax(r)‖₁.
        sol = solve_pointwise_regularized(rewards, "-log(pi)", method="cvxpy")
        exact = softmax(rewards)
        # log softmax(r) in log space: at r = (0, 1e4, 0, 0) softmax underflows to 0 where
        # cvxpy's π is 3e-17, and log 0 would make the KL infinite (found by the fuzz profile).
        log_exact = rewards - logsumexp(rewards)
        support = sol.policy > 0
        kl = float(np.sum(sol.policy[support] * (np.log(sol.policy[support]) - log_exact[support])))
        target(kl - sol.duality_gap, label="KL − gap")
        assert kl <= sol.duality_gap + gap_tolerance(sol)
        assert np.sum(np.abs(sol.policy - exact)) <= l1_tolerance(sol)


class TestKLRegularizer:
    """R_i = −β log(π/q_i) (PMR eq 3.11 with the KL of eq 2.3): π ∝ q·e^{r/β}."""

    @pytest.mark.parametrize("beta", [0.1, 0.5, 3.0])
    @pytest.mark.parametrize("method, atol", [("cvxpy", CVXPY_ATOL), ("monotone", EXACT_ATOL)])
    def test_closed_form(self, beta, method, atol):
        q = np.array([0.1, 0.2, 0.3, 0.4])
        sol = solve_pointwise_regularized(REWARDS, "-beta*log(pi/q)", parameters={"q": q, "beta": beta},
                                          method=method)
        logits = np.log(q) + REWARDS / beta
        np.testing.assert_allclose(sol.policy, softmax(logits), atol=atol, rtol=0)
        # max Σπ(r − β log(π/q)) = β log Σ q e^{r/β}.
        assert sol.objective == pytest.approx(beta * logsumexp(logits), abs=1e-9)
        assert sol.duality_gap >= -gap_tolerance(sol)

    @given(st.integers(1, 6).flatmap(lambda k: st.tuples(reward_vectors(k), references(k))),
           st.sampled_from([1e-2, 1.0, 1e2]))
    def test_monotone_matches_closed_form(self, instance, beta):
        rewards, q = instance
        sol = solve_pointwise_regularized(rewards, "-beta*log(pi/q)", parameters={"q": q, "beta": beta},
                                          method="monotone")
        error = float(np.max(np.abs(sol.policy - softmax(np.log(q) + rewards / beta))))
        target(error, label="max |π − π_KL|")
        assert error < EXACT_ATOL
        # ψ_i = r_i − β(log π_i − log q_i + 1) carries terms of size β·|log q|, whose rounding
        # the reward-scaled residual cannot hide.
        assert sol.kkt_residual < KKT_TOL * (1 + beta * np.max(np.abs(np.log(q))))


class TestMaxEntropy:
    """R = −τ log π: π = softmax(r/τ), with value τ log Σ e^{r/τ}."""

    @pytest.mark.parametrize("tau", [0.05, 1.0, 20.0])
    @pytest.mark.parametrize("method, atol", [("cvxpy", CVXPY_ATOL), ("monotone", EXACT_ATOL)])
    def test_softmax_of_scaled_rewards(self, tau, method, atol):
        sol = solve_pointwise_regularized(REWARDS, "-tau*log(pi)", parameters={"tau": tau}, method=method)
        np.testing.assert_allclose(sol.policy, softmax(REWARDS / tau), atol=atol, rtol=0)
        assert sol.objective == pytest.approx(tau * logsumexp(REWARDS / tau), abs=1e-9)


class TestOtherConcaveRegularizers:
    def test_not_translatable_goes_to_the_monotone_path(self):
        # π·R = −π log π + 0.4π²: h'' = −1/π + 0.8 < 0 on (0, 1], but 0.4π² is convex with a
        # positive weight, so the sum is concave without being DCP.
        sol = solve_pointwise_regularized(REWARDS, "-log(pi) + 0.4*pi")
        assert (sol.method, sol.concave, sol.concavity_proof) == ("monotone-root", True, "symbolic")
        assert abs(sol.duality_gap) < 1e-9 and sol.kkt_residual < KKT_TOL
        reference = mp_reference(REWARDS, lambda p: -mpmath.log(p) - 1 + mpmath.mpf("0.8") * p)
        np.testing.assert_allclose(sol.policy, reference, atol=1e-13, rtol=0)

    def test_numeric_concavity_proof(self):
        # π·R = −π log π + sin π: h'' = −1/π − sin π < 0, which sympy cannot show.
        sol = solve_pointwise_regularized(REWARDS, "-log(pi) + sin(pi)/pi")
        assert (sol.method, sol.concave, sol.concavity_proof) == ("monotone-root", True, "numeric grid")
        reference = mp_reference(REWARDS, lambda p: -mpmath.log(p) - 1 + mpmath.cos(p))
        np.testing.assert_allclose(sol.policy, reference, atol=1e-13, rtol=0)
        assert abs(sol.duality_gap) < 1e-9

    def test_sqrt_regularizer_interior_optimum(self):
        # π·R = −π^{3/2}: ψ_i = r_i − 1.5√π, so π_i = ((r_i − λ)/1.5)² on the support.
        rewards = np.array([0.0, 0.1, 0.2])
        exact = solve_pointwise_regularized(rewards, "-sqrt(pi)", method="monotone")
        lam = exact.multiplier
        np.testing.assert_allclose(exact.policy, ((rewards - lam) / 1.5) ** 2, rtol=1e-13)
        sol = solve_pointwise_regularized(rewards, "-sqrt(pi)")
        assert sol.method == "cvxpy-clarabel"
        np.testing.assert_allclose(sol.policy, exact.policy, atol=CVXPY_ATOL, rtol=0)

    def test_scs_fallback(self, monkeypatch):
        # Patched in pmtheory.certified._concave, where _solve_cvxpy reads the list.
        solvers = tuple(s for s in _concave._CVXPY_SOLVERS if s[0] == "SCS")
        monkeypatch.setattr(_concave, "_CVXPY_SOLVERS", solvers)
        sol = solve_pointwise_regularized(REWARDS, "-log(pi)")
        assert sol.method == "cvxpy-scs"
        np.testing.assert_allclose(sol.policy, softmax(REWARDS), atol=1e-4, rtol=0)
        assert sol.duality_gap >= -gap_tolerance(sol)

    def test_linear_objective_splits_ties_evenly(self):
        # R constant: h is linear, the optimum set is the face of the best rewards; the
        # monotone path returns its barycentre.
        sol = solve_pointwise_regularized(np.array([1.0, 1.0, 0.0]), "3", method="monotone")
        np.testing.assert_allclose(sol.policy, [0.5, 0.5, 0.0], rtol=0, atol=1e-15)
        assert sol.objective == pytest.approx(4.0, abs=1e-15)


class TestConcavityDecision:
    def test_per_response_parameters_beyond_the_symbolic_budget(self):
        # h'' = 2a_i − 1/π: concave on (0, 1] iff a_i ≤ ½. sympy cannot decide it for a
        # symbolic a ≥ 0, and 20 distinct values are past the per-value symbolic checks.
        rewards = np.linspace(-1, 1, 20)
        sol = solve_pointwise_regularized(rewards, "-log(pi) + a*pi", parameters={"a": np.linspace(0, 0.45, 20)})
        assert (sol.concave, sol.concavity_proof, sol.method) == (True, "numeric grid", "monotone-root")
        # One a_i above ½: the grid finds h'' > 0 and sympy confirms it exactly at that point.
        sol = solve_pointwise_regularized(rewards, "-log(pi) + a*pi", parameters={"a": np.linspace(0, 0.6, 20)})
        assert (sol.concave, sol.concavity_proof, sol.method) == (False, "symbolic", "dual-global")

    def test_few_parameter_values_are_checked_exactly(self):
        sol = solve_pointwise_regularized(REWARDS, "-log(pi) + a*pi", parameters={"a": [0.1, 0.2, 0.3, 0.4]})
        assert (sol.concave, sol.concavity_proof) == (True, "symbolic")
        sol = solve_pointwise_regularized(REWARDS, "-log(pi) + a*pi", parameters={"a": [0.1, 0.2, 0.3, 0.7]})
        assert (sol.concave, sol.concavity_proof) == (False, "symbolic")

    def test_kinks_are_read_from_the_slope(self):
        # R = −π below ½ and −½ above: h = −π² then −π/2, so h' jumps from −1 up to −½ at
        # π = ½ (a convex kink), although h'' ≤ 0 on both pieces.
        sol = solve_pointwise_regularized(REWARDS, "Piecewise((-pi, pi < 0.5), (-0.5, True))")
        assert (sol.concave, sol.concavity_proof, sol.method) == (False, "numeric grid", "dual-global")
        # −|π − ½|·π... with the kink the other way, −π·|π − ½| is convex below ½: also not concave.
        sol = solve_pointwise_regularized(REWARDS, "-Abs(pi - 0.5)")
        assert not sol.concave and sol.duality_gap >= -gap_tolerance(sol)


class TestNonconvex:
    def test_pi_squared_is_a_vertex(self):
        # π·R = π³ is convex, so Σ(r_i π_i + π_i³) is maximized at a vertex: e_j with
        # j = argmax r, value max r + 1. The dual g(λ) = λ + Σ max(0, r_i + 1 − λ) is
        # minimized at λ = max r + 1 with the same value: no gap.
        sol = solve_pointwise_regularized(REWARDS, "pi**2")
        assert (sol.method, sol.concave, sol.concavity_proof) == ("dual-global", False, "symbolic")
        np.testing.assert_array_equal(sol.policy, [0.0, 0.0, 1.0, 0.0])
        assert sol.objective == 3.0 and sol.dual_bound == pytest.approx(3.0, abs=1e-14)
        assert sol.kkt_residual < KKT_TOL

    @pytest.mark.parametrize("rewards", [[0.0, 0.0], [0.3, -0.2], [1.0, 2.5]])
    def test_positive_gap_is_reported(self, rewards):
        # π·R = −π log π + 3π²: h'' = 6 − 1/π > 0 on (1/6, 1], so the problem is nonconvex
        # (while −log π + 0.4π is concave). With K = 2 a dense grid of π₁ is a brute force.
        rewards = np.array(rewards)
        sol = solve_pointwise_regularized(rewards, "-log(pi) + 3*pi")
        assert (sol.method, sol.concave) == ("dual-global", False)
        grid = np.linspace(0.0, 1.0, 400_001)
        brute = np.max(_h_log_plus_3pi(grid, rewards[0]) + _h_log_plus_3pi(1 - grid, rewards[1]))
        assert sol.objective >= brute - 1e-12
        assert sol.dual_bound >= brute
        assert sol.duality_gap > 1e-3  # the Lagrangian relaxation is not tight here

    def test_forced_concave_methods_refuse(self):
        for method in ("monotone", "cvxpy"):
            with pytest.raises(ValueError, match="dual-global"):
                solve_pointwise_regularized(REWARDS, "-log(pi) + 3*pi", method=method)

    def test_cvxpy_refuses_a_non_translatable_regularizer(self):
        with pytest.raises(ValueError, match="DCP"):
            solve_pointwise_regularized(REWARDS, "-log(pi) + 0.4*pi", method="cvxpy")

    @settings(max_examples=10)
    @given(st.lists(st.floats(-3, 3), min_size=2, max_size=2), st.sampled_from(["-log(pi) + pi", "-pi*log(pi)"]))
    def test_certificate_brackets_the_brute_force_optimum(self, rewards, regularizer):
        rewards = np.array(rewards)
        sol = solve_pointwise_regularized(rewards, regularizer)
        grid = np.linspace(0.0, 1.0, 200_001)
        h = _numpy_h(regularizer)
        brute = np.max(h(grid, rewards[0]) + h(1 - grid, rewards[1]))
        assert sol.dual_bound >= brute - 1e-12
        assert sol.objective >= brute - 1e-10
        assert np.all(sol.policy >= 0) and abs(sol.policy.sum() - 1) < 1e-15


def _h_log_plus_3pi(p, r):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (r - np.log(p) + 3 * p), 0.0)


def _numpy_h(regularizer):
    def h(p, r):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p = np.log(p)
            value = {"-log(pi) + pi": p * (r - log_p + p), "-pi*log(pi)": p * (r - p * log_p)}[regularizer]
        return np.where(p > 0, value, 0.0)

    return h


def l1_tolerance(sol: CertifiedSolution) -> float:
    """How far from the maximizer a solution of REGULARIZERS can be, in ℓ1.

    The exact paths are good to a few ulps per entry. For the cvxpy case (R = −log π) the
    objective gap is KL(π‖π*) and Pinsker gives ‖π − π*‖₁ ≤ √(2·gap), gap ≤ duality_gap up
    to the rounding of the two values (so the bound cannot go below ~√eps).
    """
    if sol.method.startswith("cvxpy"):
        return math.sqrt(2 * (max(sol.duality_gap, 0.0) + gap_tolerance(sol)))
    return 1e-9


REGULARIZERS = [  # (regularizer, per-response parameter factory, method)
    ("-log(pi) + C1 + C2/pi", lambda k: {"C1": 0.5, "C2": -1.0}, "monotone"),
    ("-beta*log(pi/q)", lambda k: {"beta": 0.7, "q": np.arange(1, k + 1) / (k * (k + 1) / 2)}, "monotone"),
    ("-log(pi) + 0.4*pi", lambda k: None, "monotone"),
    ("-log(pi)", lambda k: None, "cvxpy"),
    ("-log(pi) + 3*pi", lambda k: None, "dual-global"),
]


class TestInvariances:
    @settings(max_examples=20)
    @given(st.integers(1, 5).flatmap(reward_vectors), st.floats(-50, 50), st.sampled_from(REGULARIZERS))
    def test_adding_a_constant_to_rewards_changes_nothing(self, rewards, shift, case):
        regularizer, parameters, method = case
        rewards = np.clip(rewards, -30, 30)  # keep r + shift exact enough for the comparison
        base = solve_pointwise_regularized(rewards, regularizer, parameters=parameters(rewards.size), method=method)
        moved = solve_pointwise_regularized(rewards + shift, regularizer, parameters=parameters(rewards.size),
                                            method=method)
        if base.concave:  # a nonconvex problem may have several maximizers (ties)
            assert np.sum(np.abs(moved.policy - base.policy)) <= l1_tolerance(base) + l1_tolerance(moved)
        # Σπ = 1, so the value moves by the shift.
        assert moved.objective == pytest.approx(base.objective + shift, abs=1e-9 * (1 + abs(shift)))

    @settings(max_examples=20)
    @given(st.integers(1, 5).flatmap(lambda k: st.tuples(reward_vectors(k), st.permutations(range(k)))),
           st.sampled_from(REGULARIZERS))
    def test_permuting_rewards_permutes_the_policy(self, instance, case):
        rewards, order = instance
        order = np.array(order)
        regularizer, parameters, method = case
        params = parameters(rewards.size)
        permuted = None if params is None else {
            name: (value[order] if np.ndim(value) else value) for name, value in params.items()}
        base = solve_pointwise_regularized(rewards, regularizer, parameters=params, method=method)
        sol = solve_pointwise_regularized(rewards[order], regularizer, parameters=permuted, method=method)
        if base.concave:  # a nonconvex problem may have several maximizers (ties)
            assert np.sum(np.abs(sol.policy - base.policy[order])) <= l1_tolerance(base) + l1_tolerance(sol)
        assert sol.objective == pytest.approx(base.objective, abs=1e-9)

    @pytest.mark.parametrize("method", ["auto", "cvxpy", "monotone", "dual-global"])
    def test_ties_get_equal_probabilities(self, method):
        rewards = np.array([0.5, 2.0, 0.5, 2.0, -1.0])
        sol = solve_pointwise_regularized(rewards, "-log(pi) + 0.5", method=method)
        atol = 1e-9 if method in ("auto", "cvxpy") else 0.0
        np.testing.assert_allclose(sol.policy[[0, 1]], sol.policy[[2, 3]], atol=atol, rtol=0)

    @pytest.mark.parametrize("method", ["auto", "cvxpy", "monotone", "dual-global"])
    @pytest.mark.parametrize("regularizer", ["-log(pi)", "-sqrt(pi)", "-log(pi) + 0.4*pi"])
    def test_single_response(self, method, regularizer):
        if method == "cvxpy" and regularizer.endswith("0.4*pi"):
            with pytest.raises(ValueError):  # concave but not DCP: forcing cvxpy must refuse
                solve_pointwise_regularized([3.0], regularizer, method=method)
            return
        sol = solve_pointwise_regularized([3.0], regularizer, method=method)
        assert sol.policy.tolist() == [1.0]
        assert abs(sol.duality_gap) < 1e-12 and sol.kkt_residual < KKT_TOL

    def test_nonconvex_single_response(self):
        sol = solve_pointwise_regularized([-2.0], "pi**2")
        assert sol.policy.tolist() == [1.0] and sol.objective == -1.0


class TestInputs:
    def test_sympy_expression_and_other_variable_names(self):
        p = sp.Symbol("p")
        from_expr = solve_pointwise_regularized(REWARDS, -sp.log(p), variable="p", method="monotone")
        from_text = solve_pointwise_regularized(REWARDS, "-log(p)", variable="p", method="monotone")
        np.testing.assert_array_equal(from_expr.policy, from_text.policy)
        np.testing.assert_allclose(from_text.policy, softmax(REWARDS), atol=EXACT_ATOL, rtol=0)
        caret = solve_pointwise_regularized(REWARDS, "-pi^2", method="monotone")  # ^ is a power
        np.testing.assert_allclose(caret.policy, solve_pointwise_regularized(REWARDS, "-pi**2").policy, atol=1e-7)

    def test_named_constants_in_strings(self):
        # With variable p, a bare pi is the number π and E is e: both add constants to R,
        # which leave the maximizer alone and shift the value.
        sol = solve_pointwise_regularized(REWARDS, "-log(p) + pi + E", variable="p", method="monotone")
        np.testing.assert_allclose(sol.policy, softmax(REWARDS), atol=EXACT_ATOL, rtol=0)
        assert sol.objective == pytest.approx(logsumexp(REWARDS) + np.pi + np.e, abs=1e-12)

    @pytest.mark.parametrize("rewards", [[0.0, np.nan], [np.inf, 0.0], [], [[0.0, 1.0]]])
    def test_bad_rewards(self, rewards):
        with pytest.raises(ValueError, match="rewards"):
            solve_pointwise_regularized(rewards, "-log(pi)")

    @pytest.mark.parametrize("regularizer, words", [
        ("-log(pi", "cannot be parsed"),
        ("-log(p)", r"\['p'\]"),
        ("-log(pi) + foo(pi)", "functions"),
        ("-log(pi) + c", "parameters"),
        ("pi > 0", "expression"),
    ])
    def test_bad_regularizer(self, regularizer, words):
        with pytest.raises(ValueError, match="regularizer") as info:
            solve_pointwise_regularized(REWARDS, regularizer)
        assert info.match(words)

    def test_sympy_pi_constant_is_refused(self):
        with pytest.raises(ValueError, match="regularizer.*sympy.Symbol"):
            solve_pointwise_regularized(REWARDS, -sp.log(sp.pi))

    @pytest.mark.parametrize("parameters, words", [
        ({"q": np.ones(3) / 3}, r"parameters\['q'\].*shape"),
        ({"q": np.array([0.5, np.nan, 0.25, 0.25])}, r"parameters\['q'\].*finite"),
        ({"q": np.ones(4) / 4, "z": 1.0}, r"parameters.*\['z'\]"),
        ({"pi": 1.0, "q": np.ones(4) / 4}, "parameters must not contain"),
    ])
    def test_bad_parameters(self, parameters, words):
        with pytest.raises(ValueError, match=words):
            solve_pointwise_regularized(REWARDS, "-log(pi/q)", parameters=parameters)

    def test_bad_method_and_variable(self):
        with pytest.raises(ValueError, match="method"):
            solve_pointwise_regularized(REWARDS, "-log(pi)", method="newton")
        with pytest.raises(ValueError, match="variable"):
            solve_pointwise_regularized(REWARDS, "-log(pi)", variable="1x")

    def test_unbounded_objective(self):
        # π·R = 1/π → +∞ as π → 0+: sending one probability to 0 makes the value unbounded.
        with pytest.raises(ValueError, match="unbounded"):
            solve_pointwise_regularized(REWARDS, "1/pi**2")


class TestEnforcedCertificate:
    """solve_pointwise_regularized(check=True) raises SolverError on an answer that fails its
    certificate (issue 14); a nonconvex problem's own duality gap is reported, not enforced."""

    @staticmethod
    def _uniform_answer(monkeypatch, name):
        """Make the solver ``name`` of pmtheory.certified return the uniform π (wrong for
        REWARDS under the PM regularizer, whose optimum is softmax(REWARDS))."""
        import pmtheory.certified as certified

        uniform = np.full(REWARDS.size, 1.0 / REWARDS.size)
        if name == "_solve_monotone":
            monkeypatch.setattr(certified, name, lambda problem: (uniform, 0.0))
        else:
            monkeypatch.setattr(certified, name, lambda *args: (uniform, "CLARABEL"))

    def test_a_wrong_concave_answer_raises_and_check_false_returns_it(self, monkeypatch):
        from pmtheory import SolverError

        self._uniform_answer(monkeypatch, "_solve_monotone")
        # Uniform π with λ = max r (0 on the rewards measured from max r that the solver sees):
        # g(λ) − objective = 0.792 (it is at least KL(uniform ‖ softmax) ≈ 0.2 for any λ), far
        # above the enforced 1e-9·(1 + |objective| + |dual bound|).
        with pytest.raises(SolverError, match=r"monotone-root.*duality gap 0\.792 of a concave problem exceeds"):
            solve_pointwise_regularized(REWARDS, PM, parameters={"C1": 0.0, "C2": 0.0}, method="monotone")
        sol = solve_pointwise_regularized(REWARDS, PM, parameters={"C1": 0.0, "C2": 0.0}, method="monotone",
                                          check=False)
        assert sol.duality_gap > 0.1

    @pytest.mark.parametrize("offset", [1e10, -1e10])
    def test_a_wrong_answer_raises_under_a_reward_offset(self, monkeypatch, offset):
        # The problem is the same for r + c; its certificate must be too. Measured from 0, the
        # enforced gap 1e-9·(1 + |objective| + |dual bound|) was 20 at an offset of 1e10, and
        # the uniform answer's gap of 0.79 passed.
        from pmtheory import SolverError

        self._uniform_answer(monkeypatch, "_solve_monotone")
        with pytest.raises(SolverError, match=r"duality gap 0\.792 of a concave problem exceeds"):
            solve_pointwise_regularized(REWARDS + offset, PM, parameters={"C1": 0.0, "C2": 0.0}, method="monotone")

    def test_the_answer_moves_with_a_reward_offset(self):
        sol = solve_pointwise_regularized(REWARDS, PM, parameters={"C1": 0.5, "C2": 0.0}, method="monotone")
        moved = solve_pointwise_regularized(REWARDS + 1024.0, PM, parameters={"C1": 0.5, "C2": 0.0},
                                            method="monotone")
        np.testing.assert_allclose(moved.policy, sol.policy, atol=EXACT_ATOL, rtol=0)
        assert moved.multiplier == pytest.approx(sol.multiplier + 1024.0, abs=1e-9)
        assert moved.objective == pytest.approx(sol.objective + 1024.0, abs=1e-9)
        assert moved.dual_bound == pytest.approx(sol.dual_bound + 1024.0, abs=1e-9)

    def test_auto_replaces_a_failing_cvxpy_answer_by_the_monotone_solve(self, monkeypatch):
        from pmtheory import SolverError

        self._uniform_answer(monkeypatch, "_solve_cvxpy")
        sol = solve_pointwise_regularized(REWARDS, "-log(pi)")
        assert sol.method == "monotone-root" and sol.duality_gap <= gap_tolerance(sol)
        np.testing.assert_allclose(sol.policy, softmax(REWARDS), atol=EXACT_ATOL, rtol=0)
        with pytest.raises(SolverError, match="cvxpy-clarabel"):  # a forced cvxpy has no fallback
            solve_pointwise_regularized(REWARDS, "-log(pi)", method="cvxpy")

    def test_a_correct_answer_with_extreme_parameters_still_solves(self):
        # The near miss: C1 = −1e4, C2 = 1e4 make the objective's terms ~1e4 larger than the
        # rewards; the rounding of the gap grows with them and must stay within the enforced
        # tolerance (which is relative to 1 + |objective| + |dual bound|).
        sol = solve_pointwise_regularized(REWARDS, PM, parameters={"C1": -1e4, "C2": 1e4}, method="monotone")
        np.testing.assert_allclose(sol.policy, softmax(REWARDS), atol=EXACT_ATOL, rtol=0)

    def test_the_rounding_of_the_dual_bound_grows_with_the_multiplier(self):
        # Found by the full (not --quick) PMR-T1 run: K = 1 makes π = 1 exact, yet the gap came
        # out −8.6e-13, below the −1.1e-13 that 1 + |objective| + |dual bound| allowed; g(λ)
        # sums terms of size |λ| ≈ 1e4 that cancel, and its rounding is eps·|λ|·(K + 1).
        # Since the rewards are measured from max r, K = 1 has r = 0 and a gap of exactly 0; the
        # same cancellation at K = 2, with C1 + K·C2 = 0 so that the objective stays small while
        # λ ≈ −8e5: a gap of −2.9e-10, 1000× what 1 + |objective| + |dual bound| alone allows.
        sol = solve_pointwise_regularized(np.array([0.38, -4.8]), PM, parameters={"C1": -8e5, "C2": 4e5},
                                          method="monotone")
        size = 1 + abs(sol.objective) + abs(sol.dual_bound)
        assert sol.multiplier < -7e5 and sol.duality_gap < -256 * np.finfo(float).eps * 3 * size
        np.testing.assert_allclose(sol.policy, softmax(np.array([0.38, -4.8])), atol=1e-9, rtol=0)

    def test_a_negative_entry_raises(self, monkeypatch):
        import pmtheory.certified as certified
        from pmtheory import SolverError

        bad = np.array([1.5, -0.5, 0.0, 0.0])
        monkeypatch.setattr(certified, "_solve_monotone", lambda problem: (bad, 0.0))
        with pytest.raises(SolverError, match=r"π is not finite and non-negative \(min π = -0\.5\)"):
            solve_pointwise_regularized(REWARDS, "-pi", method="monotone")
