"""PMR §3 and Props 3.1 / 5.1 (pmtheory.pmr.claims_optima, claims_pm, claims_constants): pinned
verdicts with their proof gaps, readings and conventions, and every registered mutant killed by the
same check."""

import numpy as np
import pytest

from pmtheory.claims import HOLDS, HOLDS_WITH_CONDITION, REFUTED, default_registry

IDS = ("PMR-P3.1", "PMR-P5.1", "PMR-E3.7", "PMR-ODE", "PMR-E3.8", "PMR-T1", "PMR-T2", "PMR-R3.4", "PMR-R3.6",
       "PMR-EX1", "PMR-EX2", "PMR-EX3", "PMR-PF1")


@pytest.fixture(scope="module")
def report(quick_outcomes):
    return quick_outcomes(IDS)


def test_every_id_holds(report):
    assert {claim_id: report[claim_id].verdict for claim_id in IDS} == {claim_id: HOLDS for claim_id in IDS}


def test_every_id_has_a_mutant():
    assert all(len(default_registry().variants_for(claim_id)) >= 1 for claim_id in IDS)
    assert all(v.expected == REFUTED for claim_id in IDS for v in default_registry().variants_for(claim_id))


@pytest.mark.parametrize("claim_id", IDS)
def test_every_variant_is_killed_by_the_runner(report, claim_id):
    # The session's --quick --mutants run (conftest) calls check(quick=True, **variant.params);
    # a refutation whose independent recheck did not agree would be an error, not a kill.
    outcome = report[claim_id]
    registered = [v.name for v in default_registry().variants_for(claim_id)]
    assert [m.name for m in outcome.mutants] == registered
    assert all(m.killed and m.verdict == REFUTED for m in outcome.mutants), [
        (m.name, m.verdict, m.detail) for m in outcome.mutants]


@pytest.mark.parametrize("claim_id", ["PMR-T1", "PMR-T2", "PMR-R3.4", "PMR-R3.6", "PMR-PF1"])
def test_c2_convention_is_recorded_with_the_other_verdict(report, claim_id):
    # Headline: π·(C2/π) = C2 at π = 0 (the paper's Σ_y π·C2/π = k·C2); the support-only
    # convention (y ∼ π never draws y) needs full support / C2 ≥ 0.
    (convention,) = report[claim_id].conventions
    assert "continuous extension" in convention.convention
    assert convention.verdict_otherwise == HOLDS_WITH_CONDITION
    assert "supp π" in convention.otherwise


def test_theorem_1_k2_loophole_is_a_reading_and_a_proof_gap(report):
    outcome = report["PMR-T1"]
    assert outcome.condition is None
    verdicts = {r.verdict for r in outcome.readings}
    assert verdicts == {HOLDS, HOLDS_WITH_CONDITION}
    k2 = next(r for r in outcome.readings if r.verdict == HOLDS_WITH_CONDITION)
    assert "k ≥ 3" in k2.condition
    assert any("Taking π_i* as a variable" in g.step for g in outcome.proof_gaps)
    ev = outcome.evidence
    assert ev["k2_loophole"]["is_loophole"] and ev["k2_loophole"]["k2_max_miss"] <= 1e-10
    # Under the continuous extension no face beats softmax, even with C2 < 0; under the
    # support-only convention π = (1, 0) does.
    assert ev["c2_negative_boundary"]["beats"] and not ev["c2_negative_boundary"]["continuous_beats"]
    assert ev["c2_negative_boundary"]["continuous_optimal_support"] == [0, 1]


def test_theorem_2_proof_gaps(report):
    outcome = report["PMR-T2"]
    steps = [g.step for g in outcome.proof_gaps]
    assert any("C1 = c' − 1" in s for s in steps)  # sympy: C1 = c' + 1
    assert any("(3.13)" in s and "∫" in s for s in steps)  # the displayed integrand
    assert outcome.evidence["paper_c1_residual"] == "-2"
    display = next(g for g in outcome.proof_gaps if "∫" in g.step)
    assert display.witness["displayed_matches"] is False


def test_first_order_condition_records_the_c1_slip_as_a_proof_gap(report):
    outcome = report["PMR-E3.7"]
    (gap,) = outcome.proof_gaps
    assert gap.witness["derived_c1"] == "c' + 1" and gap.witness["paper_c1"] == "c' - 1"


def test_example_1_checks_are_real(report):
    ev = report["PMR-EX1"].evidence
    # BFGS from a random start finds the conjugate's maximizer (not fed log π).
    assert ev["max_bfgs_gradient"] <= 1e-8 and ev["max_abs_gap_bfgs"] <= 1e-9
    assert ev["max_bfgs_maximizer_vs_log_pi"] <= 1e-6
    robust = ev["robust"]
    assert robust["solves"] >= 4 and robust["max_value_gap_cvxpy"] <= 1e-6
    assert robust["max_multiplier_gap_cvxpy"] <= 1e-6 and robust["max_multiplier_gap_slsqp"] <= 1e-6
    assert robust["min_softmax_advantage"] > 0
    assert any("min_{r'}[E_π Δr + log-sum-exp(Δr)]" in g.step for g in report["PMR-EX1"].proof_gaps)


def test_example_3_readings(report):
    # The display's log(1/k) holds (headline); the heading's 1/k is refuted.
    verdicts = {("displayed" in r.reading): r.verdict for r in report["PMR-EX3"].readings}
    assert verdicts == {True: HOLDS, False: REFUTED}


def test_prop_5_1_recheck_is_independent_of_the_closed_form(report):
    ev = report["PMR-P5.1"].evidence
    assert ev["max_abs_diff_vs_certified"] <= 1e-10 and ev["max_certified_duality_gap"] <= 1e-9


def test_e3_8_generality_kills_a_particular_family():
    result = default_registry().check_for("PMR-E3.8")(quick=True, regularizer="-log(pi) + C1")
    assert result.verdict == REFUTED
    assert result.counterexample["computed"]["missed_solution"] == "-log(pi) + 1/pi"
    assert np.isfinite(result.counterexample["recheck"]["computed"])


# Review fixes: verdicts beside the headline and rechecks come from computations.


def test_prop_3_1_recheck_is_an_exact_optimality_certificate():
    import pmtheory.pmr.claims_optima as optima

    result = optima.check_unregularized_collapse(quick=True, claimed_set="argmin")
    recheck = result.counterexample["recheck"]
    assert result.verdict == REFUTED and recheck["method"].startswith("sympy exact rationals")
    assert recheck["computed"]["value_gap"] == "0" and recheck["computed"]["mass_off_claimed_set_positive"] is True
    # The certificate reads only the witness policy: a non-optimal policy is not confirmed.
    bad = optima._p31_optimality_certificate(np.array([0.0, 1.0]), [optima.Fraction(1), optima.Fraction(0)], "argmin")
    assert bad["value_gap"] == "1" and bad["mass_off_claimed_set_positive"] is False


def test_boundary_c2_sympy_values_come_from_the_inputs():
    import pmtheory.pmr.claims_pm as pmr

    boundary = pmr._boundary_c2_counterexample(response_c2=True)
    assert boundary["sympy_agrees"] is True and "log(2)" in boundary["sympy_exact"]


@pytest.mark.parametrize("check", ["check_theorem_1", "check_theorem_2"])
def test_c2_convention_is_refuted_when_the_support_convention_fails_for_nonnegative_c2(monkeypatch, check):
    import pmtheory.pmr.claims_pm as pmr

    monkeypatch.setattr(pmr, "_support_convention_c2_nonneg", lambda response_c2: {"holds": False})
    result = getattr(pmr, check)(quick=True)
    assert result.verdict == HOLDS and [c.verdict_otherwise for c in result.conventions] == [REFUTED]


def test_pm_ode_family_residual_is_rechecked_symbolically(monkeypatch):
    import pmtheory.pmr.claims_pm as pmr

    monkeypatch.setattr(pmr, "PAPER_PM_REGULARIZER", "-2*log(pi) + C1 + C2/pi")
    recheck = pmr.check_pm_ode(quick=True).counterexample["recheck"]
    assert recheck["method"].startswith("sympy") and recheck["computed"] != "0" and recheck["agrees"] is True
