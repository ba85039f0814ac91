"""Tests of pmtheory.claims: the catalogue, CheckResult and its constructors, to_jsonable,
the registry and run_claims (on isolated registries, never the package's default one)."""

from __future__ import annotations

import collections
import dataclasses
import importlib.metadata
import json
import os
import re
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from pmtheory import claims
from pmtheory.claims import (
    ERROR,
    HOLDS,
    HOLDS_WITH_CONDITION,
    KINDS,
    METHOD_WORDS,
    NOT_CHECKED,
    QUESTION,
    REFUTED,
    VERDICTS,
    CheckResult,
    ClaimInfo,
    Registry,
    Report,
    UnknownClaimError,
    default_registry,
    holds,
    holds_with_condition,
    refuted,
    select_claim_ids,
    to_jsonable,
)
from pmtheory.claims.catalogue import claim_info_from_row
from pmtheory.papers import Paper, PaperError

REPO_ROOT = Path(__file__).resolve().parents[2]
# The built-in papers' rows, in report order (seed 001, 002, 004, then the bridge).
CATALOGUE = tuple(info for paper in default_registry().papers if paper.prefix in ("PMR", "IIA", "MOD", "BRG")
                  for info in paper.claims)
CLAIM_IDS = tuple(info.id for info in CATALOGUE)


# The repo's copy of the catalogue, so that the catalogue test runs from any clone.
SNAPSHOT = REPO_ROOT / "docs" / "CLAIMS.md"


def claims_md_path() -> Path:
    """CLAIMS.md: $PMTHEORY_CLAIMS_MD, else shared/CLAIMS.md in the repo root or a parent of it
    (here /work/shared; in CI the repo may be cloned to X/repo next to X/shared), else the
    repo's copy docs/CLAIMS.md. Where the shared file exists the copy must equal it."""
    explicit = os.environ.get("PMTHEORY_CLAIMS_MD")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            pytest.fail(f"PMTHEORY_CLAIMS_MD={explicit!r} does not name a file")
        return path
    for folder in (REPO_ROOT, *REPO_ROOT.parents):
        candidate = folder / "shared" / "CLAIMS.md"
        if candidate.is_file():
            assert SNAPSHOT.read_text(encoding="utf-8") == candidate.read_text(encoding="utf-8"), (
                f"docs/CLAIMS.md is out of date: copy {candidate} over it (and update the catalogue.py of its paper)"
            )
            return candidate
    return SNAPSHOT


def claims_md_rows() -> list[tuple[str, str, str, tuple[str, ...], str]]:
    """(id, where, statement, methods, kind) of every catalogue row of CLAIMS.md, in file order."""
    path = claims_md_path()
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not re.match(r"^\| [A-Z]{3}-\S+ \|", line):
            continue
        cells = [cell.strip() for cell in line.strip()[2:-2].split(" | ")]  # "|Y|" has no spaces around its bars
        claim_id, method_cell, kind = cells[0], cells[-2], cells[-1]
        if claim_id.startswith("BRG-"):
            where, statement = "", " | ".join(cells[1:-2])
        else:
            where, statement = cells[1], " | ".join(cells[2:-2])
        methods = tuple(re.sub(r"\(.*?\)", "", word).strip() for word in method_cell.split(","))
        rows.append((claim_id, where, statement, methods, kind))
    return rows


def a_counterexample(**overrides) -> dict:
    counterexample = {
        "inputs": {"rewards": [0.0, 1.0], "g": "exp(x)"},
        "predicted": [0.5, 0.5],
        "computed": [0.25, 0.75],
        "recheck": {"method": "exact rational arithmetic", "computed": ["1/4", "3/4"], "agrees": True},
    }
    counterexample.update(overrides)
    return counterexample


class TestCatalogue:
    def test_ids_equal_claims_md(self):
        md_ids = [row[0] for row in claims_md_rows()]
        assert len(md_ids) == len(set(md_ids)), "CLAIMS.md repeats an ID"
        missing = sorted(set(md_ids) - set(CLAIM_IDS))
        extra = sorted(set(CLAIM_IDS) - set(md_ids))
        assert not missing and not extra, f"in CLAIMS.md only: {missing}; in the catalogues only: {extra}"
        assert list(CLAIM_IDS) == md_ids, "the catalogues are not in CLAIMS.md's order"

    def test_rows_equal_claims_md(self):
        by_id = {info.id: info for info in CATALOGUE}
        for claim_id, where, statement, methods, kind in claims_md_rows():
            info = by_id[claim_id]
            assert (info.where, info.statement, info.methods, info.kind) == (where, statement, methods, kind), (
                f"{claim_id} differs from CLAIMS.md; update its row in pmtheory/<paper>/catalogue.py"
            )

    def test_rows_are_well_formed(self):
        assert len(CLAIM_IDS) == len(set(CLAIM_IDS))
        for info in CATALOGUE:
            assert info.paper in ("PMR", "IIA", "MOD", "BRG") and info.id.startswith(info.paper + "-")
            assert (info.where == "") == (info.paper == "BRG"), info.id
            assert info.statement and info.methods
            assert set(info.methods) <= set(METHOD_WORDS), info.id
            assert info.kind in KINDS, info.id

    def test_kinds(self):
        # CLAIMS.md: four rows are questions the papers raise without asserting an answer.
        assert {info.id for info in CATALOGUE if info.kind == QUESTION} == {
            "IIA-SEC7", "MOD-D2", "MOD-PAR", "MOD-TOK"}
        with pytest.raises(ValueError, match="kind of X-1 must be one of claim, question"):
            ClaimInfo("X-1", "X", "", "s", ("exact",), kind="conjecture")

    def test_rows_are_validated(self):
        good = {"id": "TOY-1", "where": "eq 1", "statement": "1 + 1 = 2", "method": "exact, property (500)",
                "kind": "claim"}
        info = claim_info_from_row(good, "TOY")
        assert (info.id, info.paper, info.where, info.methods, info.kind) == (
            "TOY-1", "TOY", "eq 1", ("exact", "property"), "claim")
        short = claim_info_from_row({"id": "TOY-2", "statement": "s", "method": "symbolic"}, "TOY")
        assert (short.where, short.kind) == ("", "claim")
        assert claim_info_from_row(info, "TOY") == info
        bad = [
            ({**good, "id": "XYZ-1"}, "id 'XYZ-1'.*prefix"),
            ({**good, "id": "TOY-"}, "id 'TOY-'"),
            ({**good, "statment": "typo"}, "unknown key.*'statment'"),
            ({k: v for k, v in good.items() if k != "method"}, "lacks the key.*method"),
            ({**good, "statement": "  "}, "'statement' must be a non-empty string"),
            ({**good, "where": 3}, "'where' must be a non-empty string"),
            ({**good, "method": "exact, guesswork"}, "'guesswork'; the method words are symbolic"),
            ({**good, "kind": "conjecture"}, "kind must be one of claim, question"),
            (["TOY-1"], "must be a dict"),
        ]
        for row, message in bad:
            with pytest.raises(ValueError, match=message):
                claim_info_from_row(row, "TOY", "paper TOY, catalogue row 1")


class TestToJsonable:
    def test_numpy_scalars_and_arrays(self):
        value = {"f32": np.float32(0.5), "i64": np.int64(7), "flag": np.bool_(True), "a": np.arange(3.0)}
        assert to_jsonable(value) == {"f32": 0.5, "i64": 7, "flag": True, "a": [0.0, 1.0, 2.0]}
        assert type(to_jsonable(np.float64(1.5))) is float
        assert type(to_jsonable(np.int32(2))) is int

    def test_non_finite_become_strings(self):
        assert to_jsonable([np.nan, np.inf, -np.inf, float("inf")]) == ["nan", "inf", "-inf", "inf"]
        assert to_jsonable(np.array([[1.0, np.nan]])) == [[1.0, "nan"]]

    def test_exact_numbers_stay_exact(self):
        assert to_jsonable(Fraction(4, 3)) == "4/3"
        assert to_jsonable(Fraction(6, 3)) == 2
        assert to_jsonable(sp.Rational(2, 3)) == "2/3"
        assert sp.sympify(to_jsonable(sp.Rational(2, 3))) == sp.Rational(2, 3)
        assert to_jsonable(sp.Integer(5)) == 5 and type(to_jsonable(sp.Integer(5))) is int
        assert to_jsonable(sp.Float(0.25)) == 0.25

    def test_sympy_expressions_become_parsable_strings(self):
        x = sp.Symbol("x")
        text = to_jsonable(sp.exp(x) / (1 + x))
        assert sp.sympify(text) == sp.exp(x) / (1 + x)
        assert to_jsonable(sp.Matrix([[1, sp.Rational(1, 2)]])) == [[1, "1/2"]]

    def test_containers(self):
        point = collections.namedtuple("Point", "x y")(np.float64(1.0), 2)

        @dataclasses.dataclass(frozen=True)
        class Pair:
            left: np.ndarray
            right: float

        value = {1: (1, 2), "s": {3, 1}, "p": point, "d": Pair(np.zeros(1), 2.0)}
        expected = {"1": [1, 2], "s": [1, 3], "p": {"x": 1.0, "y": 2}, "d": {"left": [0.0], "right": 2.0}}
        assert to_jsonable(value) == expected

    def test_result_is_strict_json(self):
        value = to_jsonable({"a": np.array([np.nan, 1e308 * 10]), "b": np.float16(0.5)})
        assert json.loads(json.dumps(value, allow_nan=False)) == value

    def test_input_is_not_modified(self):
        value = {"a": [np.float64(1.0)]}
        to_jsonable(value)
        assert type(value["a"][0]) is np.float64

    def test_rejects_values_without_json_form(self):
        with pytest.raises(TypeError, match=r"evidence\['z'\]"):
            to_jsonable({"z": 1 + 2j}, "evidence")
        with pytest.raises(TypeError, match="sympy-parsable"):
            to_jsonable({"f": np.exp}, "inputs")
        with pytest.raises(TypeError, match="key"):
            to_jsonable({(1, 2): 3})
        with pytest.raises(TypeError, match="no JSON form"):
            to_jsonable(object())


class TestHolds:
    def test_valid(self):
        result = holds({"worst": np.float64(1e-12)}, backing="500 property examples")
        assert result.verdict == HOLDS and result.condition is None and result.counterexample is None
        assert result.evidence == {"worst": 1e-12} and type(result.evidence["worst"]) is float

    @pytest.mark.parametrize("backing", ["", "   "])
    def test_requires_backing(self, backing):
        with pytest.raises(ValueError, match="backing"):
            holds({}, backing)

    def test_rejects_bad_evidence(self):
        with pytest.raises(TypeError, match="evidence"):
            holds([1, 2], "symbolic proof")
        with pytest.raises(TypeError, match="evidence"):
            holds({"f": lambda t: t}, "symbolic proof")

    def test_is_frozen(self):
        result = holds({}, "symbolic proof")
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.verdict = REFUTED


class TestHoldsWithCondition:
    def test_valid(self):
        result = holds_with_condition("β > 0", {"n": 3}, "symbolic proof")
        assert (result.verdict, result.condition, result.backing) == (HOLDS_WITH_CONDITION, "β > 0", "symbolic proof")

    @pytest.mark.parametrize("condition", [None, "", "  "])
    def test_requires_condition(self, condition):
        with pytest.raises(ValueError, match="condition"):
            holds_with_condition(condition, {}, "symbolic proof")

    def test_requires_backing(self):
        with pytest.raises(ValueError, match="backing"):
            holds_with_condition("β > 0", {}, "")


class TestRefuted:
    def test_valid(self):
        result = refuted(a_counterexample(predicted=np.array([0.5, 0.5])), {"instances": 10})
        assert result.verdict == REFUTED and result.backing == "" and result.condition is None
        assert result.counterexample["predicted"] == [0.5, 0.5]
        assert refuted(a_counterexample()).evidence == {}

    def test_requires_recheck(self):
        counterexample = a_counterexample()
        del counterexample["recheck"]
        with pytest.raises(ValueError, match="independent method"):
            refuted(counterexample, {})

    @pytest.mark.parametrize("agrees", [False, None, "yes", 1])
    def test_requires_recheck_to_agree(self, agrees):
        counterexample = a_counterexample()
        counterexample["recheck"]["agrees"] = agrees
        with pytest.raises(ValueError, match="agrees"):
            refuted(counterexample, {})

    def test_accepts_numpy_true(self):
        counterexample = a_counterexample()
        counterexample["recheck"]["agrees"] = np.bool_(True)
        assert refuted(counterexample).counterexample["recheck"]["agrees"] is True

    @pytest.mark.parametrize("key", ["inputs", "predicted", "computed"])
    def test_requires_each_key(self, key):
        counterexample = a_counterexample()
        del counterexample[key]
        with pytest.raises(ValueError, match=key):
            refuted(counterexample)

    @pytest.mark.parametrize("key", ["method", "computed"])
    def test_requires_each_recheck_key(self, key):
        counterexample = a_counterexample()
        del counterexample["recheck"][key]
        with pytest.raises(ValueError, match=key):
            refuted(counterexample)

    def test_rejects_empty_inputs_and_blank_method(self):
        with pytest.raises(ValueError, match="inputs"):
            refuted(a_counterexample(inputs={}))
        counterexample = a_counterexample()
        counterexample["recheck"]["method"] = " "
        with pytest.raises(ValueError, match="method"):
            refuted(counterexample)

    def test_rejects_functions_in_inputs(self):
        with pytest.raises(TypeError, match="sympy-parsable"):
            refuted(a_counterexample(inputs={"g": np.exp}))

    def test_rejects_non_dict(self):
        with pytest.raises(TypeError, match="counterexample"):
            refuted([1, 2])


class TestCheckResult:
    def test_runner_verdicts_are_not_for_checks(self):
        for verdict in (ERROR, NOT_CHECKED, "maybe"):
            with pytest.raises(ValueError, match="verdict"):
                CheckResult(verdict, {}, backing="x")

    def test_condition_only_with_holds_with_condition(self):
        with pytest.raises(ValueError, match="condition"):
            CheckResult(HOLDS, {}, condition="β > 0", backing="symbolic proof")

    def test_counterexample_only_with_refuted(self):
        with pytest.raises(ValueError, match="counterexample"):
            CheckResult(HOLDS, {}, counterexample=a_counterexample(), backing="symbolic proof")
        with pytest.raises(TypeError, match="counterexample"):
            CheckResult(REFUTED, {})


def an_isolated_registry(**checks) -> Registry:
    """A registry of fresh copies of the built-in papers (their catalogues, no checks) with the
    given {claim_id: check} entries."""
    registry = Registry([Paper(p.prefix, p.title, p.citation, p.claims) for p in default_registry().papers])
    for claim_id, check in checks.items():
        registry.paper_of(claim_id).check(claim_id)(check)
    return registry


def holding_check(*, quick: bool) -> CheckResult:
    return holds({"quick": quick}, "exhaustive enumeration of 4 cases")


class TestRegistry:
    def test_register_returns_the_function(self):
        registry = an_isolated_registry()
        assert registry.paper_of("PMR-P3.1").check("PMR-P3.1")(holding_check) is holding_check
        assert registry.registered_ids() == ("PMR-P3.1",)
        assert registry.check_for("PMR-P3.1") is holding_check and registry.check_for("PMR-T1") is None

    def test_unknown_id(self):
        registry = an_isolated_registry()
        with pytest.raises(ValueError, match="'PMR-P99' is not in the catalogue of paper PMR"):
            registry.paper_of("PMR-P3.1").check("PMR-P99")
        with pytest.raises(ValueError, match="claim_id 'PMR-P99' is not in the catalogue"):
            registry.paper_of("PMR-P99")
        with pytest.raises(ValueError, match="'XYZ-1' is not in the catalogue"):
            registry.claim_info("XYZ-1")
        with pytest.raises(TypeError, match="claim_id"):
            registry.claim_info(3)
        assert registry.claim_info("PMR-P3.1").where == "Prop 3.1"

    def test_twice(self):
        registry = an_isolated_registry(**{"PMR-T1": holding_check})
        with pytest.raises(ValueError, match="registered twice"):
            registry.paper_of("PMR-T1").check("PMR-T1")(holding_check)

    def test_check_must_take_quick(self):
        paper = an_isolated_registry().paper_of("PMR-T1")
        with pytest.raises(TypeError, match="quick"):
            paper.check("PMR-T1")(lambda: None)
        with pytest.raises(TypeError, match="function"):
            paper.check("PMR-T1")(3)

    def test_registered_ids_in_catalogue_order(self):
        registry = an_isolated_registry(**{"MOD-L1": holding_check, "PMR-T1": holding_check})
        assert registry.registered_ids() == ("PMR-T1", "MOD-L1")

    def test_default_registry_is_separate(self):
        an_isolated_registry(**{"PMR-T1": holding_check})
        assert default_registry().check_for("PMR-T1") is not holding_check

    def test_the_same_paper_twice_is_one_paper_and_a_clash_is_an_error(self):
        paper = Paper("TOY", "A toy paper", "Doe (2026)", [{"id": "TOY-1", "statement": "s", "method": "exact"}])
        registry = Registry([paper, paper])
        assert registry.papers == (paper,)
        other = Paper("TOY", "Another", "Roe (2026)", [{"id": "TOY-1", "statement": "s", "method": "exact"}])
        with pytest.raises(PaperError, match="two papers use the prefix 'TOY'.*give the new one another prefix"):
            registry.add(other)
        with pytest.raises(TypeError, match="pmtheory.papers.Paper"):
            Registry(["TOY"])


@pytest.fixture
def module_folder(tmp_path, monkeypatch):
    """A folder on sys.path for throwaway check modules; forgets them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("_pmtheory_probe"):
            del sys.modules[name]


def a_paper(*modules: str) -> Paper:
    return Paper("TOY", "A toy paper", "Doe (2026)", [{"id": "TOY-1", "statement": "s", "method": "exact"}],
                 modules=modules)


class TestPaperModules:
    def test_the_built_in_papers(self):
        # One paper per seed and the bridge, in seed order, each loading its checks from its own package.
        papers = default_registry().papers
        assert [paper.prefix for paper in papers[:4]] == ["PMR", "IIA", "MOD", "BRG"]
        for paper, package in zip(papers, ("pmr", "iia", "mod", "bridge")):
            assert paper.modules and all(name.startswith(f"pmtheory.{package}.") for name in paper.modules)

    def test_modules_load_lazily_and_once(self, module_folder):
        (module_folder / "_pmtheory_probe_lazy.py").write_text("LOADS = [1]\n")
        paper = a_paper("_pmtheory_probe_lazy")
        assert "_pmtheory_probe_lazy" not in sys.modules
        Registry([paper]).registered_ids()
        module = sys.modules["_pmtheory_probe_lazy"]
        module.LOADS.append(2)
        Registry([paper]).run(["TOY-1"])
        assert sys.modules["_pmtheory_probe_lazy"].LOADS == [1, 2]

    def test_a_missing_module_propagates(self, module_folder):
        registry = Registry([a_paper("_pmtheory_probe_absent")])
        with pytest.raises(ModuleNotFoundError, match="_pmtheory_probe_absent"):
            registry.registered_ids()

    def test_missing_dependency_of_a_module_propagates(self, module_folder):
        (module_folder / "_pmtheory_probe_dep.py").write_text("import _pmtheory_probe_no_such_dependency\n")
        with pytest.raises(ModuleNotFoundError, match="_pmtheory_probe_no_such_dependency"):
            Registry([a_paper("_pmtheory_probe_dep")]).registered_ids()

    def test_other_import_errors_propagate(self, module_folder):
        (module_folder / "_pmtheory_probe_broken.py").write_text("raise RuntimeError('half-written module')\n")
        with pytest.raises(RuntimeError, match="half-written"):
            Registry([a_paper("_pmtheory_probe_broken")]).run(["TOY-1"])

    def test_rejects_a_single_string(self):
        with pytest.raises(PaperError, match="modules"):
            Paper("TOY", "t", "c", [{"id": "TOY-1", "statement": "s", "method": "exact"}], modules="pmtheory.pmr")


class TestSelectClaimIds:
    def test_none_and_empty_select_all(self):
        assert select_claim_ids(None, CLAIM_IDS) == CLAIM_IDS
        assert select_claim_ids([], CLAIM_IDS) == CLAIM_IDS

    def test_ids_and_globs_in_catalogue_order_without_repeats(self):
        selected = select_claim_ids(["PMR-P5.1", "PMR-P*", "IIA-E1?"], CLAIM_IDS)
        assert selected == ("PMR-P3.1", "PMR-P3.7", "PMR-PF1", "PMR-P5.1", "PMR-PA2", "IIA-E12", "IIA-E13", "IIA-E16")
        assert all(claim_id.startswith("BRG-") for claim_id in select_claim_ids(["BRG-*"], CLAIM_IDS))

    def test_case_sensitive(self):
        with pytest.raises(UnknownClaimError, match="'pmr-p3.1'.*PMR-P3.1"):
            select_claim_ids(["pmr-p3.1"], CLAIM_IDS)

    def test_unknown_pattern_is_named(self):
        with pytest.raises(ValueError, match="'XYZ-\\*'") as raised:
            select_claim_ids(["PMR-T1", "XYZ-*", "NOPE"], CLAIM_IDS)
        assert raised.value.patterns == ["XYZ-*", "NOPE"]

    def test_rejects_a_single_string(self):
        with pytest.raises(TypeError, match="patterns"):
            select_claim_ids("PMR-T1", CLAIM_IDS)
        with pytest.raises(TypeError, match="patterns"):
            select_claim_ids([3], CLAIM_IDS)


class TestRunClaims:
    def test_not_checked_for_unregistered(self):
        report = an_isolated_registry(**{"PMR-T1": holding_check}).run(["PMR-T1", "PMR-T2"])
        assert [(o.id, o.verdict) for o in report.claims] == [("PMR-T1", HOLDS), ("PMR-T2", NOT_CHECKED)]
        unchecked = report.outcome("PMR-T2")
        assert unchecked.seconds == 0.0 and unchecked.evidence == {} and unchecked.backing == ""
        assert unchecked.where == "Thm 2" and unchecked.methods == default_registry().claim_info("PMR-T2").methods

    def test_every_claim_by_default(self):
        report = an_isolated_registry().run()
        assert [o.id for o in report.claims] == list(CLAIM_IDS)
        assert report.counts() == {**dict.fromkeys(VERDICTS, 0), NOT_CHECKED: len(CLAIM_IDS)}
        assert not report.has_errors

    def test_error_for_a_raising_check(self):
        def check(*, quick):
            raise ZeroDivisionError("the bracket is empty")

        report = an_isolated_registry(**{"MOD-P1": check, "MOD-P2": holding_check}).run(["MOD-P1", "MOD-P2"])
        outcome = report.outcome("MOD-P1")
        assert outcome.verdict == ERROR and report.has_errors
        assert outcome.evidence["exception_type"] == "ZeroDivisionError"
        assert outcome.evidence["message"] == "the bracket is empty"
        assert "raise ZeroDivisionError" in outcome.evidence["traceback"]
        assert report.outcome("MOD-P2").verdict == HOLDS  # the run goes on
        assert report.counts()[ERROR] == 1

    def test_error_for_a_result_that_is_not_a_check_result(self):
        report = an_isolated_registry(**{"MOD-P1": lambda *, quick: "holds"}).run(["MOD-P1"])
        outcome = report.outcome("MOD-P1")
        assert outcome.verdict == ERROR and "CheckResult" in outcome.evidence["message"]

    def test_error_for_an_unconfirmed_refutation(self):
        def check(*, quick):
            counterexample = a_counterexample()
            counterexample["recheck"]["agrees"] = False
            return refuted(counterexample, {})

        outcome = an_isolated_registry(**{"MOD-P1": check}).run(["MOD-P1"]).outcome("MOD-P1")
        assert outcome.verdict == ERROR and "agrees" in outcome.evidence["message"]

    def test_results_are_carried(self):
        def conditional(*, quick):
            return holds_with_condition("f strictly convex", {"worst": np.float32(0.25)}, "symbolic proof")

        def refuting(*, quick):
            return refuted(a_counterexample(), {"instances": np.int64(7)})

        report = an_isolated_registry(**{"PMR-T1": conditional, "PMR-T2": refuting}).run(["PMR-T?"])
        first, second = report.outcome("PMR-T1"), report.outcome("PMR-T2")
        assert (first.verdict, first.condition, first.backing, first.evidence) == (
            HOLDS_WITH_CONDITION, "f strictly convex", "symbolic proof", {"worst": 0.25})
        assert second.verdict == REFUTED and second.counterexample["recheck"]["agrees"] is True
        assert second.evidence == {"instances": 7}
        assert not report.has_errors  # a refutation is a finding
        assert first.seconds >= 0.0

    def test_quick_is_passed(self):
        registry = an_isolated_registry(**{"PMR-T1": holding_check})
        assert registry.run(["PMR-T1"], quick=True).outcome("PMR-T1").evidence == {"quick": True}
        assert registry.run(["PMR-T1"]).outcome("PMR-T1").evidence == {"quick": False}
        with pytest.raises(TypeError, match="quick"):
            registry.run(["PMR-T1"], quick="yes")

    def test_unknown_pattern_raises_before_any_check(self):
        calls = []
        registry = an_isolated_registry(**{"PMR-T1": lambda *, quick: calls.append(1)})
        with pytest.raises(UnknownClaimError, match="PMR-NOPE"):
            registry.run(["PMR-T1", "PMR-NOPE"])
        assert calls == []

    def test_progress(self):
        events = []
        registry = an_isolated_registry(**{"PMR-T1": holding_check})
        registry.run(["PMR-T1", "PMR-T2"], progress=lambda *event: events.append(event))
        assert [(i, n, c, None if o is None else o.verdict) for i, n, c, o in events] == [
            (1, 2, "PMR-T1", None), (1, 2, "PMR-T1", HOLDS), (2, 2, "PMR-T2", None), (2, 2, "PMR-T2", NOT_CHECKED)]
        with pytest.raises(TypeError, match="progress"):
            registry.run(["PMR-T1"], progress=3)

    def test_report_is_json_able_with_odd_values(self):
        from pmtheory.report import report_to_json

        def check(*, quick):
            return holds({"x": np.float64(0.5), "big": np.inf, "bad": np.array([np.nan, -np.inf]),
                          "exact": Fraction(1, 3)}, "symbolic proof")

        data = report_to_json(an_isolated_registry(**{"PMR-T1": check}).run(["PMR-T1"]))
        text = json.dumps(data, allow_nan=False)
        assert json.loads(text)["claims"][0]["evidence"] == {"x": 0.5, "big": "inf", "bad": ["nan", "-inf"],
                                                             "exact": "1/3"}

    def test_run_claims_uses_the_default_registry(self, monkeypatch):
        registry = an_isolated_registry(**{"PMR-T1": holding_check})
        monkeypatch.setattr(claims.registry, "default_registry", lambda: registry)
        report = claims.run_claims(["PMR-T1"], quick=True)
        assert isinstance(report, Report) and report.outcome("PMR-T1").evidence == {"quick": True}
        assert report.pmtheory_version == claims.pmtheory_version()
        other = an_isolated_registry(**{"PMR-T1": lambda *, quick: holds({"other": 1}, "proof")})
        assert claims.run_claims(["PMR-T1"], registry=other).outcome("PMR-T1").evidence == {"other": 1}


class TestPmtheoryVersion:
    def test_version(self, monkeypatch):
        assert re.match(r"^\d+\.\d+", claims.pmtheory_version())

        def not_installed(name):
            raise importlib.metadata.PackageNotFoundError(name)

        monkeypatch.setattr(importlib.metadata, "version", not_installed)
        assert claims.pmtheory_version() == "0.1.0"


def test_claim_info_is_frozen():
    info = CATALOGUE[0]
    assert isinstance(info, ClaimInfo)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.id = "X"


def test_module_docstrings_explain_every_verdict():
    # The check's verdicts are explained in claims.verdicts, the runner's two in claims.registry.
    doc = textwrap.dedent(claims.verdicts.__doc__) + textwrap.dedent(claims.registry.__doc__)
    for verdict in VERDICTS:
        assert f"``{verdict}``" in doc
