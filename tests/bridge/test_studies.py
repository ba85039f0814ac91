"""Tests of pmtheory.bridge.studies: which models a study uses (BridgeSetup, the
PMTHEORY_BRIDGE_* environment variables, use_setup, study_threads), its error messages, the
MOD study's rewards and rows (on a hand-built enumerable space whose optima are known in closed
form), and the contracts of the studies on the tiny models (shapes, the recorded numbers agree
with an independent recomputation, training only the head leaves the rest untouched).

The verdicts the BRG checks draw from these studies are pinned in tests/bridge/test_claims.py;
here each study is run once, small (one architecture, few prompts and steps), on one thread.
"""

import dataclasses
import importlib.util
import json

import numpy as np
import pytest
from scipy.special import log_softmax, logsumexp

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge import studies  # noqa: E402
from pmtheory.bridge.studies import (  # noqa: E402
    BridgeSetup,
    current_setup,
    length_study,
    load_policy,
    load_reward,
    mod_reward_good,
    mod_reward_yes,
    mod_rows,
    mod_study,
    policy_path,
    prefix_chain_terms,
    response_set_problem,
    sequence_study,
    study_threads,
    train_policy,
    use_setup,
)
from pmtheory.bridge.tiny import TINY_PROMPTS  # noqa: E402

ENVIRONMENT = ("PMTHEORY_BRIDGE_MODEL", "PMTHEORY_BRIDGE_REWARD_MODEL", "PMTHEORY_BRIDGE_DEVICE",
               "PMTHEORY_BRIDGE_DTYPE")
# float64 models: a log-probability summed over ≤ ~40 tokens of size ≤ ~30 in a different order
# (or batched) differs by ~1e-14; 1e-12 relative to max(1, |log π|) leaves room and still
# catches any real difference (a wrong token or position shifts log π by ≳ 1e-3).
FLOAT64_REL = 1e-12


@pytest.fixture
def clean_environment(monkeypatch):
    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def opt_setup(tiny):
    """The tiny OPT alone with the tiny reward model, as a 'real' (not is_tiny) setup would name them."""
    return BridgeSetup(policies=(("opt", str(tiny.opt)),), reward_model=str(tiny.reward), threads=1)


class TestBridgeSetup:
    def test_defaults_are_the_tiny_models_on_cpu_in_float64(self):
        setup = BridgeSetup()
        assert (setup.policies, setup.reward_model, setup.device, setup.dtype, setup.prompts, setup.trainable,
                setup.threads) == (None, None, "cpu", "float64", None, "all", None)
        assert setup.is_tiny and not BridgeSetup(policies=(("m", "/m"),)).is_tiny

    def test_frozen_and_hashable(self):
        # The BRG checks key their cache on the setup.
        setup = BridgeSetup(policies=(("m", "/m"),))
        with pytest.raises(dataclasses.FrozenInstanceError):
            setup.device = "cuda"
        assert hash(setup) == hash(BridgeSetup(policies=(("m", "/m"),))) and setup != BridgeSetup()

    def test_lists_are_stored_as_tuples(self):
        # A setup built from lists must still hash: the BRG checks cache their studies per setup.
        setup = BridgeSetup(policies=[["m", "/m"]], prompts=["x", "y"])
        assert setup == BridgeSetup(policies=(("m", "/m"),), prompts=("x", "y"))
        assert hash(setup) == hash(BridgeSetup(policies=(("m", "/m"),), prompts=("x", "y")))

    @pytest.mark.parametrize("trainable", ["Head", "output", ""])
    def test_trainable_is_checked(self, trainable):
        # A typo would otherwise train every parameter (what "head" exists to avoid on a real model).
        with pytest.raises(ValueError, match=f"^trainable must be 'all' or 'head', got '{trainable}'$"):
            BridgeSetup(trainable=trainable)

    @pytest.mark.parametrize("threads", [0, -1, 2.0, True])
    def test_threads_are_checked(self, threads):
        with pytest.raises(ValueError, match=rf"^threads must be a positive int or None \(torch's default\), "
                                             rf"got {threads!r}$"):
            BridgeSetup(threads=threads)

    def test_tiny_paths_prompts_and_reward(self, tiny):
        setup = BridgeSetup()
        assert setup.policy_paths() == (("opt", str(tiny.opt)), ("llama", str(tiny.llama)))
        assert setup.reward_path() == str(tiny.reward)
        prompts = setup.prompt_list()
        assert prompts == list(TINY_PROMPTS)
        prompts.append("changed")  # a fresh list each call
        assert setup.prompt_list() == list(TINY_PROMPTS)

    def test_explicit_paths_and_prompts(self):
        setup = BridgeSetup(policies=(("a", "/models/a"), ("b", "/models/b")), reward_model="/models/rm",
                            prompts=("x", "y"))
        assert setup.policy_paths() == (("a", "/models/a"), ("b", "/models/b"))  # nothing built or checked
        assert setup.reward_path() == "/models/rm"
        assert setup.prompt_list() == ["x", "y"]
        assert policy_path(setup, "b") == "/models/b"

    def test_unknown_policy_label_lists_the_labels(self):
        setup = BridgeSetup(policies=(("a", "/models/a"), ("b", "/models/b")))
        with pytest.raises(ValueError, match=r"^no policy called 'c' in the setup \(\['a', 'b'\]\)$"):
            policy_path(setup, "c")

    def test_a_real_policy_needs_a_reward_model(self):
        with pytest.raises(ValueError, match="a reward model is needed for this study: pass --reward-model "
                                             r"\(or set PMTHEORY_BRIDGE_REWARD_MODEL\) together with a real policy"):
            BridgeSetup(policies=(("model", "/models/opt"),)).reward_path()

    def test_describe(self):
        assert BridgeSetup().describe() == {"policies": "tiny opt and llama", "reward_model": "tiny", "device": "cpu",
                                            "dtype": "float64", "trainable": "all"}
        real = BridgeSetup(policies=(("model", "/m"),), device="cuda", dtype="bfloat16", trainable="head")
        assert real.describe() == {"policies": [["model", "/m"]], "reward_model": None, "device": "cuda",
                                   "dtype": "bfloat16", "trainable": "head"}
        assert dataclasses.replace(real, reward_model="/rm").describe()["reward_model"] == "/rm"
        json.dumps(real.describe())  # JSON-able: it goes into the claims' evidence


class TestFromEnvironment:
    def test_nothing_set_is_the_default(self, clean_environment):
        assert BridgeSetup.from_environment() == BridgeSetup()

    def test_empty_strings_count_as_unset(self, clean_environment):
        for variable in ENVIRONMENT:
            clean_environment.setenv(variable, "")
        assert BridgeSetup.from_environment() == BridgeSetup()

    def test_a_model_switches_to_its_own_dtype_and_head_training(self, clean_environment):
        clean_environment.setenv("PMTHEORY_BRIDGE_MODEL", "/models/opt-125m")
        setup = BridgeSetup.from_environment()
        assert setup == BridgeSetup(policies=(("model", "/models/opt-125m"),), dtype="auto", trainable="head")
        assert not setup.is_tiny

    def test_every_variable(self, clean_environment):
        values = dict(zip(ENVIRONMENT, ("/models/opt", "/models/rm", "cuda:1", "bfloat16")))
        for variable, value in values.items():
            clean_environment.setenv(variable, value)
        assert BridgeSetup.from_environment() == BridgeSetup(policies=(("model", "/models/opt"),),
                                                             reward_model="/models/rm", device="cuda:1",
                                                             dtype="bfloat16", trainable="head")

    def test_without_a_model_the_tiny_policies_stay(self, clean_environment):
        clean_environment.setenv("PMTHEORY_BRIDGE_REWARD_MODEL", "/models/rm")
        clean_environment.setenv("PMTHEORY_BRIDGE_DTYPE", "float32")
        setup = BridgeSetup.from_environment()
        assert setup == BridgeSetup(reward_model="/models/rm", dtype="float32")
        assert setup.is_tiny and setup.trainable == "all"

    def test_current_setup_reads_the_environment_at_call_time(self, clean_environment):
        assert current_setup() == BridgeSetup()
        clean_environment.setenv("PMTHEORY_BRIDGE_DEVICE", "mps")
        assert current_setup() == BridgeSetup(device="mps")


class TestUseSetup:
    def test_innermost_wins_and_each_is_restored(self, clean_environment):
        outer, inner = BridgeSetup(device="cuda"), BridgeSetup(dtype="float32")
        clean_environment.setenv("PMTHEORY_BRIDGE_DTYPE", "bfloat16")  # hidden while a setup is in use
        with use_setup(outer) as given:
            assert given is outer and current_setup() is outer
            with use_setup(inner):
                assert current_setup() is inner
            assert current_setup() is outer
        assert current_setup() == BridgeSetup(dtype="bfloat16")

    def test_restored_after_an_exception(self, clean_environment):
        with pytest.raises(RuntimeError, match="inside"):
            with use_setup(BridgeSetup(device="cuda")):
                raise RuntimeError("inside")
        assert current_setup() == BridgeSetup()


class TestStudyThreads:
    @pytest.fixture(autouse=True)
    def two_threads(self):
        before = torch.get_num_threads()
        torch.set_num_threads(2)
        yield
        torch.set_num_threads(before)

    @pytest.mark.parametrize("setup, inside", [
        (BridgeSetup(), 1),  # tiny models: one thread
        (BridgeSetup(threads=3), 3),  # explicit
        (BridgeSetup(policies=(("m", "/m"),)), 2),  # real model: torch's own
        (BridgeSetup(policies=(("m", "/m"),), threads=1), 1),
        (BridgeSetup(device="cuda", threads=1), 2),  # not a CPU study: untouched
    ])
    def test_threads_inside_and_restored(self, setup, inside):
        with study_threads(setup):
            assert torch.get_num_threads() == inside
        assert torch.get_num_threads() == 2

    def test_restored_after_an_exception(self):
        with pytest.raises(KeyError):
            with study_threads(BridgeSetup()):
                raise KeyError("x")
        assert torch.get_num_threads() == 2


class TestRequireBridge:
    def test_passes_with_torch_and_transformers(self):
        studies.require_bridge()

    @pytest.mark.parametrize("missing", ["torch", "transformers"])
    def test_names_the_missing_package_and_the_install_command(self, monkeypatch, missing):
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a))
        with pytest.raises(ModuleNotFoundError, match=rf"needs the bridge extra \({missing} is not installed\): "
                                                      r"python -m pip install -e '\.\[bridge\]'") as caught:
            studies.require_bridge()
        assert caught.value.name == missing

    def test_a_broken_installation_counts_as_missing(self, monkeypatch):
        def broken(name, *args):
            raise ValueError(f"{name}.__spec__ is None")

        monkeypatch.setattr(importlib.util, "find_spec", broken)
        with pytest.raises(ModuleNotFoundError, match="torch is not installed"):
            studies.require_bridge()


class TestModRewards:
    @pytest.mark.parametrize("response, expected", [("yes no yes", 1.5), ("no no", -1.0), ("", 0.0),
                                                    ("yes good bad", 1.0), ("yesno", 0.0)])
    def test_yes(self, response, expected):
        # +1 per "yes", −0.5 per "no", whole words only.
        assert mod_reward_yes("any prompt", response) == expected

    @pytest.mark.parametrize("response, expected", [("good bad", 2.5), ("bad good", 1.0), ("bad", 1.5), ("", 0.0),
                                                    ("good good yes", 2.0), ("bad bad", 1.5)])
    def test_good(self, response, expected):
        # +1 per "good", +1.5 once if the last word is "bad".
        assert mod_reward_good("any prompt", response) == expected


# A hand-built MOD fit on W = {5, 7}, L = 2 (S = 4 sequences, lexicographic): every model
# factorizes over tokens, so every optimum is known in closed form. π_ref(y) = Π_t q(y_t),
# q = (0.7, 0.3); reward i is additive, r_i(y) = Σ_t s_i(y_t), s_1 = (1, 0), s_2 = (0, 2); the
# model fine-tuned for r_i at β = 1 is the exact optimum π_i ∝ π_ref·e^{r_i}, i.e. per token
# p_i ∝ q·e^{s_i}. Then for weights summing to one, sequence-level MOD (π_ref·Π(π_i/π_ref)^{w_i}),
# eq 7 (∝ Π π_i^{w_i}) and token-level MOD (per token ∝ Π p_i^{w_i} ∝ q·e^{Σ w_i s_i}) all equal
# the optimum for Σ w_i r_i.
Q = np.array([0.7, 0.3])
S_TOKEN = np.array([[1.0, 0.0], [0.0, 2.0]])  # (M, W): per-token reward of each model
SEQUENCES = np.array([[5, 5], [5, 7], [7, 5], [7, 7]])
POSITIONS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # index into W of each token


def _factorized_fit() -> dict:
    log_ref = np.log(Q)[POSITIONS].sum(axis=1)
    rewards = np.stack([s[POSITIONS].sum(axis=1) for s in S_TOKEN])  # (M, S)
    per_token = log_softmax(np.log(Q)[None] + S_TOKEN, axis=-1)  # (M, W)
    log_policies = np.stack([p[POSITIONS].sum(axis=1) for p in per_token])
    prefix = np.broadcast_to(per_token[:, None, None, :], (2, 4, 2, 2)).copy()  # (M, S, L, W), prefix-free
    return {"sequences": SEQUENCES, "texts": ["a a", "a b", "b a", "b b"], "allowed": [5, 7], "log_ref": log_ref,
            "rewards": rewards, "normalization": 3e-16, "log_policies": log_policies, "prefix": prefix,
            "errors": [1e-9, 4e-9], "model_dtype": "float64", "accumulate_dtype": "float64"}


def _optimum(fit, weights):
    """log of π_ref·e^{w·r}, normalized: the KL (β = 1) optimum for Σ w_i r_i, by hand."""
    return log_softmax(fit["log_ref"] + np.asarray(weights) @ fit["rewards"])


ROW_KEYS = {"weights", "target_weights", "combination", "sequence_level_prop1_gap", "sequence_level_eq7_gap",
            "sequence_level_argmax_matches", "sequence_level_argmax_log_gap", "token_level_gap",
            "token_level_total_variation", "greedy_sequence", "optimal_argmax_sequence", "greedy_matches_argmax"}
# Log-probabilities of O(1) on 4 sequences through a few log-sum-exps: rounding ≲ 10 eps.
CLOSED_FORM_ATOL = 1e-13


class TestModRows:
    def test_exact_fine_tuning_gives_no_gap(self):
        fit = _factorized_fit()
        rows = mod_rows(fit, [(0.5, 0.5), (0.2, 0.8)])
        assert [row["weights"] for row in rows] == [[0.5, 0.5], [0.2, 0.8]]
        for row in rows:
            assert set(row) == ROW_KEYS and row["target_weights"] == row["weights"]
            assert row["combination"] == "geometric"
            for key in ("sequence_level_prop1_gap", "sequence_level_eq7_gap", "token_level_gap",
                        "token_level_total_variation", "sequence_level_argmax_log_gap"):
                assert row[key] <= CLOSED_FORM_ATOL, key
            assert row["sequence_level_argmax_matches"] and row["greedy_matches_argmax"]
        # Per token, 0.7e^{0.5} > 0.3e^{1} picks "a" twice; 0.7e^{0.2} < 0.3e^{1.6} picks "b" twice.
        assert [row["optimal_argmax_sequence"] for row in rows] == ["a a", "b b"]
        assert [row["greedy_sequence"] for row in rows] == ["a a", "b b"]

    def test_swapped_target_weights(self):
        # The mutant's statement: compare MOD with weights w to the optimum for w reversed.
        fit = _factorized_fit()
        (row,) = mod_rows(fit, [(0.8, 0.2)], swap_target_weights=True)
        assert row["weights"] == [0.8, 0.2] and row["target_weights"] == [0.2, 0.8]
        claimed, target = _optimum(fit, (0.8, 0.2)), _optimum(fit, (0.2, 0.8))
        expected_gap = float(np.max(np.abs(claimed - target)))
        assert expected_gap > 1.0  # a real gap, far above rounding
        assert row["sequence_level_prop1_gap"] == pytest.approx(expected_gap, abs=CLOSED_FORM_ATOL, rel=0)
        assert row["token_level_gap"] == pytest.approx(expected_gap, abs=CLOSED_FORM_ATOL, rel=0)
        # MOD's argmax ("a a": 0.7e^{0.8} > 0.3e^{0.4} per token) has log-probability below the
        # reversed optimum's argmax ("b b"); greedy decoding picks "a a" too.
        assert not row["sequence_level_argmax_matches"]
        assert (row["greedy_sequence"], row["optimal_argmax_sequence"], row["greedy_matches_argmax"]) == (
            "a a", "b b", False)
        assert row["sequence_level_argmax_log_gap"] == pytest.approx(target[3] - target[0], abs=CLOSED_FORM_ATOL)

    def test_arithmetic_mixture(self):
        fit = _factorized_fit()
        (row,) = mod_rows(fit, [(0.5, 0.5)], combination="arithmetic")
        mixture = np.log(0.5 * np.exp(fit["log_policies"][0]) + 0.5 * np.exp(fit["log_policies"][1]))
        expected_gap = float(np.max(np.abs(mixture - _optimum(fit, (0.5, 0.5)))))
        assert expected_gap > 0.1
        assert row["combination"] == "arithmetic"
        assert row["sequence_level_prop1_gap"] == pytest.approx(expected_gap, abs=CLOSED_FORM_ATOL, rel=0)
        assert row["sequence_level_eq7_gap"] <= CLOSED_FORM_ATOL  # eq 7 does not depend on the combination

    def test_unknown_combination(self):
        with pytest.raises(ValueError, match="^combination must be 'geometric' or 'arithmetic', got 'harmonic'$"):
            mod_rows(_factorized_fit(), [(0.5, 0.5)], combination="harmonic")

    def test_mod_study_reuses_a_fit_without_loading_anything(self):
        fit = _factorized_fit()
        nowhere = BridgeSetup(policies=(("x", "/nonexistent"),))
        study = mod_study(nowhere, "x", "/nonexistent", weights_list=[(0.5, 0.5)], fit=fit)
        assert (study.label, study.sequences, study.reference_normalization, study.fine_tune_errors) == (
            "x", 4, 3e-16, [1e-9, 4e-9])
        assert study.bound == 8e-9  # 2·max fine-tune error
        assert study.rows == mod_rows(fit, [(0.5, 0.5)])
        assert (study.model_dtype, study.accumulate_dtype) == ("float64", "float64")


@pytest.mark.usefixtures("single_torch_thread")
class TestStudiesOnTinyModels:
    def test_load_policy_and_reward_dtypes(self, tiny, opt_setup):
        first, second = load_policy(opt_setup, str(tiny.opt)), load_policy(opt_setup, str(tiny.opt))
        assert first.model is not second.model  # a fresh copy each call
        assert next(first.model.parameters()).dtype == torch.float64  # setup.dtype
        override = load_policy(opt_setup, str(tiny.opt), dtype="float32")
        assert next(override.model.parameters()).dtype == torch.float32
        # The tiny reward model is float64 whatever the setup says; another follows the setup.
        tiny_setup = BridgeSetup(dtype="float32")
        assert next(load_reward(tiny_setup).model.parameters()).dtype == torch.float64
        real = dataclasses.replace(opt_setup, dtype="float32")
        assert next(load_reward(real).model.parameters()).dtype == torch.float32

    def test_prefix_chain_terms_sum_to_the_sequence_log_probs(self, tiny, opt_setup):
        from pmtheory.bridge.logprobs import encode_pairs, sequence_log_probs_loop

        lm = load_policy(opt_setup, str(tiny.opt))
        prompts = ["the cat", "a red house", "the dog ran"]
        responses = [" sat on the mat", " is big", [7, 9, 2]]
        terms = prefix_chain_terms(lm.model, lm.tokenizer, prompts, responses)
        assert set(terms) == set(studies.PREFIX_SHIFTS) == {0, 1}
        lengths = [len(pair.response_ids) for pair in encode_pairs(lm.tokenizer, prompts, responses)]
        assert [len(values) for values in terms[0]] == [len(values) for values in terms[1]] == lengths
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, prompts, responses).double().numpy()
        chain = np.array([np.sum(values) for values in terms[0]])
        assert np.all(np.abs(chain - loop) <= FLOAT64_REL * np.maximum(1.0, np.abs(loop)))
        # Shift 1 reads each token off the distribution that has already seen it: not the chain rule.
        shifted = np.array([np.sum(values) for values in terms[1]])
        assert np.all(np.abs(shifted - loop) > 1e-3)
        assert all(np.all(values <= 0.0) for values in terms[0] + terms[1])

    def test_sequence_study(self, opt_setup):
        study = sequence_study(opt_setup, quick=True)
        # quick: 4 prompts × (2 samples + 1 text response); 2 dtypes × 2 sides × batch sizes (2, 8, all).
        assert study.pairs == 12
        assert [(row["dtype"], row["padding_side"], row["batch_size"]) for row in study.rows] == [
            (dtype, side, size) for dtype in ("float32", "float64") for side in ("left", "right")
            for size in (2, 8, 12)]
        assert all(row["label"] == "opt" and row["pairs"] == 12 for row in study.rows)
        assert [(row["label"], row["dtype"]) for row in study.chain_rule] == [("opt", "float32"), ("opt", "float64")]
        assert [(row["dtype"], row["accumulate_dtype"]) for row in study.half_precision] == [("bfloat16", "float32")]
        # The recorded chain-rule numbers are those of the recorded terms and loop values.
        for row in study.chain_rule:
            loop = study.loop_values[("opt", row["dtype"])]
            terms = study.prefix_terms[("opt", row["dtype"])]
            assert loop.shape == (12,) and len(terms[0]) == len(terms[1]) == 12
            difference = np.abs(np.array([np.sum(values) for values in terms[0]]) - loop)
            assert row["max_abs_prefix_vs_loop"] == pytest.approx(float(difference.max()), rel=1e-12, abs=1e-300)
            assert row["max_abs_log_prob"] == pytest.approx(float(np.abs(loop).max()), rel=1e-15)
        float64_rows = [row for row in study.rows if row["dtype"] == "float64"]
        assert max(row["max_rel_batched_vs_loop"] for row in float64_rows) <= FLOAT64_REL

    def test_sequence_study_enumeration(self, opt_setup):
        (label, space), = sequence_study(opt_setup, quick=True).enumeration.items()
        assert label == "opt" and space["dtype"] == space["accumulate_dtype"] == "float64"
        assert space["length"] == 3 and space["sequences"] == 4**3
        assert len(set(space["allowed"])) == 4
        library, terms = space["library"], space["terms"]
        assert library.shape == (64,) and terms[0].shape == terms[1].shape == (64, 3)
        # Restricted to W and renormalized, the 64 responses of length 3 carry all the mass.
        assert abs(logsumexp(library)) <= FLOAT64_REL
        np.testing.assert_allclose(terms[0].sum(axis=1), library, rtol=FLOAT64_REL, atol=FLOAT64_REL)

    def test_length_study(self, opt_setup):
        setup = dataclasses.replace(opt_setup, prompts=("the cat", "a small dog"))
        study = length_study(setup, "opt", setup.policies[0][1], pairs_per_prompt=2, max_new_tokens=8, seed=3)
        assert study.label == "opt"
        assert study.rewards.shape == study.lengths.shape == (2, 4)  # N prompts × 2P samples
        assert len(study.prompt_ids) == 2 and [len(row) for row in study.response_ids] == [4, 4]
        assert [[len(r) for r in row] for row in study.response_ids] == study.lengths.tolist()
        assert np.all((study.lengths >= 0) & (study.lengths <= 8))
        assert study.mean_length == study.lengths.mean() and 0.0 <= study.finished_fraction <= 1.0
        # Pairs are columns (2j, 2j + 1) of each prompt.
        expected = np.abs(study.lengths[:, 0::2] - study.lengths[:, 1::2]).ravel()
        np.testing.assert_array_equal(study.pileup.length_differences, expected)
        again = length_study(setup, "opt", setup.policies[0][1], pairs_per_prompt=2, max_new_tokens=8, seed=3)
        assert again.response_ids == study.response_ids  # seeded
        np.testing.assert_array_equal(again.rewards, study.rewards)

    def test_response_set_problem(self, tiny, opt_setup):
        from pmtheory.bridge.logprobs import sequence_log_probs_loop
        from pmtheory.bridge.rewards import reward_model_scores_loop

        response_set, problem = response_set_problem(opt_setup, str(tiny.opt), prompts=2, set_size=4,
                                                     max_new_tokens=4)
        assert response_set.shape == problem.shape == (2, 4)
        assert all(len(set(row)) == 4 for row in problem.response_ids)  # K distinct responses
        prompts, responses = problem.pairs()
        lm = load_policy(opt_setup, str(tiny.opt))
        loop = sequence_log_probs_loop(lm.model, lm.tokenizer, prompts, responses).double().numpy().reshape(2, 4)
        assert np.all(np.abs(problem.log_probs_ref - loop) <= FLOAT64_REL * np.maximum(1.0, np.abs(loop)))
        reward = load_reward(opt_setup)
        texts = [text for row in response_set.texts for text in row]
        prompt_texts = [p for p in opt_setup.prompt_list()[:2] for _ in range(4)]
        scores = reward_model_scores_loop(reward.model, reward.tokenizer, prompt_texts, texts).reshape(2, 4)
        np.testing.assert_allclose(problem.rewards, scores, rtol=FLOAT64_REL, atol=FLOAT64_REL)

    @pytest.mark.parametrize("trainable", ["head", "all"])
    def test_train_policy(self, tiny, opt_setup, monkeypatch, trainable):
        from pmtheory.bridge.training import RLHFObjective, TrainingConfig

        _, problem = response_set_problem(opt_setup, str(tiny.opt), prompts=2, set_size=4, max_new_tokens=4)
        loaded = []

        def keep(setup, path, *, dtype=None):
            lm = load_policy(setup, path, dtype=dtype)
            loaded.append(lm)
            return lm

        monkeypatch.setattr(studies, "load_policy", keep)
        setup = dataclasses.replace(opt_setup, trainable=trainable)
        objective = RLHFObjective("kl", beta=0.5)
        trained = train_policy(setup, "opt", str(tiny.opt), problem, objective,
                               TrainingConfig(estimator="exact", max_steps=3, progress=False))
        # KL on the set: π* ∝ π_ref^S·e^{r/β} (π_ref^S, the reference renormalized on the set, only
        # shifts the logits), by hand.
        target = log_softmax(problem.log_probs_ref + problem.rewards / 0.5, axis=-1)
        np.testing.assert_allclose(trained.target, target, rtol=0, atol=1e-13 * (1 + np.abs(target).max()))
        error = np.abs(trained.log_policy - trained.target)
        assert trained.max_abs_log_error == float(error.max())
        tv = 0.5 * np.abs(np.exp(trained.log_policy) - np.exp(trained.target)).sum(axis=-1)
        assert trained.total_variation == float(tv.max())
        high = np.exp(trained.target) >= studies.HIGH_MASS
        assert trained.max_abs_log_error_high_mass == (float(error[high].max()) if high.any() else 0.0)
        assert (trained.label, trained.estimator, trained.objective) == ("opt", "exact", objective.to_dict())
        assert 1 <= trained.steps <= 3 and trained.stop_reason in ("converged", "stalled", "max_steps")
        # Which parameters moved: with "head" only the output layer (and what shares its storage).
        (lm,) = loaded
        fresh = load_policy(opt_setup, str(tiny.opt))
        head = {p.data_ptr() for p in lm.model.get_output_embeddings().parameters()}
        moved = {name for (name, p), q in zip(lm.model.named_parameters(), fresh.model.parameters())
                 if not torch.equal(p, q)}
        moved_outside_head = {name for name, p in lm.model.named_parameters()
                              if name in moved and p.data_ptr() not in head}
        assert moved, "training changed nothing"
        if trainable == "head":
            assert not moved_outside_head, moved_outside_head
        else:
            assert moved_outside_head
