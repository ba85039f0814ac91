"""Tests of the pmtheory command line (pmtheory.cli, pmtheory.__main__) and of the report
renderers it prints and writes (pmtheory.report). The CLI runs in-process against an
isolated registry of fake checks; one test runs ``python -m pmtheory`` in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pmtheory import claims, cli
from pmtheory.claims import ERROR, HOLDS, NOT_CHECKED, REFUTED, holds, holds_with_condition, refuted
from pmtheory.report import report_to_json, report_to_markdown, report_to_table

REPO_ROOT = Path(__file__).resolve().parents[1]

# The keys every claim of the JSON report has, and those it may add.
# Schema 2 keeps every key of schema 1 and adds kind, answer, proof_gaps, readings,
# conventions and mutants.
REQUIRED_CLAIM_KEYS = {"id", "verdict", "condition", "methods", "evidence", "counterexample", "seconds", "backing",
                       "where", "statement", "kind", "answer", "proof_gaps", "readings", "conventions",
                       "variants_registered", "mutants"}
OPTIONAL_CLAIM_KEYS = set()

COUNTEREXAMPLE = {
    "inputs": {"p_ref": [0.5, 0.5], "beta": 0.1, "f": "x*log(x)"},
    "predicted": 0.7,
    "computed": 0.99,
    "recheck": {"method": "sympy Rational", "computed": "99/100", "agrees": True},
}


@pytest.fixture
def fake_checks(isolated_registry, monkeypatch):
    """Replace the default registry with fake checks; returns the list of quick flags seen."""
    registry = isolated_registry
    monkeypatch.setattr(claims, "default_registry", lambda: registry)
    seen_quick = []

    @registry.paper_of("PMR-P3.1").check("PMR-P3.1")
    def holding(*, quick):
        seen_quick.append(quick)
        return holds({"worst": np.float64(1e-13), "limit": np.inf}, "symbolic proof and 500 property examples")

    @registry.paper_of("PMR-T1").check("PMR-T1")
    def conditional(*, quick):
        return holds_with_condition("C2 | x depends on x only", {"n": 3}, "symbolic proof")

    @registry.paper_of("PMR-A3").check("PMR-A3")
    def refuting(*, quick):
        return refuted(COUNTEREXAMPLE, {"instances": 12})

    @registry.paper_of("MOD-P1").check("MOD-P1")
    def failing(*, quick):
        raise RuntimeError("solver diverged")

    return seen_quick


def run(argv, capsys):
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class TestVerifyExitStatus:
    def test_zero_when_nothing_errors(self, fake_checks, capsys):
        status, out, err = run(["verify", "PMR-P3.1", "PMR-T1"], capsys)
        assert status == 0
        assert "PMR-P3.1" in out and "holds-with-condition" in out
        assert "2 claims" in out and ("1 holds, 1 holds-with-condition, 0 refuted, 0 vacuous, 0 answered, 0 error, "
                                      "0 not-checked") in out

    def test_zero_with_a_refuted_claim(self, fake_checks, capsys):
        status, out, _ = run(["verify", "PMR-A3", "PMR-E3.7"], capsys)
        assert status == 0
        assert "refuted" in out and NOT_CHECKED in out

    def test_one_when_a_check_errors(self, fake_checks, capsys):
        status, out, _ = run(["verify", "PMR-P3.1", "MOD-P1"], capsys)
        assert status == 1
        assert "RuntimeError: solver diverged" in out

    def test_all_claims_by_default(self, fake_checks, capsys):
        status, out, _ = run(["verify"], capsys)
        assert status == 1  # MOD-P1 errors
        assert f"{len(claims.default_registry().ids)} claims" in out

    def test_two_for_an_unknown_pattern(self, fake_checks, capsys):
        status, out, err = run(["verify", "PMR-P3.1", "XYZ-*"], capsys)
        assert status == 2
        assert "'XYZ-*'" in err and out == ""
        assert fake_checks == []  # nothing ran

    @pytest.mark.parametrize("argv", [[], ["verify", "--no-such-option"], ["frobnicate"]])
    def test_two_for_usage_errors(self, argv, capsys):
        status, _, err = run(argv, capsys)
        assert status == 2 and "usage" in err

    def test_help(self, capsys):
        status, out, _ = run(["verify", "--help"], capsys)
        assert status == 0 and "--markdown" in out


class TestVerifyOptions:
    def test_quick_is_passed(self, fake_checks, capsys):
        run(["verify", "PMR-P3.1", "--quick"], capsys)
        run(["verify", "PMR-P3.1"], capsys)
        assert fake_checks == [True, False]

    def test_globs(self, fake_checks, capsys):
        status, out, _ = run(["verify", "PMR-P3.?"], capsys)
        assert status == 0 and "PMR-P3.1" in out and "PMR-P3.7" in out and "PMR-T1" not in out

    def test_progress_lines_on_stderr(self, fake_checks, capsys):
        _, out, err = run(["verify", "PMR-P3.1", "PMR-E3.7"], capsys)
        lines = [line for line in err.splitlines() if line.startswith("[")]
        assert lines[0].startswith("[1/2] PMR-P3.1 ... holds (") and lines[0].endswith(" s)")
        assert lines[1].startswith("[2/2] PMR-E3.7 ... not-checked (")
        assert "[1/2]" not in out

    def test_json_report(self, fake_checks, capsys, tmp_path):
        path = tmp_path / "new" / "folder" / "report.json"
        argv = ["verify", "PMR-P3.1", "PMR-T1", "PMR-A3", "MOD-P1", "PMR-E3.7", "--json", str(path)]
        status, _, _ = run(argv, capsys)
        assert status == 1
        data = json.loads(path.read_text(encoding="utf-8"))
        assert set(data) == {"schema", "pmtheory_version", "complete", "provenance", "mutation", "claims"}
        assert data["schema"] == 3 and data["complete"] is True and data["mutation"] is None
        assert data["provenance"]["mode"] == "full" and data["provenance"]["mutants"] is False
        assert data["provenance"]["pmtheory_version"] == claims.pmtheory_version()
        assert data["pmtheory_version"] == claims.pmtheory_version()
        for claim in data["claims"]:
            assert REQUIRED_CLAIM_KEYS <= set(claim) <= REQUIRED_CLAIM_KEYS | OPTIONAL_CLAIM_KEYS
            assert isinstance(claim["methods"], list) and isinstance(claim["seconds"], float)
        by_id = {claim["id"]: claim for claim in data["claims"]}
        assert list(by_id) == ["PMR-P3.1", "PMR-E3.7", "PMR-T1", "PMR-A3", "MOD-P1"]  # catalogue order
        assert by_id["PMR-P3.1"]["evidence"] == {"worst": 1e-13, "limit": "inf"}
        assert by_id["PMR-T1"]["condition"] == "C2 | x depends on x only"
        assert by_id["PMR-A3"]["counterexample"] == COUNTEREXAMPLE
        assert by_id["MOD-P1"]["verdict"] == ERROR and by_id["MOD-P1"]["evidence"]["exception_type"] == "RuntimeError"
        assert by_id["PMR-E3.7"]["verdict"] == NOT_CHECKED and by_id["PMR-E3.7"]["condition"] is None
        assert os.listdir(path.parent) == ["report.json"]  # no temporary file left behind

    def test_markdown_report(self, fake_checks, capsys, tmp_path):
        path = tmp_path / "out" / "report.md"
        status, _, _ = run(["verify", "PMR-P3.1", "PMR-A3", "PMR-T1", "--markdown", str(path)], capsys)
        assert status == 0
        text = path.read_text(encoding="utf-8")
        assert "| ID | where | kind | verdict | condition / answer / backing | seconds |" in text
        assert "| PMR-A3 | App A.3, Fig 9 | claim | refuted |" in text
        assert "C2 \\| x depends on x only" in text  # a bar inside a cell is escaped
        assert "### PMR-A3 (App A.3, Fig 9)" in text and "```json" in text
        block = text.split("```json\n", 1)[1].split("\n```", 1)[0]
        assert json.loads(block) == COUNTEREXAMPLE

    def test_directory_as_output_is_a_usage_error(self, fake_checks, capsys, tmp_path):
        status, _, err = run(["verify", "PMR-P3.1", "--json", str(tmp_path)], capsys)
        assert status == 2 and "--json" in err and "is a folder" in err
        assert fake_checks == []  # refused before any check ran

    @pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, a folder no file can be made in")
    def test_an_unwritable_output_fails_before_any_check(self, fake_checks, capsys):
        status, _, err = run(["verify", "PMR-P3.1", "--markdown", "/proc/pmtheory-probe.md"], capsys)
        assert status == 2 and "--markdown /proc/pmtheory-probe.md: cannot write there" in err
        assert fake_checks == []

    def test_missing_output_folders_are_created_before_the_run(self, fake_checks, capsys, tmp_path):
        status, _, _ = run(["verify", "PMR-P3.1", "--json", str(tmp_path / "a" / "b" / "r.json")], capsys)
        assert status == 0 and json.loads((tmp_path / "a" / "b" / "r.json").read_text())["claims"]


class TestWriteTextAtomically:
    def test_writes_and_replaces(self, tmp_path):
        path = tmp_path / "a" / "b.txt"
        cli.write_text_atomically(path, "first")
        cli.write_text_atomically(path, "second π")
        assert path.read_text(encoding="utf-8") == "second π"
        assert os.listdir(path.parent) == ["b.txt"]

    def test_failure_leaves_the_old_file_and_no_temporary(self, tmp_path, monkeypatch):
        path = tmp_path / "report.json"
        path.write_text("old")

        def failing_replace(source, target):
            raise OSError("disk full")

        monkeypatch.setattr(cli.os, "replace", failing_replace)
        with pytest.raises(OSError, match="disk full"):
            cli.write_text_atomically(path, "new")
        assert path.read_text() == "old" and os.listdir(tmp_path) == ["report.json"]


class TestProgressLine:
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def outcome(self, verdict):
        return claims.ClaimOutcome("PMR-T1", verdict, None, ("exact",), {}, None, 0.5, "", "Thm 1", "statement")

    def test_rewrites_in_place_on_a_terminal(self):
        stream = self.Terminal()
        progress = cli._ProgressLine(stream)
        progress(1, 12, "PMR-T1", None)
        progress(1, 12, "PMR-T1", self.outcome(HOLDS))
        assert "\n" not in stream.getvalue() and "\r[ 1/12] PMR-T1 ... holds (0.50 s)" in stream.getvalue()
        progress(2, 12, "PMR-T1", None)
        progress(2, 12, "PMR-T1", self.outcome(REFUTED))
        assert stream.getvalue().endswith("refuted (0.50 s)\x1b[K\n")  # findings keep their line
        progress.finish()

    def test_one_line_per_claim_elsewhere(self):
        stream = io.StringIO()
        progress = cli._ProgressLine(stream)
        progress(1, 2, "PMR-T1", None)
        progress(1, 2, "PMR-T1", self.outcome(HOLDS))
        progress.finish()
        assert stream.getvalue() == "[1/2] PMR-T1 ... holds (0.50 s)\n"


class TestBench:
    def test_arguments_pass_through(self, monkeypatch):
        import pmtheory.bench

        received = []
        monkeypatch.setattr(pmtheory.bench, "main", lambda argv: received.append(argv) or 0)
        assert cli.main(["bench", "--quick", "--json", "out.json"]) == 0
        assert cli.main(["bench", "--help"]) == 0
        assert cli.main(["bench"]) == 0
        assert received == [["--quick", "--json", "out.json"], ["--help"], []]

    def test_status_is_returned(self, monkeypatch):
        import pmtheory.bench

        monkeypatch.setattr(pmtheory.bench, "main", lambda argv: 3)
        assert cli.main(["bench"]) == 3


class TestSubcommands:
    def test_table_lists_verify_and_bench(self, capsys):
        assert {"verify", "bench"} <= set(cli.SUBCOMMANDS)
        status, out, _ = run(["--help"], capsys)
        assert status == 0 and "verify" in out and "bench" in out

    def test_version_in_process(self, capsys):
        status, out, _ = run(["--version"], capsys)
        assert status == 0 and out.strip() == f"pmtheory {claims.pmtheory_version()}"


def test_python_m_pmtheory_version():
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-m", "pmtheory", "--version"],
        capture_output=True, text=True, cwd=REPO_ROOT, env=environment, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"pmtheory {claims.pmtheory_version()}"


class TestReportRenderers:
    @pytest.fixture
    def report(self, fake_checks):
        return claims.default_registry().run(["PMR-P3.1", "PMR-T1", "PMR-A3", "MOD-P1", "BRG-SEQ"])

    def test_json_is_strict(self, report):
        data = report_to_json(report)
        assert json.loads(json.dumps(data, allow_nan=False)) == data
        assert [claim["id"] for claim in data["claims"]] == ["PMR-P3.1", "PMR-T1", "PMR-A3", "MOD-P1", "BRG-SEQ"]

    def test_table_fits_its_width_and_counts(self, report):
        text = report_to_table(report, width=80)
        lines = text.splitlines()
        assert max(len(line) for line in lines[:-1]) <= 80
        assert lines[-1].startswith("5 claims in ")
        assert lines[-1].endswith("1 holds, 1 holds-with-condition, 1 refuted, 0 vacuous, 0 answered, 1 error, "
                                  "1 not-checked")
        with pytest.raises(ValueError, match="width"):
            report_to_table(report, width=10)

    def test_markdown_has_one_row_per_claim_and_the_error(self, report):
        text = report_to_markdown(report)
        rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| ID")]
        assert len(rows) == 5
        assert "## Checks that errored" in text and "solver diverged" in text
        assert "| BRG-SEQ |  | claim | not-checked |" in text

    def test_rejects_other_objects(self):
        for render in (report_to_json, report_to_markdown, report_to_table):
            with pytest.raises(TypeError, match="report"):
                render({"claims": []})


def test_verify_model_options_reach_the_bridge_setup(monkeypatch, capsys):
    for variable in ("PMTHEORY_BRIDGE_MODEL", "PMTHEORY_BRIDGE_REWARD_MODEL", "PMTHEORY_BRIDGE_DEVICE",
                     "PMTHEORY_BRIDGE_DTYPE"):
        monkeypatch.setenv(variable, "")  # recorded, so that teardown restores what was there before
    status = cli.main(["verify", "PMR-FIG2", "--quick", "--model", "/models/opt", "--reward-model", "/models/rm",
                       "--dtype", "bfloat16"])
    assert status == 0
    from pmtheory.bridge.studies import BridgeSetup

    setup = BridgeSetup.from_environment()
    assert setup.policies == (("model", "/models/opt"),)
    assert setup.reward_model == "/models/rm" and setup.dtype == "bfloat16" and setup.device == "cpu"
