"""Tests of pmtheory.cvx: the generic convex program agrees with the exact solvers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmtheory import optimal_policy, regularized_objective
from pmtheory.cvx import cvxpy_optimal_policy
from pmtheory.testing import CVXPY_ATOL, SOLVER_DIVERGENCES


class TestCvxpyOptimalPolicy:
    @given(st.sampled_from(SOLVER_DIVERGENCES), st.integers(1, 30), st.integers(0, 2**32 - 1),
           st.sampled_from([0.1, 1.0, 10.0]))
    def test_agrees_with_the_exact_solver_on_moderate_instances(self, divergence, k, seed, beta):
        rng = np.random.default_rng(seed)
        rewards = rng.normal(size=k) * 2
        reference = rng.dirichlet(np.ones(k) * 2)
        reference = np.maximum(reference, 1e-6)
        reference /= reference.sum()
        exact = optimal_policy(rewards, reference, divergence=divergence, beta=beta)
        cvx = cvxpy_optimal_policy(rewards, reference, divergence=divergence, beta=beta)
        assert cvx.status in ("optimal", "optimal_inaccurate")
        ours = regularized_objective(exact.policy, rewards, reference, divergence=divergence, beta=beta)
        theirs = regularized_objective(cvx.policy, rewards, reference, divergence=divergence, beta=beta)
        assert theirs <= ours + 1e-9 * (1 + abs(ours))  # the exact optimum is never beaten
        if cvx.status == "optimal" and divergence != "tv":  # tv's optimum need not be unique
            np.testing.assert_allclose(cvx.policy, exact.policy, atol=CVXPY_ATOL, rtol=0)

    def test_reports_failure_instead_of_raising(self):
        sol = cvxpy_optimal_policy([0.0, 1.0], [0.5, 0.5], solver="NO_SUCH_SOLVER")
        assert sol.policy is None and sol.status.startswith("failed")

    def test_validates_inputs(self):
        with pytest.raises(ValueError, match="reference must sum to 1"):
            cvxpy_optimal_policy([0.0, 1.0], [0.5, 0.6])
        with pytest.raises(ValueError, match="same shape"):
            cvxpy_optimal_policy([0.0, 1.0], [1.0])
