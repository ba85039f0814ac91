"""Tests of the MOD checks in pmtheory.mod.claims_suboptimal, claims_appendix and claims_token
(seed 004: Thm 4, Lemmas 2-3, Props 3-4, App D.2, D.3, G, G.2, §3.2-3.3): registered mutants are
killed, tight constants, proof gaps, and the three questions are answered (a wrong answer
asserted as a claim is refuted)."""

import math

import numpy as np
import pytest

import pmtheory.mod.claims_appendix as appendix
import pmtheory.mod.claims_suboptimal as suboptimal
from pmtheory.claims import ANSWERED, HOLDS, REFUTED, default_registry

EXTENDED_IDS = ("MOD-T4", "MOD-L2", "MOD-P3", "MOD-L3", "MOD-P4", "MOD-D2", "MOD-D3", "MOD-NEG", "MOD-PAR",
                "MOD-TOK")
QUESTIONS = ("MOD-D2", "MOD-PAR", "MOD-TOK")


@pytest.fixture(scope="module")
def results(quick_outcomes):
    return quick_outcomes(EXTENDED_IDS)


def test_every_id_has_a_variant():
    for claim_id in EXTENDED_IDS:
        assert default_registry().variants_for(claim_id), claim_id


def test_questions_are_answered_and_claims_are_not(results):
    for claim_id in EXTENDED_IDS:
        if claim_id in QUESTIONS:
            assert results[claim_id].verdict == ANSWERED
            assert results[claim_id].answer.endswith(".")
        else:
            assert results[claim_id].verdict == HOLDS


class TestThm4:
    def test_tight_constant_is_one_half(self, results):
        evidence = results["MOD-T4"].evidence
        family = evidence["extremal_family"]
        assert family["s"] == pytest.approx((2 - math.sqrt(2)) / 4, abs=1e-6)
        assert family["max_ratio_to_e_C_L"] == pytest.approx(0.5, abs=1e-9)
        assert evidence["max_ratio_to_e_C_L"] <= 0.5 + 1e-9

    def test_constants_down_to_the_tight_one_hold(self):
        assert suboptimal.check_thm4(quick=True, constant=0.5).verdict == HOLDS
        assert suboptimal.check_thm4(quick=True, constant=0.45).verdict == REFUTED

    def test_am_gm_step_is_a_proof_gap_not_the_verdict(self, results):
        outcome = results["MOD-T4"]
        assert outcome.verdict == HOLDS
        witness = outcome.proof_gaps[0].witness
        assert witness["step_a_lhs"] > witness["step_a_rhs"] + 0.05
        assert witness["step_b_lhs"] > witness["step_b_rhs"] + 0.05
        assert witness["V_star_minus_V_nats"] < witness["bound_2_e_C_L"]

    def test_readings(self, results):
        readings = results["MOD-T4"].readings
        assert "nats" in readings[0].reading and readings[0].verdict == HOLDS
        assert "reward units" in readings[1].reading and readings[1].verdict == REFUTED

    def test_a_smaller_l_is_refuted(self, monkeypatch):
        real = suboptimal._thm4_constants
        monkeypatch.setattr(suboptimal, "_thm4_constants", lambda *a: (real(*a)[0] / 1000.0, real(*a)[1]))
        result = suboptimal.check_thm4(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True


class TestLemmas:
    def test_lemma_2_second_method_and_proof_gap(self, results):
        outcome = results["MOD-L2"]
        assert outcome.evidence["slsqp_max_abs_log_min_plus_C"] <= 1e-6  # SLSQP ftol 1e-14
        assert outcome.evidence["min_log_slack"] >= -1e-12
        assert "λ*" in outcome.proof_gaps[0].step

    def test_prop_3_is_proved_symbolically_and_mutants_are_not(self, results):
        assert results["MOD-P3"].evidence["sympy_identity_K3"] is True
        assert suboptimal._prop3_symbolic(constant="0") is False
        assert suboptimal._prop3_symbolic(reward_scale="1") is False

    def test_lemma_3_tight_constant(self, results):
        evidence = results["MOD-L3"].evidence
        assert evidence["family_first_order_ratio"] == pytest.approx(1.11327, abs=1e-5)
        assert evidence["family_ratio_to_sqrt_kl"] == pytest.approx(evidence["family_first_order_ratio"], abs=1e-3)
        assert 0.78 < evidence["largest_constant_found_before_sqrt_2kl"] < 2.0
        # A constant of 1 (√(2KL)) has no counterexample; 1/√2 (√KL) has one.
        assert suboptimal.check_lemma3(quick=True, constant=1.0).verdict == HOLDS
        assert suboptimal.check_lemma3(quick=True, constant=1 / math.sqrt(2)).verdict == REFUTED

    def test_prop_4_tight_constant(self, results):
        family = results["MOD-P4"].evidence["extremal_family"]
        assert family["ratio_to_sqrt_e_C_L"] == pytest.approx(0.5551, abs=1e-3)
        s = family["s"]
        first_order = (1 - s - 2 * s * s) * math.sqrt(2 * math.sqrt(s * (1 - s)) / math.log((1 - s) / s))
        assert family["ratio_to_sqrt_e_C_L"] == pytest.approx(first_order, rel=1e-6)
        assert suboptimal.check_prop4(quick=True, constant=0.6).verdict == HOLDS


class TestAppendices:
    def test_d2_answer_quantifies_the_js_gap(self, results):
        outcome = results["MOD-D2"]
        grid = outcome.evidence["js_shortcut_grid"]
        assert 0 < grid["fraction"] < 1
        assert f"{grid['grid_disagreements']}/{grid['grid_size']}" in outcome.answer
        assert outcome.evidence["reverse_kl"]["max_kl_thm5_sampling_to_optimum"] <= 1e-12

    def test_d2_assertion_holds_if_the_js_rule_were_the_reverse_kl_rule(self, monkeypatch):
        # Were JS's Thm 5 rule Σ w log π (π_ref cancelling as for reverse KL), the shortcut would be exact.
        real_rule, real_closed = appendix.thm5_log_scores, appendix._closed_form_log_scores

        def rule(log_policies, weights, log_reference, *, divergence):
            if divergence == "js":
                return np.tensordot(np.asarray(weights), np.asarray(log_policies), axes=1)
            return real_rule(log_policies, weights, log_reference, divergence=divergence)

        def closed(name, log_pi, weights, log_q):
            return real_closed("reverse_kl" if name == "js" else name, log_pi, weights, log_q)

        monkeypatch.setattr(appendix, "thm5_log_scores", rule)
        monkeypatch.setattr(appendix, "_closed_form_log_scores", closed)
        result = appendix.check_decoding_rules(quick=True, asserted_js_disagreement=0.0)
        assert result.verdict == HOLDS
        assert result.evidence["js_shortcut_grid"]["grid_disagreements"] == 0

    def test_d3_refutes_a_wrong_modpo_minimizer(self, monkeypatch):
        monkeypatch.setattr(appendix, "_modpo_minimizer", lambda log_reference, *a, **k: log_reference)
        result = appendix.check_extended_variants(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True

    def test_neg_answers_the_request_in_the_evidence(self, results):
        evidence = results["MOD-NEG"].evidence
        assert evidence["reverse_kl_assertion"]["product_vs_direct"] <= 1e-9
        assert evidence["z_free_rule_defined_for_all_inputs"] == ["reverse_kl"]
        assert "forward_kl" in evidence["z_free_rule_seen_undefined"]
        assert len(evidence["prop1_with_z_exact_with_negative_weights"]) == 7
        assert evidence["published_code_defined_with_negative_weight"] == ["reverse_kl", "js"]

    def test_par_and_tok_answers(self, results):
        par = results["MOD-PAR"]
        assert par.evidence["max_mod_vs_morlhf"] <= 1e-10
        assert par.evidence["rs_points_beyond_mod_front_total"] > 0
        assert "2e/(e + 2)" in par.answer
        tok = results["MOD-TOK"]
        assert tok.evidence["reverse_kl"]["max_objective_gap_nats"] > 1e-4
        assert tok.evidence["reverse_kl_worst_recheck"]["agrees"] is True
        assert tok.answer.startswith("Token-level MOD is not the sequence-level optimum")
