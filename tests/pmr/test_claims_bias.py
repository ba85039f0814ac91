"""Tests of the PMR bias / collapse / preference / metric checks (pmtheory.pmr.claims_bias,
claims_f_rlhf, claims_beta, claims_preferences, claims_metrics): pinned verdicts, and changes to the
computation under test that must flip them (so every check can come out either way)."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.special import log_softmax, logit

import pmtheory.pmr.claims_beta as claims_beta
import pmtheory.pmr.claims_bias as claims_bias
import pmtheory.pmr.claims_f_rlhf as claims_f_rlhf
import pmtheory.pmr.claims_metrics as claims_metrics
import pmtheory.pmr.claims_preferences as claims_preferences
import pmtheory.pmr.figures as F
from pmtheory.claims import (
    ERROR,
    HOLDS,
    HOLDS_WITH_CONDITION,
    REFUTED,
    default_registry,
)
from pmtheory.pmr import metrics, preferences, rlhf

IDS = ("PMR-P3.7", "PMR-E5.2", "PMR-FIG2", "PMR-E5.3", "PMR-COL", "PMR-F5.1", "PMR-A3", "PMR-PA2", "PMR-A1",
       "PMR-MET")

EXPECTED = {
    "PMR-P3.7": HOLDS_WITH_CONDITION, "PMR-E5.2": HOLDS, "PMR-FIG2": HOLDS, "PMR-E5.3": REFUTED, "PMR-COL": REFUTED,
    "PMR-F5.1": HOLDS, "PMR-A3": HOLDS, "PMR-PA2": HOLDS_WITH_CONDITION, "PMR-A1": HOLDS, "PMR-MET": HOLDS,
}

@pytest.fixture(scope="module")
def outcomes(quick_outcomes):
    return quick_outcomes(IDS)


class TestPinnedVerdicts:
    def test_verdicts(self, outcomes):
        assert {claim_id: outcomes[claim_id].verdict for claim_id in IDS} == EXPECTED

    def test_p3_7_condition_is_the_tilted_reference(self, outcomes):
        o = outcomes["PMR-P3.7"]
        assert o.verdict == HOLDS_WITH_CONDITION
        assert "exp((1 − 1/β)·r(x, y))" in o.condition and "β = 1 and π_ref uniform" in o.condition
        assert o.evidence["symbolic_for_all_rewards"] == "β = 1 and π_ref uniform"
        assert o.evidence["exact_pm_example"]["policy"] == ["1/14", "2/7", "9/14"]
        assert [r.verdict for r in o.readings] == [HOLDS_WITH_CONDITION, HOLDS_WITH_CONDITION]
        assert "(1, uniform)" in o.readings[0].condition
        # The readings come from the computed exception sets.
        assert o.evidence["exceptions_for_every_reward"] == [
            {"beta": "1", "l0": "-log(3)", "l1": "-log(3)", "l2": "-log(3)"}]
        assert o.evidence["exact_pm_example"]["is_pm"] is True and o.evidence["exact_biased_example"]["is_pm"] is False
        assert o.evidence["symbolic_set_on_exact_solver_max_gap_to_pm"] <= 1e-13

    def test_e5_2_holds_under_the_btl_reading_and_the_tempered_reading_is_recorded(self, outcomes):
        o = outcomes["PMR-E5.2"]
        assert o.verdict == HOLDS and o.condition is None
        assert [r.verdict for r in o.readings] == [HOLDS, REFUTED]
        assert "σ(r1 − r2)" in o.readings[0].reading and "tempered" in o.readings[1].reading
        assert o.evidence["btl_reading_verdict"] == "holds"
        assert o.evidence["tempered_reading_verdict"].startswith("refuted")
        assert o.evidence["grid_matches_btl"] == [[1.0, 0.5]]
        assert [p for _, p in o.evidence["grid_matches_tempered"]] == [0.5] * 5
        assert o.evidence["max_log_odds_gap"] <= 1e-9

    def test_fig2_holds_and_is_rechecked_by_cvxpy(self, outcomes):
        o = outcomes["PMR-FIG2"]
        assert o.verdict == HOLDS
        assert o.evidence["max_abs_diff_exact_vs_eq_5_2_same_algebra"] <= 1e-12
        assert o.evidence["cvxpy_points"] >= 20 and o.evidence["cvxpy_failures"] == 0
        assert o.evidence["max_abs_diff_eq_5_2_vs_cvxpy"] <= 1e-4
        assert o.evidence["below_diagonal_when_p_ref_below_half"] and o.evidence["unbiased_curve_is_diagonal"]

    def test_e5_3_refuted_by_a_rational_chi2_instance(self, outcomes):
        o = outcomes["PMR-E5.3"]
        assert o.verdict == REFUTED
        cx = o.counterexample
        assert cx["inputs"] == {"divergence": "chi2", "rewards": [1.0, 0.0], "p_ref": 0.5, "beta": 1.0}
        assert cx["recheck"]["computed"]["exact_rational_optimum"] == "5/8"
        assert cx["recheck"]["computed"]["exact_rational_eq53"] == "3/5"
        assert set(o.evidence["failing"]) == {"forward_kl", "js", "alpha:0.3", "alpha:0.9", "hellinger", "chi2"}
        assert o.evidence["divergences"]["reverse_kl"]["agrees_with_exact"] is True
        assert o.evidence["forward_kl_closed_form"]["exact"] == "sqrt(2)/2"
        assert o.evidence["counterexample_f_in_footnote_10"]["in_hypotheses"] is True

    def test_col_refuted_for_bounded_f_prime(self, outcomes):
        o = outcomes["PMR-COL"]
        assert o.verdict == REFUTED
        assert o.counterexample["inputs"]["divergence"] == "forward_kl"
        assert o.counterexample["computed"] == 0.5
        assert o.counterexample["recheck"]["computed"]["sympy_limit"] == "1/2"
        divs = o.evidence["divergences"]
        assert [n for n, d in divs.items() if d["collapses"]] == ["reverse_kl", "chi2"]
        assert o.evidence["chi2_exact_zero_at_p_ref_0.3_gap_minus_4"] == 0.0
        assert o.evidence["forward_kl_at_p_ref_exactly_0_gap_2"] == ["1/2"]
        # The value at p_ref(y1) = 0 itself is no Convention: the claim is the limit, which it does not change.
        assert not o.conventions
        point = o.evidence["boundary_point_p_ref_exactly_0"]
        assert point["perspective_value_equals_limit"] is True and point["verdict_turns_on_it"] is False
        assert point["forward_kl_gap_2_pi1_at_p_ref_0_sympy"] == ["1/2"]

    def test_f5_1_holds_up_to_the_integration_constant_with_readings(self, outcomes):
        # §5.1 goes on "which effectively gives the KL divergence": the headline reads the family
        # up to an additive constant; the family exactly as printed (f(1) = c', so only c' = 0
        # meets footnote 10) is a reading beside it, refuted by u log u − u + 1.
        o = outcomes["PMR-F5.1"]
        assert o.verdict == HOLDS
        assert o.evidence["part1_bias_unless_exp_inverse"] is True and o.evidence["part2_family_iff"] is True
        assert o.evidence["kl_family"]["if"] is True and o.evidence["kl_family"]["only_if"] is False
        assert [r.verdict for r in o.readings] == [REFUTED, HOLDS, REFUTED]

    def test_f5_1_family_as_printed_is_refuted_by_the_integration_constant(self):
        result = claims_f_rlhf.check_f_bias_unless_kl(quick=True, up_to_constant=False)
        assert result.verdict == REFUTED
        assert result.counterexample["inputs"]["f"] == "u*log(u) - u + 1"
        assert result.counterexample["recheck"]["computed"]["difference_at_u_2"] == ["1"]
        o = result
        divs = o.evidence["divergences_beta_1_uniform_reference"]
        assert [n for n, d in divs.items() if d["inverse_derivative_is_exp"]] == ["reverse_kl"]
        assert all(d["max_bias_two_responses"] > 1e-3 for n, d in divs.items() if n != "reverse_kl")
        assert divs["reverse_kl"]["max_bias_two_responses"] <= 1e-12
        loophole = o.evidence["two_response_example"]
        assert loophole["two_responses_unbiased"] and loophole["three_responses_biased"]

    def test_a3_holds_in_figure_9s_setting_and_the_threshold_is_a_reading(self, outcomes):
        o = outcomes["PMR-A3"]
        assert o.verdict == HOLDS
        assert [r.verdict for r in o.readings] == [HOLDS, REFUTED, HOLDS_WITH_CONDITION, REFUTED]
        assert "5845851/288321100" in o.readings[2].condition
        assert o.evidence["threshold_exact"] == "5845851/288321100"
        assert o.evidence["p_rlhf_at_uniform_reference_p_reward_infimum"] == "282475249/282534298"
        assert o.evidence["counterexample"]["p_rlhf_float"] < 0.99
        assert o.evidence["smaller_beta_more_bias_over_all_beta"] is False
        tempered = o.evidence["tempered_reading"]
        assert tempered["biased_off_one"] is False and tempered["holds"] is False
        assert max(tempered["bias_max_abs_by_beta_at_p_ref_half"].values()) <= 1e-12
        assert tempered["p_rlhf_at_tempered_p_reward_infimum"] == "7/10"

    def test_pa2_needs_connected_comparisons(self, outcomes):
        o = outcomes["PMR-PA2"]
        assert o.verdict == HOLDS_WITH_CONDITION
        assert "connected" in o.condition
        ex = o.evidence["disconnected_example"]
        assert ex["loss_invariant_symbolically"] and ex["components_found"] == 2
        assert o.evidence["max_reward_error"] <= 1e-9 and o.evidence["cvxpy_comparisons"] >= 1
        assert [r.verdict for r in o.readings] == [HOLDS_WITH_CONDITION, HOLDS]
        assert len(o.proof_gaps) == 1 and "r = r* + c(x)" in o.proof_gaps[0].finding
        assert o.evidence["per_prompt_constant"]["loss_invariant_symbolically"] is True
        assert o.evidence["non_unique_when_disconnected"] is True

    def test_a1_and_met_hold(self, outcomes):
        assert outcomes["PMR-A1"].verdict == HOLDS
        assert outcomes["PMR-MET"].verdict == HOLDS
        assert outcomes["PMR-MET"].evidence["max_rel_err_vs_mpmath"] <= 1e-11


class TestRegisteredVariants:
    def test_every_id_has_a_variant_and_the_runner_kills_each(self, outcomes):
        for claim_id in IDS:
            o = outcomes[claim_id]
            assert o.mutants, f"{claim_id} has no mutant or repair"
            assert all(m.killed for m in o.mutants), [(m.name, m.verdict, m.detail) for m in o.mutants]
            if EXPECTED[claim_id] == REFUTED:
                assert any(m.role == "repair" for m in o.mutants)
            else:
                assert {m.role for m in o.mutants} == {"mutant"}

class TestChecksCanFlip:
    def test_e5_2_a_broken_solver_is_an_error_not_a_refutation(self, monkeypatch):
        real = rlhf.f_rlhf_pair_log_odds
        monkeypatch.setattr(rlhf, "f_rlhf_pair_log_odds", lambda *a, **k: real(*a, **k) + 0.1)
        outcome = default_registry().run(["PMR-E5.2"], quick=True).claims[0]
        assert outcome.verdict == ERROR and "did not confirm" in outcome.evidence["message"]

    def test_p3_7_refutes_a_wrong_pm_reference(self, monkeypatch):
        monkeypatch.setattr(rlhf, "kl_rlhf_pm_log_reference",
                            lambda rewards, beta: log_softmax(np.asarray(rewards) / beta))
        result = claims_bias.check_kl_rlhf_not_pm(quick=True)
        assert result.verdict == REFUTED

    def test_fig2_refutes_a_wrong_printed_formula(self, monkeypatch):
        monkeypatch.setattr(F, "renormalized_product_preference", lambda p_reward, p_ref: p_reward + 0 * p_ref)
        result = claims_bias.check_fig2(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True
        assert "matches_eq_5_2_vs_cvxpy" in result.counterexample["inputs"]["failed"]

    def test_e5_3_holds_once_the_multiplier_is_kept(self, monkeypatch):
        # Eq (5.3) with (f')⁻¹(r/β − Z) instead of (f')⁻¹(r/β) is the exact answer.
        monkeypatch.setattr(rlhf, "eq53_log_odds", rlhf.f_rlhf_pair_log_odds)
        result = claims_f_rlhf.check_f_rlhf_binary_preference(quick=True)
        assert result.verdict == HOLDS

    def test_col_holds_if_every_divergence_behaved_like_kl(self, monkeypatch):
        real = rlhf.f_rlhf_pair_preference
        monkeypatch.setattr(rlhf, "f_rlhf_pair_preference",
                            lambda gap, odds, divergence="reverse_kl", beta=1.0: real(gap, odds, beta=beta))
        monkeypatch.setattr(rlhf, "preference_collapse_limit",
                            lambda gap, divergence="reverse_kl", beta=1.0: np.zeros_like(np.asarray(gap, float)))
        result = claims_f_rlhf.check_preference_collapse(quick=True)
        assert result.verdict == HOLDS

    def test_a3_refuted_at_beta_one(self):
        # With β = 1 the 0.99 statement fails even at the uniform reference: p_rlhf = p_reward = 0.71.
        result = claims_beta.check_beta_bias(quick=True, a3_beta="1")
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["computed"] == "71/100"

    def test_pa2_refutes_non_btl_data(self, monkeypatch):
        # Comparisons labelled by σ(2(r_i − r_j)): the MLE is 2r*, found by Newton and by cvxpy.
        real = preferences.btl_comparison_probabilities
        monkeypatch.setattr(preferences, "btl_comparison_probabilities",
                            lambda rewards, mu: real(2 * np.asarray(rewards), mu))
        result = claims_preferences.check_btl_population_mle(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_a1_refutes_a_choice_rule_without_iia(self, monkeypatch):
        real = preferences.plackett_luce_log_choice

        def size_tempered(rewards, subset=None):  # temperature depends on the subset's size
            rewards = np.asarray(rewards, float)
            if subset is None:
                return real(rewards)
            return real(rewards * np.sum(subset) / rewards.size, subset)

        monkeypatch.setattr(preferences, "plackett_luce_log_choice", size_tempered)
        result = claims_preferences.check_pl_subsets(quick=True)
        assert result.verdict == REFUTED

    def test_met_refutes_the_code_metric_passed_off_as_kl(self, monkeypatch):
        monkeypatch.setattr(metrics, "instance_pm_divergence",
                            lambda *a: metrics.instance_squared_log_ratio_pm_divergence(*a) / 8)
        result = claims_metrics.check_metrics(quick=True)
        assert result.verdict == REFUTED
        cx = result.counterexample
        assert cx["inputs"]["failed"] == "definition" and cx["recheck"]["agrees"] is True
        assert "quadrature" in cx["recheck"]["method"]

    def test_p3_7_rationals_disagreeing_with_the_solver_is_an_error(self, monkeypatch):
        real = claims_bias._rational_kl_rlhf
        monkeypatch.setattr(claims_bias, "_rational_kl_rlhf", lambda w, ref, beta_half: real(w, ref[::-1], beta_half))
        outcome = default_registry().run(["PMR-P3.7"], quick=True).claims[0]
        assert outcome.verdict == ERROR and "rational" in outcome.evidence["message"]

    def test_a3_tempered_reading_follows_the_computed_gap(self, monkeypatch):
        # With a 0.69 bound the extreme case holds under the tempered reading too (p_rlhf → 7/10 there), so
        # that reading's verdict is decided by the computed tempered gap alone: no bias, refuted ...
        result = claims_beta.check_beta_bias(quick=True, a3_p_rlhf="69/100")
        assert result.verdict == HOLDS and result.readings[3].verdict == REFUTED
        assert result.evidence["tempered_reading"]["biased_off_one"] is False
        # ... and, were §5.1's tempered p_reward the BTL one (a gap like Figure 9's), it would hold.
        monkeypatch.setattr(rlhf, "tempered_preference", lambda p_reward, beta: np.asarray(p_reward, float))
        result = claims_beta.check_beta_bias(quick=True, a3_p_rlhf="69/100")
        assert result.readings[3].verdict == HOLDS and result.evidence["tempered_reading"]["biased_off_one"] is True

    def test_pa2_disconnected_methods_disagreeing_is_an_error(self, monkeypatch):
        real = preferences.btl_population_loss
        monkeypatch.setattr(preferences, "btl_population_loss",
                            lambda rewards, comparison: real(rewards, comparison) + 1e-3 * float(np.sum(rewards)))
        outcome = default_registry().run(["PMR-PA2"], quick=True).claims[0]
        assert outcome.verdict == ERROR and "disconnected" in outcome.evidence["message"]


def _shift(function, delta):
    return lambda *a, **k: function(*a, **k) + delta


class TestMetricsRecheckPerFailure:
    """Every kind of PMR-MET failure has its own independent recheck; one it cannot confirm is an error."""

    @pytest.mark.parametrize(("name", "make", "kind", "method"), [
        ("entropy", lambda real: _shift(real, 1e-6), "entropy", "−Σ π log π"),
        ("kl_divergence", lambda real: (lambda *a: real(*a) * 1.01 + 1e-9), "kl", "Σ π (log π − log softmax r)"),
        ("population_pm_divergence", lambda real: (lambda *a, **k: 0.0 * real(*a, **k)), "non_pm_policy_zero",
         "quadrature"),
        ("population_pm_divergence", lambda real: _shift(real, 1e-12), "pm_policy_nonzero", "quadrature"),
        ("instance_squared_log_ratio_pm_divergence", lambda real: (lambda *a: real(*a) * 1.001 + 1e-3),
         "squared_gap", "fractions.Fraction"),
        ("instance_pm_divergence", lambda real: (lambda *a: real(*a) * 0.0), "definition", "quadrature"),
        ("expected_perplexity", lambda real: (lambda *a: real(*a) * 1.001), "perplexity", "logsumexp"),
    ])
    def test_each_failure_kind_is_rechecked_independently(self, monkeypatch, name, make, kind, method):
        monkeypatch.setattr(metrics, name, make(getattr(metrics, name)))
        result = claims_metrics.check_metrics(quick=True)
        assert result.verdict == REFUTED
        cx = result.counterexample
        assert cx["inputs"]["failed"] == kind and cx["recheck"]["agrees"] is True
        assert method in cx["recheck"]["method"]

    def test_a_failure_the_recheck_does_not_confirm_is_an_error(self, monkeypatch):
        # A wrong primary reference flags a correct metric; the quadrature sides with the metric.
        real = claims_metrics._mp_bernoulli_kl
        monkeypatch.setattr(claims_metrics, "_mp_bernoulli_kl", lambda a, b: real(a, b) * 1.01)
        outcome = default_registry().run(["PMR-MET"], quick=True).claims[0]
        assert outcome.verdict == ERROR and "did not confirm" in outcome.evidence["message"]

    @given(st.floats(-60, 60), st.floats(-60, 60))
    @example(0.0, 1.0)
    @example(-1e4, 1e4)
    @example(2.0, 2.0 + 1e-9)
    def test_quadrature_kl_matches_the_log_form(self, a, b):
        exact = claims_metrics._quad_bernoulli_kl(a, b)
        reference = claims_metrics._mp_bernoulli_kl(a, b)
        if reference > 1e-290:
            assert abs(float(exact) - reference) <= 1e-13 * reference
        else:
            assert exact >= 0

    def test_quadrature_kl_far_below_float_range(self):
        # KL(σ(−700) ‖ σ(−690)) = e^-690 − e^-700(1 + 10) + O(e^-1390): exact to 20 digits.
        import mpmath

        with mpmath.workdps(50):
            expected = mpmath.exp(-690) - 11 * mpmath.exp(-700)
            assert abs(claims_metrics._quad_bernoulli_kl(-700.0, -690.0) - expected) <= mpmath.mpf("1e-20") * expected
        assert claims_metrics._quad_bernoulli_kl(3.0, 3.0) == 0


class TestA3Property:
    @given(st.floats(0.0, 1.0), st.floats(7e-4, 0.2999))
    def test_above_the_threshold_p_reward_over_0_7_gives_over_0_99(self, u, excess):
        # p_ref anywhere in [threshold, 1 − 1e-9], p_reward in (0.7, 1): exact solver, β = 0.1.
        t = float(claims_beta.a3_threshold())
        p_ref = t + u * (1 - 1e-9 - t)
        p = float(rlhf.f_rlhf_pair_preference(logit(0.7 + excess), logit(p_ref), beta=0.1))
        assert p > 0.99

    @given(st.floats(1e-9, 1.0))
    @example(1.0)
    def test_below_the_threshold_some_p_reward_over_0_7_fails(self, u):
        # p_ref ≤ threshold·(1 − 1e-6) lowers logit p_rlhf by ≥ 1e-6 at p_reward → 0.7; p_reward =
        # 0.7 + 1e-12 raises it by only 10·1e-12/(0.7·0.3) ≈ 5e-11, so p_rlhf < 0.99 there.
        t = float(claims_beta.a3_threshold())
        p_ref = t * u * (1 - 1e-6)
        p = float(rlhf.f_rlhf_pair_preference(logit(0.7 + 1e-12), logit(p_ref), beta=0.1))
        assert p < 0.99


class TestCollapseProperty:
    @given(st.sampled_from(["forward_kl", "js", "alpha:0.3", "hellinger", "tv"]), st.floats(-10, 10),
           st.floats(-1, 1).map(lambda e: 10.0**e))
    def test_exact_solver_reaches_the_closed_form_limit(self, name, gap, beta):
        far = -(abs(gap / beta) + 1000.0)
        exact = float(rlhf.f_rlhf_pair_preference(gap, far, divergence=name, beta=beta))
        assert exact == pytest.approx(float(rlhf.preference_collapse_limit(gap, divergence=name, beta=beta)), abs=1e-9)


class TestHelpers:
    def test_a3_threshold_is_exact(self):
        t = claims_beta.a3_threshold()
        assert t == Fraction(99 * 3**10, 99 * 3**10 + 7**10)
        # At the threshold the infimum p_reward → 0.7 gives exactly 0.99.
        assert claims_beta._rational_pair_preference(t, Fraction(7, 10), 10) == Fraction(99, 100)

    def test_a3_threshold_with_other_numbers(self):
        assert claims_beta.a3_threshold(Fraction(1), Fraction(7, 10), Fraction(99, 100)) == Fraction(99 * 3, 99 * 3 + 7)
        with pytest.raises(ValueError, match="whole number"):
            claims_beta.a3_threshold(Fraction(3, 10))

    def test_kl_family_iff(self):
        literal = claims_f_rlhf._kl_family_iff("u*log(u) + c1*u")
        assert literal["if"] and not literal["only_if"] and literal["members_with_f(1)=0"] == ["u*log(u)"]
        assert literal["witness"]["f"] == "u*log(u) - u + 1" and literal["witness"]["two_point_recheck"]
        repaired = claims_f_rlhf._kl_family_iff("u*log(u) + c1*(u - 1)")
        assert repaired["if"] and repaired["only_if"] and repaired["witness"] is None
        # A family that is not KL at all fails both directions.
        wrong = claims_f_rlhf._kl_family_iff("u**2 + c1*u")
        assert not wrong["only_if"] and not wrong["if"]

    def test_two_response_loophole(self):
        example = claims_f_rlhf._two_response_loophole(quick=True)
        assert example["in_hypotheses_and_not_kl"] and example["two_response_identity_sympy"]
        assert example["two_responses_unbiased"] and example["three_responses_biased"]

    def test_chi2_rational_pair(self):
        assert claims_f_rlhf._chi2_rational_pair(Fraction(1, 2), Fraction(1), Fraction(0)) == [
            Fraction(5, 8), Fraction(3, 8)]
        with pytest.raises(ValueError, match="inactive"):
            claims_f_rlhf._chi2_rational_pair(Fraction(1, 2), Fraction(10), Fraction(0))
