"""Tests of pmtheory.bench: the report's schema and certificates, not its timings.

Speed is reported by the benchmark, never asserted here: the numbers depend on the machine
and on whatever else it is running.
"""

import contextlib
import io
import json
import math
import os
import platform
import subprocess
import sys

import pytest

from pmtheory import cli
from pmtheory.bench import main
from pmtheory.bench._solver_section import QUICK_SKIPPED_METHODS
from pmtheory.testing import KKT_TOL

# --allocator system: the default (kept) changes malloc for the rest of the process, which is
# not this test process's business; TestAllocator runs the default in a child process.
_ARGS = ["--quick", "--sizes", "100,1000", "--divergences", "reverse_kl,forward_kl,tv", "--allocator", "system"]
_ROW_KEYS = {
    "section", "divergence", "k", "method", "status", "seconds", "seconds_min", "seconds_median",
    "timings", "calls_per_timing", "floor_seconds", "ratio_to_floor", "ratio_to_exact", "max_abs_policy_error",
    "objective_gap", "kkt_residual", "accuracy_metric", "ref", "iterations", "solver_seconds", "note",
}
_METHODS = {"numpy_log_softmax", "exact", "cvxpy+clarabel", "cvxpy+scs"}


def _run(argv):
    """(exit status, stdout, stderr) of main(argv)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _solver_rows(run) -> list[dict]:
    return [row for row in run["report"]["rows"] if row["section"] == "solvers"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The quick benchmark of the brief, run once for the whole module."""
    directory = tmp_path_factory.mktemp("bench")
    path = directory / "bench.json"
    status, stdout, stderr = _run(_ARGS + ["--json", str(path)])
    with open(path, encoding="utf-8") as stream:
        report = json.load(stream)
    return {"status": status, "stdout": stdout, "stderr": stderr, "report": report, "directory": directory}


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class TestMainReport:
    def test_exit_status_is_zero(self, quick_run):
        assert quick_run["status"] == 0

    def test_top_level_schema(self, quick_run):
        report = quick_run["report"]
        assert set(report) == {"pmtheory_version", "machine", "settings", "rows", "bars"}
        assert isinstance(report["pmtheory_version"], str)
        assert {"cpu_count", "numpy", "python"} <= set(report["machine"])
        assert report["machine"]["allocator"] == "system (--allocator system)"
        assert report["settings"]["allocator"] == "system"
        from pmtheory.solvers._kernel import kernel_status

        assert report["machine"]["solver_kernel"] == kernel_status()  # which path the timings measured
        assert f"solver kernel: {kernel_status()}" in quick_run["stdout"]
        settings = report["settings"]
        assert settings["sizes"] == [100, 1000]
        assert settings["divergences"] == ["reverse_kl", "forward_kl", "tv"]
        assert settings["repeats"] == 1  # --quick
        assert settings["statistic"] in ("min", "median")

    def test_every_combination_has_a_row(self, quick_run):
        rows = _solver_rows(quick_run)
        seen = {(row["divergence"], row["k"], row["method"]) for row in rows}
        for k in (100, 1000):
            assert (None, k, "numpy_log_softmax") in seen
            for divergence in ("reverse_kl", "forward_kl", "tv"):
                for method in ("exact", "cvxpy+clarabel", "cvxpy+scs"):
                    assert (divergence, k, method) in seen

    def test_rows_have_finite_numbers_or_a_reason(self, quick_run):
        for row in _solver_rows(quick_run):
            assert set(row) == _ROW_KEYS, row
            assert row["method"] in _METHODS
            if row["status"] != "ok":
                # An explicit reason, e.g. "failed: SolverError: ..." or "skipped: K > max-cvxpy-k".
                assert row["status"].startswith(("failed: ", "skipped: ")), row
                assert len(row["status"]) > len("failed: "), row
                continue
            for key in ("seconds", "seconds_min", "seconds_median", "floor_seconds", "ratio_to_floor"):
                assert _finite(row[key]) and row[key] > 0, (key, row)
            assert row["timings"] >= 1
            if row["method"] == "numpy_log_softmax":
                continue
            assert _finite(row["ratio_to_exact"]) and row["ratio_to_exact"] > 0, row
            metric = row["accuracy_metric"]
            assert metric == ("objective_gap" if row["divergence"] == "tv" else "max_abs_policy_error")
            assert _finite(row[metric]), row
            assert _finite(row["kkt_residual"]) or row["note"], row

    def test_quick_skips_the_slow_baselines_and_says_so(self, quick_run):
        # Issue 14 §6: --quick must not spend minutes on SCS solves that run to their time limit.
        rows = _solver_rows(quick_run)
        for method in QUICK_SKIPPED_METHODS:
            skipped = [row for row in rows if row["method"] == method]
            assert len(skipped) == 6, skipped  # 3 divergences × K = 100, 1000
            assert all(row["status"].startswith("skipped: --quick") for row in skipped), skipped
            assert f"--quick: {method} skipped" in quick_run["stdout"]
        clarabel = [row for row in rows if row["method"] == "cvxpy+clarabel"]
        assert clarabel and not any(row["status"].startswith("skipped") for row in clarabel), clarabel

    def test_exact_solver_is_certified(self, quick_run):
        exact = [row for row in _solver_rows(quick_run) if row["method"] == "exact"]
        assert len(exact) == 6
        for row in exact:
            assert row["status"] == "ok", row
            assert row["kkt_residual"] < KKT_TOL, row
            assert row["ratio_to_exact"] == 1.0

    def test_reference_column(self, quick_run):
        # mpmath at K ≤ 100 (except tv, whose optimum need not be unique), else the exact π.
        for row in _solver_rows(quick_run):
            if row["status"] != "ok" or row["method"] == "numpy_log_softmax":
                continue
            if row["divergence"] == "tv":
                assert row["ref"] == "exact (ΔJ)"
            elif row["k"] <= 100:
                assert row["ref"] == "mpmath"
            else:
                assert row["ref"] == "exact"

    def test_exact_matches_mpmath_at_small_k(self, quick_run):
        for row in _solver_rows(quick_run):
            if row["method"] == "exact" and row["ref"] == "mpmath":
                assert row["max_abs_policy_error"] < 1e-10, row

    def test_bars_are_present(self, quick_run):
        bars = quick_run["report"]["bars"]
        # One floor bar and one cvxpy bar per divergence (tv included, issue 17), at issue 17's bars.
        assert len(bars) == 3 + 3
        floor_bars = {bar["name"].split(":")[0]: bar["threshold"] for bar in bars if "floor" in bar["name"]}
        assert floor_bars == {"reverse_kl": 3.5, "forward_kl": 8.0, "tv": 8.0}
        for bar in bars:
            assert {"name", "status", "measured", "threshold", "detail"} <= set(bar)
            assert bar["status"] in ("PASS", "FAIL", "N/A")
            # Neither K = 10^4 nor 10^6 was run, so no bar can be judged.
            assert bar["status"] == "N/A"

    def test_table_on_stdout_progress_on_stderr(self, quick_run):
        stdout, stderr = quick_run["stdout"], quick_run["stderr"]
        for header in ("divergence", "method", "seconds", "×floor", "×exact", "max|Δπ|", "KKT", "ref"):
            assert header in stdout
        assert "speed bars" in stdout
        assert "[bench]" in stderr and "[bench]" not in stdout

    def test_json_written_without_leftovers(self, quick_run):
        assert os.listdir(quick_run["directory"]) == ["bench.json"]


class TestMainOptions:
    def test_cvxpy_skipped_above_max_cvxpy_k(self):
        status, stdout, _ = _run(["--allocator", "system", "--sizes", "100", "--repeats", "1",
                                  "--divergences", "reverse_kl", "--max-cvxpy-k", "10"])
        assert status == 0
        assert stdout.count("skipped: K > max-cvxpy-k") == 2

    def test_without_quick_the_slow_baselines_run(self):
        status, stdout, _ = _run(["--allocator", "system", "--sizes", "100", "--repeats", "1",
                                  "--divergences", "reverse_kl", "--bridge-model", "none"])
        assert status == 0
        assert "skipped: --quick" not in stdout and "--quick: cvxpy+scs skipped" not in stdout
        assert "cvxpy+scs" in stdout

    def test_help_returns_zero(self):
        status, stdout, _ = _run(["--help"])
        assert status == 0
        assert "--max-cvxpy-k" in stdout

    @pytest.mark.parametrize("argv", [["--sizes", "0"], ["--divergences", "nope"], ["--repeats", "0"]])
    def test_bad_options_return_two(self, argv):
        status, _, stderr = _run(argv)
        assert status == 2
        assert "error" in stderr


class TestAllocator:
    def test_default_keeps_freed_memory_in_a_child_process(self, tmp_path):
        path = tmp_path / "bench.json"
        completed = subprocess.run(
            [sys.executable, "-m", "pmtheory", "bench", "--quick", "--sizes", "100", "--divergences", "reverse_kl",
             "--max-cvxpy-k", "1", "--bridge-model", "none", "--json", str(path)],
            capture_output=True, text=True, timeout=600, check=False)
        assert completed.returncode == 0, completed.stderr
        report = json.loads(path.read_text(encoding="utf-8"))
        allocator = report["machine"]["allocator"]
        assert report["settings"]["allocator"] == "kept"
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            assert allocator.startswith("kept (glibc mallopt"), allocator
        else:
            assert allocator.startswith("system (not glibc"), allocator
        assert f"allocator: {allocator}" in completed.stdout

    def test_bad_allocator_is_refused(self):
        status, _, stderr = _run(["--allocator", "jemalloc"])
        assert status == 2 and "--allocator" in stderr


def test_bridge_section_reports_throughput(quick_run):
    rows = [row for row in quick_run["report"]["rows"] if row["section"] == "bridge"]
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["model"] == "tiny-opt"
    row = rows[0]
    assert row["tokens"] > 0 and row["batched_tokens_per_second"] > 0 and row["loop_tokens_per_second"] > 0
    assert row["speedup"] == pytest.approx(row["loop_seconds"] / row["batched_seconds"])
    # The bench's default model is float32. Both paths accumulate log-softmax and sums in
    # float64, but the logits themselves come from float32 matmuls of different shapes (a padded
    # batch against one sequence), which round differently: ~eps32 = 1.2e-7 relative on logits
    # of size ~10, over the ≤ 32 tokens of a tiny-model response, bounds the gap by ~4e-5. (The
    # old bar, 1e-9, assumed float64 logits; transformers 5 batches attention differently and
    # the float32 gap measured 1.3e-6.) A wrong alignment or a dropped token is off by O(1).
    assert row["dtype"] == "float32" and row["accumulate_dtype"] == "float64"
    assert row["max_abs_difference"] < 32 * 10 * 1.2e-7
    assert "== bridge ==" in quick_run["stdout"]


def test_bridge_section_can_be_skipped():
    status, stdout, _ = _run(["--allocator", "system", "--quick", "--sizes", "100", "--divergences", "reverse_kl",
                              "--max-cvxpy-k", "1", "--bridge-model", "none"])
    assert status == 0 and "== bridge ==" in stdout and "tiny-opt" not in stdout


def test_torch_section_reports_solves_on_tensors(quick_run):
    pytest.importorskip("torch")
    rows = [row for row in quick_run["report"]["rows"] if row["section"] == "torch"]
    assert [row["divergence"] for row in rows] == ["reverse_kl", "forward_kl", "tv"]
    for row in rows:
        assert row["status"] == "ok" and (row["batch"], row["k"]) == (8, 50_272) and row["device"] == "cpu"
        assert row["ratio"] == pytest.approx(row["exact_seconds"] / row["floor_seconds"])
        assert row["solves_per_second"] == pytest.approx(8 / row["exact_seconds"])
        assert row["max_kkt_residual"] < 1e-9 and row["returned"] == "torch.Tensor on cpu"
    assert "== torch ==" in quick_run["stdout"]


def test_torch_section_can_be_skipped():
    status, stdout, _ = _run(["--allocator", "system", "--quick", "--sizes", "100", "--divergences", "reverse_kl",
                              "--max-cvxpy-k", "1", "--bridge-model", "none", "--torch-device", "none"])
    section = stdout.split("== torch ==")[1].split("allocator:")[0]
    assert status == 0 and not any(line.startswith("reverse_kl") for line in section.splitlines())


def test_shapes_table_reports_every_shape_against_its_bar(tmp_path):
    path = tmp_path / "shapes.json"
    status, stdout, _ = _run(["--allocator", "system", "--quick", "--sizes", "100", "--divergences", "reverse_kl,js",
                              "--max-cvxpy-k", "1", "--bridge-model", "none", "--torch-device", "none", "--shapes",
                              "--shapes-total", "3000", "--json", str(path)])
    assert status == 0
    report = json.loads(path.read_text())
    rows = [row for row in report["rows"] if row["section"] == "shapes"]
    assert [(row["divergence"], row["n"], row["k"]) for row in rows] == [
        (d, max(3000 // k, 1), k) for k in (3, 10, 100, 1000, 10**6) for d in ("reverse_kl", "js")]
    for row in rows:
        assert row["ratio"] == pytest.approx(row["exact_seconds"] / row["floor_seconds"])
        assert row["bar"] == (3.5 if row["divergence"] == "reverse_kl" else 8.0)
        assert row["verdict"] == ("PASS" if row["ratio"] <= row["bar"] else "FAIL")
        assert row["max_kkt_residual"] < 1e-9
    bars = [bar for bar in report["bars"] if bar["section"] == "shapes"]
    assert len(bars) == len(rows) and all(bar["status"] in ("PASS", "FAIL") for bar in bars)
    assert "== shapes ==" in stdout and "N·K = 3000" in stdout


def test_shapes_table_is_off_by_default(quick_run):
    assert not [row for row in quick_run["report"]["rows"] if row["section"] == "shapes"]
    assert "off: pass --shapes" in quick_run["stdout"]


def test_checks_section_times_the_selected_checks(tmp_path):
    path = tmp_path / "checks.json"
    status, stdout, stderr = _run(["--allocator", "system", "--quick", "--sizes", "100", "--divergences", "reverse_kl",
                                   "--max-cvxpy-k", "1", "--bridge-model", "none", "--torch-device", "none",
                                   "--checks", "PMR-R3.4", "--json", str(path)])
    assert status == 0
    rows = [row for row in json.loads(path.read_text())["rows"] if row["section"] == "checks"]
    assert [row["name"] for row in rows] == ["all 1 checks", "PMR-R3.4"]
    assert rows[1]["verdict"] == "holds" and rows[0]["seconds"] >= rows[1]["seconds"] > 0
    assert all(row["mode"] == "quick" for row in rows)
    # The 4-minute bar is on the full run of every claim only.
    assert not [bar for bar in json.loads(path.read_text())["bars"] if bar["section"] == "checks"]
    assert "== checks ==" in stdout and "PMR-R3.4 holds" in stderr


@pytest.mark.parametrize("total, status", [(239.0, "PASS"), (241.0, "FAIL")])
def test_checks_section_lists_the_five_slowest_and_judges_the_full_run(monkeypatch, total, status):
    import types

    import pmtheory.claims
    from pmtheory.bench._checks_section import _checks_rows

    seconds = {"A-1": 3.0, "A-2": 50.0, "A-3": 1.0, "B-1": 20.0, "B-2": 7.0, "B-3": 60.0, "B-4": 0.5}
    calls = []

    def fake_run_claims(patterns, *, quick, progress):
        calls.append((patterns, quick))
        claims = [types.SimpleNamespace(id=name, seconds=value, verdict="holds") for name, value in seconds.items()]
        return types.SimpleNamespace(claims=claims, provenance={"seconds": total})

    monkeypatch.setattr(pmtheory.claims, "run_claims", fake_run_claims)
    settings = types.SimpleNamespace(checks=(), quick=False)
    rows, bars = _checks_rows(settings, lambda message: None)
    assert calls == [(None, False)]
    assert [row["name"] for row in rows] == ["all 7 checks", "B-3", "A-2", "B-1", "B-2", "A-1"]
    assert [bar["status"] for bar in bars] == [status] and bars[0]["measured"] == total
    assert "B-3 60.0 s" in bars[0]["detail"]


def test_checks_with_an_unknown_claim_is_a_usage_error_before_anything_runs():
    status, stdout, stderr = _run(["--allocator", "system", "--checks", "PMR-T11"])
    assert status == 2 and stdout == ""
    assert "--checks" in stderr and "PMR-T11" in stderr and "[bench]" not in stderr


def test_checks_section_is_off_by_default(quick_run):
    assert not [row for row in quick_run["report"]["rows"] if row["section"] == "checks"]
    assert "off: pass --checks" in quick_run["stdout"]


def test_ctrl_c_during_bench_is_one_line_and_exit_130(monkeypatch, capsys):
    from pmtheory import bench

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "main", interrupted)
    assert cli.main(["bench", "--quick"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "pmtheory bench: interrupted; no report written\n"
    assert captured.out == ""
