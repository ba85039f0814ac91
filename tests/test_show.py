"""Tests of ``pmtheory show ID`` (one claim's full record) and ``pmtheory verify --list`` (the IDs
and statements, no check run), in-process against an isolated registry of fake checks, and of
:func:`pmtheory.report.claim_record_text`, the record ``show`` prints."""

from __future__ import annotations

import json
import sys

import pytest

from pmtheory import claims, cli
from pmtheory.claims import (
    HOLDS,
    HOLDS_WITH_CONDITION,
    REFUTED,
    ClaimOutcome,
    Convention,
    ProofGap,
    Reading,
    holds_with_condition,
    refuted,
)
from pmtheory.report import claim_record_text

# Longer than any width the table or the markdown cells would cut at, so "never truncated" is tested.
LONG_NOTE = "a long evidence note " * 40

COUNTEREXAMPLE = {
    "inputs": {"p_ref": [0.5, 0.5], "beta": 0.1},
    "predicted": 0.7,
    "computed": 0.99,
    "recheck": {"method": "sympy Rational", "computed": "99/100", "agrees": True},
}


@pytest.fixture
def fake_checks(isolated_registry, monkeypatch):
    """Fake checks on a copy of the catalogue; returns the list of quick flags the checks saw."""
    registry = isolated_registry
    monkeypatch.setattr(claims, "default_registry", lambda: registry)
    seen = []

    @registry.paper_of("PMR-T1").check("PMR-T1")
    def conditional(*, quick):
        seen.append(("PMR-T1", quick))
        return holds_with_condition("C2 depends on x only", {"note": LONG_NOTE, "n": 3}, "symbolic proof",
                                    proof_gaps=[ProofGap("App B", "drops the constant", {"K": 3})],
                                    readings=[Reading("π as a mass", HOLDS)],
                                    conventions=[Convention("0·log 0 = 0", REFUTED, "0·log 0 = −∞")])

    @registry.paper_of("PMR-A3").check("PMR-A3")
    def refuting(*, quick):
        seen.append(("PMR-A3", quick))
        return refuted(COUNTEREXAMPLE, {"instances": 12})

    @registry.paper_of("MOD-P1").check("MOD-P1")
    def failing(*, quick):
        seen.append(("MOD-P1", quick))
        raise RuntimeError("solver diverged")

    return seen


def run(argv, capsys):
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def json_after(text: str, heading: str):
    """The indented JSON block printed after the line ``heading`` (up to the next blank line)."""
    block = text.split(f"\n{heading}\n", 1)[1].split("\n\n", 1)[0]
    return json.loads(block)


class TestShow:
    def test_full_record_of_a_conditional_claim(self, fake_checks, capsys):
        status, out, err = run(["show", "PMR-T1"], capsys)
        assert status == 0 and err == ""
        registry = claims.default_registry()
        paper, info = registry.paper_of("PMR-T1"), registry.claim_info("PMR-T1")
        lines = out.splitlines()
        assert lines[0] == f"PMR-T1 ({info.where}), claim"
        assert lines[1] == f"Paper: {paper.title} - {paper.citation}"  # the title and the arXiv citation
        assert "arXiv 2405.16455" in lines[1]
        assert lines[2] == f"Statement: {info.statement}"
        assert lines[3] == f"Methods: {', '.join(info.methods)}"
        assert lines[5].startswith("Verdict: holds-with-condition (") and lines[5].endswith(" s)")
        assert "Condition: C2 depends on x only" in lines and "Backing: symbolic proof" in lines
        assert "Proof gap at App B: drops the constant" in lines
        assert "Reading: π as a mass -> holds" in lines
        assert "Convention: 0·log 0 = 0; the verdict would be refuted under 0·log 0 = −∞" in lines
        assert json_after(out, "Evidence:") == {"note": LONG_NOTE, "n": 3}  # the whole note, not cut
        assert "Counterexample:" not in out
        assert fake_checks == [("PMR-T1", False)]  # only this claim's check, full by default

    def test_quick_reaches_the_check(self, fake_checks, capsys):
        assert run(["show", "PMR-T1", "--quick"], capsys)[0] == 0
        assert fake_checks == [("PMR-T1", True)]

    def test_refuted_claim_prints_its_counterexample(self, fake_checks, capsys):
        status, out, _ = run(["show", "PMR-A3"], capsys)
        assert status == 0  # a refuted claim is a finding, not a failure
        assert "Verdict: refuted (" in out
        assert json_after(out, "Counterexample:") == COUNTEREXAMPLE
        assert json_after(out, "Evidence:") == {"instances": 12}

    def test_errored_check_exits_one_with_its_traceback(self, fake_checks, capsys):
        status, out, _ = run(["show", "MOD-P1"], capsys)
        assert status == 1
        assert "Error: RuntimeError: solver diverged" in out and "Traceback (most recent call last)" in out
        assert "arXiv 2406.18853" in out  # MOD's citation

    def test_not_checked(self, fake_checks, capsys):
        status, out, _ = run(["show", "PMR-P3.1"], capsys)
        assert status == 0 and "Verdict: not-checked (0.00 s)" in out
        assert "No check is registered for this claim." in out

    @pytest.mark.parametrize("claim_id", ["PMR-T33", "pmr-t1", "PMR-*", "NOPE"])
    def test_unknown_id_exits_two_with_a_suggestion(self, fake_checks, capsys, claim_id):
        status, out, err = run(["show", claim_id], capsys)
        assert status == 2 and out == ""
        assert f"{claim_id!r} is not in the catalogue" in err and "pmtheory verify --list" in err
        assert fake_checks == []  # nothing ran

    def test_suggests_close_ids(self, fake_checks, capsys):
        _, _, err = run(["show", "PMR-T33"], capsys)
        assert "did you mean PMR-T3" in err

    def test_needs_exactly_one_id(self, capsys):
        assert run(["show"], capsys)[0] == 2
        assert run(["show", "PMR-T1", "PMR-T2"], capsys)[0] == 2

    def test_a_paper_from_paper_option(self, fake_checks, capsys, tmp_path, monkeypatch):
        (tmp_path / "_pmtheory_show_toy.py").write_text(
            "from pmtheory.claims import holds\n"
            "from pmtheory.papers import Paper\n"
            "PAPER = Paper('SHW', 'A toy title', 'Doe (2026), arXiv 0000.00001',\n"
            "              [{'id': 'SHW-1', 'where': 'eq 1', 'statement': 'one is one', 'method': 'exact'}])\n"
            "@PAPER.check('SHW-1')\n"
            "def check(*, quick):\n"
            "    return holds({'one': 1}, 'exact arithmetic')\n",
            encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        try:
            status, out, _ = run(["show", "--paper", "_pmtheory_show_toy:PAPER", "SHW-1"], capsys)
        finally:
            sys.modules.pop("_pmtheory_show_toy", None)
        assert status == 0
        assert out.splitlines()[:3] == ["SHW-1 (eq 1), claim", "Paper: A toy title - Doe (2026), arXiv 0000.00001",
                                        "Statement: one is one"]
        assert "Verdict: holds (" in out and json_after(out, "Evidence:") == {"one": 1}

    def test_a_paper_that_does_not_load_exits_two(self, capsys):
        status, _, err = run(["show", "--paper", "_pmtheory_no_such_module:PAPER", "PMR-T1"], capsys)
        assert status == 2 and "_pmtheory_no_such_module" in err

    def test_listed_in_the_subcommands(self, capsys):
        assert "show" in cli.SUBCOMMANDS
        status, out, _ = run(["--help"], capsys)
        assert status == 0 and "show" in out


class TestVerifyList:
    def test_every_claim_without_running_a_check(self, fake_checks, capsys):
        status, out, err = run(["verify", "--list"], capsys)
        assert status == 0 and err == ""
        registry = claims.default_registry()
        lines = out.splitlines()
        assert [line.split(" ", 1)[0] for line in lines] == list(registry.ids)  # catalogue order, every ID
        info = registry.claim_info("PMR-T1")
        assert f"PMR-T1 [claim, {info.where}]: {info.statement}" in lines  # the whole statement
        assert fake_checks == []

    def test_patterns_select(self, fake_checks, capsys):
        status, out, _ = run(["verify", "--list", "MOD-*", "PMR-T1"], capsys)
        registry = claims.default_registry()
        expected = ["PMR-T1"] + [claim_id for claim_id in registry.ids if claim_id.startswith("MOD-")]
        assert status == 0 and [line.split(" ", 1)[0] for line in out.splitlines()] == expected

    def test_a_question_says_so(self, fake_checks, capsys):
        registry = claims.default_registry()
        question = next(info for info in registry.catalogue if info.kind == claims.QUESTION)
        _, out, _ = run(["verify", "--list", question.id], capsys)
        assert out.startswith(f"{question.id} [question")

    def test_unknown_pattern_exits_two(self, fake_checks, capsys):
        status, out, err = run(["verify", "--list", "XYZ-*"], capsys)
        assert status == 2 and out == "" and "'XYZ-*'" in err

    @pytest.mark.parametrize("option", [["--json", "out.json"], ["--markdown", "out.md"], ["--mutants"]])
    def test_options_that_need_a_run_are_refused(self, fake_checks, capsys, tmp_path, option):
        if option[0] in ("--json", "--markdown"):
            option = [option[0], str(tmp_path / option[1])]
        status, out, err = run(["verify", "--list", *option], capsys)
        assert status == 2 and out == "" and f"--list runs no check, so {option[0]}" in err
        assert list(tmp_path.iterdir()) == []  # no file written

    def test_a_paper_from_paper_option(self, capsys, tmp_path, monkeypatch):
        (tmp_path / "_pmtheory_list_toy.py").write_text(
            "from pmtheory.papers import Paper\n"
            "PAPER = Paper('LST', 'T', 'Doe (2026)', [{'id': 'LST-1', 'statement': 's one', 'method': 'exact'}])\n",
            encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        try:
            status, out, _ = run(["verify", "--list", "--paper", "_pmtheory_list_toy:PAPER", "LST-*"], capsys)
        finally:
            sys.modules.pop("_pmtheory_list_toy", None)
        assert status == 0 and out == "LST-1 [claim]: s one\n"


class TestClaimRecordText:
    def outcome(self, **fields):
        defaults = dict(id="PMR-T1", verdict=HOLDS_WITH_CONDITION, condition="β > 0", methods=("exact",),
                        evidence={"x": float("inf")}, counterexample=None, seconds=1.5, backing="proof",
                        where="Thm 1", statement="a statement")
        defaults.update(fields)
        return ClaimOutcome(**defaults)

    def test_written_out(self):
        text = claim_record_text(self.outcome(), title="T", citation="C")
        assert text == ("PMR-T1 (Thm 1), claim\nPaper: T - C\nStatement: a statement\nMethods: exact\n\n"
                        "Verdict: holds-with-condition (1.50 s)\nCondition: β > 0\nBacking: proof\n\n"
                        'Evidence:\n{\n  "x": "inf"\n}\n')  # strict JSON: inf as a string

    def test_no_paper_line_without_title_or_citation(self):
        assert "Paper:" not in claim_record_text(self.outcome())

    def test_vacuous_and_answered(self):
        vacuous = claim_record_text(self.outcome(verdict=claims.VACUOUS, condition="empty set"))
        assert "Why vacuous: empty set" in vacuous and "Condition:" not in vacuous
        answered = claim_record_text(self.outcome(verdict=claims.ANSWERED, condition=None, answer="Yes.",
                                                  kind=claims.QUESTION))
        assert "Answer: Yes." in answered and answered.startswith("PMR-T1 (Thm 1), question\n")

    def test_rejects_other_objects(self):
        with pytest.raises(TypeError, match="ClaimOutcome"):
            claim_record_text({"id": "PMR-T1"})
