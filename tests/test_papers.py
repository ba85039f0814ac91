"""Papers as plugins (pmtheory.papers): the Paper contract, finding papers through entry points
and ``--paper MODULE:ATTR``, and the README's toy paper run both ways from a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pmtheory.claims import Registry, holds
from pmtheory.papers import Paper, PaperError, installed_papers, load_paper

REPO_ROOT = Path(__file__).resolve().parents[1]


def readme_toy_paper() -> str:
    """The python block of README.md's "Add your own paper" section: the toy paper the issue fixes."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Add your own paper", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def row(claim_id: str = "TOY-1", **changes) -> dict:
    return {"id": claim_id, "where": "eq 1", "statement": "1 + 1 = 2", "method": "exact", "kind": "claim", **changes}


def run_pmtheory(arguments: list[str], cwd: Path, pythonpath: list[Path] = ()) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), environment.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pmtheory", *arguments], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


class TestPaper:
    def test_fields_and_rows(self):
        paper = Paper("TOY", "A toy paper", "Doe (2026)", [row(), row("TOY-2", kind="question")])
        assert paper.ids == ("TOY-1", "TOY-2")
        assert paper.claim_info("TOY-2").kind == "question" and paper.claim_info("TOY-1").paper == "TOY"
        assert "TOY" in repr(paper) and "2 claims" in repr(paper)
        with pytest.raises(ValueError, match="paper TOY has no claim 'TOY-3'"):
            paper.claim_info("TOY-3")

    @pytest.mark.parametrize("prefix", ["toy", "", "T-Y", "1TOY", 3])
    def test_bad_prefix(self, prefix):
        with pytest.raises(PaperError, match="prefix must be capital letters"):
            Paper(prefix, "t", "c", [row()])

    def test_bad_catalogues_name_the_row(self):
        with pytest.raises(PaperError, match="paper TOY, catalogue row 2 .TOY-2.: method 'exact, luck'"):
            Paper("TOY", "t", "c", [row(), row("TOY-2", method="exact, luck")])
        with pytest.raises(PaperError, match="paper TOY, catalogue row 1 has id 'BAD-1'"):
            Paper("TOY", "t", "c", [row("BAD-1")])
        with pytest.raises(PaperError, match="repeats the ID TOY-1"):
            Paper("TOY", "t", "c", [row(), row()])
        with pytest.raises(PaperError, match="catalogue of paper TOY is empty"):
            Paper("TOY", "t", "c", [])
        with pytest.raises(PaperError, match="must be a list of rows"):
            Paper("TOY", "t", "c", row())
        with pytest.raises(PaperError, match="the title of paper TOY"):
            Paper("TOY", " ", "c", [row()])

    def test_check_registration(self):
        paper = Paper("TOY", "t", "c", [row()])
        with pytest.raises(ValueError, match="'TOY-9' is not in the catalogue of paper TOY"):
            paper.check("TOY-9")
        with pytest.raises(TypeError, match="mutants of TOY-1 must be a list of Variant"):
            paper.check("TOY-1", mutants="1 + 1 = 3")

        @paper.check("TOY-1")
        def check(*, quick):
            return holds({"quick": quick}, "arithmetic")

        assert paper.check_for("TOY-1") is check and paper.variants_for("TOY-1") == ()
        assert Registry([paper]).run().outcome("TOY-1").verdict == "holds"


class TestFindingPapers:
    def test_the_built_in_papers_are_installed_in_seed_order(self):
        prefixes = [paper.prefix for paper in installed_papers()]
        assert prefixes[:4] == ["PMR", "IIA", "MOD", "BRG"]

    def test_a_broken_entry_point_is_named(self, tmp_path, monkeypatch):
        dist = tmp_path / "broken_paper-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-paper\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text("[pmtheory.papers]\nbroken = _pmtheory_probe_no_such_module:PAPER\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        with pytest.raises(PaperError, match="entry point broken = '_pmtheory_probe_no_such_module:PAPER' "
                                             "\\(package 'broken-paper'\\) failed to load"):
            installed_papers()

    @pytest.mark.parametrize("spec, message", [
        ("toy_paper", "wants MODULE:ATTR"),
        ("a:b:c", "wants MODULE:ATTR"),
        ("_pmtheory_probe_absent:PAPER", "no such module on sys.path"),
        ("json:PAPER", "module 'json' has no attribute 'PAPER'"),
        ("json:dumps", "json:dumps is a function, not a pmtheory.papers.Paper"),
    ])
    def test_load_paper_errors(self, spec, message):
        with pytest.raises(PaperError, match=message):
            load_paper(spec)

    def test_load_paper_from_the_current_folder(self, tmp_path, monkeypatch):
        (tmp_path / "_pmtheory_probe_toy.py").write_text(readme_toy_paper())
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
        try:
            paper = load_paper("_pmtheory_probe_toy:PAPER")
        finally:
            sys.modules.pop("_pmtheory_probe_toy", None)
        assert isinstance(paper, Paper) and paper.ids == ("TOY-1", "TOY-2")


class TestTheToyPaper:
    """Issue 13's example, verbatim from the README, through --paper and through an entry point."""

    def verdicts(self, path: Path) -> dict:
        return {claim["id"]: claim["verdict"] for claim in json.loads(path.read_text(encoding="utf-8"))["claims"]}

    def test_through_paper_option(self, tmp_path):
        (tmp_path / "toy_paper.py").write_text(readme_toy_paper())
        done = run_pmtheory(["verify", "--paper", "toy_paper:PAPER", "TOY-*", "--json", "out.json"], tmp_path)
        assert done.returncode == 0, done.stderr
        assert self.verdicts(tmp_path / "out.json") == {"TOY-1": "holds", "TOY-2": "refuted"}

    def test_through_an_installed_entry_point(self, tmp_path):
        site = tmp_path / "site"
        site.mkdir()
        (site / "toy_paper.py").write_text(readme_toy_paper())
        dist = site / "toy_paper-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-paper\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text("[pmtheory.papers]\ntoy = toy_paper:PAPER\n")
        work = tmp_path / "work"
        work.mkdir()
        done = run_pmtheory(["verify", "TOY-*", "--json", "out.json"], work, [site])
        assert done.returncode == 0, done.stderr
        assert self.verdicts(work / "out.json") == {"TOY-1": "holds", "TOY-2": "refuted"}
        # Naming the installed paper again with --paper is the same paper, not a clash.
        done = run_pmtheory(["verify", "--paper", "toy_paper:PAPER", "TOY-1"], work, [site])
        assert done.returncode == 0, done.stderr

    def test_a_clashing_prefix_is_a_usage_error(self, tmp_path):
        (tmp_path / "clash_paper.py").write_text(readme_toy_paper().replace('prefix="TOY"', 'prefix="PMR"')
                                                 .replace('"TOY-', '"PMR-'))
        done = run_pmtheory(["verify", "--paper", "clash_paper:PAPER", "PMR-1"], tmp_path)
        assert done.returncode == 2
        assert "two papers use the prefix 'PMR'" in done.stderr and "Traceback" not in done.stderr

    def test_a_malformed_row_is_a_usage_error_that_names_it(self, tmp_path):
        source = readme_toy_paper()
        assert '"statement": "2 + 2 = 5", "method": "exact"' in source
        (tmp_path / "bad_paper.py").write_text(source.replace('"statement": "2 + 2 = 5", "method": "exact"',
                                                              '"statement": "2 + 2 = 5", "method": "guess"'))
        done = run_pmtheory(["verify", "--paper", "bad_paper:PAPER", "TOY-1"], tmp_path)
        assert done.returncode == 2
        assert "paper TOY, catalogue row 2" in done.stderr and "Traceback" not in done.stderr

    def test_a_figure_of_a_plugin_paper(self, tmp_path):
        figure = textwrap.dedent('''
            from pmtheory.figures import new_figure, save_figure

            @PAPER.figure("toy-fig", claims=["TOY-1"], title="one plus one")
            def toy_figure(out_dir, *, quick):
                fig, ax = new_figure()
                ax.plot([0, 1], [1, 2])
                return save_figure(fig, out_dir, "toy-fig")
            ''')
        (tmp_path / "toy_paper.py").write_text(readme_toy_paper() + figure)
        done = run_pmtheory(["figures", "--paper", "toy_paper:PAPER", "--list"], tmp_path)
        assert done.returncode == 0, done.stderr
        assert "toy-fig: one plus one [TOY-1]" in done.stdout
        done = run_pmtheory(["figures", "--paper", "toy_paper:PAPER", "toy-*", "--out", "out"], tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "out" / "toy-fig.png").stat().st_size > 1000
