"""Tests of verdict calibration (issue 12): the verdict words of CLAIMS.md (vacuous, answered),
what is recorded beside a verdict (proof gaps, readings, conventions), the kind a verdict must
suit, and the mutation runner: a check rerun on its mutants must refute them, on its repairs
must hold, and a survivor is reported as not killed. All on isolated registries."""

from __future__ import annotations

import json

import pytest

from pmtheory import claims, cli
from pmtheory.claims import (
    ANSWERED,
    CLAIM,
    ERROR,
    HOLDS,
    QUESTION,
    REFUTED,
    VACUOUS,
    VERDICTS,
    CheckResult,
    Convention,
    ProofGap,
    Reading,
    Variant,
    answered,
    holds,
    holds_with_condition,
    mutant,
    refuted,
    repair,
    vacuous,
)
from pmtheory.report import report_to_json, report_to_markdown, report_to_table


def counterexample(value) -> dict:
    return {"inputs": {"x": value}, "predicted": 2, "computed": value,
            "recheck": {"method": "exact integer arithmetic", "computed": value, "agrees": True}}


# A toy claim, "1 + 1 = total", whose check reads the asserted total from a keyword argument
# (its default is the paper's statement, 2): the same code judges the claim and its mutants.
def one_plus_one(*, quick: bool, total: int = 2):
    computed = 1 + 1
    if computed == total:
        return holds({"computed": computed}, "exact integer arithmetic")
    return refuted(counterexample(computed) | {"predicted": total})


# A weak toy check: it says holds whatever the asserted total is, so its mutant survives.
def weak_check(*, quick: bool, total: int = 2):
    return holds({"asserted": total}, "nothing: this check never looks at the statement")


class TestNewVerdicts:
    def test_vocabulary(self):
        assert VERDICTS == ("holds", "holds-with-condition", "refuted", "vacuous", "answered", "error",
                            "not-checked")

    def test_vacuous_needs_its_reason_and_backing(self):
        result = vacuous("no f satisfies both hypotheses", {"solutions": 0}, "sympy solve: empty set")
        assert result.verdict == VACUOUS and result.condition == "no f satisfies both hypotheses"
        with pytest.raises(ValueError, match="why the hypothesis is never met"):
            vacuous("  ", {}, "sympy")
        with pytest.raises(ValueError, match="backing"):
            vacuous("empty", {}, "")

    def test_answered_needs_an_answer(self):
        result = answered("Yes: RLPO then recovers M1.", {"p_m1": 0.97}, "population limit")
        assert result.verdict == ANSWERED and result.answer.startswith("Yes")
        with pytest.raises(ValueError, match="answer must be a non-empty sentence"):
            CheckResult(ANSWERED, {}, backing="x")
        with pytest.raises(ValueError, match="only a question is answered"):
            CheckResult(HOLDS, {}, backing="x", answer="yes")

    @pytest.mark.parametrize("verdict, kind", [
        (HOLDS, CLAIM), ("holds-with-condition", CLAIM), (REFUTED, CLAIM), (VACUOUS, CLAIM), (ANSWERED, QUESTION)])
    def test_each_verdict_suits_its_kind_only(self, verdict, kind):
        results = {
            HOLDS: holds({}, "proof"),
            "holds-with-condition": holds_with_condition("β > 0", {}, "proof"),
            REFUTED: refuted(counterexample(3)),
            VACUOUS: vacuous("empty hypothesis", {}, "proof"),
            ANSWERED: answered("Yes.", {}, "proof"),
        }
        results[verdict].validate_for(kind)
        other = QUESTION if kind == CLAIM else CLAIM
        with pytest.raises(ValueError, match=f"not allowed for a {other}"):
            results[verdict].validate_for(other)

    def test_a_question_is_never_refuted(self):
        with pytest.raises(ValueError, match="never refuted"):
            refuted(counterexample(3)).validate_for(QUESTION)

    def test_extras_are_validated(self):
        gap = ProofGap("App B.1, r_i = g⁻¹(π_i) + c", "false unless g = exp", {"g": "u**2", "r": [1, 2]})
        reading = Reading("p_reward is σ(r1 − r2)", "holds")
        conditional = Reading("p_reward is tempered", "holds-with-condition", condition="p_ref = 1/2")
        convention = Convention("π·(C/π) = 0 at π = 0", "refuted", otherwise="the continuous extension C")
        result = holds({}, "proof", proof_gaps=[gap], readings=[reading, conditional], conventions=[convention])
        assert result.proof_gaps == (gap,) and len(result.readings) == 2 and result.conventions == (convention,)
        with pytest.raises(ValueError, match="Reading.verdict"):
            Reading("r", ANSWERED)
        with pytest.raises(ValueError, match="Reading.condition"):
            Reading("r", "holds-with-condition")
        with pytest.raises(ValueError, match="Convention.verdict_otherwise"):
            Convention("c", "error")
        with pytest.raises(TypeError, match="ProofGap.witness"):
            ProofGap("step", "finding", None)
        with pytest.raises(ValueError, match="ProofGap.step"):
            ProofGap("", "finding", "w")
        with pytest.raises(TypeError, match="proof_gaps must hold ProofGap"):
            holds({}, "proof", proof_gaps=["a step"])
        with pytest.raises(TypeError, match="readings must be a list"):
            holds({}, "proof", readings=reading)


class TestRunnerKinds:
    def test_wrong_verdict_for_the_kind_is_an_error(self, isolated_registry):
        registry = isolated_registry
        registry.paper_of("IIA-SEC7").check("IIA-SEC7")(lambda *, quick: holds({}, "proof"))  # a question
        registry.paper_of("PMR-P3.1").check("PMR-P3.1")(lambda *, quick: answered("yes", {}, "proof"))  # a claim
        report = registry.run(["IIA-SEC7", "PMR-P3.1"])
        assert [o.verdict for o in report.claims] == [ERROR, ERROR]
        assert "not allowed for a question" in report.claims[1].evidence["message"]
        assert "not allowed for a claim" in report.claims[0].evidence["message"]

    def test_question_answered_and_extras_reach_the_report(self, isolated_registry):
        registry = isolated_registry
        gap = ProofGap("§7, the conversion step", "drops ties", "K = 3, all tied")
        registry.paper_of("IIA-SEC7").check("IIA-SEC7")(lambda *, quick: answered("Yes: P(M1) → 1.",
                                                                {"p": 1.0}, "limit",
                                                                proof_gaps=[gap]))
        outcome = registry.run(["IIA-SEC7"]).claims[0]
        assert (outcome.kind, outcome.verdict, outcome.answer, outcome.proof_gaps) == (
            QUESTION, ANSWERED, "Yes: P(M1) → 1.", (gap,))
        data = report_to_json(registry.run(["IIA-SEC7"]))
        claim = data["claims"][0]
        assert data["schema"] == 3
        assert claim["kind"] == "question" and claim["answer"] == "Yes: P(M1) → 1."
        assert claim["proof_gaps"] == [{"step": "§7, the conversion step", "finding": "drops ties",
                                        "witness": "K = 3, all tied"}]
        assert claim["readings"] == [] and claim["conventions"] == [] and claim["mutants"] == []
        text = report_to_markdown(registry.run(["IIA-SEC7"]))
        assert "| IIA-SEC7 | §7 | question | answered | Yes: P(M1) → 1." in text
        assert "- Proof gap at §7, the conversion step: drops ties" in text


class TestVariants:
    def test_constructors(self):
        killer = mutant("1 + 1 = 3", "1 + 1 = 3", total=3)
        fix = repair("corrected", "1 + 1 = 2", total=2)
        assert (killer.role, killer.expected) == ("mutant", REFUTED)
        assert (fix.role, fix.expected) == ("repair", HOLDS)
        with pytest.raises(ValueError, match="needs params"):
            mutant("empty", "no change")
        with pytest.raises(ValueError, match="bad parameter name 'quick'"):
            Variant("q", "s", {"quick": False}, "mutant")
        with pytest.raises(ValueError, match="role"):
            Variant("q", "s", {"x": 1}, "twin")

    def test_register_checks_the_params_bind(self, isolated_registry):
        registry = isolated_registry
        with pytest.raises(TypeError, match="does not accept the mutant parameters"):
            registry.paper_of("PMR-P3.1").check("PMR-P3.1", mutants=[mutant("m", "s", constant=3)])(one_plus_one)
        with pytest.raises(ValueError, match="repeat a name"):
            registry.paper_of("PMR-T1").check("PMR-T1", mutants=[mutant("m", "s", total=3), mutant("m", "t", total=4)])
        with pytest.raises(TypeError, match="Variant"):
            registry.paper_of("PMR-T1").check("PMR-T1", mutants=[{"total": 3}])

    def test_killed_mutant_and_repair(self, isolated_registry):
        registry = isolated_registry
        registry.paper_of("PMR-P3.1").check("PMR-P3.1",
                                            mutants=[mutant("1 + 1 = 3", "one and one make three", total=3)])(
            one_plus_one)
        # A refuted claim "1 + 1 = 3" (default total 3) with its repair.
        registry.paper_of("PMR-T1").check("PMR-T1", mutants=[repair("1 + 1 = 2", "one and one make two", total=2)])(
            lambda *, quick, total=3: one_plus_one(quick=quick, total=total))
        report = registry.run(["PMR-P3.1", "PMR-T1"], mutants=True)
        assert [o.verdict for o in report.claims] == [HOLDS, REFUTED]
        (killed_mutant,), (killed_repair,) = (o.mutants for o in report.claims)
        assert (killed_mutant.verdict, killed_mutant.killed) == (REFUTED, True)
        assert '"x": 2' in killed_mutant.detail
        assert (killed_repair.verdict, killed_repair.killed) == (HOLDS, True)
        assert report.mutation() == {"claims_with_mutants": 2, "claims_without": [], "killed": 2, "total": 2,
                                     "survivors": []}

    def test_a_weak_check_lets_its_mutant_survive(self, isolated_registry):
        registry = isolated_registry
        registry.paper_of("PMR-P3.1").check("PMR-P3.1",
                                            mutants=[mutant("1 + 1 = 3", "one and one make three", total=3)])(
            weak_check)
        report = registry.run(["PMR-P3.1"], mutants=True)
        (survivor,) = report.claims[0].mutants
        assert survivor.verdict == HOLDS and survivor.killed is False
        assert report.mutation()["survivors"] == ["PMR-P3.1: 1 + 1 = 3"]
        assert report.mutation()["killed"] == 0 and report.mutation()["total"] == 1
        text = report_to_markdown(report)
        assert "| PMR-P3.1 | 1 + 1 = 3: one and one make three | mutant | refuted | holds | NO | nothing:" in text
        assert "0 of 1 killed" in report_to_table(report)

    def test_a_raising_variant_is_an_error_not_a_kill(self, isolated_registry):
        def check(*, quick, total=2):
            if total != 2:
                raise ArithmeticError("overflow")
            return holds({}, "proof")

        registry = isolated_registry
        registry.paper_of("PMR-P3.1").check("PMR-P3.1", mutants=[mutant("m", "s", total=3)])(check)
        (variant,) = registry.run(["PMR-P3.1"], mutants=True).claims[0].mutants
        assert variant.verdict == ERROR and not variant.killed and "ArithmeticError: overflow" in variant.detail

    def test_mutants_not_run_by_default(self, isolated_registry):
        registry = isolated_registry
        registry.paper_of("PMR-P3.1").check("PMR-P3.1", mutants=[mutant("m", "s", total=3)])(one_plus_one)
        report = registry.run(["PMR-P3.1"])
        assert report.claims[0].mutants == () and report.claims[0].variants_registered == 1
        assert report.mutation() is None and report_to_json(report)["mutation"] is None


@pytest.fixture
def toy_registry(isolated_registry, monkeypatch):
    monkeypatch.setattr(claims, "default_registry", lambda: isolated_registry)
    return isolated_registry


class TestVerifyMutants:
    def test_all_killed_exits_zero(self, toy_registry, capsys, tmp_path):
        toy_registry.paper_of("PMR-P3.1").check("PMR-P3.1", mutants=[mutant("1 + 1 = 3", "s", total=3)])(one_plus_one)
        path = tmp_path / "report.json"
        status = cli.main(["verify", "PMR-P3.1", "--mutants", "--json", str(path)])
        captured = capsys.readouterr()
        assert status == 0, captured.err
        assert "mutants 1/1 killed" in captured.err
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["mutation"] == {"claims_with_mutants": 1, "claims_without": [], "killed": 1, "total": 1,
                                    "survivors": []}
        assert data["claims"][0]["variants_registered"] == 1
        (entry,) = data["claims"][0]["mutants"]
        assert {key: entry[key] for key in ("name", "statement", "expected", "verdict", "killed")} == {
            "name": "1 + 1 = 3", "statement": "s", "expected": "refuted", "verdict": "refuted", "killed": True}

    def test_a_survivor_exits_one_and_is_named(self, toy_registry, capsys):
        toy_registry.paper_of("PMR-P3.1").check("PMR-P3.1", mutants=[mutant("1 + 1 = 3", "s", total=3)])(weak_check)
        toy_registry.paper_of("PMR-T1").check("PMR-T1")(one_plus_one)
        status = cli.main(["verify", "PMR-P3.1", "PMR-T1", "--mutants"])
        err = capsys.readouterr().err
        assert status == 1
        assert "were not killed" in err and "PMR-P3.1: 1 + 1 = 3" in err
        assert "no mutant or repair registered for PMR-T1" in err

    def test_interrupt_writes_a_partial_report(self, toy_registry, capsys, tmp_path):
        toy_registry.paper_of("PMR-P3.1").check("PMR-P3.1")(one_plus_one)

        def interrupted(*, quick):
            raise KeyboardInterrupt

        toy_registry.paper_of("PMR-T1").check("PMR-T1")(interrupted)
        path = tmp_path / "partial.json"
        status = cli.main(["verify", "PMR-P3.1", "PMR-T1", "--json", str(path)])
        err = capsys.readouterr().err
        assert status == 130
        assert "interrupted" in err and "Traceback" not in err
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["complete"] is False and [c["id"] for c in data["claims"]] == ["PMR-P3.1"]


class TestPackageVariants:
    """Issue 12's goal: every catalogue ID registers at least one mutant (holds,
    holds-with-condition, vacuous, answered) or repair (refuted). Their being killed is checked
    where the docs are (tests/test_docs.py), on the session's one --mutants run."""

    def test_every_claim_has_a_mutant_or_repair(self):
        from pmtheory.claims import default_registry

        missing = [claim_id for claim_id in default_registry().ids if not default_registry().variants_for(claim_id)]
        assert not missing, f"no mutant or repair registered for {missing}"
