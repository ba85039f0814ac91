"""Tests of the checks in pmtheory.iia.claims_choice, claims_losses and claims_rlpo_lemmas (seed
002, §3-§4 and App A.1): every registered mutant and repair is killed (a mutant refuted, a repair
holding), and the proof gaps, readings and conventions each verdict carries beside it are pinned."""

import pytest

import pmtheory.iia.claims_losses as loss_checks
import pmtheory.iia.claims_rlpo_lemmas as lemma_checks
from pmtheory.claims import HOLDS, REFUTED, default_registry

IDS = ["IIA-E3", "IIA-S3.5", "IIA-E5", "IIA-PET", "IIA-E9", "IIA-L13", "IIA-E12", "IIA-E13", "IIA-L8", "IIA-L9",
       "IIA-L11", "IIA-L12"]

EXPECTED = {
    "IIA-E3": HOLDS, "IIA-S3.5": HOLDS, "IIA-E5": HOLDS, "IIA-PET": HOLDS, "IIA-E9": HOLDS, "IIA-L13": HOLDS,
    "IIA-E12": HOLDS, "IIA-E13": HOLDS, "IIA-L8": REFUTED, "IIA-L9": REFUTED, "IIA-L11": HOLDS, "IIA-L12": HOLDS,
}

VARIANTS = [(claim_id, variant) for claim_id in IDS for variant in default_registry().variants_for(claim_id)]


@pytest.fixture(scope="module")
def report(quick_outcomes):
    return quick_outcomes(IDS)


def test_verdicts_are_pinned(report):
    assert {claim_id: report[claim_id].verdict for claim_id in IDS} == EXPECTED


def test_every_id_has_a_variant_and_refuted_ids_have_a_repair(report):
    for claim_id in IDS:
        roles = {variant.role for variant in default_registry().variants_for(claim_id)}
        assert roles, f"{claim_id} has no mutant or repair"
        assert ("repair" in roles) == (EXPECTED[claim_id] == REFUTED), (claim_id, roles)
        assert report[claim_id].mutants and all(m.killed for m in report[claim_id].mutants), \
            [(m.name, m.verdict, m.detail) for m in report[claim_id].mutants]


@pytest.mark.parametrize(("claim_id", "variant"), VARIANTS, ids=[f"{c}:{v.name}" for c, v in VARIANTS])
def test_variant_is_killed(report, claim_id, variant):
    # The session's --quick --mutants run called check(quick=True, **variant.params) once.
    outcome = {m.name: m for m in report[claim_id].mutants}[variant.name]
    assert outcome.verdict == variant.expected, outcome.detail
    assert outcome.killed


def test_a_mutant_called_directly_is_refuted_with_a_confirmed_recheck():
    variant = next(v for v in default_registry().variants_for("IIA-E12") if v.name == "ln(3/4)")
    result = default_registry().check_for("IIA-E12")(quick=True, **variant.params)
    assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True
    assert result.counterexample["predicted"] == "ln(3/4)"


def test_gumbel_codomain_is_a_proof_gap_not_a_condition(report):
    for claim_id in ("IIA-E3", "IIA-S3.5"):
        outcome = report[claim_id]
        assert outcome.condition is None
        (gap,) = outcome.proof_gaps
        assert "ℜ_+" in gap.step
        assert abs(gap.witness["P(Gumbel < 0) exact"] - 0.36787944117144233) < 1e-15


def test_e5_holds_on_its_domain_and_records_the_zero_over_zero_convention(report):
    outcome = report["IIA-E5"]
    assert outcome.condition is None and outcome.evidence["undefined_cases"] > 0
    (convention,) = outcome.conventions
    assert convention.verdict_otherwise == REFUTED
    assert outcome.evidence["pure_set_Y={a,b}⊂M1_p*=(1/2,1/2)"] == {"eq2": ["1/2", "1/2"],
                                                                     "eq5_0/0_as_0": ["1/4", "1/4"]}
    (gap,) = outcome.proof_gaps
    assert "uniformly from Y ∩ M_Z" in gap.step


def test_pet_logit_iia_is_proved_for_every_reward(report):
    evidence = report["IIA-PET"].evidence
    assert evidence["logit_satisfies_iia_for_all_rewards_sympy"] is True
    assert evidence["dichotomy_all"] == ["1/2", "1/4", "1/4"] and evidence["dichotomy_satisfies_iia"] is False


def test_l13_set_reading_holds_and_uniqueness_reading_fails(report):
    outcome = report["IIA-L13"]
    assert [reading.verdict for reading in outcome.readings] == [HOLDS, REFUTED]
    witness = outcome.evidence["exact_uniqueness_witness"]
    assert witness["confirmed"] is True and witness["L_DPO_minus_2ln2"] == ["0", "0"]
    assert outcome.evidence["assumption23_max_p_m1_gap"] <= 1e-9  # unique where Prop 5 uses it
    (gap,) = outcome.proof_gaps
    assert "surjective" in gap.step and gap.witness["boundary_L_DPO_minus_2ln2"] == "0"


def test_l8_fails_under_both_readings_and_its_tangent_step_is_a_gap(report):
    outcome = report["IIA-L8"]
    assert [reading.verdict for reading in outcome.readings] == [REFUTED, REFUTED]
    assert outcome.evidence["only_root_at_one_example"]["confirmed"] is True
    (gap,) = outcome.proof_gaps
    assert "f(ζ) > f(1) + f'(1)(ζ − 1)" in gap.step


def test_l9_proof_gap_names_the_wrong_limit(report):
    gaps = report["IIA-L9"].proof_gaps
    assert len(gaps) == 2
    witness = gaps[0].witness
    assert witness["limit_x_to_infinity"] == "0" and witness["proof's_limit_-|D|rho_chosen"] == "-1"
    assert witness["f_positive_for_all_x>0"] is True


def test_l11_proof_gaps_and_the_uniform_gamma_reading(report):
    outcome = report["IIA-L11"]
    assert [reading.verdict for reading in outcome.readings] == [HOLDS, REFUTED]
    printed, stated = outcome.proof_gaps
    assert printed.witness["P(|I| <= s|D|) exact"] > 0.4 > printed.witness["printed bound e^{-|D|s(1-s)^2/2}"]
    assert stated.witness["exact_probability"] > stated.witness["stated_bound_with_gamma_1-s^2"]
    assert outcome.evidence["uncertified_pairs"] == 0


def test_l12_holds_at_p_star_zero_although_the_proof_does_not_cover_it(report):
    outcome = report["IIA-L12"]
    (gap,) = outcome.proof_gaps
    rows = gap.witness["rows_at_p*(1)=0"]
    assert rows and all(row["P(E_eta)"][-1] > 0.99 for row in rows)
    assert outcome.evidence["cases_with_nonpositive_limit"] == 0


def test_l12_mutant_threshold_zeta_is_refuted_by_a_negative_limit():
    result = lemma_checks.check_lemma12(quick=True, threshold="zeta")
    assert result.verdict == REFUTED
    assert result.counterexample["computed"]["population_limit_of_rho_data-rho_chosen"].startswith("-")


def test_noisy_quadrature_is_softmax_for_gumbel_only():
    import numpy as np

    from pmtheory.iia.choice import (
        logit_choice_probabilities,
        noisy_choice_probability_by_quadrature,
        sample_noisy_choices,
    )

    rewards, choice_set = np.array([0.0, 1.0, -0.5]), np.arange(3)
    gumbel = [noisy_choice_probability_by_quadrature(rewards, choice_set, i) for i in range(3)]
    assert np.max(np.abs(np.array(gumbel) - logit_choice_probabilities(rewards, choice_set))) < 1e-12
    scaled = [noisy_choice_probability_by_quadrature(rewards, choice_set, i, scale=2.0) for i in range(3)]
    assert np.max(np.abs(np.array(scaled) - logit_choice_probabilities(rewards / 2, choice_set))) < 1e-12
    normal = np.array([noisy_choice_probability_by_quadrature(rewards, choice_set, i, noise="normal")
                       for i in range(3)])
    assert abs(normal.sum() - 1) < 1e-12 and np.max(np.abs(normal - np.array(gumbel))) > 0.02
    frequencies = sample_noisy_choices(rewards, choice_set, 100_000, seed=1, noise="normal") / 100_000
    assert np.max(np.abs(frequencies - normal)) < 0.01  # 100000 draws: sd <= 0.0016 per probability
    with pytest.raises(ValueError):
        noisy_choice_probability_by_quadrature(rewards, choice_set, 0, noise="cauchy")


# Review fixes: proof-gap witnesses, readings and rechecks come from computations.


def test_l13_uniqueness_mutant_is_rechecked_in_floats_not_by_the_sympy_witness():
    result = loss_checks.check_dpo_equals_rlpo(quick=True, unique_policy=True)
    recheck = result.counterexample["recheck"]
    assert result.verdict == REFUTED and recheck["method"].startswith("float")
    assert recheck["computed"]["policy_distance"] > 0.1 and recheck["agrees"] is True


def test_l9_no_minimizer_recheck_counts_positive_roots():
    result = lemma_checks.check_lemma9(quick=True)
    recheck = result.counterexample["recheck"]
    assert recheck["computed"]["positive_roots"] == 0 and recheck["agrees"] is True
    poles = result.proof_gaps[1].witness
    assert poles["all_poles_negative"] is True and poles["f''_positive_for_x>0"] is True


def test_l8_tangent_gap_witness_is_computed(report):
    (gap,) = report["IIA-L8"].proof_gaps
    assert gap.witness["f(1)"] == "0" and gap.witness["bound"] == "1"
    assert gap.witness["strict_tangent_inequality_at_zeta"] is False


def test_l8_unconfirmed_some_root_witness_is_an_error(monkeypatch):
    monkeypatch.setattr(lemma_checks, "_lemma8_readings",
                        lambda: {"confirmed": False, "some_root_exceeds_bound": False})
    with pytest.raises(RuntimeError):
        lemma_checks.check_lemma8(quick=True)


def test_e5_gap_witness_computes_the_zero_over_zero_term(report):
    (gap,) = report["IIA-E5"].proof_gaps
    pure = gap.witness["Y = {a, b} ⊂ M1, p* = (1/2, 1/2)"]
    assert pure["|Y ∩ M2|"] == 0 and pure["eq5_type_2_term"] == "0/0" and pure["eq5_0/0_as_0_sum"] == "1/2"


def test_l11_and_l12_gap_witnesses_are_computed(report):
    stated = report["IIA-L11"].proof_gaps[1].witness
    assert stated["identical"] is False and stated["violation_with_gamma_1-s^2"] is True
    zero = report["IIA-L12"].proof_gaps[0].witness
    assert all(bound == 1.0 for bound in zero["hoeffding_bound_at_p*(1)=0_for_|I|=num_data"])
