"""Tests of pmtheory.mod: MOD Prop 1 against the direct optimum for Σ w_i R_i (exact solver and
cvxpy), its bracket and bisection, the implied rewards, and input validation."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.special import log_softmax

from pmtheory import optimal_policy
from pmtheory.cvx import cvxpy_optimal_policy
from pmtheory.mod import (
    check_weights,
    implied_rewards,
    optimal_log_policy,
    prop1_bracket,
    prop1_normalizer,
    weighted_f_prime,
)
from pmtheory.mod import (
    optimal_policy as mod_optimal_policy,
)
from pmtheory.testing import CVXPY_ATOL

# Every strictly convex barrier member the toolkit has (alpha at both ends of its range).
BARRIERS = ("reverse_kl", "forward_kl", "js", "alpha:0.1", "alpha:0.3", "alpha:0.9", "hellinger")


@st.composite
def weighted_problems(draw, *, negative=False, max_k=6):
    """(R (M, K), w, reference, β); w on the simplex (vertices included) or real with Σ = 1."""
    m, k = draw(st.integers(2, 3)), draw(st.integers(1, max_k))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    rewards = np.asarray(draw(st.lists(st.floats(-1, 1), min_size=m * k, max_size=m * k))).reshape(m, k) * scale
    if negative:
        raw = np.asarray(draw(st.lists(st.floats(-3, 3), min_size=m, max_size=m)))
        weights = np.append(raw[:-1], 1.0 - raw[:-1].sum())
    else:
        raw = np.asarray(draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0]), min_size=m, max_size=m)))
        raw[0] = raw[0] if raw.sum() > 0 else 1.0
        weights = raw / raw.sum()
    reference = np.exp(log_softmax(np.asarray(draw(st.lists(st.floats(-6, 0), min_size=k, max_size=k)))))
    return rewards, weights, reference / reference.sum(), draw(st.sampled_from([0.1, 1.0, 10.0]))


class TestOptimalPolicy:
    @given(st.sampled_from(BARRIERS), weighted_problems())
    @example("forward_kl", (np.array([[0.0, 5.0], [5.0, 0.0]]), np.array([1.0, 0.0]), np.array([0.5, 0.5]), 0.1))
    def test_matches_the_direct_optimum_to_1e_10(self, divergence, problem):
        # Prop 1 from the base optima alone = the optimum for Σ w R computed from the rewards.
        rewards, weights, reference, beta = problem
        bases = optimal_policy(rewards, reference, divergence=divergence, beta=beta).policy
        mod = mod_optimal_policy(bases, weights, reference, divergence=divergence, beta=beta)
        direct = optimal_policy(weights @ rewards, reference, divergence=divergence, beta=beta)
        np.testing.assert_allclose(mod.policy, direct.policy, atol=1e-10, rtol=0)
        assert mod.kkt_residual <= 1e-12

    @pytest.mark.parametrize("divergence", BARRIERS)
    @pytest.mark.parametrize("seed", range(3))
    def test_matches_cvxpy_to_its_tolerance(self, divergence, seed):
        rng = np.random.default_rng(seed)
        rewards = rng.normal(size=(2, 5))
        weights = np.array([0.3, 0.7])
        reference = rng.dirichlet(np.ones(5))
        bases = optimal_policy(rewards, reference, divergence=divergence).policy
        mod = mod_optimal_policy(bases, weights, reference, divergence=divergence)
        cvx = cvxpy_optimal_policy(weights @ rewards, reference, divergence=divergence)
        assert cvx.status == "optimal"
        np.testing.assert_allclose(mod.policy, cvx.policy, atol=CVXPY_ATOL, rtol=0)

    @given(st.sampled_from(BARRIERS), weighted_problems(negative=True))
    def test_negative_weights_still_give_the_direct_optimum(self, divergence, problem):
        rewards, weights, reference, beta = problem
        bases = optimal_policy(rewards, reference, divergence=divergence, beta=beta).policy
        mod = mod_optimal_policy(bases, weights, reference, divergence=divergence, beta=beta)
        direct = optimal_policy(weights @ rewards, reference, divergence=divergence, beta=beta)
        np.testing.assert_allclose(mod.policy, direct.policy, atol=1e-9, rtol=0)

    def test_reverse_kl_is_the_geometric_mixture(self):
        # eq 7: π* ∝ Π π_i^{w_i} for reverse KL.
        bases = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        weights = np.array([0.25, 0.75])
        expected = np.prod(bases ** weights[:, None], axis=0)
        sol = mod_optimal_policy(bases, weights, [1 / 3] * 3)
        np.testing.assert_allclose(sol.policy, expected / expected.sum(), rtol=1e-14)

    def test_vertex_weight_returns_that_base_policy(self):
        bases = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        for divergence in BARRIERS:
            sol = mod_optimal_policy(bases, [0.0, 1.0], [0.2, 0.3, 0.5], divergence=divergence)
            np.testing.assert_allclose(sol.policy, bases[1], atol=1e-12)

    def test_permuting_responses_permutes_the_policy(self):
        bases = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        reference = np.array([0.2, 0.3, 0.5])
        order = [2, 0, 1]
        for divergence in BARRIERS:
            full = mod_optimal_policy(bases, [0.4, 0.6], reference, divergence=divergence).policy
            permuted = mod_optimal_policy(bases[:, order], [0.4, 0.6], reference[order], divergence=divergence).policy
            np.testing.assert_allclose(permuted, full[order], atol=1e-14)


class TestOptimalLogPolicy:
    def test_batched_equals_looped(self):
        rng = np.random.default_rng(3)
        log_policies = log_softmax(rng.normal(size=(2, 4, 5)), axis=-1)
        log_reference = log_softmax(rng.normal(size=(4, 5)), axis=-1)
        batched = optimal_log_policy(log_policies, [0.3, 0.7], log_reference, divergence="js").log_policy
        for b in range(4):
            single = optimal_log_policy(log_policies[:, b], [0.3, 0.7], log_reference[b], divergence="js").log_policy
            np.testing.assert_allclose(batched[b], single, atol=1e-14)

    def test_works_below_float_range(self):
        # Sequence probabilities of e^-2000: only log space can hold them.
        log_reference = np.array([0.0, -2000.0])
        log_policies = np.array([[-1e-300, -2000.0 + 1.0], [-1e-300, -2000.0 - 1.0]])
        sol = optimal_log_policy(log_policies, [0.5, 0.5], log_reference, divergence="reverse_kl")
        np.testing.assert_allclose(sol.log_policy, [0.0, -2000.0], atol=1e-9)


class TestWeightedFPrime:
    def test_is_the_weighted_derivative(self):
        bases = np.array([[0.1, 0.9], [0.6, 0.4]])
        reference = np.array([0.5, 0.5])
        # forward KL: f'(t) = −1/t, so u = −0.5·(0.5/0.1) − 0.5·(0.5/0.6) at y1.
        u = weighted_f_prime(np.log(bases), [0.5, 0.5], np.log(reference), divergence="forward_kl")
        np.testing.assert_allclose(u, [-0.5 * 5 - 0.5 / 1.2, -0.5 / 1.8 - 0.5 * 1.25], rtol=1e-14)

    def test_rejects_non_barrier(self):
        with pytest.raises(ValueError, match="barrier"):
            weighted_f_prime(np.log([[0.5, 0.5]]), [1.0], np.log([0.5, 0.5]), divergence="chi2")


class TestProp1Bracket:
    def test_bracket_contains_the_normalizer(self):
        bases = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        weights = np.array([0.4, 0.6])
        reference = np.array([0.2, 0.3, 0.5])
        for divergence in BARRIERS:
            t1, t2 = prop1_bracket(bases, weights, reference, divergence=divergence)
            z = float(mod_optimal_policy(bases, weights, reference, divergence=divergence).multiplier)
            assert t1 - 1e-12 <= z <= t2 + 1e-12

    @pytest.mark.parametrize("divergence", BARRIERS)
    def test_bisection_finds_the_solvers_normalizer(self, divergence):
        bases = np.array([[0.05, 0.15, 0.8], [0.6, 0.3, 0.1]])
        reference = np.array([0.2, 0.3, 0.5])
        found = prop1_normalizer(bases, [0.3, 0.7], reference, divergence=divergence)
        solved = float(mod_optimal_policy(bases, [0.3, 0.7], reference, divergence=divergence).multiplier)
        assert found.t1 <= found.z <= found.t2
        assert abs(found.z - solved) <= 1e-12 * (1 + abs(solved))
        assert found.iterations > 0

    def test_records_where_phi_needs_the_extension(self):
        # forward KL: sup f' = 0, and at t1 the argument −t1 + u(y) is ≥ 0 for the best response.
        bases = np.array([[0.01, 0.99], [0.02, 0.98]])
        found = prop1_normalizer(bases, [0.5, 0.5], [0.5, 0.5], divergence="forward_kl")
        assert found.phi_defined_at_t1 is False
        assert prop1_normalizer(bases, [0.5, 0.5], [0.5, 0.5], divergence="reverse_kl").phi_defined_at_t1 is True


class TestImpliedRewards:
    @pytest.mark.parametrize("divergence", BARRIERS)
    def test_recovers_the_reward_up_to_a_constant(self, divergence):
        rewards, reference = np.array([0.3, -2.0, 1.5, 0.0]), np.array([0.1, 0.2, 0.3, 0.4])
        policy = optimal_policy(rewards, reference, divergence=divergence, beta=0.7).policy
        recovered = implied_rewards(policy, reference, divergence=divergence, beta=0.7)
        assert np.ptp(rewards - recovered) < 1e-12

    def test_rejects_non_barrier(self):
        with pytest.raises(ValueError, match="not a barrier"):
            implied_rewards([0.5, 0.5], [0.5, 0.5], divergence="chi2")


class TestValidation:
    def test_bad_inputs(self):
        bases = np.array([[0.5, 0.5], [0.2, 0.8]])
        with pytest.raises(ValueError, match="weights must sum to 1"):
            mod_optimal_policy(bases, [0.5, 0.6], [0.5, 0.5])
        with pytest.raises(ValueError, match=r"weights must have shape \(M,\)"):
            mod_optimal_policy(bases, [1.0], [0.5, 0.5])
        with pytest.raises(ValueError, match="policies must have shape"):
            mod_optimal_policy(np.ones((2, 2, 2)) / 2, [0.5, 0.5], [0.5, 0.5])
        with pytest.raises(ValueError, match="reference must have shape"):
            mod_optimal_policy(bases, [0.5, 0.5], [0.2, 0.3, 0.5])
        with pytest.raises(ValueError, match="barrier"):
            mod_optimal_policy(bases, [0.5, 0.5], [0.5, 0.5], divergence="tv")
        with pytest.raises(ValueError, match="strictly positive"):
            mod_optimal_policy(np.array([[1.0, 0.0], [0.5, 0.5]]), [0.5, 0.5], [0.5, 0.5])
        with pytest.raises(ValueError, match="finite"):
            check_weights([np.nan, 1.0], 2)


class TestEnforcedCertificate:
    """MOD's optimal_policy / optimal_log_policy enforce the solver's certificate (issue 14)."""

    POLICIES = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    REFERENCE = np.array([0.3, 0.3, 0.4])
    WEIGHTS = np.array([0.5, 0.5])

    @staticmethod
    def _corrupt_barrier(monkeypatch, factor):
        """Scale the barrier solver's π by ``factor``, so that Σπ − 1 = factor − 1 (which the
        residual then reports, as the solver's own final pass would)."""
        import pmtheory.solvers as solvers

        real = solvers._solve_barrier

        def corrupted(div, inputs):
            log_policy, policy, z, residual, passes = real(div, inputs)
            policy *= factor
            # The residual includes |Σπ − 1|: report the corrupted sum, as the solver would.
            residual = np.maximum(residual, np.abs(policy.sum(axis=-1) - 1.0))
            return log_policy + np.log(factor), policy, z, residual, passes

        monkeypatch.setattr(solvers, "_solve_barrier", corrupted)

    @pytest.mark.parametrize("log_space", [False, True])
    def test_a_failing_certificate_raises_and_check_false_returns_it(self, monkeypatch, log_space):
        from pmtheory import SolverError

        self._corrupt_barrier(monkeypatch, 1.0 + 1e-7)  # Σπ − 1 = 1e-7 > the enforced 1e-9

        def solve(**kwargs):
            if log_space:
                return optimal_log_policy(np.log(self.POLICIES), self.WEIGHTS, np.log(self.REFERENCE),
                                          divergence="js", **kwargs)
            return mod_optimal_policy(self.POLICIES, self.WEIGHTS, self.REFERENCE, divergence="js", **kwargs)

        with pytest.raises(SolverError, match=r"js: .*Σπ − 1 = 1e-07"):
            solve()
        assert solve(check=False).kkt_residual > 1e-9

    def test_a_near_miss_still_solves(self, monkeypatch):
        self._corrupt_barrier(monkeypatch, 1.0 + 1e-11)  # within the enforced 1e-9
        sol = mod_optimal_policy(self.POLICIES, self.WEIGHTS, self.REFERENCE, divergence="js")
        assert 1e-12 < sol.kkt_residual <= 1e-9

    def test_a_zero_probability_advises_the_log_space_entry_point(self):
        # The advice used to be "pass log_reference", which mod.optimal_policy does not accept.
        with pytest.raises(ValueError, match=r"policies must be strictly positive .*"
                                             r"use pmtheory\.mod\.optimal_log_policy with log-probabilities"):
            mod_optimal_policy([[0.0, 1.0], [0.5, 0.5]], [0.5, 0.5], [0.5, 0.5])
        with pytest.raises(ValueError, match=r"reference must be strictly positive .*optimal_log_policy"):
            mod_optimal_policy([[0.5, 0.5], [0.5, 0.5]], [0.5, 0.5], [0.0, 1.0])
        # The advice works: the same policy with a response below float range, in log space.
        sol = optimal_log_policy(np.array([[-2000.0, 0.0], np.log([0.5, 0.5])]), [0.5, 0.5], np.log([0.5, 0.5]))
        assert sol.kkt_residual < 1e-12
