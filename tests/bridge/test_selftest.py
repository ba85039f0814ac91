"""Tests of pmtheory.bridge.selftest (``pmtheory bridge selftest``): the tiny run on the CPU, the
estimate line of the GPU sizes, usage errors, Ctrl-C, failed bars and steps, the Adam-only fallback."""

import argparse
import json
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402

from pmtheory.bridge import selftest  # noqa: E402
from pmtheory.bridge.selftest import add_selftest_arguments, run_selftest  # noqa: E402

STEPS = ("build", "sequence_log_probs", "sampling", "closed_forms", "training_natural", "training_adam")


def _parse(argv):
    parser = argparse.ArgumentParser(prog="pmtheory bridge selftest")
    add_selftest_arguments(parser)
    return parser.parse_args(argv)


def _run(argv) -> int:
    return run_selftest(_parse(argv))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One ``--size tiny --device cpu`` run: (exit status, report, stdout, stderr, wall seconds)."""
    out = tmp_path_factory.mktemp("selftest")
    capture = pytest.MonkeyPatch()
    import io
    import sys

    stdout, stderr = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", stdout)
    capture.setattr(sys, "stderr", stderr)
    try:
        started = time.perf_counter()
        status = _run(["--size", "tiny", "--device", "cpu", "--out", str(out)])
        seconds = time.perf_counter() - started
    finally:
        capture.undo()
    report = json.loads((out / "selftest.json").read_text()) if (out / "selftest.json").exists() else None
    return status, report, stdout.getvalue(), stderr.getvalue(), seconds, out


class TestTinyRun:
    def test_every_bar_passes_within_a_minute(self, tiny_run):
        status, report, _, stderr, seconds, _ = tiny_run
        assert status == 0, stderr
        assert report["passed"] is True
        assert seconds < 60.0, f"the tiny selftest took {seconds:.1f} s; the issue asks for under 60 s"
        for dtype in ("bfloat16", "float32"):
            assert tuple(report["dtypes"][dtype]) == STEPS
            for step, entry in report["dtypes"][dtype].items():
                assert entry["error"] is None and entry["passed"] is True, (dtype, step, entry)
                assert all(bar["passed"] for bar in entry["bars"]), (dtype, step, entry["bars"])
                assert entry["seconds"] >= 0 and entry["peak_memory"]["bytes"] > 0
                assert "skipped" not in entry["info"]
                if step != "build":
                    assert entry["bars"], (dtype, step)
                    assert all({"name", "measured", "bar", "comparison", "passed"} <= set(bar) for bar in entry["bars"])

    def test_bars_measure_what_they_say(self, tiny_run):
        report = tiny_run[1]
        for dtype, bar in (("float32", 1e-4), ("bfloat16", 2.0 ** -4)):
            steps = report["dtypes"][dtype]
            sequence = steps["sequence_log_probs"]["bars"][1]
            assert sequence["bar"] == bar and 0 <= sequence["measured"] <= bar
            assert steps["training_natural"]["info"]["converged"] is True
            assert steps["training_natural"]["info"]["optimizer"] == "natural"
            adam = steps["training_adam"]["info"]
            assert adam["optimizer"] == "adam" and adam["objective_end"] > adam["objective_start"]
            assert steps["closed_forms"]["info"]["set_shape"] == [4, 6]
        # float32 exact natural training reaches the closed form (bfloat16: to its rounding floor)
        assert report["dtypes"]["float32"]["training_natural"]["info"]["max_abs_log_error_vs_closed_form"] < 1e-3

    def test_environment_estimate_and_atomic_write(self, tiny_run):
        report, out = tiny_run[1], tiny_run[5]
        environment = report["environment"]
        assert {"python", "torch", "transformers", "device", "device_name", "size", "parameters"} <= set(environment)
        assert environment["torch"] == torch.__version__ and environment["size"] == "tiny"
        assert environment["parameters"] == report["dtypes"]["float32"]["build"]["info"]["parameters"] > 0
        assert report["estimate"]["parameters"] == environment["parameters"]
        assert report["schema"] == "pmtheory-bridge-selftest/1" and report["seconds"] > 0
        assert [p.name for p in out.iterdir()] == ["selftest.json"]  # no temporary file left

    def test_estimate_first_progress_and_summary(self, tiny_run):
        _, _, stdout, stderr, _, _ = tiny_run
        lines = stdout.splitlines()
        assert lines[0].startswith("pmtheory bridge selftest estimate: tiny on cpu: 6,816 parameters")
        assert lines[1].split() == ["step", "dtype", "bar", "measured", "result"]
        assert sum(line.rstrip().endswith(" pass") for line in lines) == 22
        assert "all bars pass" in lines[-1]
        for dtype in ("bfloat16", "float32"):
            for step in STEPS:
                assert f"[{dtype}] {step}: " in stderr
        assert "UserWarning" not in stderr  # the fixed responses tokenize the same both ways


class TestEstimate:
    @pytest.mark.parametrize(("size", "parameters", "head"), [("opt-1.3b", "1,315,758,080", "102,957,056"),
                                                              ("llama-7b", "6,738,415,616", "131,072,000")])
    def test_estimate_only_builds_nothing(self, size, parameters, head, tmp_path, capsys, monkeypatch):
        monkeypatch.setattr(selftest, "_build_model", lambda *a, **k: pytest.fail("--estimate-only built a model"))
        out = tmp_path / "out"
        assert _run(["--size", size, "--device", "cpu", "--out", str(out), "--estimate-only"]) == 0
        line = capsys.readouterr().out.strip()
        assert "\n" not in line
        assert line.startswith(f"pmtheory bridge selftest estimate: {size} on cpu: {parameters} parameters "
                               f"({head} trained in the head)")
        assert "GiB (bfloat16)" in line and "GiB (float32)" in line and " s for bfloat16 and float32" in line
        assert not out.exists()

    def test_estimate_for_an_absent_gpu(self, capsys):
        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
        assert _run(["--size", "llama-7b", "--device", "cuda", "--estimate-only"]) == 0
        assert "llama-7b on cuda: 6,738,415,616 parameters" in capsys.readouterr().out

    def test_the_gpu_sizes_fit_an_h200_in_minutes(self):
        for size in ("opt-1.3b", "llama-7b"):
            estimate = selftest.estimate_selftest(size, "cuda")
            assert estimate.peak_bytes < 100 * 2 ** 30 and estimate.seconds < 8 * 60
            assert estimate.least_bytes < estimate.peak_bytes
        llama = selftest.estimate_selftest("llama-7b", "cuda")
        assert llama.weight_bytes == {"bfloat16": 2 * 6_738_415_616, "float32": 4 * 6_738_415_616}
        # the Jacobian of 2 prompts × 4 responses over the untied head: 8 rows × 131,072,000 × 16 bytes in float32
        assert llama.natural_jacobian_bytes["float32"] == 8 * 131_072_000 * 16

    def test_configs_are_the_real_sizes(self):
        opt = selftest.selftest_config("opt-1.3b")
        assert (opt.hidden_size, opt.num_hidden_layers, opt.num_attention_heads, opt.ffn_dim, opt.vocab_size,
                opt.max_position_embeddings, opt.word_embed_proj_dim, opt.tie_word_embeddings) == (
                    2048, 24, 32, 8192, 50272, 2048, 2048, True)
        llama = selftest.selftest_config("llama-7b")
        assert (llama.hidden_size, llama.num_hidden_layers, llama.num_attention_heads, llama.num_key_value_heads,
                llama.intermediate_size, llama.vocab_size, llama.max_position_embeddings,
                llama.tie_word_embeddings) == (4096, 32, 32, 32, 11008, 32000, 4096, False)
        assert selftest.selftest_config("tiny").hidden_size == 16


class TestUsage:
    def test_unknown_size(self, capsys, tmp_path):
        with pytest.raises(SystemExit) as exit_request:
            _parse(["--size", "gpt-9"])
        assert exit_request.value.code == 2 and "invalid choice: 'gpt-9'" in capsys.readouterr().err
        arguments = argparse.Namespace(size="gpt-9", device="cpu", out=tmp_path / "out", seed=0, estimate_only=False)
        assert run_selftest(arguments) == 2
        assert "--size must be one of tiny, opt-1.3b, llama-7b, got 'gpt-9'" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()

    def test_device_that_is_not_there(self, capsys, tmp_path):
        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
        assert _run(["--size", "tiny", "--device", "cuda", "--out", str(tmp_path / "out")]) == 2
        captured = capsys.readouterr()
        assert "CUDA is not available" in captured.err and captured.out == ""  # refused before the estimate
        assert _run(["--size", "tiny", "--device", "tpu", "--out", str(tmp_path / "out")]) == 2
        assert "device" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()

    def test_out_is_a_file(self, capsys, tmp_path):
        (tmp_path / "file").write_text("")
        assert _run(["--device", "cpu", "--out", str(tmp_path / "file")]) == 2
        assert "is not a directory" in capsys.readouterr().err

    def test_too_little_free_memory(self, capsys, tmp_path, monkeypatch):
        import pmtheory.bridge.training as training

        monkeypatch.setattr(training, "available_memory", lambda device: 2 ** 20)
        monkeypatch.setattr(selftest, "_build_model", lambda *a, **k: pytest.fail("built despite too little memory"))
        assert _run(["--size", "opt-1.3b", "--device", "cpu", "--out", str(tmp_path / "out")]) == 2
        captured = capsys.readouterr()
        assert captured.out.startswith("pmtheory bridge selftest estimate: opt-1.3b")  # the estimate came first
        assert "has 0.000977 GiB free and --size opt-1.3b needs at least" in captured.err
        assert not (tmp_path / "out").exists()


class TestFailures:
    def test_ctrl_c(self, capsys, tmp_path, monkeypatch):
        def interrupted(state):
            raise KeyboardInterrupt

        monkeypatch.setattr(selftest, "_STEPS", (("sequence_log_probs", interrupted),))
        assert _run(["--size", "tiny", "--device", "cpu", "--out", str(tmp_path / "out")]) == 130
        err_lines = [line for line in capsys.readouterr().err.splitlines() if "interrupted" in line]
        assert err_lines == ["pmtheory bridge selftest: interrupted (Ctrl-C); nothing written"]
        assert not (tmp_path / "out" / "selftest.json").exists()

    def test_a_failed_bar_exits_1(self, capsys, tmp_path, monkeypatch):
        monkeypatch.setattr(selftest, "_STEPS", selftest._STEPS[:1])
        monkeypatch.setitem(selftest.SEQUENCE_BARS, "float32", 0.0)
        monkeypatch.setitem(selftest.SEQUENCE_BARS, "bfloat16", 0.0)
        assert _run(["--size", "tiny", "--device", "cpu", "--out", str(tmp_path / "out")]) == 1
        report = json.loads((tmp_path / "out" / "selftest.json").read_text())
        assert report["passed"] is False
        bar = report["dtypes"]["float32"]["sequence_log_probs"]["bars"][1]
        assert bar["passed"] is False and bar["bar"] == 0.0 and bar["measured"] > 0
        captured = capsys.readouterr()
        assert "FAIL" in captured.out and "FAILED" in captured.out.splitlines()[-1]

    def test_a_step_that_raises_is_recorded(self, capsys, tmp_path, monkeypatch):
        def broken(*args, **kwargs):
            raise RuntimeError("CUDA out of memory (simulated)")

        monkeypatch.setattr(selftest, "_build_model", broken)
        assert _run(["--size", "tiny", "--device", "cpu", "--out", str(tmp_path / "out")]) == 1
        report = json.loads((tmp_path / "out" / "selftest.json").read_text())
        for dtype in ("bfloat16", "float32"):
            assert list(report["dtypes"][dtype]) == ["build"]  # nothing to run the steps on
            assert report["dtypes"][dtype]["build"]["error"] == "RuntimeError: CUDA out of memory (simulated)"
        captured = capsys.readouterr()
        assert "[float32] build: " in captured.err and "error: RuntimeError" in captured.err
        assert "(error)" in captured.out

    def test_steps_after_a_failed_response_set_say_why(self, tmp_path, monkeypatch):
        def no_set(state):
            raise ValueError("prompt 0 gave only 1 distinct responses")

        steps = dict(selftest._STEPS)
        monkeypatch.setattr(selftest, "_STEPS", (("closed_forms", no_set),
                                                 ("training_adam", steps["training_adam"])))
        assert _run(["--size", "tiny", "--device", "cpu", "--out", str(tmp_path / "out")]) == 1
        report = json.loads((tmp_path / "out" / "selftest.json").read_text())
        assert "closed_forms step did not produce one" in report["dtypes"]["float32"]["training_adam"]["error"]


class TestNaturalFallback:
    def test_fits(self):
        fits, why = selftest.natural_fits(8, 1000, torch.float32, 2 ** 30)
        assert fits and why == ""
        fits, why = selftest.natural_fits(8, 102_957_056, torch.float32, 10 * 2 ** 30)  # 13 GiB needed
        assert not fits and "only Adam ran" in why and "8 rows × 102,957,056 head parameters" in why

    def test_adam_only_is_recorded(self, tmp_path, monkeypatch):
        steps = dict(selftest._STEPS)
        monkeypatch.setattr(selftest, "_STEPS", tuple((name, steps[name]) for name in
                                                      ("closed_forms", "training_natural", "training_adam")))
        monkeypatch.setattr(selftest, "natural_fits", lambda *a: (False, "the Jacobian needs more: only Adam ran"))
        assert _run(["--size", "tiny", "--device", "cpu", "--out", str(tmp_path / "out")]) == 0
        report = json.loads((tmp_path / "out" / "selftest.json").read_text())
        for dtype in ("bfloat16", "float32"):
            natural = report["dtypes"][dtype]["training_natural"]
            assert natural["info"] == {"skipped": "the Jacobian needs more: only Adam ran", "fallback": "adam only"}
            assert natural["bars"] == [] and natural["passed"] is True
            adam = report["dtypes"][dtype]["training_adam"]
            assert adam["passed"] and adam["info"]["note"] == "the Jacobian needs more: only Adam ran"
