"""Tests of the PMR claim checks of §3-§4, Table 1 and Props 3.1 / 5.1 (pmtheory.pmr.claims_optima,
claims_pm, claims_constants, claims_general, claims_conditional, claims_table1): pinned verdicts,
and mutations of the computation under test that must flip the verdict (so the checks can come out
either way)."""

import numpy as np
import pytest
from scipy.special import log_softmax

import pmtheory.pmr.claims_conditional as pmr_conditional
import pmtheory.pmr.claims_constants as pmr_constants
import pmtheory.pmr.claims_general as pmr_general
import pmtheory.pmr.claims_optima as pmr_optima
import pmtheory.pmr.claims_pm as pmr
import pmtheory.pmr.claims_table1 as pmr_table1
from pmtheory.claims import ERROR, HOLDS, HOLDS_WITH_CONDITION, REFUTED, default_registry

THEORY_IDS = ("PMR-P3.1", "PMR-P5.1", "PMR-E3.7", "PMR-ODE", "PMR-E3.8", "PMR-T1", "PMR-R3.4", "PMR-EX1",
              "PMR-EX2", "PMR-EX3", "PMR-T2", "PMR-R3.6", "PMR-GODE", "PMR-T3", "PMR-R3.8", "PMR-PF1",
              "PMR-T4", "PMR-D4.1", "PMR-TAB1")


@pytest.fixture(scope="module")
def quick_results(quick_outcomes):
    return quick_outcomes(THEORY_IDS)


class TestPinnedVerdicts:
    def test_prop_3_1_holds_on_exact_enumeration(self, quick_results):
        outcome = quick_results["PMR-P3.1"]
        assert outcome.verdict == HOLDS
        assert outcome.evidence["max_mass_off_argmax"] == 0.0
        assert outcome.evidence["instances"] >= 50

    def test_prop_5_1_holds_against_the_certified_solver_and_cvxpy(self, quick_results):
        outcome = quick_results["PMR-P5.1"]
        assert outcome.verdict == HOLDS
        assert outcome.evidence["max_abs_diff_vs_certified"] <= 1e-10
        assert outcome.evidence["cvxpy_comparisons"] >= 5
        assert outcome.evidence["max_kkt_residual"] <= 1e-12


class TestChecksCanFail:
    def test_prop_5_1_refutes_a_wrong_closed_form(self, monkeypatch):
        # Drop π_ref from eq 5.1: the check must refute it, rechecked by the objective in mpmath.
        def without_reference(rewards, log_reference, beta=1.0):
            return log_softmax(np.asarray(rewards) / beta)

        monkeypatch.setattr(pmr_optima, "kl_rlhf_log_policy", without_reference)
        result = pmr_optima.check_kl_rlhf_closed_form(quick=True)
        assert result.verdict == REFUTED
        cx = result.counterexample
        assert cx["recheck"]["agrees"] is True
        rewards, log_q = np.array(cx["inputs"]["rewards"]), np.array(cx["inputs"]["log_reference"])
        assert len(rewards) <= 3 and np.ptp(log_q) > 0  # shrunk to a small case with a non-uniform π_ref

    def test_prop_3_1_refuses_an_unconfirmed_refutation(self, monkeypatch):
        # A broken enumeration that reports mass off the argmax at a non-optimal point: the
        # exact optimality certificate does not confirm it, so the verdict is an error, not refuted.
        from fractions import Fraction

        def broken(rewards):
            k = len(rewards)
            if k < 2 or np.ptp(rewards) == 0:
                return Fraction(0), [Fraction(1, k)] * k
            return Fraction(1, 2), [Fraction(1, k)] * k

        monkeypatch.setattr(pmr_optima, "_max_mass_off_argmax", broken)
        outcome = default_registry().run(["PMR-P3.1"], quick=True).claims[0]
        assert outcome.verdict == ERROR
        assert "did not confirm" in outcome.evidence["message"]


class TestMaxMassOffArgmax:
    def test_ties_share_the_optimal_face(self):
        mass, point = pmr_optima._max_mass_off_argmax(np.array([1.0, 1.0, 0.0]))
        assert mass == 0 and sum(point) == 1 and point[2] == 0

    def test_a_gap_of_1e_300_still_counts(self):
        # HiGHS treats such a gap as zero; rational enumeration does not.
        mass, _ = pmr_optima._max_mass_off_argmax(np.array([0.0, 1e-300]))
        assert mass == 0


# ---------------------------------------------------------------------------------------
# §3-§4 and Table 1: pinned verdicts.


class TestTheoryVerdicts:
    @pytest.mark.parametrize("claim_id", ["PMR-E3.7", "PMR-ODE", "PMR-E3.8", "PMR-EX1", "PMR-EX2", "PMR-EX3",
                                          "PMR-R3.8", "PMR-D4.1"])
    def test_holds(self, quick_results, claim_id):
        assert quick_results[claim_id].verdict == HOLDS, quick_results[claim_id].evidence

    def test_first_order_constant_is_c_prime_plus_one(self, quick_results):
        # (3.7) integrates to R = −log π + (c' + 1) + C2/π; §3.3 prints c' − 1.
        ev = quick_results["PMR-E3.7"].evidence
        assert ev["c1_equals_c_prime_plus_1"] == "c' + 1" and ev["paper_3_13_says_c1_equals"] == "c' - 1"
        assert ev["max_c_prime_error"] <= 1e-12
        assert quick_results["PMR-T2"].evidence["paper_c1_residual"] == "-2"

    def test_theorem_1_conventions_and_readings(self, quick_results):
        # Headline holds: C2 < 0 is fine under the paper's Σ_y π·C2/π = k·C2 (a Convention
        # records the support-only verdict), and k = 2 is a reading (plus a proof gap).
        outcome = quick_results["PMR-T1"]
        assert outcome.verdict == HOLDS
        (convention,) = outcome.conventions
        assert convention.verdict_otherwise == HOLDS_WITH_CONDITION and "C2,x ≥ 0" in convention.otherwise
        assert any(r.verdict == HOLDS_WITH_CONDITION and "k ≥ 3" in r.condition for r in outcome.readings)
        ev = outcome.evidence
        assert ev["max_abs_diff_certified_vs_softmax"] <= 1e-10
        assert ev["c2_negative_boundary"]["beats"] and ev["c2_negative_boundary"]["optimal_support"] in ([0], [1])
        assert ev["k2_loophole"]["is_loophole"] and ev["k2_loophole"]["k2_max_miss"] <= 1e-10
        assert all(a["max_abs_miss"] > 1e-3 for a in ev["alternatives"].values())

    def test_theorem_2_conventions(self, quick_results):
        outcome = quick_results["PMR-T2"]
        assert outcome.verdict == HOLDS
        assert "C2,x,y ≥ 0" in outcome.conventions[0].otherwise
        assert all(a["max_abs_miss"] > 1e-3 for a in outcome.evidence["alternatives"].values())
        assert outcome.evidence["control_response_dependent_c2_miss"] <= 1e-10

    @pytest.mark.parametrize("claim_id", ["PMR-R3.4", "PMR-R3.6", "PMR-PF1"])
    def test_full_support_only_under_the_support_convention(self, quick_results, claim_id):
        outcome = quick_results[claim_id]
        assert outcome.verdict == HOLDS
        assert [c.verdict_otherwise for c in outcome.conventions] == [HOLDS_WITH_CONDITION]
        assert "full support" in outcome.conventions[0].otherwise

    def test_example_3_heading_constant(self, quick_results):
        ev = quick_results["PMR-EX3"].evidence
        assert ev["solved_c1"] == "-log(k)" and ev["heading_c1_gap"] == "log(k) + 1/k" and ev["heading_gap_positive"]

    def test_theorem_3_refuted_by_u_squared(self, quick_results):
        outcome = quick_results["PMR-T3"]
        assert outcome.verdict == REFUTED
        cx = outcome.counterexample
        assert cx["inputs"]["g"] == "u**2" and cx["inputs"]["rewards"] == [1.0, 2.0]
        assert cx["computed"]["certified_optimum"] == pytest.approx([0.0, 1.0], abs=1e-9)
        assert cx["recheck"]["agrees"] is True
        links = outcome.evidence["links"]
        assert links["exp"]["pm"] and links["scaled_exp(2, 1/2)"]["pm"]
        assert not any(links[n]["pm"] for n in ("power(2)", "power(3)", "softplus", "1 + tanh(u)"))
        assert all(links[n]["s_free"] == links[n]["pm"] for n in links)

    def test_generalized_ode_holds_with_the_b1_step_as_a_proof_gap(self, quick_results):
        # §3.4's ODE is necessary (the S = 1 stationarity condition) and (3.14) is its general
        # solution; "(3.14) is PM" is Theorem 3's direction, a refuted reading; B.1's
        # r_i = g⁻¹(π_i) + c is a proof gap.
        outcome = quick_results["PMR-GODE"]
        assert outcome.verdict == HOLDS
        assert all(v["3_14_solves_stated_ode"] and v["stated_ode_is_the_S_1_pm_condition"]
                   for v in outcome.evidence["links"].values())
        assert [r.verdict for r in outcome.readings] == [HOLDS, REFUTED]
        assert "r_i = g⁻¹(π_i*) + c" in outcome.proof_gaps[0].step

    def test_theorem_4_holds_under_the_papers_convention(self, quick_results):
        # M(x) ≠ ∅ is presumed by the notation; C2 < 0 turns on π·(C2/π) at π = 0.
        outcome = quick_results["PMR-T4"]
        assert outcome.verdict == HOLDS
        (convention,) = outcome.conventions
        assert "kC2" in convention.convention and convention.verdict_otherwise == REFUTED
        ev = outcome.evidence
        assert ev["epsilon_limit"]["monotone_towards_end"] and ev["epsilon_limit"]["final_mass"] == 1.0
        assert ev["empty_M_mass_presumed_nonempty"] == 0.0
        # At ε = 1 the conditional is already softmax over M, but π* on M is not e^r/Z_M.
        finite = ev["finite_epsilon"]
        assert finite["conditional_at_eps_1"] == pytest.approx(finite["limit_e^r/Z_M"], abs=1e-12)
        assert finite["pi_on_M_at_eps_1"][0] < 0.5 * finite["limit_e^r/Z_M"][0]

    def test_table_1(self, quick_results):
        # With the reference model (never uniform, §5.1) the column holds; the readings that
        # allow a uniform or reward-tailored reference are refuted.
        outcome = quick_results["PMR-TAB1"]
        assert outcome.verdict == HOLDS
        assert [r.verdict for r in outcome.readings] == [HOLDS, REFUTED, REFUTED, REFUTED]
        assert not any(t["pm"]
                       for t in outcome.evidence["tied_rewards_non_uniform_reference"]["by_divergence"].values())
        matching = outcome.evidence["uniform_reference_matching_beta"]
        assert [n for n, m in matching.items() if m["common_beta"]] == ["reverse_kl"]
        assert matching["reverse_kl"]["beta_for_r_(0,1)_(0,2)_(0,3)"] == pytest.approx([1.0] * 3, rel=1e-9)
        assert outcome.evidence["forward_kl_reference_exists_iff_beta_above"] == {
            **outcome.evidence["forward_kl_reference_exists_iff_beta_above"], "below": False, "above": True}


# ---------------------------------------------------------------------------------------
# §3-§4 and Table 1: a changed computation must change the verdict.


def _log_softmax_half(rewards, *args, **kwargs):
    return log_softmax(np.asarray(rewards, dtype=float) / 2.0, axis=-1)


class TestTheoryChecksCanFail:
    @pytest.mark.parametrize("check", ["check_first_order_condition", "check_pm_ode", "check_pm_ode_solution"])
    def test_wrong_regularizer_refutes_the_derivations(self, monkeypatch, check):
        monkeypatch.setattr(pmr, "PAPER_PM_REGULARIZER", "-2*log(pi) + C1 + C2/pi")
        result = getattr(pmr, check)(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    @pytest.mark.parametrize(("module", "check"), [(pmr, "check_theorem_1"), (pmr, "check_theorem_2"),
                                                   (pmr_constants, "check_pm_identity")],
                             ids=["check_theorem_1", "check_theorem_2", "check_pm_identity"])
    def test_wrong_pl_policy_refutes(self, monkeypatch, module, check):
        monkeypatch.setattr(module, "pm_log_policy", _log_softmax_half)
        result = getattr(module, check)(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_theorem_1_without_the_corner_cases_has_no_condition_anywhere(self, monkeypatch):
        monkeypatch.setattr(pmr, "_boundary_c2_counterexample", lambda response_c2=False: {
            "beats": False, "sympy_agrees": False, "continuous_beats": False})
        monkeypatch.setattr(pmr, "_k2_loophole", lambda: {"is_loophole": False})
        result = pmr.check_theorem_1(quick=True)
        assert result.verdict == HOLDS and not result.proof_gaps
        assert [c.verdict_otherwise for c in result.conventions] == [HOLDS]
        assert {r.verdict for r in result.readings} == {HOLDS}

    def test_remark_3_4_with_a_wrong_sum_is_refuted(self, monkeypatch):
        monkeypatch.setattr(pmr_constants, "PAPER_REMARK_3_4_SUM", "(k - 1)*C2")
        result = pmr_constants.check_remark_3_4(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["method"].startswith("exact rational")

    def test_max_entropy_at_the_wrong_temperature(self, monkeypatch):
        # Example 1 says PM (C1 = C2 = 0) is max-entropy at τ = 1: a formula at 2τ refutes it
        # (the mpmath optimum confirms). For Table 1 the wrong formula is not a failure of the
        # claim: the independent recheck does not confirm, so the verdict is an error.
        wrong_temperature = lambda r, tau: log_softmax(np.asarray(r) / (2 * tau))  # noqa: E731
        monkeypatch.setattr(pmr_constants, "max_entropy_log_policy", wrong_temperature)
        monkeypatch.setattr(pmr_table1, "max_entropy_log_policy", wrong_temperature)
        assert pmr_constants.check_example_1(quick=True).verdict == REFUTED
        outcome = default_registry().run(["PMR-TAB1"], quick=True).claims[0]
        assert outcome.verdict == ERROR and "did not confirm" in outcome.evidence["message"]

    def test_table_1_without_pm_instances_holds_plainly(self, monkeypatch):
        # The headline reading (the reference model, with tied rewards) does not use these.
        monkeypatch.setattr(pmr_table1, "_matching_beta", lambda name, rewards: (None, 1.0))
        monkeypatch.setattr(pmr_table1, "_tailored_reference", lambda name, rewards, beta: None)
        monkeypatch.setattr(pmr_table1, "SOLVER_DIVERGENCES",
                            tuple(n for n in pmr_table1.SOLVER_DIVERGENCES if n != "tv"))
        result = pmr_table1.check_table_1(quick=True)
        assert result.verdict == HOLDS
        # ... and the readings that allow a uniform or tailored reference then hold too.
        assert [r.verdict for r in result.readings][1:3] == [HOLDS, HOLDS]

    def test_a_response_dependent_constant_refutes_example_2(self, monkeypatch):
        monkeypatch.setattr(pmr_constants, "_prompt_constant", lambda c1, k: c1 + np.arange(k, dtype=float))
        result = pmr_constants.check_example_2(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_heading_constant_refutes_example_3(self, monkeypatch):
        monkeypatch.setattr(pmr_constants, "PAPER_EXAMPLE_3_C1", "1/k")
        result = pmr_constants.check_example_3(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["method"].startswith("sympy at 50 digits")

    def test_theorem_3_holds_if_the_target_were_the_optimum(self, monkeypatch):
        # If the generalized-PL target were the (3.14) optimum (a shifted g(r)), Theorem 3
        # would hold for every link: the verdict must follow the computation.
        from pmtheory.pmr.pm import generalized_pm_optimal_policy

        def shifted_target(rewards, g, *, variable="u"):  # the optimum may put exact zeros: log 0 = −inf
            with np.errstate(divide="ignore"):
                return np.log(generalized_pm_optimal_policy(rewards, g, variable=variable,
                                                            inverse=target_inverse[str(g)],
                                                            lower=target_lower[str(g)]))

        links = pmr_general._theorem_3_links()
        target_inverse = {str(link.g): link.g_inverse for link, *_ in links}
        target_lower = {str(link.g): lower for link, lower, *_ in links}
        monkeypatch.setattr(pmr_general, "generalized_pm_log_policy", shifted_target)
        assert pmr_general.check_theorem_3(quick=True).verdict == HOLDS

    def test_remark_3_8_with_a_wrong_regularizer_is_refuted(self, monkeypatch):
        import sympy as sp

        monkeypatch.setattr(pmr_general, "generalized_pm_regularizer",
                            lambda g, **kw: -2 * sp.log(sp.Symbol("pi", positive=True)) + kw.get("c1", 0))
        result = pmr_general.check_remark_3_8(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_theorem_4_with_a_wrong_prediction_is_refuted(self, monkeypatch):
        # Were Theorem 4 to predict a uniform conditional on M, the mpmath optimum refutes it.
        monkeypatch.setattr(pmr_conditional, "_theorem_4_prediction",
                            lambda r, mask, normalizer="M": np.full(int(mask.sum()), 1.0 / mask.sum()))
        result = pmr_conditional.check_theorem_4(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True
        assert sum(result.counterexample["inputs"]["M"]) >= 2

    def test_theorem_4_broken_solver_is_an_error_not_a_refutation(self, monkeypatch):
        # A solver that ignores ε gets the value wrong but the conditional right: the claim is
        # not refuted, and the independent recheck says so.
        real = pmr_conditional.conditional_pm_optimal_policy

        def ignores_epsilon(rewards, mask, epsilon=None, *, log_epsilon=None, c1=0.0, c2=0.0):
            return real(rewards, mask, log_epsilon=np.zeros_like(np.asarray(rewards, dtype=float)), c1=c1, c2=c2)

        monkeypatch.setattr(pmr_conditional, "conditional_pm_optimal_policy", ignores_epsilon)
        outcome = default_registry().run(["PMR-T4"], quick=True).claims[0]
        assert outcome.verdict == ERROR and "did not confirm" in outcome.evidence["message"]

    def test_definition_4_1_with_eps_one_off_the_set_is_refuted(self):
        # The statement "∝ e^r off M" (ε = 1 off the set) is refuted; a toolkit closed form that
        # computed it instead is a toolkit error, not a verdict on the paper.
        result = pmr_conditional.check_definition_4_1(quick=True, off_set_reference_power=0.0)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_definition_4_1_broken_library_is_an_error(self, monkeypatch):
        monkeypatch.setattr(pmr_conditional, "conditional_pm_log_policy",
                            lambda r, lq, *, alpha: log_softmax(np.asarray(r)))
        outcome = default_registry().run(["PMR-D4.1"], quick=True).claims[0]
        assert outcome.verdict == ERROR and "conditional_pm_log_policy" in outcome.evidence["message"]
