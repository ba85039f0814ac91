"""Tests of the checks in pmtheory.iia.claims_rlpo_dpo, claims_il_slic and claims_query_formats
(seed 002, §5.4-§7, Lemmas 14-17): the verdicts, their readings, conventions and proof gaps, and
every registered mutant and repair killed (a mutant refuted, a repair holding) when the check is
called with its params."""

from fractions import Fraction

import pytest

import pmtheory.iia.claims_il_slic as il_slic_checks
import pmtheory.iia.claims_query_formats as query_checks
import pmtheory.iia.claims_rlpo_dpo as rlpo_dpo_checks
from pmtheory.claims import (
    ANSWERED,
    HOLDS,
    HOLDS_WITH_CONDITION,
    REFUTED,
    default_registry,
)

IDS = ["IIA-P4", "IIA-P5", "IIA-FIG2", "IIA-E16", "IIA-L14", "IIA-P6", "IIA-L16", "IIA-FIG3", "IIA-P7",
       "IIA-SEC6", "IIA-S6IIA", "IIA-SEC7"]

EXPECTED = {
    "IIA-P4": HOLDS_WITH_CONDITION, "IIA-P5": HOLDS_WITH_CONDITION, "IIA-FIG2": REFUTED, "IIA-E16": HOLDS,
    "IIA-L14": HOLDS, "IIA-P6": HOLDS_WITH_CONDITION, "IIA-L16": REFUTED, "IIA-FIG3": HOLDS,
    "IIA-P7": HOLDS_WITH_CONDITION, "IIA-SEC6": HOLDS, "IIA-S6IIA": REFUTED, "IIA-SEC7": ANSWERED,
}

VARIANTS = [(claim_id, variant) for claim_id in IDS for variant in default_registry().variants_for(claim_id)]


@pytest.fixture(scope="module")
def report(quick_outcomes):
    return quick_outcomes(IDS)


def test_verdicts_are_pinned(report):
    assert {claim_id: report[claim_id].verdict for claim_id in IDS} == EXPECTED


def test_every_id_has_a_variant_and_every_variant_is_killed_by_the_runner(report):
    for claim_id in IDS:
        outcome = report[claim_id]
        assert outcome.mutants, f"{claim_id} has no mutant or repair"
        assert all(m.killed for m in outcome.mutants), [(m.name, m.verdict, m.detail) for m in outcome.mutants]
        roles = {m.role for m in outcome.mutants}
        assert roles == ({"repair"} if EXPECTED[claim_id] == REFUTED else {"mutant"})


@pytest.mark.parametrize(("claim_id", "variant"), VARIANTS, ids=[f"{c}:{v.name}" for c, v in VARIANTS])
def test_variant_is_killed(report, claim_id, variant):
    # The session's --quick --mutants run called check(quick=True, **variant.params) once.
    outcome = {m.name: m for m in report[claim_id].mutants}[variant.name]
    assert outcome.verdict == variant.expected, outcome.detail
    assert outcome.killed


def test_a_variant_called_directly_gives_the_runner_verdict():
    variant = default_registry().variants_for("IIA-S6IIA")[0]
    result = default_registry().check_for("IIA-S6IIA")(quick=True, **variant.params)
    assert result.verdict == variant.expected == HOLDS


def test_p4_p5_condition_is_only_p_star_positive_and_the_convention_is_recorded(report):
    for claim_id in ("IIA-P4", "IIA-P5"):
        outcome = report[claim_id]
        assert outcome.condition.startswith("p*(1) > 0")
        assert "P_ref(M1) < 1" not in outcome.condition  # presumed by F's notation, not a condition
        assert [c.verdict_otherwise for c in outcome.conventions] == [HOLDS]
        assert outcome.evidence["region_violations"] == 0
        at_above = outcome.evidence["at_and_above_threshold"]
        assert "P(M1) → 1" in at_above["above"] and "fair coin" in at_above["at"]


def test_p4_mutant_counterexamples_lie_where_the_exact_sign_favours_m1():
    result = rlpo_dpo_checks.check_rlpo_failure(quick=True, threshold="zeta")
    inputs = result.counterexample["inputs"]
    n, zeta, p = inputs["choice_set_size"], Fraction(inputs["p_ref_m1"]), Fraction(inputs["p_star_1"])
    assert rlpo_dpo_checks.iia.exact_failure_threshold(n, zeta) < p < zeta


def test_fig2_reports_each_size_and_the_readings(report):
    outcome = report["IIA-FIG2"]
    per_size = outcome.evidence["per_choice_set_size"]
    assert [per_size[f"|Y|={n}"]["agrees"] for n in (2, 3, 4, 5)] == [True, False, True, True]
    assert [r.verdict for r in outcome.readings] == [REFUTED, HOLDS]


def test_l14_headline_is_the_pointwise_reading_and_the_uniform_one_is_vacuous(report):
    outcome = report["IIA-L14"]
    assert [r.verdict for r in outcome.readings] == [HOLDS, "vacuous"]
    assert outcome.evidence["nonconvex_well_family"]["convex"] is False
    assert outcome.evidence["well_family_admitted"] is False
    assert len(outcome.proof_gaps) == 2


def test_l16_probability_does_not_depend_on_m2_and_tends_to_one_in_d(report):
    outcome = report["IIA-L16"]
    values = set(outcome.evidence["exact_P(E(D))_fixed_|D|"]["|D|=20"].values())
    assert len(values) == 1 and Fraction(values.pop()) < Fraction(1, 2)
    assert [r.verdict for r in outcome.readings] == [REFUTED, HOLDS, REFUTED]
    assert outcome.evidence["tail_1−P(E(D))_as_|D|_grows"]["max_at_|D|=1e5"] < 1e-6


def test_l16_exact_probability_matches_a_direct_enumeration():
    # |D| = 3, |Y| = 2: enumerate the 3^3 outcomes (I1, I2, neither) of the multinomial directly.
    import itertools

    zeta, p = Fraction(4, 5), Fraction(3, 5)
    s = 1 - zeta**2 - (1 - zeta) ** 2
    probs = {"I1": s * p, "I2": s * (1 - p), "none": 1 - s}
    for beta in (0.5, 1.0):
        i_min, j_min = il_slic_checks._event_cutoffs(p, beta)
        direct = sum(probs[a] * probs[b] * probs[c] for a, b, c in itertools.product(probs, repeat=3)
                     if (a, b, c).count("I1") >= i_min and (a, b, c).count("I2") >= j_min)
        assert il_slic_checks._exact_event_probability(2, zeta, 1 - zeta, p, beta, 3) == direct
    # |D| = 5, β = 1/2: |I1| >= 2 and |I2| >= 2 is possible.
    i_min, j_min = il_slic_checks._event_cutoffs(p, 0.5)
    direct = sum(probs[a] * probs[b] * probs[c] * probs[d] * probs[e]
                 for a, b, c, d, e in itertools.product(probs, repeat=5)
                 if (a, b, c, d, e).count("I1") >= i_min and (a, b, c, d, e).count("I2") >= j_min)
    assert direct > 0
    assert il_slic_checks._exact_event_probability(2, zeta, 1 - zeta, p, 0.5, 5) == direct


def test_s6iia_computes_two_elevenths_and_the_reversed_reading_gives_two_thirds(report):
    outcome = report["IIA-S6IIA"]
    assert outcome.evidence["computed_probability"] == "2/11"
    assert outcome.evidence["computed_direction"] == "decrease"
    assert outcome.evidence["other_inference"]["probability"] == "2/3"
    assert outcome.evidence["dichotomy_model_(eq 5)_concise_in_1+k"] == "2/5"
    assert [r.verdict for r in outcome.readings] == [REFUTED, HOLDS]
    assert abs(outcome.counterexample["recheck"]["computed"]["gumbel_integral"] - 2 / 11) < 1e-10


def test_sec7_is_answered_and_its_assertions_are_judged(report):
    outcome = report["IIA-SEC7"]
    assert outcome.answer.startswith("No:")
    assert query_checks.check_pairwise_conversion(quick=True, asserted_recovers=False).verdict == HOLDS
    f_threshold = "(zeta - zeta**n) / (1 - zeta**n - (1 - zeta)**n)"
    assert query_checks.check_pairwise_conversion(quick=True, asserted_threshold=f_threshold).verdict == HOLDS


def test_p6_p7_record_the_proof_gaps(report):
    steps6 = [g.step for g in report["IIA-P6"].proof_gaps]
    steps7 = [g.step for g in report["IIA-P7"].proof_gaps]
    assert any("Lemma 16" in s for s in steps6) and any("(24)" in s for s in steps6)
    assert any("Lemma 17, ∂h/∂q" in s for s in steps7)
    shift = report["IIA-P6"].proof_gaps[1].witness
    assert shift["max_abs_difference"] < 1e-15


def test_p4_p5_convention_otherwise_is_computed_from_the_minimizing_sequence_limit(report, monkeypatch):
    for claim_id in ("IIA-P4", "IIA-P5"):
        other = report[claim_id].evidence["p_star_1_zero"]["minimizing_sequence_convention"]
        assert other["sympy_limit_P(M1)"] == "0" and other["limit_in_|D|"] == "1"
        assert other["strictly_decreasing"] and other["P(M1)_to_0_in_probability"]
    # Were the limit not 0, the other convention would keep the condition.
    real = rlpo_dpo_checks._minimizing_sequence_limit
    monkeypatch.setattr(rlpo_dpo_checks, "_minimizing_sequence_limit",
                        lambda method, degenerate: {**real(method, degenerate), "P(M1)_to_0_in_probability": False})
    result = rlpo_dpo_checks.check_rlpo_failure(quick=True)
    assert result.verdict == HOLDS_WITH_CONDITION
    assert [c.verdict_otherwise for c in result.conventions] == [HOLDS_WITH_CONDITION]


def test_l16_exact_tail_matches_the_rationals():
    for n, zeta, p, beta, size in ((2, Fraction(4, 5), Fraction(3, 5), 1.0, 20),
                                   (5, Fraction(1, 5), Fraction(1, 5), 10.0, 30),
                                   (3, Fraction(1, 5), Fraction(19, 20), 10.0, 100)):
        num, den = il_slic_checks._exact_event_tail(n, zeta, p, beta, size)
        assert Fraction(num, den) == 1 - il_slic_checks._exact_event_probability(n, zeta, 1 - zeta, p, beta, size)


def test_l16_limit_in_d_refutes_only_when_the_exact_tail_confirms(monkeypatch):
    real = il_slic_checks._float_event_probability

    def stuck(n, zeta, p, beta, num_data):  # a wrong float tail at |D| = 1e5 for one case
        if num_data == 10**5 and (n, zeta, p, beta) == (3, 0.2, 0.6, 1.0):
            return 0.5
        return real(n, zeta, p, beta, num_data)

    monkeypatch.setattr(il_slic_checks, "_float_event_probability", stuck)
    with pytest.raises(ValueError, match="agrees"):  # the exact tail at 1e5 is far below 1e-6
        il_slic_checks.check_lemma16(quick=True, limit_in="D")
    real_tail = il_slic_checks._exact_event_tail
    monkeypatch.setattr(il_slic_checks, "_exact_event_tail",
                        lambda n, zeta, p, beta, num_data: (1, 2) if num_data == 10**5 else
                        real_tail(n, zeta, p, beta, num_data))
    result = il_slic_checks.check_lemma16(quick=True, limit_in="D")
    assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True
    assert result.counterexample["inputs"]["case"] == "n=3,ζ=1/5,p=3/5,β=1.0"


def test_s6iia_recheck_judges_on_its_own_values(report):
    recheck = report["IIA-S6IIA"].counterexample["recheck"]["computed"]
    assert recheck["sympy"] == "2/11" and recheck["sympy_direction"] == "decrease"
    assert recheck["gumbel_direction"] == "decrease"


def _pairwise_with_recovering_share(monkeypatch, size: int, recovering: int):
    """simulate_pairwise_conversion with ``recovering`` of the seeds recovering M1 at |Y| = ``size``."""
    real = query_checks.iia.simulate_pairwise_conversion

    def patched(**kwargs):
        sim = real(**kwargs)
        if kwargs["choice_set_size"] != size:
            return sim
        p_m1 = sim.p_m1_rlpo.copy()
        p_m1[:, -1] = 0.0
        p_m1[:recovering, -1] = 1.0
        return query_checks.iia.RlpoDpoSimulation(sim.data_sizes, sim.reward_gap, sim.reward_has_minimizer,
                                                  p_m1, sim.p_m1_dpo)

    monkeypatch.setattr(query_checks.iia, "simulate_pairwise_conversion", patched)


def test_sec7_asserted_recovery_never_holds_on_an_inconclusive_size(monkeypatch):
    # F(1/2) = 1/2 < 3/5: the exact ratio favours M1 for every |Y|; a simulation showing 70/100 recovering
    # at |Y| = 4 is inconclusive, so the assertion is neither held nor refuted.
    monkeypatch.setattr(query_checks, "ZETA", Fraction(1, 2))
    _pairwise_with_recovering_share(monkeypatch, 4, 70)
    with pytest.raises(RuntimeError, match="inconclusive"):
        query_checks.check_pairwise_conversion(quick=True, asserted_recovers=True)
    with pytest.raises(RuntimeError, match="inconclusive"):
        query_checks.check_pairwise_conversion(quick=True, asserted_recovers=False)


def test_sec7_inconclusive_size_refutes_recovery_where_the_exact_ratio_confirms(monkeypatch):
    # At the §5.3 setup |Y| = 3 sits at the threshold (exact ratio 1: a fair coin, no recovery).
    _pairwise_with_recovering_share(monkeypatch, 4, 100)
    _pairwise_with_recovering_share(monkeypatch, 5, 100)
    result = query_checks.check_pairwise_conversion(quick=True, asserted_recovers=True)
    assert result.verdict == REFUTED and result.counterexample["inputs"]["choice_set_size"] == 3
    assert result.counterexample["recheck"]["computed"] == "1"
