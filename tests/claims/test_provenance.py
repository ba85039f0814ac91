"""Tests of pmtheory.claims.provenance and of the provenance the registry's run records on a Report:
mode, versions read without importing torch, the git commit of this checkout (and none outside a
checkout or without git), the start time and run time."""

import datetime
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmtheory.claims import Report, holds, pmtheory_version
from pmtheory.claims.provenance import LIBRARIES, SEEDS, git_commit, library_versions, run_provenance
from pmtheory.claims.registry import Registry
from pmtheory.papers import Paper

PACKAGE = Path(__file__).resolve().parents[2] / "pmtheory"

PROVENANCE_KEYS = {"mode", "mutants", "pmtheory_version", "hypothesis_profile", "seeds", "versions", "platform",
                   "started_utc", "seconds"}  # plus "git" when run from a checkout


def toy_registry(pause_s: float = 0.0, interrupt: bool = False) -> Registry:
    paper = Paper("TOY", "A toy paper", "Doe (2026)",
                  [{"id": "TOY-1", "statement": "s", "method": "exact"},
                   {"id": "TOY-2", "statement": "t", "method": "exact"}])

    @paper.check("TOY-1")
    def one(*, quick: bool):
        time.sleep(pause_s)
        return holds("toy", {"quick": quick})

    @paper.check("TOY-2")
    def two(*, quick: bool):
        if interrupt:
            raise KeyboardInterrupt
        return holds("toy", {})

    return Registry([paper])


class TestRunRecordsProvenance:
    def test_quick_run(self):
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        report = toy_registry(pause_s=0.2).run(["TOY-1"], quick=True)
        after = datetime.datetime.now(datetime.timezone.utc)
        provenance = report.provenance
        assert PROVENANCE_KEYS <= set(provenance) <= PROVENANCE_KEYS | {"git"}
        assert provenance["mode"] == "quick" and provenance["mutants"] is False
        assert provenance["pmtheory_version"] == pmtheory_version() == report.pmtheory_version
        started = datetime.datetime.fromisoformat(provenance["started_utc"])
        assert started.utcoffset() == datetime.timedelta(0)  # UTC, said in the string
        assert before <= started <= after  # the run's own start, not an import time
        # The run slept 0.2 s in its check, so its time covers that; 0.2 s is the sleep, not a tolerance.
        assert provenance["seconds"] >= 0.2 and provenance["seconds"] >= report.claims[0].seconds
        assert provenance["seeds"] == SEEDS
        assert provenance["versions"] == library_versions()

    def test_full_run_with_mutants(self):
        provenance = toy_registry().run(["TOY-1"], mutants=True).provenance
        assert provenance["mode"] == "full" and provenance["mutants"] is True

    def test_an_interrupted_run_keeps_its_provenance(self):
        with pytest.raises(KeyboardInterrupt) as caught:
            toy_registry(interrupt=True).run(quick=True)
        partial = caught.value.partial_report
        assert partial.complete is False and [outcome.id for outcome in partial.claims] == ["TOY-1"]
        assert partial.provenance["mode"] == "quick" and PROVENANCE_KEYS <= set(partial.provenance)

    def test_a_hand_built_report_has_none(self):
        assert Report("1").provenance == {}


class TestVersions:
    def test_every_library_and_python(self):
        versions = library_versions()
        assert list(versions) == ["python", *LIBRARIES]
        assert {"numpy", "scipy", "sympy", "cvxpy", "torch"} <= set(versions)
        import numpy
        import scipy
        import sympy

        assert versions["numpy"] == numpy.__version__ and versions["scipy"] == scipy.__version__
        assert versions["sympy"] == sympy.__version__
        assert versions["python"] == ".".join(map(str, sys.version_info[:3]))

    def test_a_missing_library_is_none(self, monkeypatch):
        monkeypatch.setattr("pmtheory.claims.provenance.LIBRARIES", ("numpy", "_pmtheory_no_such_library"))
        assert library_versions()["_pmtheory_no_such_library"] is None

    def test_torch_is_not_imported_for_its_version(self):
        # In a fresh interpreter: the test session may have imported torch already.
        code = ("import sys; from pmtheory.claims.provenance import library_versions; library_versions(); "
                "print('torch' in sys.modules)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
        assert done.stdout.strip() == "False"


class TestGitCommit:
    def test_this_checkout(self):
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE, capture_output=True, text=True, check=False)
        if head.returncode != 0:
            pytest.skip("the tests do not run from a git checkout")
        commit = git_commit()
        assert commit is not None and commit["commit"] == head.stdout.strip()
        assert isinstance(commit["dirty"], bool)
        assert run_provenance(quick=False, mutants=False, started=datetime.datetime.now(datetime.timezone.utc),
                              seconds=0.0, pmtheory_version="1")["git"] == commit

    def test_a_folder_outside_any_checkout(self, tmp_path):
        (tmp_path / "__init__.py").write_text("")
        assert git_commit(tmp_path) is None

    def test_an_untracked_folder_inside_a_checkout(self, tmp_path):
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        package = tmp_path / "venv" / "pmtheory"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        assert git_commit(package) is None  # an install inside another project's tree gets no commit

    def test_git_missing_is_no_commit_not_an_error(self, monkeypatch):
        monkeypatch.setenv("PATH", "")
        assert git_commit() is None
        provenance = run_provenance(quick=True, mutants=False, started=datetime.datetime.now(datetime.timezone.utc),
                                    seconds=1.5, pmtheory_version="1")
        assert "git" not in provenance and provenance["seconds"] == 1.5

    def test_a_missing_folder(self, tmp_path):
        assert git_commit(tmp_path / "absent") is None


def test_a_naive_start_time_is_rejected():
    with pytest.raises(ValueError, match="started must be timezone-aware"):
        run_provenance(quick=True, mutants=False, started=datetime.datetime(2026, 1, 1), seconds=0.0,
                       pmtheory_version="1")


def test_start_time_is_written_in_utc():
    started = datetime.datetime(2026, 1, 1, 12, 0, 0, 500, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    provenance = run_provenance(quick=True, mutants=False, started=started, seconds=0.0, pmtheory_version="1")
    assert provenance["started_utc"] == "2026-01-01T10:00:00+00:00"
