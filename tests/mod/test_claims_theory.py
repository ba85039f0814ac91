"""Tests of the MOD claim checks: pinned verdicts and conditions, and mutations that flip them."""

import math

import numpy as np
import pytest

import pmtheory.mod._claims_common as common
import pmtheory.mod.claims_appendix as appendix
import pmtheory.mod.claims_decoding as decoding_claims
import pmtheory.mod.claims_merging as merging
import pmtheory.mod.claims_strong_barrier as strong_barrier
import pmtheory.mod.claims_suboptimal as suboptimal
import pmtheory.mod.claims_token as token_claims
from pmtheory.claims import HOLDS, HOLDS_WITH_CONDITION, REFUTED

MOD_IDS = ("MOD-L1", "MOD-P1", "MOD-P2", "MOD-T5", "MOD-E7", "MOD-T2", "MOD-T3", "MOD-T4", "MOD-L2", "MOD-P3",
           "MOD-L3", "MOD-P4", "MOD-D2", "MOD-D3", "MOD-NEG", "MOD-PAR", "MOD-TOK")


@pytest.fixture(scope="module")
def quick_results(quick_outcomes):
    return quick_outcomes(MOD_IDS)


class TestPinnedVerdicts:
    def test_every_mod_claim_is_checked(self, quick_results):
        assert set(quick_results) == set(MOD_IDS)
        assert all(o.verdict in (HOLDS, HOLDS_WITH_CONDITION, REFUTED, "answered") for o in quick_results.values())

    def test_lemma_1_holds_for_def_2_strong_barriers_and_for_the_family(self, quick_results):
        outcome = quick_results["MOD-L1"]
        assert outcome.verdict == HOLDS
        assert [r.verdict for r in outcome.readings] == [HOLDS, HOLDS]
        assert "Def 2" in outcome.readings[0].reading
        def2 = outcome.evidence["def2_strong_barrier"]
        assert set(def2) == {k.name for k in strong_barrier.STRONG_BARRIER_FUNCTIONS}
        for record in def2.values():
            assert record["strongly_convex_on_R_plus"] is True and record["barrier"] is True
            assert record["cvxpy_comparisons"] == record["instances"]
            assert record["recovered_reward_spread"] <= 1e-12
        for name in common.BARRIER_DIVERGENCES:
            assert outcome.evidence[name]["strongly_convex_on_R_plus"] is False
            assert outcome.evidence[name]["f_second_derivative_limit_at_infinity"] == "0"
            assert outcome.evidence[name]["form_kkt_residual"] <= 1e-12
        assert outcome.evidence["non_barrier_chi2"]["form_is_a_distribution"] is False

    def test_prop_1_holds_and_the_bracket_step_is_a_proof_gap_for_bounded_derivatives(self, quick_results):
        outcome = quick_results["MOD-P1"]
        assert outcome.verdict == HOLDS
        assert [r.verdict for r in outcome.readings] == [HOLDS, HOLDS]
        (gap,) = outcome.proof_gaps
        assert "forward_kl" in gap.finding and gap.witness["divergence"] == "forward_kl"
        for record in outcome.evidence["def2_strong_barrier"].values():
            assert record["phi_defined_on_whole_bracket"] is True
            assert record["formula_vs_lemma1_form"] <= 1e-9
        assert outcome.evidence["reverse_kl"]["instances_with_phi_undefined_at_t1"] == 0
        assert outcome.evidence["forward_kl"]["instances_with_phi_undefined_at_t1"] > 0
        first = outcome.evidence["forward_kl"]["first_undefined_instance"]
        assert first["max_argument_at_t1"] >= first["sup_f_prime"] == 0.0
        for name in common.BARRIER_DIVERGENCES:
            assert outcome.evidence[name]["formula_vs_direct"] <= 1e-9

    def test_prop_2_holds_to_rounding(self, quick_results):
        outcome = quick_results["MOD-P2"]
        assert outcome.verdict == HOLDS
        assert not outcome.proof_gaps
        for record in outcome.evidence["def2_strong_barrier"].values():
            assert record["max_difference_error"] <= 1e-12 and record["pairs_compared"] > 0
        for name in common.BARRIER_DIVERGENCES:
            assert outcome.evidence[name]["max_difference_error"] <= 1e-12
            assert outcome.evidence[name]["pairs_compared"] > 0

    def test_thm_5_holds_and_its_choice_is_not_always_the_mode(self, quick_results):
        outcome = quick_results["MOD-T5"]
        assert outcome.verdict == HOLDS
        assert [r.verdict for r in outcome.readings] == [HOLDS, HOLDS]
        assert set(outcome.evidence["def2_strong_barrier"]) == {k.name for k in strong_barrier.STRONG_BARRIER_FUNCTIONS}
        assert outcome.evidence["reverse_kl"]["mode_differs"] == 0  # eq 7: Z cancels
        assert sum(outcome.evidence[n]["mode_differs"] for n in common.BARRIER_DIVERGENCES) > 0

    def test_eq_7_holds_symbolically(self, quick_results):
        outcome = quick_results["MOD-E7"]
        assert outcome.verdict == HOLDS
        assert outcome.evidence["sympy_rule_equals_product"] == {"M=2": True, "M=3": True}
        assert outcome.evidence["token_level"]["mismatches"] == 0

    def test_thm_2_holds_part_by_part(self, quick_results):
        outcome = quick_results["MOD-T2"]
        assert outcome.verdict == HOLDS
        evidence = outcome.evidence
        assert evidence["parts_hold"] == {"i": True, "ii": True, "iii": True}
        assert evidence["i_tv"]["exact_ratio_y1_y3_at_half"] == "sqrt(3)/2"
        assert evidence["i_tv"]["min_gap_over_lambda_grid"] > 1e-2
        def2_names = sorted(k.name for k in strong_barrier.STRONG_BARRIER_FUNCTIONS)
        assert sorted(evidence["which_def2_f_satisfy_iii"]) == def2_names
        (gap,) = outcome.proof_gaps
        assert "Theorem 3" in gap.step and "one-hot" in gap.finding
        assert [r.verdict for r in outcome.readings] == [HOLDS, HOLDS]
        assert evidence["iii_reverse_kl_identically_zero"] is True
        assert sorted(evidence["which_f_satisfy_iii"]) == sorted(merging._T2_DIVERGENCES)
        # forward KL: the non-trivial root is x0 = (3 − √3)/12, i.e. β0 = (√3 − 1)/2.
        roots = evidence["iii_roots"]["forward_kl"]
        assert roots["exact_root_at_one_third"] is True
        assert [round(r, 12) for r in roots["sign_change_roots"]] == [round((3 - math.sqrt(3)) / 12, 12)]
        at_root = evidence["iii_construction"]["forward_kl"]["at_nontrivial_root"]
        assert at_root["beta"] == pytest.approx((math.sqrt(3) - 1) / 2, rel=1e-9)
        assert at_root["min_gap_over_lambda"] <= 1e-12
        assert evidence["ii_relu_network"]["affine_lambda_gap"] <= 1e-12
        assert evidence["ii_relu_network"]["min_gap_refined"] > 0.03
        assert evidence["i_chi2"]["exact_ratios_differ"] is True

    def test_thm_3_holds_over_every_algorithm_output(self, quick_results):
        outcome = quick_results["MOD-T3"]
        assert outcome.verdict == HOLDS
        for name in ("chi2", "tv"):
            record = outcome.evidence[name]
            # The minimum over the whole simplex of outputs: positive, and at or above the closed forms.
            assert record["min_margin_reward"] > 0
            assert record["min_margin_reward"] == pytest.approx(record["min_margin_reward_closed_form"], rel=1e-6)
            assert record["min_margin_objective"] >= record["min_objective_lower_bound"] - 1e-6 > 0
            assert record["algorithm_min_margin_objective"] >= record["min_margin_objective"] - 1e-6
            assert record["cases_I_f_differs"] > 0
            assert record["max_optimality_violation"] <= 1e-9
        assert all(outcome.evidence["symbolic"][key] for key in ("reward_margin_equals_(N-3)/(N-2)(p-q+r)",
                                                                 "objective_bound_equals_(N-3)/(N-2)r"))
        assert outcome.evidence["remark_2"]["agrees"] is True
        (gap,) = outcome.proof_gaps
        assert "one-point" in gap.step

    def test_thm_4_holds_in_nats_with_an_am_gm_proof_gap(self, quick_results):
        # V in nats is the paper's own reading (the proof writes V* − V = KL(π_w‖π*) by Prop 3).
        outcome = quick_results["MOD-T4"]
        assert outcome.verdict == HOLDS
        units = outcome.evidence["units_counterexample"]
        assert units["gap_reward_units"] > units["bound"] > units["gap_nats"]
        assert units["recheck_agrees"] is True
        assert outcome.evidence["max_ratio_to_2L"] <= 1.0
        assert [r.verdict for r in outcome.readings] == [HOLDS, REFUTED]
        assert len(outcome.proof_gaps) == 1 and outcome.proof_gaps[0].witness["fails"] is True

    @pytest.mark.parametrize("claim_id", ["MOD-L2", "MOD-P3", "MOD-L3", "MOD-P4", "MOD-D3"])
    def test_the_remaining_properties_hold(self, quick_results, claim_id):
        assert quick_results[claim_id].verdict == HOLDS

    def test_prop_3_is_proved_symbolically(self, quick_results):
        assert quick_results["MOD-P3"].evidence["sympy_identity_K3"] is True

    def test_the_js_shortcut_answers_d2(self, quick_results):
        outcome = quick_results["MOD-D2"]
        assert outcome.verdict == "answered"
        counterexample = outcome.evidence["js_shortcut_example"]
        assert counterexample["inputs"]["reference"] == [0.1, 0.1, 0.8]
        assert counterexample["computed"]["thm5_choice"] == 2
        assert counterexample["recheck"]["agrees"] is True
        assert outcome.evidence["forward_kl"]["code_score_vs_thm5_spread"] <= 1e-12
        assert outcome.evidence["alpha:0.3"]["code_score_vs_thm5_spread"] <= 1e-12
        assert outcome.evidence["reverse_kl"]["max_kl_code_sampling_to_optimum"] <= 1e-12

    def test_negative_weights_and_where_the_rules_stay_defined(self, quick_results):
        outcome = quick_results["MOD-NEG"]
        assert outcome.verdict == HOLDS
        assert outcome.evidence["z_free_rule_defined_for_all_inputs"] == ["reverse_kl"]
        assert outcome.evidence["published_code_defined_with_negative_weight"] == ["reverse_kl", "js"]

    def test_rewarded_soups_can_lie_beyond_mods_front(self, quick_results):
        outcome = quick_results["MOD-PAR"]
        assert outcome.verdict == "answered"
        assert outcome.evidence["max_mod_vs_morlhf"] <= 1e-10
        assert outcome.evidence["max_objective_above_mod"] <= 1e-9
        assert outcome.evidence["reverse_kl"]["rs_points_beyond_mod_front"]["rs_softmax_linear"] == 0
        example = outcome.evidence["rs_beyond_front_example"]
        assert example["recheck"]["computed"]["sup_front_sum"] == "2*E/(2 + E)"
        assert example["recheck"]["computed"]["soup_minus_front"] > 0.2

    def test_token_level_gap(self, quick_results):
        outcome = quick_results["MOD-TOK"]
        assert outcome.verdict == "answered"
        assert outcome.evidence["reverse_kl"]["factorized_max_objective_gap_nats"] <= 1e-12
        assert outcome.evidence["forward_kl"]["factorized_max_objective_gap_nats"] > 1e-3
        assert outcome.evidence["reverse_kl"]["max_objective_gap_nats"] > 1e-4
        assert outcome.evidence["reverse_kl_worst_recheck"]["agrees"] is True


class TestChecksCanFail:
    def test_lemma_1_family_reading_refutes_a_reward_inversion_without_beta(self, monkeypatch):
        real = strong_barrier.implied_rewards

        def without_beta(policy, reference, *, divergence, beta):
            return real(policy, reference, divergence=divergence, beta=1.0)

        monkeypatch.setattr(strong_barrier, "implied_rewards", without_beta)
        result = strong_barrier.check_lemma1(quick=True)
        # The family is Reading 2; the headline (Def 2) does not use the package's inversion.
        assert result.verdict == HOLDS
        assert [r.verdict for r in result.readings] == [HOLDS, REFUTED]
        counterexample = result.evidence["family_counterexample"]
        assert counterexample["recheck"]["agrees"] is True
        assert counterexample["inputs"]["beta"] != 1.0

    def test_prop_1_refutes_a_shrunken_bracket(self, monkeypatch):
        real = strong_barrier.prop1_bracket

        def shrunken(*args, **kwargs):
            t1, t2 = real(*args, **kwargs)
            return t1, t1 + (t2 - t1) * 1e-3 - 1e-3

        monkeypatch.setattr(strong_barrier, "prop1_bracket", shrunken)
        result = strong_barrier.check_prop1(quick=True)
        assert result.verdict == HOLDS  # the headline (Def 2) computes its own bracket
        assert [r.verdict for r in result.readings] == [HOLDS, REFUTED]
        counterexample = result.evidence["family_counterexample"]
        assert counterexample["computed"].startswith("bracket:")
        assert counterexample["recheck"]["agrees"] is True

    def test_prop_2_refutes_a_map_with_the_weights_reversed(self, monkeypatch):
        real = decoding_claims.weighted_f_prime

        def reversed_weights(log_policies, weights, log_reference, *, divergence):
            return real(log_policies, np.asarray(weights)[::-1], log_reference, divergence=divergence)

        monkeypatch.setattr(decoding_claims, "weighted_f_prime", reversed_weights)
        result = decoding_claims.check_prop2(quick=True)
        assert result.verdict == HOLDS  # the headline (Def 2) does not use the package's map
        assert [r.verdict for r in result.readings] == [HOLDS, REFUTED]
        recheck = result.evidence["family_counterexample"]["recheck"]
        assert recheck["agrees"] is True and recheck["computed"]["pairs_ordered_the_other_way"] > 0

    def test_prop_2_does_not_confirm_a_tie_as_a_reversal(self, monkeypatch):
        # The first model alone, with all-zero rewards, ties the map on pairs Σ w R orders strictly:
        # the search counts the tie, the recheck counts only strict reversals beyond the tolerance.
        real = decoding_claims.weighted_f_prime

        def first_model_only(log_policies, weights, log_reference, *, divergence):
            one = np.zeros(len(weights))
            one[0] = 1.0
            return real(log_policies, one, log_reference, divergence=divergence)

        monkeypatch.setattr(decoding_claims, "weighted_f_prime", first_model_only)
        with pytest.raises(RuntimeError, match="recheck does not confirm"):
            decoding_claims.check_prop2(quick=True)

    def test_prop_2_cvxpy_recheck_certifies_its_radius(self):
        # The Frank-Wolfe radius bounds cvxpy's distance to Lemma 1's optimum (found without cvxpy).
        rng = np.random.default_rng(5)
        for kit in strong_barrier.STRONG_BARRIER_FUNCTIONS:
            for _ in range(5):
                k = int(rng.integers(2, 5))
                rewards, reference, beta = rng.normal(size=k), rng.dirichlet(np.ones(k)), 0.5
                policy = strong_barrier._kit_cvxpy(kit, rewards, reference, beta)
                form, _ = strong_barrier._lemma1_form(kit, rewards, reference, beta)
                radius = decoding_claims._cvxpy_certified_radius(kit, policy, rewards, reference, beta)
                assert np.linalg.norm(policy - form) <= radius < 1e-2

    def test_thm_5_family_reading_refutes_the_argmin(self, monkeypatch):
        real = decoding_claims.thm5_log_scores
        monkeypatch.setattr(decoding_claims, "thm5_log_scores", lambda *a, **k: -real(*a, **k))
        result = decoding_claims.check_thm5(quick=True)
        assert result.verdict == HOLDS  # the argmin as a statement is the registered mutant
        assert [r.verdict for r in result.readings] == [HOLDS, REFUTED]
        assert result.evidence["family_counterexample"]["recheck"]["agrees"] is True

    def test_eq_7_refutes_a_biased_claimed_score(self, monkeypatch):
        real = decoding_claims._eq7_claimed_scores
        monkeypatch.setattr(decoding_claims, "_eq7_claimed_scores",
                            lambda logits, *a: real(logits, *a) + 0.5 * np.arange(np.shape(logits)[-1]))
        result = decoding_claims.check_eq7(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True

    def test_thm_2_refutes_a_family_that_can_mix_probabilities(self, monkeypatch):
        # Merging probabilities instead of logits reaches chi2's interior optimum Σ w π_i.
        def arithmetic(log_policies, lambdas):
            return np.log(np.asarray(lambdas) @ np.exp(log_policies))

        monkeypatch.setattr(merging, "rewarded_soup_softmax_linear", arithmetic)
        result = merging.check_thm2(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["inputs"]["divergence"] == "chi2"
        assert result.counterexample["recheck"]["agrees"] is True

    def test_thm_3_refutes_a_construction_without_s(self):
        result = merging.check_thm3(quick=True, s_scale=0.0)  # also the registered mutant "s = 0"
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True
        assert result.counterexample["recheck"]["computed"]["margin_reward"] < 0

    def test_thm_4_refutes_a_smaller_l(self, monkeypatch):
        real = suboptimal._thm4_constants
        monkeypatch.setattr(suboptimal, "_thm4_constants", lambda *a: (real(*a)[0] / 1000.0, real(*a)[1]))
        result = suboptimal.check_thm4(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True

    def test_d3_refutes_a_wrong_modpo_minimizer(self, monkeypatch):
        monkeypatch.setattr(appendix, "_modpo_minimizer", lambda log_reference, *a, **k: log_reference)
        result = appendix.check_extended_variants(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True

    def test_par_answers_no_gap_when_the_soups_sit_on_the_front(self, monkeypatch):
        real = appendix.pareto_fronts

        def on_front(*args, **kwargs):
            fronts = real(*args, **kwargs)
            for soup in appendix._SOUPS:
                fronts.points[soup] = fronts.points["mod"]
            return fronts

        monkeypatch.setattr(appendix, "pareto_fronts", on_front)
        outcome = appendix.check_pareto(quick=True)
        assert outcome.verdict == "answered" and "every rewarded-soup point lies on or below" in outcome.answer
        assert appendix.check_pareto(quick=True, asserted_rs_beyond_front=0).verdict == HOLDS

    def test_tok_answers_no_gap_when_token_level_is_exact(self, monkeypatch):
        real = token_claims.compare_token_and_sequence_level

        def exact(*args, **kwargs):
            result = real(*args, **kwargs)
            return type(result)(**{**result.__dict__, "objective_gap": 0.0})

        monkeypatch.setattr(token_claims, "compare_token_and_sequence_level", exact)
        outcome = token_claims.check_token_level(quick=True)
        assert outcome.verdict == "answered" and outcome.answer.startswith("Token-level MOD equals")
        assert token_claims.check_token_level(quick=True, asserted_gap=0.0).verdict == HOLDS
