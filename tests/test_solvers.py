"""Tests of pmtheory.solvers: hand-derived optima, an independent high-precision reference,
KKT certificates, invariances, and input validation."""

import numpy as np
import pytest
from hypothesis import assume, example, given, note, target
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.special import log_softmax

from pmtheory import optimal_policy
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.solvers import kkt_residual, regularized_objective
from pmtheory.testing import KKT_TOL, POLICY_ATOL, SOLVER_DIVERGENCES, instances, kkt_tolerance

ROOT_FOUND = tuple(d for d in SOLVER_DIVERGENCES if d not in ("reverse_kl", "tv"))
SMOOTH = tuple(d for d in SOLVER_DIVERGENCES if d != "tv")


class TestHandDerived:
    def test_reverse_kl_two_responses(self):
        # π ∝ q·e^{r/β}: q uniform, r = (0, 1), β = 1 gives (1, e)/(1 + e).
        sol = optimal_policy([0.0, 1.0], [0.5, 0.5])
        np.testing.assert_allclose(sol.policy, [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-15)
        # λ = β(log Σ q e^{r/β} − 1) since f'(t) = log t + 1.
        assert sol.multiplier == pytest.approx(np.log((1 + np.e) / 2) - 1.0, rel=1e-14)

    def test_forward_kl_two_responses(self):
        # f'(t) = −1/t, so a − Z = −q/π, π = q/(Z − a). With q = (½, ½), a = (0, 1):
        # ½/Z + ½/(Z − 1) = 1  ⇒  Z² − 2Z + ½ = 0  ⇒  Z = 1 + 1/√2, π = (1 − 1/√2, 1/√2).
        sol = optimal_policy([0.0, 1.0], [0.5, 0.5], divergence="forward_kl")
        np.testing.assert_allclose(sol.policy, [1 - 2**-0.5, 2**-0.5], rtol=1e-14)
        assert sol.multiplier == pytest.approx(1 + 2**-0.5, rel=1e-14)

    def test_chi2_interior_and_clipped(self):
        # f'(t) = 2(t − 1): π = q(1 + (a − Z)/2). q = (½, ½), a = (0, 1): Z = ½, π = (3/8, 5/8).
        sol = optimal_policy([0.0, 1.0], [0.5, 0.5], divergence="chi2")
        np.testing.assert_allclose(sol.policy, [3 / 8, 5 / 8], rtol=1e-15)
        # a = (0, 10): the first response would go negative, so it is clipped to exactly 0.
        sol = optimal_policy([0.0, 10.0], [0.5, 0.5], divergence="chi2")
        assert sol.policy[0] == 0.0 and sol.log_policy[0] == -np.inf and sol.policy[1] == 1.0
        assert sol.kkt_residual < KKT_TOL

    def test_tv_moves_mass_only_past_beta(self):
        # A gap of 2 > β = 1 moves all the mass; a gap of ½ < β moves none.
        np.testing.assert_array_equal(optimal_policy([0.0, 2.0], [0.5, 0.5], divergence="tv").policy, [0, 1])
        np.testing.assert_allclose(optimal_policy([0.0, 0.5], [0.3, 0.7], divergence="tv").policy, [0.3, 0.7])
        # Two tied best responses share the moved mass in proportion to the reference.
        sol = optimal_policy([5.0, 5.0, 0.0], [0.2, 0.6, 0.2], divergence="tv")
        np.testing.assert_allclose(sol.policy, [0.25, 0.75, 0.0], rtol=1e-15)

    def test_alpha_half_is_twice_hellinger(self):
        # f_{α=½}(t) = 2(√t − 1)², so β·I_{α=½} = 2β·I_hellinger and the optima coincide.
        r, q = np.array([0.3, -1.0, 2.0, 0.0]), np.array([0.1, 0.2, 0.3, 0.4])
        a = optimal_policy(r, q, divergence="alpha:0.5", beta=0.7)
        h = optimal_policy(r, q, divergence="hellinger", beta=1.4)
        np.testing.assert_allclose(a.policy, h.policy, rtol=1e-13)

    def test_alpha_tends_to_the_kl_endpoints(self):
        # f-DPO convention: α → 0 is reverse KL, α → 1 is forward KL.
        r, q = np.array([0.3, -1.0, 2.0]), np.array([0.2, 0.5, 0.3])
        near0 = optimal_policy(r, q, divergence="alpha:1e-7").policy
        near1 = optimal_policy(r, q, divergence="alpha:0.9999999").policy
        np.testing.assert_allclose(near0, optimal_policy(r, q).policy, atol=1e-6)
        np.testing.assert_allclose(near1, optimal_policy(r, q, divergence="forward_kl").policy, atol=1e-6)

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_single_response(self, divergence):
        sol = optimal_policy([3.0], [1.0], divergence=divergence)
        assert sol.policy.tolist() == [1.0] and sol.kkt_residual < KKT_TOL

    @pytest.mark.parametrize("divergence", [d for d in ROOT_FOUND if d != "chi2"])
    def test_barrier_moves_mass_to_a_reference_below_float_range(self, divergence):
        # log q = (0, −1e4), a = (0, 5). For a barrier with sup f' = S < ∞,
        # π = q·h(Δ + d) with h(D) = (f')⁻¹(S − D): the first response is capped at
        # π₀ = h(5 + d) < 1, so the rest of the mass goes to the second response even though
        # its reference probability is e^-10000, with d = e^-10000/π₁ ≈ 0: π₀ = h(5) exactly.
        from pmtheory.divergences import get_divergence

        cap = float(get_divergence(divergence).ratio_at_distance(5.0))
        sol = optimal_policy([0.0, 5.0], log_reference=[0.0, -1e4], divergence=divergence)
        assert np.all(np.isfinite(sol.log_policy)) and sol.kkt_residual < KKT_TOL
        np.testing.assert_allclose(sol.policy, [cap, 1 - cap], rtol=1e-14)

    def test_chi2_keeps_a_reference_below_float_range_tiny(self):
        # Not a barrier: π = q(1 + (a − Z)/2) with Z ≈ 0, so log π₁ = −1e4 + log(3.5).
        sol = optimal_policy([0.0, 5.0], log_reference=[0.0, -1e4], divergence="chi2")
        assert sol.policy[0] == 1.0 and sol.log_policy[1] == pytest.approx(-1e4 + np.log(3.5), rel=1e-15)

    @pytest.mark.parametrize("divergence", [d for d in ROOT_FOUND if d != "chi2"])
    @pytest.mark.parametrize("ell", [-30.0, -3.0, 0.2])
    def test_normalizer_derivatives_match_finite_differences(self, divergence, ell):
        # The Halley step needs F' and F'' of F(ℓ) = log Σ q·h(Δ + e^ℓ); they are summed as dot
        # products (with h itself where the basis is c0 + h), which a wrong coefficient would
        # only slow down, so they are checked here directly against central differences.
        from pmtheory.divergences import get_divergence
        from pmtheory.solvers import _linear_evaluator

        rng = np.random.default_rng(3)
        gap = np.concatenate([[0.0], rng.exponential(2.0, 40)])[None, :]
        q = rng.dirichlet(np.ones(41))[None, :]
        evaluate = _linear_evaluator(get_divergence(divergence), gap, q)
        value, slope, curvature = evaluate(np.array([ell]))
        step = 1e-4
        upper, lower = evaluate(np.array([ell + step]))[0], evaluate(np.array([ell - step]))[0]
        assert slope[0] == pytest.approx((upper - lower)[0] / (2 * step), rel=1e-6)
        assert curvature[0] == pytest.approx((upper - 2 * value + lower)[0] / step**2, rel=1e-4, abs=1e-7)

    @pytest.mark.parametrize("divergence", ROOT_FOUND)
    @pytest.mark.parametrize("rewards, log_q", [
        # π(top) = 1 − O(e^-690): the root is the lower end of the bracket to rounding. The
        # step that crosses an unevaluated bound lands on it instead of bisecting toward it.
        (np.array([0.0, 0.0, 0.0, 30.0]) - 1e3, np.array([0.0, -690.0, -690.0, -690.0])),
        # Both bracket ends get tried here (F' ~ 1e-60 at the lower one): a bound already
        # evaluated is bisected toward, not landed on again (found cycling by the fuzz profile).
        (np.array([-1.0, -1.58344403e-138, 0.0]), np.array([0.0, -172.5, -690.0])),
    ])
    def test_root_on_the_bracket_end_takes_few_passes(self, divergence, rewards, log_q):
        sol = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=0.001)
        reference = np.exp(high_precision_optimal_policy(rewards, log_q, divergence=divergence, beta=0.001))
        assert sol.iterations <= 12 and sol.kkt_residual < KKT_TOL  # the failure modes took 50 to 200
        np.testing.assert_allclose(sol.policy, reference, atol=POLICY_ATOL, rtol=0)

    def test_chi2_pivot_that_leaves_the_support(self):
        # a = r/β = (0, 1000, 999) with q = (.98, .01, .01): the response with the largest q
        # (the pivot the rewards are measured from) ends outside the support, so the solve is
        # re-centred. On A = {1, 2}: W = .02, Σ_A q·a = 19.99, Z = (2(W − 1) + 19.99)/W = 901.5,
        # π = q·(1 + (a − Z)/2) = (0, .5025, .4975), λ = β·Z = 9.015.
        sol = optimal_policy([0.0, 10.0, 9.99], [0.98, 0.01, 0.01], divergence="chi2", beta=0.01)
        np.testing.assert_allclose(sol.policy, [0.0, 0.5025, 0.4975], rtol=1e-12, atol=0)
        assert sol.log_policy[0] == -np.inf and sol.kkt_residual < KKT_TOL
        assert float(sol.multiplier) == pytest.approx(9.015, rel=1e-12)


class TestAgainstHighPrecision:
    @given(instances(max_k=6, min_log_prob=-750.0), st.sampled_from(SMOOTH))
    @example((np.array([2543.9, 12246.5, -2975.3]), log_softmax(np.array([0.0, -372.3, -713.3])), 1000.0), "js")
    def test_policy_matches_mpmath(self, instance, divergence):
        rewards, log_q, beta = instance
        sol = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=beta)
        reference = np.exp(high_precision_optimal_policy(rewards, log_q, divergence=divergence, beta=beta))
        error = float(np.max(np.abs(sol.policy - reference)))
        note(f"policy {sol.policy}, reference {reference}")
        target(error, label="max |Δπ|")
        assert error <= POLICY_ATOL


class TestCertificate:
    @given(instances(max_k=8), st.sampled_from(SOLVER_DIVERGENCES))
    @example((np.array([0.0, 30.0]), np.log([0.5, 0.5]), 0.001), "js")
    @example((np.array([0.0, 0.0, 0.0, 1.0]), np.array([np.log(1 / 3)] * 3 + [-1e4]), 0.001), "reverse_kl")
    @example((np.array([0.0, 0.0, -0.001]), np.array([-1e4, np.log(0.5), np.log(0.5)]), 0.001), "chi2")
    @example((np.array([0.0, 0.0, 0.0, 1.0, 1.0]), np.array([np.log(1 / 3)] * 3 + [np.log(1 / 3) - 690.0] * 2)
              - np.logaddexp.reduce([np.log(1 / 3)] * 3 + [np.log(1 / 3) - 690.0] * 2), 0.001), "reverse_kl")
    def test_kkt_residual_small_and_no_nan(self, instance, divergence):
        rewards, log_q, beta = instance
        sol = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=beta)
        assert not np.any(np.isnan(sol.log_policy)) and np.all(np.isfinite(sol.policy))
        target(float(sol.kkt_residual), label="kkt")
        assert sol.kkt_residual <= kkt_tolerance(log_q)
        # Σπ is part of the certificate: log-space normalization leaves eps·|log q| (fuzz: log q = −691).
        assert abs(sol.policy.sum() - 1.0) <= max(1e-14, kkt_tolerance(log_q) - KKT_TOL)
        # The certificate is recomputed from the policy alone and agrees, to what the recomputation
        # can resolve: it forms a − Z = (r − λ)/β from λ rounded to float64, which carries
        # eps·|λ|/β where a − Z is small (r = (0, 30), q = (1/2, 1/2), β = 0.001, js: 1.2e-12
        # recomputed against 6e-16 from the solver, which measures a − Z from max r).
        again = kkt_residual(log_policy=sol.log_policy, rewards=rewards, log_reference=log_q,
                             divergence=divergence, beta=beta, multiplier=sol.multiplier)
        rounding = 2 * np.finfo(np.float64).eps * abs(float(sol.multiplier)) / beta
        assert again <= max(KKT_TOL, 10 * float(sol.kkt_residual) + rounding)

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_residual_detects_a_wrong_policy(self, divergence):
        r, q = np.array([0.0, 1.0, 3.0]), np.array([0.2, 0.3, 0.5])
        wrong = np.array([0.5, 0.3, 0.2])
        assert kkt_residual(wrong, r, q, divergence=divergence) > 1e-3

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    @pytest.mark.parametrize("offset, beta", [(0.0, 1.0), (1e20, 1.0), (-1e20, 1.0), (1e300, 1e-10)])
    def test_residual_detects_a_wrong_policy_under_a_reward_offset(self, divergence, offset, beta):
        """Tied rewards make π = q the optimum. The problem is the same for r + c, and so must
        its certificate be: a scale of 1 + |a| + |Z| measured from 0 scored this wrong policy
        2e-20 at an offset of 1e20 and 0 at 1e300 with β = 1e-10; and tv's sub-gradient test
        took [−1/2, 1/2] for every 0 < π/q ≤ 1, where it is {−1/2} below 1, so it scored 0 even
        without an offset."""
        rewards, q, wrong = np.array([offset, offset]), np.array([0.5, 0.5]), np.array([0.99, 0.01])
        assert kkt_residual(wrong, rewards, q, divergence=divergence, beta=beta) > 0.1
        np.testing.assert_allclose(optimal_policy(rewards, q, divergence=divergence, beta=beta).policy, q,
                                   rtol=0, atol=1e-15)

    @given(st.lists(st.integers(-512, 512), min_size=1, max_size=6), st.integers(-2**40, 2**40),
           st.sampled_from(SOLVER_DIVERGENCES), st.data())
    def test_residual_is_the_same_after_a_reward_offset(self, eighths, shift, divergence, data):
        # r and r + c in multiples of 1/8 below 2^49: both exact in float64, so r + c is the same
        # problem to the last bit, and any policy must score the same.
        rewards = np.array(eighths) / 8.0
        weights = np.array(data.draw(st.lists(st.floats(0.01, 1.0), min_size=rewards.size, max_size=rewards.size)))
        policy, q = weights / weights.sum(), np.full(rewards.size, 1.0 / rewards.size)
        before = kkt_residual(policy, rewards, q, divergence=divergence)
        after = kkt_residual(policy, rewards + shift / 8.0, q, divergence=divergence)
        assert after == pytest.approx(before, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_tvs_fused_certificate_is_the_generic_one_on_any_policy(seed):
    """tv's solver takes its certificate in its own final pass, specialised to Z = max a − 1/2
    and Δ ≥ 0 (pmtheory.solvers._closed_forms._tv_violation). On policies of every kind (π above,
    at, below q and 0, right or wrong) it must give what the generic sub-gradient test gives."""
    from pmtheory.divergences import get_divergence
    from pmtheory.solvers._closed_forms import _tv_violation
    from pmtheory.solvers._common import _block_violation

    rng = np.random.default_rng(seed)
    gap = np.abs(rng.normal(size=(50, 9))) * rng.choice([0.1, 1.0, 3.0], size=(50, 1))
    gap[rng.random(gap.shape) < 0.1] = 0.0
    gap[rng.random(gap.shape) < 0.1] = 1.0
    log_q = log_softmax(rng.normal(size=(50, 9)), axis=-1)
    kind = rng.integers(0, 4, size=gap.shape)
    log_policy = np.choose(kind, [log_q, log_q + 0.3, log_q - 0.3, np.full(gap.shape, -np.inf)])
    generic = _block_violation(get_divergence("tv"), gap, log_q, log_policy, np.full(50, -0.5), zeros_possible=True)
    fused = _tv_violation(gap.copy(), log_q, log_policy, np.empty_like(gap))
    assert np.max(generic) > 0.1  # wrong policies among them
    np.testing.assert_allclose(fused, generic, rtol=1e-15, atol=1e-16)


class TestBlockedPasses:
    """The passes over (B, K) arrays run in blocks of ``_BLOCK`` elements and take their dot
    products in chunks of ``_DOT_CHUNK`` (pmtheory.solvers._common); the hand-derived and property
    tests above use K ≤ 8, inside one block. These sizes cross both boundaries (several
    column blocks and a partial last one; rows sharing a block; a partial last chunk), and
    the answer must not depend on where they fall: the same solve with one block and one
    chunk per row agrees to rounding."""

    @staticmethod
    def _instance(batch, k, seed):
        rng = np.random.default_rng(seed)
        rewards = rng.normal(size=(batch, k)) * 3.0
        log_q = log_softmax(rng.normal(size=(batch, k)) * 2.0, axis=-1)
        return rewards, log_q

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    @pytest.mark.parametrize("batch, k", [(1, 3 * 32768 + 123), (2, 40000), (3, 12000), (5, 9000)])
    def test_block_boundaries_do_not_change_the_answer(self, divergence, batch, k, monkeypatch):
        # Patched where they are read: _blocks and _row_dot live in pmtheory.solvers._common,
        # and pmtheory.solvers does not re-export the two constants, so a stale target raises.
        from pmtheory.solvers import _common

        assert k > _common._DOT_CHUNK  # every row has at least two chunks
        # The sizes are chosen around blocks of 2^15 elements; the code paths are the same at
        # the solvers' own block size.
        monkeypatch.setattr(_common, "_BLOCK", 1 << 15)
        rewards, log_q = self._instance(batch, k, seed=k + batch)
        blocked = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=0.5)
        assert np.all(blocked.kkt_residual <= KKT_TOL)
        monkeypatch.setattr(_common, "_BLOCK", 1 << 30)
        monkeypatch.setattr(_common, "_DOT_CHUNK", 1 << 30)
        whole = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=0.5)
        np.testing.assert_allclose(blocked.policy, whole.policy, rtol=0, atol=1e-14)
        np.testing.assert_allclose(blocked.multiplier, whole.multiplier, rtol=1e-12, atol=1e-12)
        assert np.all(whole.kkt_residual <= KKT_TOL)

    @pytest.mark.parametrize("shape", [(1, 8192), (1, 8193), (2, 20000), (3, 3 * 8192), (4, 100)])
    def test_row_dot_in_chunks_is_the_row_sum_of_products(self, shape):
        from pmtheory.solvers import _row_dot

        rng = np.random.default_rng(shape[1])
        full = rng.random((shape[0], shape[1] + 7))
        a, b = full[:, 3:-4], rng.random(shape)  # a: rows not contiguous with each other, as in a block
        np.testing.assert_allclose(_row_dot(a, b), np.sum(a * b, axis=-1), rtol=1e-13)


class TestOptimality:
    @given(instances(max_k=6, min_log_prob=-30.0), st.sampled_from(SOLVER_DIVERGENCES), st.data())
    def test_no_pairwise_transfer_improves(self, instance, divergence, data):
        rewards, log_q, beta = instance
        k = rewards.size
        q = np.exp(log_q)
        q /= q.sum()
        sol = optimal_policy(rewards, q, divergence=divergence, beta=beta)
        best = regularized_objective(sol.policy, rewards, q, divergence=divergence, beta=beta)
        slack = 1e-9 * (1.0 + np.abs(rewards).max())
        for _ in range(5):
            i, j = data.draw(st.integers(0, k - 1)), data.draw(st.integers(0, k - 1))
            step = data.draw(st.sampled_from([1e-6, 1e-3, 0.1])) * sol.policy[i]
            if i == j or step == 0.0:
                continue
            moved = sol.policy.copy()
            moved[i] -= step
            moved[j] += step
            value = regularized_objective(moved, rewards, q, divergence=divergence, beta=beta)
            assert value <= best + slack

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_objective_beats_random_policies(self, divergence):
        rng = np.random.default_rng(7)
        r, q = rng.normal(size=10) * 3, rng.dirichlet(np.ones(10))
        best = regularized_objective(optimal_policy(r, q, divergence=divergence).policy, r, q, divergence=divergence)
        others = regularized_objective(rng.dirichlet(np.ones(10), size=2000), r, q, divergence=divergence)
        assert np.all(others <= best + 1e-12)

    def test_tv_objective_matches_linear_program(self):
        # max Σπr − β/2 Σ|π − q| as an LP in (π, s) with s ≥ ±(π − q), solved by HiGHS.
        rng = np.random.default_rng(3)
        for _ in range(20):
            k = int(rng.integers(1, 9))
            r, q, beta = rng.normal(size=k) * 2, rng.dirichlet(np.ones(k)), float(rng.choice([0.1, 1.0, 3.0]))
            sol = optimal_policy(r, q, divergence="tv", beta=beta)
            eye = np.eye(k)
            lp = linprog(
                c=np.concatenate([-r, np.full(k, beta / 2)]),
                A_ub=np.block([[eye, -eye], [-eye, -eye]]),
                b_ub=np.concatenate([q, -q]),
                A_eq=np.concatenate([np.ones(k), np.zeros(k)])[None, :],
                b_eq=[1.0],
                bounds=[(0, None)] * (2 * k),
                method="highs",
                options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
            )
            ours = regularized_objective(sol.policy, r, q, divergence="tv", beta=beta)
            assert ours == pytest.approx(-lp.fun, abs=1e-10)


class TestInvariances:
    @given(instances(max_k=6), st.sampled_from(SOLVER_DIVERGENCES), st.randoms(use_true_random=False))
    def test_permuting_responses_permutes_the_policy(self, instance, divergence, rnd):
        rewards, log_q, beta = instance
        order = list(range(rewards.size))
        rnd.shuffle(order)
        a = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=beta)
        b = optimal_policy(rewards[order], log_reference=log_q[order], divergence=divergence, beta=beta)
        np.testing.assert_allclose(b.policy, a.policy[order], atol=POLICY_ATOL, rtol=0)

    @given(instances(max_k=6), st.sampled_from(SOLVER_DIVERGENCES), st.sampled_from([-1e3, -1.0, 0.5, 1e3]))
    # Found by the fuzz profile: the root sits on the lower bound of the bracket to rounding
    # (the top response alone carries all but e^-690 of the mass), where the Newton step fell
    # through the bound and bisection crawled, and then stalled below the resolution of ℓ.
    @example((np.array([0.0, 0.0, 0.0, 30.0]), np.array([0.0, -690.0, -690.0, -690.0]), 0.001), "forward_kl", -1e3)
    def test_adding_a_constant_to_rewards_changes_nothing(self, instance, divergence, shift):
        rewards, log_q, beta = instance
        assume(np.array_equal((rewards + shift) - shift, rewards))  # the shift itself is exact
        a = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=beta)
        b = optimal_policy(rewards + shift, log_reference=log_q, divergence=divergence, beta=beta)
        np.testing.assert_allclose(b.policy, a.policy, atol=POLICY_ATOL, rtol=0)
        assert b.multiplier == pytest.approx(a.multiplier + shift, rel=1e-9, abs=1e-9 * (1 + abs(shift)))

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_batched_equals_looped(self, divergence):
        rng = np.random.default_rng(11)
        r = rng.normal(size=(4, 3, 7)) * 5
        q = rng.dirichlet(np.ones(7), size=(4, 3))
        batched = optimal_policy(r, q, divergence=divergence, beta=0.3)
        assert batched.policy.shape == (4, 3, 7) and batched.multiplier.shape == (4, 3)
        for i in range(4):
            for j in range(3):
                single = optimal_policy(r[i, j], q[i, j], divergence=divergence, beta=0.3)
                np.testing.assert_allclose(batched.policy[i, j], single.policy, atol=1e-15, rtol=1e-13)
                assert batched.multiplier[i, j] == pytest.approx(float(single.multiplier), rel=1e-13, abs=1e-13)

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    @pytest.mark.parametrize("k", [2, 4, 7, 8, 10, 16, 17, 100, 128, 129, 1000])
    def test_a_rows_answer_does_not_depend_on_its_batch_bit_for_bit(self, divergence, k):
        # Rows of mixed scales converge after different numbers of passes, so converged rows
        # leave the batch at different times and take Newton or Halley steps on their own;
        # the short-row reductions (K <= 16) must add each row's terms the same way whatever
        # the other rows (BLAS's x @ 1 does not: it differed in the last bit).
        rng = np.random.default_rng(k)
        rewards = rng.normal(size=(40, k)) * rng.choice([0.03, 0.3, 3.0, 30.0], size=(40, 1))
        log_q = log_softmax(rng.normal(size=(40, k)) * 2.0, axis=-1)
        batched = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=0.7)
        for row in range(40):
            single = optimal_policy(rewards[row], log_reference=log_q[row], divergence=divergence, beta=0.7)
            assert np.array_equal(batched.log_policy[row], single.log_policy)
            assert np.array_equal(batched.policy[row], single.policy)
            assert batched.multiplier[row] == single.multiplier
            assert batched.kkt_residual[row] == single.kkt_residual

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    @pytest.mark.parametrize("k", [3, 10, 100])
    def test_a_row_beside_one_below_the_normal_range_keeps_its_bits(self, divergence, k):
        # Row 0 has a reference entry near e^-720, whose π leaves the normal range; the rows
        # beside it in the same block must not take its way of forming π (reverse KL once chose
        # e^(x − L) over e^x·e^-L block by block: 192 of 200 such rows changed in the last bits).
        rng = np.random.default_rng(k)
        rewards = rng.standard_normal((4, k)) * 3.0
        log_q = log_softmax(rng.standard_normal((4, k)), axis=-1)
        log_q[0, 0] -= 720.0
        log_q = log_softmax(log_q, axis=-1)
        batched = optimal_policy(rewards, log_reference=log_q, divergence=divergence)
        for row in range(4):
            single = optimal_policy(rewards[row], log_reference=log_q[row], divergence=divergence)
            assert np.array_equal(batched.policy[row], single.policy)
            assert np.array_equal(batched.log_policy[row], single.log_policy)
            assert batched.kkt_residual[row] == single.kkt_residual

    @given(st.integers(1, 6), st.integers(1, 40), st.lists(st.sampled_from([0.5, 1e-300, 0.0, -np.inf, np.nan]),
                                                          max_size=3), st.randoms(use_true_random=False))
    def test_the_thresholded_row_minimum_decides_every_row_as_the_row_minimum(self, rows, k, planted, random):
        # _row_min_below skips the per-row minimum when the block's minimum clears the threshold;
        # every row's "min ≥ threshold" must still come out as from its own minimum, and the
        # overall minimum must be exact (NaN included).
        from pmtheory.solvers._common import _TINY, _row_min, _row_min_below

        x = np.random.default_rng(random.randint(0, 2**32)).uniform(1e-3, 1.0, size=(rows, k))
        for value in planted:
            x[random.randrange(rows), random.randrange(k)] = value
        fast, exact = _row_min_below(x, _TINY), _row_min(x)
        assert fast.shape == (rows,)
        np.testing.assert_array_equal(fast >= _TINY, exact >= _TINY)
        np.testing.assert_array_equal(np.min(fast), np.min(exact))

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    @pytest.mark.parametrize("batch", [(0,), (2, 0)])
    def test_an_empty_batch_gives_empty_answers(self, divergence, batch):
        # As numpy reduces over an empty batch: shapes kept, nothing to solve, no error.
        rewards, q = np.zeros((*batch, 3)), np.full(3, 1 / 3)
        for reference in ({"reference": q}, {"log_reference": np.log(q)}, {}):
            sol = optimal_policy(rewards, divergence=divergence, **reference)
            assert sol.policy.shape == sol.log_policy.shape == (*batch, 3)
            assert sol.multiplier.shape == sol.kkt_residual.shape == batch
        assert kkt_residual(rewards, rewards, q, divergence=divergence).shape == batch
        assert regularized_objective(rewards, rewards, q, divergence=divergence).shape == batch

    def test_reference_broadcasts_over_prompts(self):
        r = np.array([[0.0, 1.0], [2.0, 0.0]])
        sol = optimal_policy(r, [0.25, 0.75])
        np.testing.assert_allclose(sol.policy[1], optimal_policy(r[1], [0.25, 0.75]).policy)

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_reference_and_log_reference_agree(self, divergence):
        q = np.array([1e-300, 0.3, 0.7 - 1e-300])
        r = np.array([800.0, 1.0, 0.0])
        a = optimal_policy(r, q, divergence=divergence)
        b = optimal_policy(r, log_reference=np.log(q), divergence=divergence)
        np.testing.assert_allclose(a.policy, b.policy, atol=1e-15)

    def test_uniform_default_reference(self):
        np.testing.assert_allclose(optimal_policy([1.0, 2.0, 3.0]).policy,
                                   optimal_policy([1.0, 2.0, 3.0], [1 / 3] * 3).policy)


class TestBadInput:
    @pytest.mark.parametrize(
        "kwargs, match",
        [
            (dict(rewards=[0.0, np.nan], reference=[0.5, 0.5]), "rewards must be finite"),
            (dict(rewards=[0.0, np.inf], reference=[0.5, 0.5]), "rewards must be finite"),
            (dict(rewards=[0.0, 1.0], reference=[-0.5, 1.5]), "reference must be strictly positive"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.6]), "reference must sum to 1"),
            (dict(rewards=[0.0, 1.0], reference=[0.0, 1.0]), "reference must be strictly positive"),
            (dict(rewards=[0.0, 1.0], log_reference=[0.0, 0.0]), "log_reference must log-sum-exp to 0"),
            (dict(rewards=[0.0, 1.0], log_reference=[0.0, -np.inf]), "log_reference must be finite"),
            (dict(rewards=[0.0, 1.0], reference=[0.2, 0.3, 0.5]), "same number of responses"),
            (dict(rewards=np.zeros((2, 3)), reference=np.full((3, 3), 1 / 3)), "do not broadcast"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.5], beta=0.0), "beta must be a finite number > 0"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.5], beta=-1.0), "beta must be a finite number > 0"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.5], beta=np.inf), "beta must be a finite number > 0"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.5], divergence="kl"), "unknown divergence"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.5], divergence="alpha:1.5"), "0 < a < 1"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.5], divergence="alpha:x"), "alpha"),
            (dict(rewards=[], reference=[]), "at least one response"),
            (dict(rewards=3.0), "at least 1 dimension"),
            (dict(rewards=[0.0, 1.0], reference=[0.5, 0.5], log_reference=[np.log(0.5)] * 2), "not both"),
        ],
    )
    def test_raises_value_error_naming_the_argument(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            optimal_policy(**kwargs)

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    @pytest.mark.parametrize(
        "rewards, log_reference, match",
        [
            ([0.0, -np.inf, 1.0], None, "rewards must be finite"),
            ([[0.0, 1.0, 2.0], [0.0, -np.inf, 1.0]], None, r"rewards must be finite, got -inf at index \(1, 1\)"),
            ([0.0, np.nan, 1.0], None, "rewards must be finite"),
            ([0.0, 1.0, 2.0], [0.0, -np.inf, -np.inf], "log_reference must be finite"),
            ([0.0, 1.0, 2.0], [np.log(0.5), np.log(0.5), -np.inf], "log_reference must be finite"),
            ([0.0, 1.0, 2.0], [np.nan, 0.0, 0.0], "log_reference must be finite"),
            ([0.0, 1.0, 2.0], [np.inf, 0.0, 0.0], "log_reference must be finite"),
        ],
    )
    def test_non_finite_inputs_for_every_divergence(self, divergence, rewards, log_reference, match):
        # Some of these checks ride on a solver's own passes (the log_reference sum, or a
        # −inf reward turning the certificate NaN): each must still raise, naming the input.
        with pytest.raises(ValueError, match=match):
            optimal_policy(rewards, log_reference=log_reference, divergence=divergence)

    def test_type_errors(self):
        with pytest.raises(TypeError, match="rewards"):
            optimal_policy("abc")
        with pytest.raises(TypeError, match="beta"):
            optimal_policy([0.0, 1.0], beta="1")
        with pytest.raises(TypeError, match="divergence"):
            optimal_policy([0.0, 1.0], divergence=3)


class TestEnforcedCertificate:
    """optimal_policy(check=True) raises SolverError on a row that fails its certificate."""

    def test_solver_error_is_an_exported_value_error(self):
        import pmtheory
        from pmtheory.solvers import SolverError

        assert pmtheory.SolverError is SolverError and issubclass(SolverError, ValueError)

    @pytest.mark.parametrize("rewards, beta", [([0.0, 1e18, -1.0], 1.0), ([0.0, 1.0, -1.0], 1e-18),
                                               ([0.0, 1.0, -1.0], 1e-300)])
    def test_chi2_at_a_spread_beyond_float_resolution(self, rewards, beta):
        # Issue 14: this returned π = (0.45, 1.5e17, 0.40) with no error. Only the best
        # response is active: q*·(1 + (a* − Z)/2) = 1 gives a* − Z = 2/0.3 − 2 = 4.67, and
        # the others have 1 + (a − Z)/2 ≤ 1 + (4.67 − spread/β)/2 < 0, so π = (0, 1, 0) exactly.
        sol = optimal_policy(rewards, [0.3, 0.3, 0.4], divergence="chi2", beta=beta)
        assert sol.policy.tolist() == [0.0, 1.0, 0.0] and sol.kkt_residual < KKT_TOL

    def test_chi2_mass_on_neither_the_best_nor_the_likeliest_response(self):
        # Found by a fuzz of extreme scales: spread/β = 6.7e78, and the response that takes the
        # mass (index 2) is neither the best (0, with q = e^-619) nor the likeliest (1). Only
        # 0 and 2 are active, Z ≈ a_2 − 2/q_2, and π_0 = q_0·(a_0 − a_2)/2 ≈ 2e-190.
        rewards = np.array([5.174868854863004e94, 3.205918174238547e94, 3.804764178342449e94])
        beta = 2955791227454416.5
        log_q = np.array([-618.8064272170064, 0.0, -81.47868258224845])
        log_q -= np.logaddexp.reduce(log_q)
        sol = optimal_policy(rewards, log_reference=log_q, divergence="chi2", beta=beta)
        exact = high_precision_optimal_policy(rewards, log_q, divergence="chi2", beta=beta)
        assert sol.kkt_residual < KKT_TOL and sol.policy[1] == 0.0
        np.testing.assert_allclose(sol.log_policy[[0, 2]], exact[[0, 2]], rtol=1e-12, atol=1e-12)

    def test_chi2_where_newton_passes_through_unresolvable_active_sets(self):
        # Found by the fuzz: spread/β = 1e303, references from 1e-274 to 1. Newton from
        # min a forms Z ≈ a_8 − 2/q_8 (2/q_8 = 7e68, below the ulp 3e286 of a_8), loses the
        # active set, and so does every pivot; the sorted fallback (_chi2_sorted) finds it.
        # Exact answer: the best response (index 1) alone has a* − Z = 2/q_1 − 2 = 2.7e108,
        # while the second best is 2.6e301 below a*, so it and all others are inactive: π = e_1.
        rewards = np.array([8.166722041334274e60, 2.036920664379764e61, -1.2093377712032e60,
                            5.2124883638069104e60, -6.886386515171961e60, -1.1902857691319143e61,
                            -4.150273438010747e60, 7.571605601252279e60, 1.5211375294974117e61,
                            1.4854053299936218e61, 2.2000938700997673e60, -5.656348289309037e60,
                            1.9435967899621728e61, 5.098198074868918e60, 9.10854306055964e60,
                            3.7402741988199154e60, -2.0167500063212015e61])
        q = np.array([2.39161900e-200, 7.33195179e-109, 5.88012149e-027, 3.46787928e-030, 3.27173897e-127,
                      1.09295269e-104, 4.21890436e-261, 2.32962802e-162, 2.99620865e-069, 1.02536166e-274,
                      5.85001970e-052, 5.96580178e-206, 2.57669382e-252, 1.00000000e+000, 2.45322690e-160,
                      8.28863074e-091, 2.02968784e-065])
        sol = optimal_policy(rewards, q / q.sum(), divergence="chi2", beta=3.6929555128386603e-242)
        assert sol.policy.tolist() == np.eye(17)[1].tolist() and sol.kkt_residual < KKT_TOL

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_reward_spread_over_beta_overflowing_raises(self, divergence):
        from pmtheory.solvers import SolverError

        with pytest.raises(SolverError, match=rf"{divergence}: the reward spread divided by β overflows"):
            optimal_policy([0.0, 1e300], [0.5, 0.5], divergence=divergence, beta=1e-300)
        # The near miss, spread/β = 1e307, is solved: all mass on the best response (each
        # divergence's π at the other one is below 5e-308 here, so it rounds to 0 or to a
        # subnormal: atol 1e-300).
        sol = optimal_policy([0.0, 1e300], [0.5, 0.5], divergence=divergence, beta=1e-7)
        np.testing.assert_allclose(sol.policy, [0.0, 1.0], rtol=0, atol=1e-300)
        assert sol.kkt_residual < KKT_TOL

    def test_check_false_returns_the_overflowing_answer_with_its_residuals(self):
        sol = optimal_policy([0.0, 1e300], [0.5, 0.5], beta=1e-300, check=False)
        assert not np.isfinite(sol.kkt_residual)

    @staticmethod
    def _corrupt(monkeypatch, factor, *, row=1, keep_residual=False):
        """Patch the chi2 solver so that row ``row`` of its π is scaled by ``factor`` (the
        residual recomputed from the corrupted π unless ``keep_residual``)."""
        import pmtheory.solvers as solvers
        from pmtheory.divergences import get_divergence
        from pmtheory.solvers._common import _kkt_residual, _scaled_gap

        real = solvers._solve_chi2

        def corrupted(inputs):
            log_policy, policy, multiplier, residual, passes = real(inputs)
            policy[row] *= factor
            with np.errstate(divide="ignore", invalid="ignore"):
                log_policy[row] = np.log(policy[row])
            if not keep_residual:
                shift = inputs.best[row:row + 1]
                z = (multiplier[row:row + 1] - shift) / inputs.beta
                residual[row] = _kkt_residual(
                    get_divergence("chi2"), _scaled_gap(inputs.rewards[row:row + 1], shift, inputs.beta),
                    inputs.log_q[row:row + 1], log_policy[row:row + 1], policy[row:row + 1], z)[0]
            return log_policy, policy, multiplier, residual, passes

        monkeypatch.setattr(solvers, "_solve_chi2", corrupted)

    REWARDS = np.array([[0.0, 1.0, 2.0], [0.5, -1.0, 0.25], [3.0, 3.0, 0.0]])

    def test_a_bad_row_in_a_batch_raises_naming_it(self, monkeypatch):
        from pmtheory.solvers import SolverError

        # Σπ off by 1e-8 in row 1 only: 10× the enforced 1e-9 (pmtheory.solvers._common).
        self._corrupt(monkeypatch, 1.0 + 1e-8)
        with pytest.raises(SolverError, match=r"chi2: .* 1 of 3 row\(s\); first at batch index \(1,\): "
                                              r"Σπ − 1 = 1e-08, min π = 0\.\d+, "
                                              r"KKT residual = \d\.\d+e-08 \(tolerance 1e-09\)"):
            optimal_policy(self.REWARDS, divergence="chi2")
        # check=False hands back the answer with the failing row's residual.
        sol = optimal_policy(self.REWARDS, divergence="chi2", check=False)
        assert sol.kkt_residual[1] > 1e-9 and np.all(sol.kkt_residual[[0, 2]] < KKT_TOL)

    def test_a_near_miss_still_solves(self, monkeypatch):
        # Σπ off by 1e-11: within the enforced 1e-9 (and above the tests' KKT_TOL of exact
        # solves, so the patch did take effect).
        self._corrupt(monkeypatch, 1.0 + 1e-11)
        sol = optimal_policy(self.REWARDS, divergence="chi2")
        assert KKT_TOL < sol.kkt_residual[1] <= 1e-9

    def test_a_negative_entry_raises_even_with_a_small_residual(self, monkeypatch):
        from pmtheory.solvers import SolverError

        # π scaled by −1 in row 1 with the (small) residual of the true π left in place: the
        # sign check alone must catch it.
        self._corrupt(monkeypatch, -1.0, keep_residual=True)
        with pytest.raises(SolverError, match=r"batch index \(1,\): .*min π = -"):
            optimal_policy(self.REWARDS, divergence="chi2")

    def test_alpha_near_zero_is_not_rejected(self):
        # alpha:1e-7 has sup f' = 1e7, so Z = e^ℓ − S carries eps·1e7 ≈ 2e-9 of rounding;
        # the enforced tolerance includes 64·eps·|S| for it (this raised without that term).
        sol = optimal_policy([0.3, -1.0, 2.0], [0.2, 0.5, 0.3], divergence="alpha:1e-7")
        assert 1e-9 < 64 * np.finfo(float).eps * 1e7 and sol.kkt_residual < 1e-8


class TestLowPrecisionInputs:
    """float32 inputs and torch CPU tensors: checked to their own precision, solved in float64."""

    K = 50_000

    @pytest.fixture(scope="class")
    def torch_inputs(self):
        torch = pytest.importorskip("torch")
        generator = torch.Generator().manual_seed(0)
        logits = 3.0 * torch.randn(self.K, generator=generator)
        return torch, torch.softmax(logits, dim=-1), torch.randn(self.K, generator=generator), logits

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_torch_softmax_of_50000_float32_entries(self, torch_inputs, divergence):
        torch, reference, rewards, _ = torch_inputs
        # The float32 sum is off by ~5e-7 here: above the float64 tolerance 1e-8, within
        # 4·eps32·√K = 1.1e-4.
        assert 1e-8 < abs(float(reference.double().sum()) - 1.0) < 4 * np.finfo(np.float32).eps * np.sqrt(self.K)
        sol = optimal_policy(rewards, reference, divergence=divergence)
        # Solved and certified in float64, returned as tensors in the input's float32 (issue 16).
        assert sol.policy.dtype == torch.float32 and float(sol.kkt_residual) < KKT_TOL
        # The same as the solve from the reference renormalized in float64, rounded once to float32.
        q64 = reference.numpy().astype(np.float64)
        again = optimal_policy(rewards.numpy().astype(np.float64), q64 / q64.sum(), divergence=divergence)
        np.testing.assert_allclose(sol.policy.double().numpy(), again.policy, rtol=np.finfo(np.float32).eps,
                                   atol=POLICY_ATOL)

    def test_the_same_values_in_float64_are_held_to_float64_precision(self, torch_inputs):
        _, reference, rewards, _ = torch_inputs
        with pytest.raises(ValueError, match=r"reference must sum to 1 .*within 1e-08"):
            optimal_policy(rewards, reference.numpy().astype(np.float64))

    def test_float32_log_softmax_as_log_reference(self, torch_inputs):
        torch, _, rewards, logits = torch_inputs
        sol = optimal_policy(rewards, log_reference=torch.log_softmax(logits, dim=-1), divergence="js")
        assert sol.kkt_residual < KKT_TOL

    def test_a_float32_reference_off_by_more_than_its_rounding_raises(self):
        k = 1000
        tolerance = 4 * np.finfo(np.float32).eps * np.sqrt(k)  # 1.5e-5
        reference = np.full(k, 1.0 / k, dtype=np.float32)
        with pytest.raises(ValueError, match=r"reference must sum to 1 .*within 1\.51e-05"):
            optimal_policy(np.zeros(k), reference * np.float32(1 + 2 * tolerance))
        # The near miss (off by half the tolerance) is accepted and renormalized.
        sol = optimal_policy(np.arange(k, dtype=np.float32), reference * np.float32(1 + tolerance / 2),
                             divergence="chi2")
        assert sol.kkt_residual < KKT_TOL

    def test_normalization_tolerance(self):
        from pmtheory._validation import input_epsilon, normalization_tolerance

        # float64 keeps 1e-8 (4·eps64·√10^6 = 8.9e-13 is below it); float32 scales with √K.
        assert normalization_tolerance(input_epsilon(np.zeros(3)), 10**6) == 1e-8
        assert normalization_tolerance(input_epsilon([0.5, 0.5]), 2) == 1e-8
        eps32 = float(np.finfo(np.float32).eps)
        assert normalization_tolerance(input_epsilon(np.zeros(3, np.float32)), 10_000) == 4 * eps32 * 100
        assert input_epsilon(np.zeros(3, np.float16)) == float(np.finfo(np.float16).eps)


class TestOwnCertificateUnderAnOffset:
    """Each solver's own certificate (the residual it returns, which check=True enforces) must
    not shrink under a common reward offset, any more than kkt_residual may: reverse KL's fused
    final pass kept the scale 1 + |a| + |Z| measured from 0 after kkt_residual had dropped it,
    and shrank its residual by the offset."""

    @pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
    def test_the_returned_residual_is_the_same_after_an_exact_offset(self, divergence):
        rng = np.random.default_rng(3)
        rewards = rng.integers(-64, 64, size=(20, 50)) / 8.0  # multiples of 1/8: r + 2^30 is exact
        q = rng.dirichlet(np.ones(50), size=20)
        plain = optimal_policy(rewards, q, divergence=divergence, beta=0.5)
        shifted = optimal_policy(rewards + 2.0**30, q, divergence=divergence, beta=0.5)
        np.testing.assert_allclose(shifted.policy, plain.policy, rtol=1e-9, atol=1e-15)
        # Rounding residuals of a few ulps either way; a scale grown by the offset would divide
        # them by ~2^31 (reverse KL's was 1e-25 here).
        worst = max(float(plain.kkt_residual.max()), 1e-17)
        assert float(shifted.kkt_residual.max()) >= 1e-3 * worst
        assert float(shifted.kkt_residual.max()) <= 1e-12
