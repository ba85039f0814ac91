"""Tests of the IIA claim checks: every verdict pinned, and mutations of the computation under
test that flip it (or, where the independent recheck does not confirm a mutation's failure,
turn it into an error rather than a refutation)."""

from fractions import Fraction

import numpy as np
import pytest
from scipy.special import log_softmax

import pmtheory.iia.claims_choice as choice_checks
import pmtheory.iia.claims_il_slic as il_slic_checks
import pmtheory.iia.claims_losses as loss_checks
import pmtheory.iia.claims_query_formats as query_checks
import pmtheory.iia.claims_rlpo_dpo as rlpo_dpo_checks
import pmtheory.iia.claims_rlpo_lemmas as lemma_checks
import pmtheory.iia.simulations as iia_simulations
from pmtheory import iia
from pmtheory.claims import ERROR, HOLDS, HOLDS_WITH_CONDITION, REFUTED, default_registry

IIA_IDS = [claim_id for claim_id in default_registry().ids if claim_id.startswith("IIA-")]

EXPECTED = {
    "IIA-E3": HOLDS, "IIA-S3.5": HOLDS, "IIA-E5": HOLDS, "IIA-PET": HOLDS, "IIA-E9": HOLDS,
    "IIA-L13": HOLDS, "IIA-E12": HOLDS, "IIA-E13": HOLDS, "IIA-L8": REFUTED, "IIA-L9": REFUTED, "IIA-L11": HOLDS,
    "IIA-L12": HOLDS, "IIA-P4": HOLDS_WITH_CONDITION, "IIA-P5": HOLDS_WITH_CONDITION, "IIA-FIG2": REFUTED,
    "IIA-E16": HOLDS, "IIA-L14": HOLDS, "IIA-P6": HOLDS_WITH_CONDITION, "IIA-L16": REFUTED, "IIA-FIG3": HOLDS,
    "IIA-P7": HOLDS_WITH_CONDITION, "IIA-SEC6": HOLDS, "IIA-S6IIA": REFUTED, "IIA-SEC7": "answered",
}


@pytest.fixture(scope="module")
def quick_report(quick_outcomes):
    return quick_outcomes(IIA_IDS)


class TestPinnedVerdicts:
    def test_every_iia_claim_is_registered_and_pinned(self, quick_report):
        assert sorted(EXPECTED) == sorted(IIA_IDS)
        assert {cid: quick_report[cid].verdict for cid in IIA_IDS} == EXPECTED

    def test_conditional_and_refuted_verdicts_carry_their_condition_or_counterexample(self, quick_report):
        for cid, verdict in EXPECTED.items():
            outcome = quick_report[cid]
            if verdict == HOLDS_WITH_CONDITION:
                assert outcome.condition and len(outcome.condition) > 80
            if verdict == REFUTED:
                assert outcome.counterexample["recheck"]["agrees"] is True

    def test_lemma_8_fails_exactly_at_a_root_at_one(self, quick_report):
        cx = quick_report["IIA-L8"].counterexample
        assert cx["recheck"]["computed"]["failing_roots"] == ["1"]

    def test_lemma_9_fails_when_only_pure_sets_chose_m1(self, quick_report):
        cx = quick_report["IIA-L9"].counterexample
        counts = np.array(cx["inputs"]["counts[k][c-1]"])
        n = counts.shape[0] - 1
        assert counts[1:n, 0].sum() == 0 and counts[n, 0] > 0  # M1 chosen only from sets inside M1
        assert cx["recheck"]["computed"]["sign"] == "negative"

    def test_fig2_fails_only_at_the_threshold_size(self, quick_report):
        outcome = quick_report["IIA-FIG2"]
        assert outcome.counterexample["inputs"]["choice_set_size"] == 3
        per_size = outcome.evidence["per_choice_set_size"]
        assert [per_size[f"|Y|={n}"]["agrees"] for n in (2, 3, 4, 5)] == [True, False, True, True]
        assert per_size["|Y|=3"]["F"] == "3/5"
        assert 0.45 < per_size["|Y|=3"]["exact_P(gap>0)"] < 0.5

    def test_prop_4_threshold_is_tight(self, quick_report):
        evidence = quick_report["IIA-P4"].evidence
        assert evidence["tightness"]["sign_disagreements"] == 0
        assert evidence["tightness"]["max_abs_gap_at_threshold"] < 1e-14
        assert evidence["p_star_1_zero"]["fails"] is True
        assert "Bernoulli" in evidence["limits"]["at (n=3, §5.3: F(4/5)=3/5)"]

    def test_sec7_conversion_keeps_the_failure_region(self, quick_report):
        outcome = quick_report["IIA-SEC7"]
        assert outcome.evidence["boundary_mismatches_vs_F"] == 0
        assert outcome.answer.startswith("No:") and "F(P_ref(M1))" in outcome.answer
        ratios = outcome.evidence["exact_population_ratio_e^{ψ2−ψ1}"]
        assert Fraction(ratios["|Y|=4"]) > 1 and Fraction(ratios["|Y|=3"]) == 1


def _categories_not_messages(monkeypatch):
    """A counterfactual IL whose policy compares categories, not messages (|M2| is ignored),
    patched consistently into the fit, the loss and the population limit."""
    real_fit, real_loss, real_population = iia.fit_il_assumption3, iia.il_loss_assumption3, iia.population_il_p_m1

    def same(m1_size, m2_size):
        return np.full_like(np.asarray(m2_size, dtype=float), float(m1_size))

    monkeypatch.setattr(iia, "fit_il_assumption3", lambda counts, *, m1_size, m2_size, **k: real_fit(
        counts, m1_size=m1_size, m2_size=same(m1_size, m2_size), **k))
    # simulate_il calls the fit through its own module's name, not the package's.
    monkeypatch.setattr(iia_simulations, "fit_il_assumption3", iia.fit_il_assumption3)
    monkeypatch.setattr(iia, "il_loss_assumption3", lambda t, counts, *, m1_size, m2_size, **k: real_loss(
        t, counts, m1_size=m1_size, m2_size=same(m1_size, m2_size), **k))
    monkeypatch.setattr(iia, "population_il_p_m1", lambda n, z, p, *, m1_size, m2_size: real_population(
        n, z, p, m1_size=m1_size, m2_size=same(m1_size, m2_size)))


class TestChecksCanFail:
    def test_e3_refutes_a_wrong_logit(self, monkeypatch):
        monkeypatch.setattr(choice_checks, "logit_choice_probabilities",
                            lambda rewards, choice_set: np.exp(log_softmax(2 * np.asarray(rewards)[choice_set])))
        result = choice_checks.check_gumbel_logit(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_s35_refutes_a_soft_model_without_the_type_average(self, monkeypatch):
        real = choice_checks.soft_choice_probabilities
        monkeypatch.setattr(choice_checks, "soft_choice_probabilities",
                            lambda probs, rewards, s: real(np.eye(len(probs))[0], rewards, s))
        assert choice_checks.check_soft_is_hard_with_gumbel(quick=True).verdict == REFUTED

    def test_e5_needs_no_convention_once_eq5_is_defined_everywhere(self, monkeypatch):
        def repaired(categories, type_probs, choice_set):
            rewards = [[int(c == z) for c in categories] for z in (1, 2)]
            return choice_checks.exact_hard_choice_probabilities(type_probs, rewards, choice_set)

        monkeypatch.setattr(choice_checks, "exact_dichotomy_eq5_probabilities", repaired)
        result = choice_checks.check_dichotomy_eq5(quick=True)
        assert result.verdict == HOLDS and not result.conventions

    def test_pet_refutes_choices_that_ignore_ties(self, monkeypatch):
        def first_winner(type_probs, rewards, choice_set):
            total = [Fraction(0)] * len(choice_set)
            for pz, row in zip(type_probs, rewards):
                values = [row[x] for x in choice_set]
                total[values.index(max(values))] += pz
            return total

        monkeypatch.setattr(choice_checks, "exact_hard_choice_probabilities", first_winner)
        # Only the exact path changed: the float recheck does not confirm, so no refutation.
        assert default_registry().run(["IIA-PET"], quick=True).claims[0].verdict == ERROR

        def first_winner_floats(categories, p_star_1, choice_set):
            rewards = [[int(c == z) for c in categories] for z in (1, 2)]
            return np.array([float(v) for v in first_winner([p_star_1, 1 - p_star_1], rewards, list(choice_set))])

        # A model that breaks ties toward the first message, on both paths: refuted.
        monkeypatch.setattr(choice_checks, "dichotomy_choice_probabilities", first_winner_floats)
        result = choice_checks.check_pet_example(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_e9_refutes_eq9_without_the_reference(self):
        # The registered mutant "no reference" (eq 9 without P_ref), called directly.
        result = loss_checks.check_policy_loss_minimizer(quick=True, reference_power=0.0)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    # IIA-L13's policy step without |D| is the registered mutant "policy step e^{r/β}"
    # (tests/iia/test_theory_mutants.py).

    @pytest.mark.parametrize("claim_id", ["IIA-E12", "IIA-E13"])
    def test_e12_e13_error_on_an_inverted_closed_form_alone(self, monkeypatch, claim_id):
        # The direct minimization of the loss still gives ln(4/3) (ln(2/3)): not confirmed.
        monkeypatch.setattr(iia, "exact_fixed_composition_reward_ratio",
                            lambda k1, k2, p: Fraction(k2) * Fraction(p) / (Fraction(k1) * (1 - Fraction(p))))
        assert default_registry().run([claim_id], quick=True).claims[0].verdict == ERROR

    @pytest.mark.parametrize("check", ["check_eq12", "check_eq13"])
    def test_e12_e13_refute_a_loss_that_rewards_the_unchosen(self, monkeypatch, check):
        real_loss, real_fit = iia.reward_loss_assumption2, iia.fit_reward_assumption2
        monkeypatch.setattr(iia, "reward_loss_assumption2", lambda gap, counts: real_loss(-np.asarray(gap), counts))
        monkeypatch.setattr(iia, "fit_reward_assumption2",
                            lambda counts: iia.RewardGapFit(-real_fit(counts).gap, True, False, 0.0, 0.0))
        result = getattr(loss_checks, check)(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_l8_holds_for_the_non_strict_bound(self, monkeypatch):
        real = lemma_checks._lemma8_bound
        monkeypatch.setattr(lemma_checks, "_lemma8_bound",
                            lambda a, r1, r2: (real(a, r1, r2)[0] - Fraction(1, 10**30), None, None))
        assert lemma_checks.check_lemma8(quick=True).verdict == HOLDS

    def test_l9_holds_without_sets_inside_one_category(self, monkeypatch):
        from hypothesis import strategies as st

        @st.composite
        def mixed_only(draw):
            n = draw(st.integers(2, 6))
            counts = np.zeros((n + 1, 2), dtype=np.int64)
            for k in range(1, n):
                counts[k] = [draw(st.integers(0, 1000)), draw(st.integers(0, 1000))]
            return counts

        monkeypatch.setattr(lemma_checks, "_composition_datasets", mixed_only)
        assert lemma_checks.check_lemma9(quick=True).verdict == HOLDS

    def test_l11_errors_when_the_simulation_disagrees_with_the_binomial(self, monkeypatch):
        real = lemma_checks.sample_dichotomy_data
        monkeypatch.setattr(lemma_checks, "sample_dichotomy_data",
                            lambda seed, **k: real(seed, **{**k, "p_ref_m1": 0.5}))
        assert default_registry().run(["IIA-L11"], quick=True).claims[0].verdict == ERROR

    def test_l12_errors_when_only_the_library_threshold_is_wrong(self, monkeypatch):
        # A wrong F in the library alone puts η above the true limit: no Chernoff certificate, an
        # inconsistency, not a refutation (the statement "threshold F + 1/10" is a registered mutant).
        real = iia.exact_failure_threshold
        monkeypatch.setattr(iia, "exact_failure_threshold", lambda n, zeta: real(n, zeta) + Fraction(1, 10))
        assert default_registry().run(["IIA-L12"], quick=True).claims[0].verdict == ERROR

    @pytest.mark.parametrize("check", ["check_rlpo_failure", "check_dpo_failure"])
    def test_p4_p5_hold_outright_if_no_minimizer_meant_infinite_reward(self, monkeypatch, check):
        real = iia.simulate_rlpo_dpo

        def infinite_convention(**kwargs):
            sim = real(**kwargs)
            missing = ~sim.reward_has_minimizer
            return iia.RlpoDpoSimulation(sim.data_sizes, sim.reward_gap, sim.reward_has_minimizer,
                                         np.where(missing, 0.0, sim.p_m1_rlpo), np.where(missing, 0.0, sim.p_m1_dpo))

        monkeypatch.setattr(iia, "simulate_rlpo_dpo", infinite_convention)
        assert getattr(rlpo_dpo_checks, check)(quick=True).verdict == HOLDS

    def test_p4_does_not_refute_on_an_unconfirmed_simulation(self, monkeypatch):
        real = iia.simulate_rlpo_dpo

        def flipped(**kwargs):
            sim = real(**kwargs)
            return iia.RlpoDpoSimulation(sim.data_sizes, sim.reward_gap, sim.reward_has_minimizer,
                                         1 - sim.p_m1_rlpo, 1 - sim.p_m1_dpo)

        monkeypatch.setattr(iia, "simulate_rlpo_dpo", flipped)
        assert default_registry().run(["IIA-P4"], quick=True).claims[0].verdict == ERROR

    def test_fig2_holds_below_the_threshold_for_three_messages(self, monkeypatch):
        monkeypatch.setattr(rlpo_dpo_checks, "P_STAR", Fraction(11, 20))
        assert rlpo_dpo_checks.check_fig2(quick=True).verdict == HOLDS

    def test_e16_errors_on_a_wrong_population_limit_alone(self, monkeypatch):
        monkeypatch.setattr(iia, "population_il_p_m1", lambda *a, m1_size, m2_size: 10 / (10 + np.asarray(m2_size)))
        assert default_registry().run(["IIA-E16"], quick=True).claims[0].verdict == ERROR

    def test_e16_refutes_il_that_counts_categories_not_messages(self, monkeypatch):
        _categories_not_messages(monkeypatch)
        result = il_slic_checks.check_eq16(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_l14_records_no_application_gap_if_the_il_slope_were_negative(self, monkeypatch):
        assert len(il_slic_checks.check_lemma14(quick=True).proof_gaps) == 2
        monkeypatch.setattr(il_slic_checks, "_il_slope", lambda t, *a: -np.ones_like(t))
        result = il_slic_checks.check_lemma14(quick=True)
        assert result.verdict == HOLDS and len(result.proof_gaps) == 1

    def test_p6_and_fig3_refute_il_that_counts_categories_not_messages(self, monkeypatch):
        _categories_not_messages(monkeypatch)
        for check in (il_slic_checks.check_il_failure, il_slic_checks.check_fig3):
            result = check(quick=True)
            assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True

    def test_p7_errors_when_only_the_population_limit_is_wrong(self, monkeypatch):
        real = iia.population_slic_limit

        def flat(*args, m1_size, m2_size, delta):
            limit = real(*args, m1_size=m1_size, m2_size=np.full_like(np.asarray(m2_size, dtype=float), m1_size),
                         delta=delta)
            return limit

        monkeypatch.setattr(iia, "population_slic_limit", flat)
        assert default_registry().run(["IIA-P7"], quick=True).claims[0].verdict == ERROR

    def test_sec6_errors_when_only_the_simulated_four_way_queries_are_pairs(self, monkeypatch):
        # The exact population ratio (9/7 for 1 + 3) still puts 1 + 3 below 50%: the recheck does not confirm.
        real = iia.simulate_query_format_study
        monkeypatch.setattr(iia, "simulate_query_format_study",
                            lambda *, informative_per_query, **k: real(informative_per_query=1, **k))
        assert default_registry().run(["IIA-SEC6"], quick=True).claims[0].verdict == ERROR

    def test_sec6_refutes_when_the_four_way_queries_are_pairs(self, monkeypatch):
        # Pairs in the simulation and in the exact population ratio: 1 + "3" stays above 50%.
        real = iia.simulate_query_format_study
        real_ratio = iia.exact_fixed_composition_reward_ratio
        monkeypatch.setattr(iia, "simulate_query_format_study",
                            lambda *, informative_per_query, **k: real(informative_per_query=1, **k))
        monkeypatch.setattr(iia, "exact_fixed_composition_reward_ratio", lambda k, *a: real_ratio(1, *a))
        result = query_checks.check_query_formats(quick=True)
        assert result.verdict == REFUTED and result.counterexample["recheck"]["agrees"] is True
        assert result.counterexample["recheck"]["computed"]["concise_over_informative_reward_ratio"] == "3/7"

    def test_sec7_answers_yes_when_the_base_model_is_balanced(self, monkeypatch):
        # F(1/2) = 1/2 < 3/5 for every |Y|: the conversion (and the k-way fit) recover M1.
        monkeypatch.setattr(query_checks, "ZETA", Fraction(1, 2))
        result = query_checks.check_pairwise_conversion(quick=True)
        assert result.verdict == "answered" and result.answer.startswith("At the §5.3 setup it does")
        assert query_checks.check_pairwise_conversion(quick=True, asserted_recovers=True).verdict == HOLDS
