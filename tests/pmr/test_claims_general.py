"""Tests of the checks in pmtheory.pmr.claims_general (seed 001: §3.4, Theorem 3, Remark 3.8,
App B.1), pmtheory.pmr.claims_conditional (§4, Theorem 4, Definition 4.1) and
pmtheory.pmr.claims_table1 (Table 1): the verdict of each claim as the paper states
it, with its proof gaps, readings and conventions, and every registered mutant and repair killed
(the same check, called with the variant's statement, returns the variant's expected verdict)."""

import pytest

import pmtheory.pmr.claims_conditional as pmr_conditional
import pmtheory.pmr.claims_general as pmr_general
from pmtheory.claims import HOLDS, MUTANT, REFUTED, REPAIR, default_registry

GENERAL_IDS = ("PMR-T3", "PMR-GODE", "PMR-R3.8", "PMR-T4", "PMR-D4.1", "PMR-TAB1")


@pytest.fixture(scope="module")
def outcomes(quick_outcomes):
    return quick_outcomes(GENERAL_IDS)


class TestVerdicts:
    def test_theorem_3_is_refuted_inside_its_hypotheses(self, outcomes):
        # g = u² on u > 0 is positive and increasing; 1 + tanh(u), positive and increasing on all
        # of ℝ, fails too.
        outcome = outcomes["PMR-T3"]
        assert outcome.verdict == REFUTED
        cx = outcome.counterexample
        assert cx["inputs"]["g"] == "u**2" and cx["recheck"]["agrees"] is True
        assert "1 + tanh(u)" in cx["computed"]["other_links_that_fail"]
        assert any("r_i = g⁻¹(π_i*) + c" in gap.step for gap in outcome.proof_gaps)
        # The sufficiency gap's witness is the computed g = u² instance, not a typed string.
        (sufficiency,) = [gap for gap in outcome.proof_gaps if "last line" in gap.step]
        witness = sufficiency.witness
        assert witness["rewards"] == [1.0, 2.0] and witness["target_g(r)/sum_g(r)"] == pytest.approx([0.2, 0.8])
        assert witness["certified_optimum_of_3_14"] == pytest.approx([0.0, 1.0], abs=1e-6)
        assert witness["objective_optimum_vs_target"][0] > witness["objective_optimum_vs_target"][1]

    def test_theorem_3_repair_carries_no_sufficiency_witness(self):
        # For g = exp the u² instance is never computed, so its gap is not attached.
        result = pmr_general.check_theorem_3(quick=True, link_family="exp")
        assert result.verdict == HOLDS
        assert not any("last line" in gap.step for gap in result.proof_gaps)

    def test_generalized_ode_solution_recheck_rests_on_the_residual_alone(self):
        # The "solution" branch (a wrong G sign): agrees comes from mpmath's residual, with no
        # PM flag in the recheck (none was computed there).
        result = pmr_general.check_generalized_ode(quick=True, solution_g_sign=-1)
        assert result.verdict == REFUTED
        recheck = result.counterexample["recheck"]
        assert recheck["agrees"] is True and "regularizer_is_pm" not in recheck["computed"]
        assert recheck["computed"]["residual_at_pi_1_3"] > 1e-20

    def test_generalized_ode_holds_and_its_sufficiency_reading_is_refuted(self, outcomes):
        outcome = outcomes["PMR-GODE"]
        assert outcome.verdict == HOLDS
        necessity, characterization = outcome.readings
        assert necessity.verdict == HOLDS and characterization.verdict == REFUTED
        links = outcome.evidence["links"]
        assert all(v["stated_ode_is_the_S_1_pm_condition"] and v["3_14_solves_stated_ode"] for v in links.values())
        assert all(links[n]["dsolve_agrees_up_to_constants"] for n in ("exp", "scaled_exp(2, 1/2)", "power(2)"))
        # The PM condition is S-free (one ODE for every normalizer) only for exponential links.
        assert [n for n, v in links.items() if v["s_free"]] == ["exp", "scaled_exp(2, 1/2)"]
        steps = [gap.step for gap in outcome.proof_gaps]
        assert any("r_i = g⁻¹(π_i*) + c" in s for s in steps) and any("any value in [0, 1]" in s for s in steps)
        shift_gap = outcome.proof_gaps[0].witness
        assert shift_gap["r_i - g_inv(pi_i*)"][0] != pytest.approx(shift_gap["r_i - g_inv(pi_i*)"][1])

    def test_remark_3_8_holds_with_its_wording_slip(self, outcomes):
        outcome = outcomes["PMR-R3.8"]
        assert outcome.verdict == HOLDS
        assert outcome.evidence["G_of_g_inverse"] == "pi" and not outcome.evidence["numerator_is_constant"]
        (gap,) = outcome.proof_gaps
        assert "numerator" in gap.step and gap.witness["G(g_inv(pi))"] == "pi"

    def test_theorem_4_holds_with_the_c2_convention(self, outcomes):
        outcome = outcomes["PMR-T4"]
        assert outcome.verdict == HOLDS and outcome.condition is None
        (convention,) = outcome.conventions
        assert convention.verdict_otherwise == REFUTED and "π = 0" in convention.otherwise
        ev = outcome.evidence
        assert ev["c2_negative_boundary"]["beats"] and ev["c2_negative_boundary"]["continuous_extension_is_C2"]
        # For every ε the conditional is softmax(r_M); π* itself on M is e^r/Z_M only in the limit.
        finite = ev["finite_epsilon"]
        assert finite["conditional_at_eps_1"] == pytest.approx(finite["limit_e^r/Z_M"], abs=1e-12)
        assert finite["pi_on_M_at_eps_1"][0] < 0.5 * finite["limit_e^r/Z_M"][0]
        assert ev["epsilon_limit"]["final_mass"] == 1.0
        (gap,) = outcome.proof_gaps
        assert gap.witness["sum_over_M_of_b2_display"] < 0.05

    def test_definition_4_1_holds_on_every_kind_of_set(self, outcomes):
        outcome = outcomes["PMR-D4.1"]
        assert outcome.verdict == HOLDS
        ev = outcome.evidence
        assert ev["empty_M"] > 0 and ev["full_M"] > 0 and ev["partial_M"] > 0
        assert ev["max_library_vs_general"] <= 1e-10

    def test_table_1_holds_for_the_reference_model(self, outcomes):
        outcome = outcomes["PMR-TAB1"]
        assert outcome.verdict == HOLDS
        reference_model, any_reference, any_instance, outright = outcome.readings
        assert reference_model.verdict == HOLDS
        assert any_reference.verdict == REFUTED and any_instance.verdict == REFUTED and outright.verdict == REFUTED
        ties = outcome.evidence["tied_rewards_non_uniform_reference"]["by_divergence"]
        assert all(not t["pm"] and t["min_miss_over_beta_0.5_1_2"] > 0.1 for t in ties.values())
        assert outcome.evidence["conditional_pm_rlhf"]["conditional_on_M_miss"] <= 1e-12


class TestVariants:
    def test_every_id_has_a_variant_of_the_right_role(self, outcomes):
        for claim_id in GENERAL_IDS:
            roles = {v.role for v in default_registry().variants_for(claim_id)}
            assert roles == ({REPAIR} if outcomes[claim_id].verdict == REFUTED else {MUTANT}), claim_id

    def test_unknown_statements_are_rejected(self):
        with pytest.raises(ValueError):
            pmr_general.check_theorem_3(quick=True, link_family="u**2")
        with pytest.raises(ValueError):
            pmr_general.check_remark_3_8(quick=True, g="log(u)")
        with pytest.raises(ValueError):
            pmr_conditional.check_theorem_4(quick=True, mass_limit="epsilon->1")
