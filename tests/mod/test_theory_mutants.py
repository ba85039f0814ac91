"""Registered mutants of the MOD theory claims (Lemma 1, Props 1-2, Thms 2, 3, 5, eq 7) and the
pieces their checks stand on: the hand-written Def-2 strong barriers, Lemma 1's form, and the
minimum of Thm 3's margins over every algorithm output."""

import numpy as np
import pytest

import pmtheory.mod._claims_common as common
import pmtheory.mod.claims_merging as merging
import pmtheory.mod.claims_strong_barrier as strong_barrier
from pmtheory.claims import HOLDS, default_registry
from pmtheory.divergences import get_divergence

IDS = ("MOD-L1", "MOD-P1", "MOD-P2", "MOD-T5", "MOD-E7", "MOD-T2", "MOD-T3")



def test_every_id_has_a_variant():
    assert all(default_registry().variants_for(claim_id) for claim_id in IDS)


class TestDef2StrongBarriers:
    def test_the_hand_written_f_meet_def_2_and_no_family_member_does(self):
        for kit in strong_barrier.STRONG_BARRIER_FUNCTIONS:
            props = strong_barrier._def2_properties(kit.expression)
            assert props["f_at_1"] == "0" and props["barrier"] and props["strongly_convex_on_R_plus"]
            assert strong_barrier._def2_hypothesis(kit)
        chi2 = strong_barrier.NON_BARRIER_STRONGLY_CONVEX
        assert not strong_barrier._def2_hypothesis(chi2) and strong_barrier._def2_hypothesis(chi2, barrier=False)
        assert strong_barrier._def2_functions(True) == strong_barrier.STRONG_BARRIER_FUNCTIONS
        assert chi2 in strong_barrier._def2_functions(False)
        assert not any(get_divergence(name).strongly_convex for name in common.BARRIER_DIVERGENCES)

    @pytest.mark.parametrize("kit", strong_barrier.STRONG_BARRIER_FUNCTIONS, ids=lambda k: k.name)
    def test_closed_form_inverses_invert_f_prime(self, kit):
        u = np.array([-40.0, -3.0, 0.0, 0.7, 5.0, 300.0])
        assert np.allclose(kit.f_prime(kit.f_prime_inverse(u)), u, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("kit", strong_barrier.STRONG_BARRIER_FUNCTIONS, ids=lambda k: k.name)
    def test_lemma_1_form_agrees_with_cvxpy(self, kit):
        rewards, reference, beta = np.array([0.3, -1.0, 2.0]), np.array([0.2, 0.3, 0.5]), 0.5
        form, _ = strong_barrier._lemma1_form(kit, rewards, reference, beta)
        direct = strong_barrier._kit_cvxpy(kit, rewards, reference, beta)
        assert form.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.max(np.abs(form - direct)) < 1e-5  # cvxpy's π is good to ~1e-7
        assert strong_barrier._kit_objective(kit, direct, rewards, reference, beta) <= \
            strong_barrier._kit_objective(kit, form, rewards, reference, beta) + 1e-9

    def test_chi2_has_no_lemma_1_form_when_the_optimum_has_a_zero(self):
        kit = strong_barrier.NON_BARRIER_STRONGLY_CONVEX
        form, z = strong_barrier._lemma1_form(kit, np.array([0.0, 10.0]), np.array([0.5, 0.5]), 1.0)
        assert form is None and z is None
        direct = strong_barrier._kit_cvxpy(kit, np.array([0.0, 10.0]), np.array([0.5, 0.5]), 1.0)
        assert direct[0] < 1e-8  # the optimum is (0, 1): R − β∇f(π/π_ref) = (2, 8) is not constant


class TestThm3OverEveryOutput:
    def test_the_reward_margin_minimum_is_the_closed_form(self):
        n, c = 4, 1.0
        constants = merging._thm3_constants("chi2", n, c)
        p, q, r, s = constants
        value, minimizer = merging._thm3_worst_output("chi2", n, c, constants, "argmin", objective=False)
        assert value == pytest.approx((n - 3) / (n - 2) * (p - q + r), rel=1e-7)
        assert minimizer[2] == pytest.approx(1 / (n - 2), abs=1e-6)

    def test_argmax_lets_an_algorithm_win(self):
        constants = merging._thm3_constants("tv", 5, 10.0)
        value, minimizer = merging._thm3_worst_output("tv", 5, 10.0, constants, "argmax", objective=False)
        assert value == pytest.approx(-10.0, abs=1e-6)  # π_A = δ_k: margin −C
        assert minimizer[2] == pytest.approx(1.0, abs=1e-6)

    @pytest.mark.parametrize("name", ["chi2", "tv"])
    def test_the_objective_minimum_is_above_the_subgradient_bound(self, name):
        for n in (4, 6):
            constants = merging._thm3_constants(name, n, 1.0)
            value, _ = merging._thm3_worst_output(name, n, 1.0, constants, "argmin", objective=True)
            assert value >= merging._thm3_lower_bound(name, n, 1.0, constants, "argmin") - 1e-6
            assert merging._thm3_lower_bound(name, n, 1.0, constants, "argmin") == pytest.approx(
                (n - 3) / (n - 2) * constants[2], rel=1e-12)

    def test_remark_2(self):
        example = merging._remark2_example()
        assert example["agrees"] is True and example["exact"] == "1/4"


def test_thm2_reverse_kl_construction_never_violates_hypothesis_1():
    part = merging._thm2_part_iii(("reverse_kl",), quick=True, lambda_set="simplex")["reverse_kl"]
    assert part["roots"]["identically_zero"] is True
    assert part["betas_violating_hypothesis_1"] == []


def test_t2_affine_merges_reach_the_relu_target():
    assert merging._relu_construction("affine")["min_gap_refined"] <= 1e-12
    assert merging._relu_construction("simplex")["min_gap_refined"] > 0.03


def test_headline_verdicts_hold_for_the_paper_statements():
    # The paper's statements (defaults) hold; spot-check the two that were re-judged.
    assert strong_barrier.check_lemma1(quick=True).verdict == HOLDS
    assert merging.check_thm3(quick=True).verdict == HOLDS
