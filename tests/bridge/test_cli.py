"""Tests of pmtheory.bridge.cli (``pmtheory bridge ...``): report, figures, clear errors."""

import json
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory import figures  # noqa: E402
from pmtheory.bridge.cli import main  # noqa: E402
from pmtheory.cli import main as pmtheory_main  # noqa: E402

pytestmark = pytest.mark.usefixtures("single_torch_thread")


class TestCheck:
    def test_report_and_figures(self, tiny, tmp_path, capsys):
        prompts = tmp_path / "prompts.txt"
        prompts.write_text("the cat\n\na small dog\nthe bird\n")
        out = tmp_path / "out"
        lint = {}
        with figures.inspect_saved_figures(lambda fig, stem: lint.setdefault(stem, figures.lint_figure(fig))):
            status = main(["check", "--model", str(tiny.opt), "--reward-model", str(tiny.reward), "--prompts",
                           str(prompts), "--out", str(out), "--device", "cpu", "--quick", "--train",
                           "--pairs-per-prompt", "8", "--set-size", "6", "--no-progress"])
        assert status == 0, capsys.readouterr().err
        assert lint == {"bridge-len": [], "bridge-check-training": []}
        report = json.loads((out / "bridge-report.json").read_text())
        assert report["prompts"] == 3 and report["model"]["model_type"] == "opt"
        assert report["sampling"]["settings"]["samples_from_model"] is True
        assert report["sampling"]["max_abs_log_pi_minus_log_q"] <= 1e-4
        assert all(row["max_rel_batched_vs_loop"] <= 1e-6 for row in report["sequence_log_probs"]["rows"])
        assert report["length_pileup"]["pairs"] == 24
        assert set(report["response_sets"]["indicators"]) == {"set", "sequence", "token"}
        assert all(run["max_abs_log_error"] < 1e-3 for run in report["training"]["runs"])
        assert all(run["converged"] and run["final_residual"] < run["tolerance"] for run in report["training"]["runs"])
        assert all("reward_clip" not in run["objective"] for run in report["training"]["runs"])
        assert sorted(p.split("/")[-1] for p in report["figures"]) == [
            "bridge-check-training.pdf", "bridge-check-training.png", "bridge-len.pdf", "bridge-len.png"]
        assert not (out / ".figures-tmp").exists()
        assert "tiny opt with random initial weights" in report["model"]["tiny_model"]
        assert report["failed_bars"] == []
        summary = capsys.readouterr().out
        assert "sequence log-probs, batched (left padding) vs loop: max relative" in summary and "PASS" in summary
        assert "training kl (natural, float32): converged" in summary
        assert "closed forms, §6.1 metrics (set reading)" in summary
        assert "note: tiny opt with random initial weights" in summary

    def test_training_that_misses_its_bar_exits_1(self, tiny, tmp_path, capsys):
        # --max-memory far below the natural optimizer's Jacobian: Adam trains instead (the report
        # says so) and, in 100 steps, does not reach float32's tolerance: the bar is missed.
        out = tmp_path / "out"
        status = main(["check", "--model", str(tiny.opt), "--reward-model", str(tiny.reward), "--out", str(out),
                       "--device", "cpu", "--quick", "--train", "--max-memory", "1kB", "--pairs-per-prompt", "2",
                       "--set-size", "4", "--no-progress", "--no-figures", "--alpha", "0",
                       "--published-alpha-zero", "kl", "--reward-clip", "5"])
        captured = capsys.readouterr()
        assert status == 1
        report = json.loads((out / "bridge-report.json").read_text())
        runs = report["training"]["runs"]
        assert all(run["optimizer"] == "adam" and "Adam ran instead" in run["notes"][0] for run in runs)
        assert runs[1]["objective"] == {"name": "conditional_pm", "beta": 1.0, "alpha": 0.0, "indicator": "set",
                                        "published_alpha_zero": "kl", "reward_clip": 5.0}
        assert report["failed_bars"] and "did not converge" in report["failed_bars"][0]
        assert "bar(s) not reached: training kl did not converge" in captured.err
        assert "FAIL" in captured.out

    def test_train_needs_a_reward_model(self, tiny, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(["check", "--model", str(tiny.opt), "--out", str(out), "--train"]) == 2
        assert "--train needs --reward-model" in capsys.readouterr().err
        assert not out.exists()

    def test_chat_template(self, tiny, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(["check", "--model", str(tiny.opt), "--out", str(out), "--chat-template", "--device", "cpu"]) == 2
        assert "this tokenizer has no chat template" in capsys.readouterr().err
        directory = tmp_path / "chat"
        shutil.copytree(tiny.opt, directory)
        config_path = directory / "tokenizer_config.json"
        config = json.loads(config_path.read_text())
        config["chat_template"] = "{% for m in messages %}the {{ m['content'] }}{% endfor %}"
        config_path.write_text(json.dumps(config))
        status = main(["check", "--model", str(directory), "--out", str(out), "--chat-template", "--device", "cpu",
                       "--quick", "--no-progress", "--local-files-only", "--revision", "main"])
        assert status == 0, capsys.readouterr().err
        report = json.loads((out / "bridge-report.json").read_text())
        assert report["sampling"]["examples"][0]["prompt"].startswith("the ")
        assert report["arguments"]["local_files_only"] is True and report["arguments"]["revision"] == "main"

    def test_without_reward_model(self, tiny, tmp_path):
        out = tmp_path / "out"
        assert main(["check", "--model", str(tiny.llama), "--out", str(out), "--device", "cpu", "--quick",
                     "--no-progress"]) == 0
        report = json.loads((out / "bridge-report.json").read_text())
        assert "no --reward-model" in report["note"] and "response_sets" not in report

    def test_bad_model_path_writes_nothing(self, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(["check", "--model", str(tmp_path / "missing"), "--out", str(out), "--device", "cpu"]) == 2
        assert "does not exist" in capsys.readouterr().err
        assert not out.exists()

    def test_bad_prompts_file(self, tiny, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(["check", "--model", str(tiny.opt), "--prompts", str(tmp_path / "none.txt"),
                     "--out", str(out)]) == 2
        assert "cannot read" in capsys.readouterr().err
        empty = tmp_path / "empty.txt"
        empty.write_text("\n \n")
        assert main(["check", "--model", str(tiny.opt), "--prompts", str(empty), "--out", str(out)]) == 2
        assert "no prompts" in capsys.readouterr().err
        assert not out.exists()

    def test_tokenizer_without_pad_token(self, tiny, tmp_path, capsys):
        directory = tmp_path / "nopad"
        shutil.copytree(tiny.opt, directory)
        config_path = directory / "tokenizer_config.json"
        config = json.loads(config_path.read_text())
        config.pop("pad_token", None)
        config_path.write_text(json.dumps(config))
        out = tmp_path / "out"
        assert main(["check", "--model", str(directory), "--out", str(out), "--device", "cpu"]) == 2
        assert "pad_token='eos'" in capsys.readouterr().err
        assert not out.exists()

    def test_bad_options(self, tiny, tmp_path, capsys):
        assert main(["check", "--model", str(tiny.opt), "--alpha", "2"]) == 2
        assert main(["check", "--model", str(tiny.opt), "--max-memory", "lots"]) == 2
        assert "--max-memory must be a positive size" in capsys.readouterr().err
        assert main(["check", "--model", str(tiny.opt), "--reward-clip", "-5"]) == 2
        assert "--reward-clip must be > 0" in capsys.readouterr().err
        assert main(["check", "--model", str(tiny.opt), "--published-alpha-zero", "ppo"]) == 2
        assert main(["check"]) == 2  # --model is required
        assert main(["frobnicate"]) == 2


class TestOtherCommands:
    def test_tiny_through_the_pmtheory_entry_point(self, tmp_path, capsys):
        assert pmtheory_main(["bridge", "tiny", str(tmp_path / "models")]) == 0
        written = json.loads(capsys.readouterr().out)
        for key in ("opt", "llama", "reward"):
            assert (tmp_path / "models" / key / "config.json").is_file() and written[key].endswith(key)

    def test_bench(self, tmp_path, capsys):
        target = tmp_path / "bench.json"
        assert main(["bench", "--pairs", "8", "--batch-size", "4", "--repeats", "1", "--json", str(target)]) == 0
        assert "tokens/s" in capsys.readouterr().out
        assert json.loads(target.read_text())["pairs"] == 8


class TestMod:
    def test_report(self, tiny, tmp_path, capsys):
        from pmtheory.bridge.tiny import tiny_model_paths

        prompts = tmp_path / "prompts.txt"
        prompts.write_text("the cat\na small dog sat on\n")
        target = tmp_path / "mod.json"
        status = pmtheory_main(["bridge", "mod", "--model", str(tiny.opt), "--model", str(tiny_model_paths(1).opt),
                                "--weights", "0.3,0.7", "--divergence", "js", "--prompts", str(prompts),
                                "--reference", str(tiny.llama), "--out", str(target), "--max-new-tokens", "5",
                                "--device", "cpu", "--dtype", "float64", "--no-progress"])
        captured = capsys.readouterr()
        assert status == 0, captured.err
        assert "loading" not in captured.err
        assert "max KKT residual" in captured.out
        report = json.loads(target.read_text())
        assert [g["prompt"] for g in report["generations"]] == ["the cat", "a small dog sat on"]
        assert all(len(g["token_ids"]) <= 5 for g in report["generations"])
        assert report["divergence"] == "js" and report["weights"] == [0.3, 0.7]
        assert report["reference"]["model_type"] == "llama" and report["reference_is_first_model"] is False
        assert report["steps"] == len(report["certificates"]) == len(report["disagreements"]) >= 1
        assert report["max_certificate"] <= 1e-12
        gap = report["gap_to_published_rules"]
        assert gap["published_code"]["row_steps"] == sum(d["rows"] for d in report["disagreements"]) >= 2
        assert 0.0 <= gap["published_code"]["rate"] <= 1.0 and 0.0 <= gap["product"]["rate"] <= 1.0

    def test_to_stdout_with_the_first_model_as_reference(self, tiny, tmp_path, capsys):
        prompts = tmp_path / "prompts.txt"
        prompts.write_text("the bird\n")
        status = main(["mod", "--model", str(tiny.opt), "--model", str(tiny.llama), "--weights", "1.5,-0.5",
                       "--divergence", "reverse_kl", "--prompts", str(prompts), "--max-new-tokens", "3",
                       "--device", "cpu", "--rule", "published", "--do-sample", "--top-k", "5"])
        captured = capsys.readouterr()
        assert status == 0, captured.err
        report = json.loads(captured.out)
        assert report["reference_is_first_model"] is True and report["rule"] == "published"
        assert report["generation"]["top_k"] == 5 and report["weights"] == [1.5, -0.5]

    @pytest.mark.parametrize(("options", "message"), [
        (["--weights", "0.3,0.6"], "--weights must sum to 1"),
        (["--weights", "0.3,0.3,0.4"], "give one weight per --model"),
        (["--weights", "a,b"], "comma-separated numbers"),
        (["--weights", "0.5,0.5", "--divergence", "kl"], "--divergence: unknown divergence 'kl'"),
        (["--weights", "0.5,0.5", "--divergence", "tv"], "not a barrier divergence"),
        (["--weights", "1.5,-0.5", "--divergence", "forward_kl", "--rule", "published"], "use --rule exact"),
        (["--weights", "0.5,0.5", "--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
    ])
    def test_usage_errors(self, tiny, tmp_path, capsys, options, message):
        prompts = tmp_path / "prompts.txt"
        prompts.write_text("the cat\n")
        out = tmp_path / "mod.json"
        assert main(["mod", "--model", str(tiny.opt), "--model", str(tiny.llama), "--prompts", str(prompts),
                     "--out", str(out), *options]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()


def test_without_torch_every_command_says_what_to_install(monkeypatch, tmp_path, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["tiny", str(tmp_path / "models")]) == 2
    assert "bridge extra (torch is not installed)" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()
