"""Tests of the BRG claim checks: pinned verdicts on the tiny models, the registered mutants
(nearby false statements) killed, mutations of the computation that flip the verdicts, and a
clear error (for BRG-* only) when torch is missing."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import pmtheory.bridge._claims_common as claims_common  # noqa: E402
import pmtheory.bridge.claims_mod as mod_claims  # noqa: E402
import pmtheory.bridge.claims_sequence as sequence_claims  # noqa: E402
import pmtheory.bridge.claims_training as training_claims  # noqa: E402
import pmtheory.bridge.studies as studies  # noqa: E402
import pmtheory.bridge.training as training  # noqa: E402
from pmtheory.bridge.studies import BridgeSetup, use_setup  # noqa: E402
from pmtheory.bridge.tiny import tiny_model_paths  # noqa: E402
from pmtheory.claims import ERROR, HOLDS, REFUTED, default_registry  # noqa: E402

BRG_IDS = ("BRG-SEQ", "BRG-LEN", "BRG-KL", "BRG-CPM", "BRG-MOD")


@pytest.fixture(scope="module")
def quick_results(quick_outcomes):
    with use_setup(BridgeSetup()):  # the default tiny models, whatever PMTHEORY_BRIDGE_* say
        return quick_outcomes(list(BRG_IDS))


@pytest.fixture()
def opt_only():
    """A one-architecture setup (the tiny OPT), to keep the mutation tests short. The checks'
    cache of studies and trained policies is cleared around it: these tests patch the
    computation, which the cache would otherwise hide (or carry into other tests)."""
    paths = tiny_model_paths()
    setup = BridgeSetup(policies=(("opt", str(paths.opt)),), reward_model=str(paths.reward), threads=1)
    claims_common.clear_cache(setup)
    with use_setup(setup):
        yield setup
    claims_common.clear_cache(setup)


class TestPinnedVerdicts:
    def test_sequence_log_probs_hold(self, quick_results):
        outcome = quick_results["BRG-SEQ"]
        assert outcome.verdict == HOLDS, outcome.evidence
        assert outcome.evidence["batched_vs_loop"]["float64"]["rel"] <= 1e-12
        assert outcome.evidence["batched_vs_loop"]["float32"]["rel"] <= 1e-6
        assert {row["label"] for row in outcome.evidence["rows"]} == {"opt", "llama"}
        assert {row["padding_side"] for row in outcome.evidence["rows"]} == {"left", "right"}

    def test_length_pileup_holds(self, quick_results):
        outcome = quick_results["BRG-LEN"]
        assert outcome.verdict == HOLDS
        for label in ("opt", "llama"):
            stats = outcome.evidence[label]
            assert stats["mcnemar_p_reference_vs_reward"] < 0.01 and stats["spearman_p"] < 0.01
            reference = stats["reference_extreme_fraction_different_lengths"]
            assert reference > stats["reward_extreme_fraction_different_lengths"]
            assert stats["generation"]["samples_from_model"] is True

    def test_kl_training_holds(self, quick_results):
        outcome = quick_results["BRG-KL"]
        assert outcome.verdict == HOLDS
        for label in ("opt", "llama"):
            exact, sampled, other_beta = outcome.evidence[label]["runs"]
            assert exact["estimator"] == "exact" and exact["max_abs_log_error"] < 1e-3
            assert sampled["estimator"] == "reinforce" and sampled["total_variation"] <= 0.02
            assert other_beta["objective"]["beta"] == 0.5 and other_beta["max_abs_log_error"] < 1e-3

    def test_conditional_pm_holds_with_its_readings(self, quick_results):
        # Headline: Def 4.1 on the set (M = {π_ref^S ≥ α}) and §6.1's PM divergence on pairs
        # drawn from each aligned model. The other readings are judged beside it, never folded
        # into a condition.
        outcome = quick_results["BRG-CPM"]
        assert outcome.verdict == HOLDS and outcome.condition is None
        readings = {reading.reading.split(":")[0]: reading for reading in outcome.readings}
        literal = next(r for name, r in readings.items() if name.startswith("Def 4.1 literally"))
        assert literal.verdict == REFUTED and "M = ∅" in literal.reading  # M is empty on sampled sequences
        fixed = next(r for name, r in readings.items() if name.startswith("PM divergence on one fixed set"))
        assert (fixed.verdict == REFUTED) == bool(outcome.evidence["fixed_pairs_not_below"])
        assert any(name.startswith("the published code's per-token indicator") for name in readings)
        for label in ("opt", "llama"):
            record = outcome.evidence[label]
            fixed_pairs_not_below = (record["conditional_pm_set_exact"]["pm_divergence_all_pairs"]
                                     >= record["kl_rlhf"]["pm_divergence_all_pairs"])
            assert fixed_pairs_not_below == (label in outcome.evidence["fixed_pairs_not_below"])
            assert label in outcome.evidence["literal_reading_M_empty"]
            kl = record["kl_rlhf"]["pm_divergence_own_samples"]
            assert record["conditional_pm_set_exact"]["pm_divergence_own_samples"] < kl
            assert record["conditional_pm_set_reinforce"]["pm_divergence_own_samples"] < kl
            assert record["conditional_pm_sequence_exact"]["responses_in_M_per_prompt"] == [0, 0]
            # M = ∅: the literal reading's objective is KL RLHF's, so are the limits' PM divergences
            assert (record["conditional_pm_sequence_exact"]["closed_form"]["pm_divergence_own_samples"]
                    == pytest.approx(record["kl_rlhf"]["closed_form"]["pm_divergence_own_samples"], abs=1e-12))
            assert record["conditional_pm_set_exact"]["max_abs_log_error"] < 1e-3
            assert record["conditional_pm_token_exact"]["max_abs_log_error"] < 1e-3

    def test_mod_holds_at_the_sequence_level_token_level_is_a_reading(self, quick_results):
        outcome = quick_results["BRG-MOD"]
        assert outcome.verdict == HOLDS and outcome.condition is None
        (reading,) = outcome.readings
        assert "token-level decoder" in reading.reading and reading.verdict == REFUTED
        for label in ("opt", "llama"):
            record = outcome.evidence[label]
            assert record["sequences"] == 64 and record["reference_normalization"] <= 1e-12
            assert record["accumulate_dtype"] == "float64" and record["normalization_bar"] == 1e-12
            for row in record["weights"]:
                assert row["sequence_level_prop1_gap"] <= record["bound"] + 1e-9
                assert row["sequence_level_argmax_matches"]  # Thm 5
                assert row["token_level_gap"] > 100 * record["bound"]
            # Real generation with MODLogitsProcessor (issue 16): every step certified, the
            # published rules' disagreements counted.
            assert set(record["generation"]) == {"js", "alpha:0.5"}
            for entry in record["generation"].values():
                assert entry["steps"] > 0 and entry["max_kkt_residual"] <= 1e-10
                assert 0 <= entry["published_differs"] <= entry["row_steps"] and len(entry["generations"]) == 4
        assert "greedy generation with MODLogitsProcessor" in outcome.backing

    def test_sequence_normalization_and_kl_second_beta_are_checked(self, quick_results):
        seq = quick_results["BRG-SEQ"].evidence
        for label in ("opt", "llama"):
            space = seq["normalization"][label]
            assert space["sequences"] == 64 and abs(space["log_sum_claimed"]) <= 1e-12
            assert space["accumulate_dtype"] == "float64"
            assert abs(space["log_sum_library_batched"]) <= 1e-12
            betas = {run["objective"]["beta"] for run in quick_results["BRG-KL"].evidence[label]["runs"]}
            assert betas == {1.0, 0.5}


class TestRegisteredVariants:
    def test_every_brg_id_has_a_variant(self):
        assert all(default_registry().variants_for(claim_id) for claim_id in BRG_IDS)

    def test_the_runner_kills_them(self, quick_results):
        survivors = {claim_id: [(m.name, m.verdict, m.detail[:200]) for m in quick_results[claim_id].mutants
                                if not m.killed] for claim_id in BRG_IDS}
        assert not any(survivors.values()), survivors
        assert all(quick_results[claim_id].mutants for claim_id in BRG_IDS)

    @pytest.mark.parametrize("claim_id", ["BRG-LEN", "BRG-MOD"])
    def test_the_mutants_rechecks_are_their_own(self, claim_id, quick_results):
        # quick_results first: the default run fills the cache the variants reuse. The runner
        # already requires every variant to be killed (tests/test_docs.py); this pins what
        # confirms these two: BRG-LEN's other tests on loop-recomputed log-probs reject the
        # statement on their own, and BRG-MOD's gap is measured against the certified solver.
        check = default_registry().check_for(claim_id)
        for variant in default_registry().variants_for(claim_id):
            with use_setup(BridgeSetup()):
                result = check(quick=True, **variant.params)
            assert result.verdict == REFUTED
            computed = result.counterexample["recheck"]["computed"]
            if claim_id == "BRG-LEN":
                assert not computed["statement_passes"]
            else:
                bound = result.evidence[result.counterexample["inputs"]["label"]]["bound"]
                assert computed["kkt_residual"] <= mod_claims.MOD_KKT_BAR
                assert max(computed["max_abs_log_gap_claimed_vs_solver"], computed["argmax_log_gap_vs_solver"]) > bound

    def test_cache_is_not_the_statement(self, quick_results):
        # A mutant reuses the trained policies but still judges them against its own closed form.
        with use_setup(BridgeSetup()):
            again = training_claims.check_kl_rlhf_training(quick=True)
            mutated = training_claims.check_kl_rlhf_training(quick=True, reward_scale=1.0)
        assert again.verdict == HOLDS and mutated.verdict == REFUTED
        assert mutated.counterexample["inputs"]["objective"]["beta"] == 0.5


class TestChecksCanFail:
    def test_sequence_check_refutes_a_batched_path_that_ignores_the_mask(self, opt_only, monkeypatch):
        real = studies.load_policy

        def unmasked(setup, path, *, dtype=None):
            lm = real(setup, path, dtype=dtype)
            forward = lm.model.forward

            def forward_without_mask(*args, **kwargs):
                if "attention_mask" in kwargs:
                    kwargs["attention_mask"] = kwargs["attention_mask"].clone().fill_(1)
                return forward(*args, **kwargs)

            lm.model.forward = forward_without_mask
            return lm

        monkeypatch.setattr(studies, "load_policy", unmasked)
        result = sequence_claims.check_sequence_log_probs(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True
        assert result.counterexample["computed"]["max_rel"] > 1e-6

    def test_length_check_refutes_when_the_reward_model_piles_up_too(self, opt_only, monkeypatch):
        real = studies.load_reward

        def sharp(setup):
            reward = real(setup)
            reward.model.score.weight.data.mul_(1000.0)
            return reward

        monkeypatch.setattr(studies, "load_reward", sharp)
        result = sequence_claims.check_length_pileup(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True

    def test_kl_check_refutes_training_without_the_reference(self, opt_only, monkeypatch):
        real = training.regularized_rewards

        def without_reference(objective, problem):
            if objective.name == "kl":
                return problem.rewards / objective.beta
            return real(objective, problem)

        monkeypatch.setattr(training, "regularized_rewards", without_reference)
        result = training_claims.check_kl_rlhf_training(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True
        assert result.counterexample["inputs"]["estimator"] == "exact"

    def test_conditional_pm_at_alpha_zero_defeats_the_sampled_estimator(self, opt_only, monkeypatch):
        # α = 0 makes conditional PM the plain PM objective, whose optimum softmax(r/β) puts
        # mass on responses the reference almost never samples: REINFORCE started at π_ref
        # cannot find them (the support problem behind §4), while the exact estimator does.
        monkeypatch.setattr(training_claims, "ALPHA", 0.0)
        result = training_claims.check_conditional_pm_training(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["inputs"]["estimator"] == "reinforce"
        assert result.counterexample["recheck"]["agrees"] is True
        record = result.evidence["opt"]
        assert record["conditional_pm_set_exact"]["max_abs_log_error"] < 1e-3
        assert record["conditional_pm_set_exact"]["pm_divergence_all_pairs"] < 1e-8

    def test_mod_holds_outright_if_token_level_were_sequence_level(self, opt_only, monkeypatch):
        import pmtheory.bridge.decoding as decoding
        from pmtheory.mod.decoding import product_rule_log_scores

        def sequence_level(prefix, weights, sequences, allowed):
            positions = np.vectorize({t: i for i, t in enumerate(allowed)}.__getitem__)(np.asarray(sequences))
            per_model = np.take_along_axis(prefix, positions[None, ..., None], axis=-1)[..., 0].sum(axis=-1)
            scores = product_rule_log_scores(per_model, weights)
            return scores - np.logaddexp.reduce(scores)

        monkeypatch.setattr(decoding, "token_level_log_policy", sequence_level)
        result = mod_claims.check_mod_decoding(quick=True)
        assert result.verdict == HOLDS
        (reading,) = result.readings
        assert reading.verdict == HOLDS  # the token-level reading holds too when it is sequence-level


class TestIndependentRechecks:
    def test_exact_sign_test_matches_the_binomial_tail(self):
        from scipy.stats import binomtest

        rng = np.random.default_rng(3)
        for _ in range(20):
            first, second = rng.random(40) < rng.random(), rng.random(40) < rng.random()
            only_first, only_second = int(np.sum(first & ~second)), int(np.sum(second & ~first))
            result = sequence_claims._exact_sign_test_greater(first, second)
            assert result["discordant"] == only_first + only_second
            expected = (1.0 if only_first + only_second == 0 else
                        binomtest(only_first, only_first + only_second, 0.5, alternative="greater").pvalue)
            assert result["p_value"] == pytest.approx(expected, rel=1e-12, abs=1e-300)

    def test_rank_permutation_test_is_one_sided(self):
        x = np.repeat(np.arange(8), 8).astype(float)  # ties, like |Δ length|
        y = x + np.random.default_rng(0).normal(0.0, 2.0, x.size)
        up = sequence_claims._rank_permutation_test(x, y, greater=True)
        down = sequence_claims._rank_permutation_test(x, y, greater=False)
        assert up["p_value"] == 1 / (1 + sequence_claims.PERMUTATIONS)  # no permutation reaches the observed statistic
        assert down["p_value"] > 0.99 and up["statistic_minus_null_mean"] > 0
        # all tied: every permutation equal
        flat = sequence_claims._rank_permutation_test(x, np.zeros_like(x), greater=True)
        assert flat["p_value"] == 1.0

    def test_length_refutation_the_recheck_does_not_confirm_raises(self, opt_only, monkeypatch):
        # The primary tests reject "pile-up at equal lengths"; if the independent tests did
        # not, there is no refutation: the check raises (the runner reports error).
        monkeypatch.setattr(sequence_claims, "_exact_sign_test_greater", lambda first, second: {"p_value": 0.0})
        monkeypatch.setattr(sequence_claims, "_rank_permutation_test", lambda x, y, greater: {"p_value": 0.0})
        with pytest.raises(RuntimeError, match="independent recheck does not"):
            sequence_claims.check_length_pileup(quick=True, lengths="equal")

    def test_mod_normalization_failure_is_an_error_not_a_refutation(self, opt_only, monkeypatch):
        import dataclasses

        real = mod_claims._mod_study

        def unnormalized(*args, **kwargs):
            return dataclasses.replace(real(*args, **kwargs), reference_normalization=1e-9)

        monkeypatch.setattr(mod_claims, "_mod_study", unnormalized)
        with pytest.raises(RuntimeError, match="do not sum to one"):
            mod_claims.check_mod_decoding(quick=True)

    def test_mod_uncertified_generation_is_an_error_not_a_verdict(self, opt_only, monkeypatch):
        import dataclasses

        real = mod_claims._mod_study

        def uncertified(*args, **kwargs):
            study = real(*args, **kwargs)
            generation = {name: {**entry, "max_kkt_residual": 1e-3} for name, entry in study.generation.items()}
            return dataclasses.replace(study, generation=generation)

        monkeypatch.setattr(mod_claims, "_mod_study", uncertified)
        with pytest.raises(RuntimeError, match="the decoding is not certified"):
            mod_claims.check_mod_decoding(quick=True)

    def test_mod_normalization_bar_follows_the_accumulation_dtype(self, opt_only, monkeypatch):
        # A float32 accumulation (bfloat16 models, MPS) rounds log-softmax at eps32: 1e-6 is
        # within its bar (≈ 35·eps32 = 4.1e-6 worst case), and the claim is judged as usual.
        import dataclasses

        real = mod_claims._mod_study

        def float32(*args, **kwargs):
            return dataclasses.replace(real(*args, **kwargs), reference_normalization=1e-6,
                                       model_dtype="bfloat16", accumulate_dtype="float32")

        monkeypatch.setattr(mod_claims, "_mod_study", float32)
        result = mod_claims.check_mod_decoding(quick=True)
        assert result.verdict == HOLDS and result.evidence["opt"]["normalization_bar"] == 1e-5
        monkeypatch.setattr(mod_claims, "_mod_study", lambda *a, **k: dataclasses.replace(float32(*a, **k),
                                                                                    reference_normalization=2e-5))
        with pytest.raises(RuntimeError, match="do not sum to one"):
            mod_claims.check_mod_decoding(quick=True)

    def test_mod_gap_the_solver_does_not_confirm_raises(self, opt_only, monkeypatch):
        # A primary gap (faked here) that the KKT-certified solver does not see is no refutation.
        import dataclasses

        real = mod_claims._mod_study

        def fake_gap(*args, **kwargs):
            study = real(*args, **kwargs)
            rows = [{**row, "sequence_level_prop1_gap": 1.0} for row in study.rows]
            return dataclasses.replace(study, rows=rows)

        monkeypatch.setattr(mod_claims, "_mod_study", fake_gap)
        with pytest.raises(RuntimeError, match="solver does not"):
            mod_claims.check_mod_decoding(quick=True)


class TestWithoutTorch:
    def test_claims_module_does_not_import_torch(self):
        code = ("import sys, pmtheory.bridge.claims_sequence, pmtheory.bridge.claims_training, "
                "pmtheory.bridge.claims_mod, pmtheory.bridge; print('torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "False"

    def test_missing_torch_is_an_error_for_brg_only(self, monkeypatch):
        import importlib.util

        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
        outcome = default_registry().run(["BRG-SEQ"], quick=True).claims[0]
        assert outcome.verdict == ERROR
        assert "bridge extra" in outcome.evidence["message"] and "torch" in outcome.evidence["message"]
