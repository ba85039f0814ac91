"""Tests of pmtheory.report: the schema-3 JSON report, the markdown report and the terminal
table, rendered from Report / ClaimOutcome objects built by hand (no claim check runs), with
the expected text written out in full: every key and its value, a row per verdict word
(holds, holds-with-condition, refuted, vacuous, answered, error, not-checked), the proof
gaps, readings and conventions beside the verdicts, the mutants table, the table's widths,
and non-finite numbers as strings."""

import json
import math

import numpy as np
import pytest

from pmtheory.claims import (
    ANSWERED,
    CLAIM,
    ERROR,
    HOLDS,
    HOLDS_WITH_CONDITION,
    NOT_CHECKED,
    QUESTION,
    REFUTED,
    VACUOUS,
    VERDICTS,
    ClaimOutcome,
    Convention,
    ProofGap,
    Reading,
    Report,
    VariantOutcome,
    refuted,
)
from pmtheory.report import report_to_json, report_to_json_text, report_to_markdown, report_to_table

# The JSON schema 3, written out: report keys, claim keys, and those of the lists beside them.
REPORT_KEYS = ["schema", "pmtheory_version", "complete", "provenance", "mutation", "claims"]
CLAIM_KEYS = ["id", "verdict", "condition", "methods", "evidence", "counterexample", "seconds", "backing", "where",
              "statement", "kind", "answer", "proof_gaps", "readings", "conventions", "variants_registered",
              "mutants"]
MUTATION_KEYS = ["claims_with_mutants", "claims_without", "killed", "total", "survivors"]
MUTANT_KEYS = ["name", "statement", "role", "expected", "verdict", "killed", "seconds", "detail"]

COUNTEREXAMPLE = refuted({
    "inputs": {"x": 2, "π": 0.5, "big": np.inf},
    "predicted": 3,
    "computed": 2,
    "recheck": {"method": "exact rational arithmetic", "computed": "2", "agrees": True},
}).counterexample  # validated and converted as the runner stores it ("inf" as a string)

TRACEBACK = ('Traceback (most recent call last):\n  File "check.py", line 3, in check\n'
             "ZeroDivisionError: division by zero\n")


def outcome(claim_id, verdict, **fields):
    """A ClaimOutcome with neutral defaults for the fields a test does not care about."""
    defaults = dict(condition=None, methods=("exact",), evidence={}, counterexample=None, seconds=0.0, backing="",
                    where="§1", statement=f"the statement of {claim_id}")
    defaults.update(fields)
    return ClaimOutcome(id=claim_id, verdict=verdict, **defaults)


GAP = ProofGap("App B.1, the step r = g⁻¹(π) + c", "drops the constant", {"K": 3, "r": [0.0, 1.0]})
READINGS = (Reading("π as a density", HOLDS), Reading("π as a mass", HOLDS_WITH_CONDITION, "K ≥ 2"))
CONVENTIONS = (Convention("0·log 0 = 0", REFUTED, "0·log 0 = −∞"), Convention("ties broken left", VACUOUS))


def every_verdict() -> list:
    """One outcome per verdict word, in VERDICTS order (seconds sum to 5.25)."""
    return [
        outcome("PMR-P3.1", HOLDS, backing="symbolic proof", seconds=1.25, where="Prop 3.1",
                methods=("symbolic", "exact"), evidence={"worst": 1e-13, "limit": math.inf,
                                                          "bad": np.array([1.0, np.nan, -np.inf])}),
        outcome("PMR-T1", HOLDS_WITH_CONDITION, condition="β > 0 | and\nq > 0", backing="500 property examples",
                seconds=0.5, where="Thm 1", proof_gaps=(GAP,), readings=READINGS, conventions=CONVENTIONS),
        outcome("PMR-A3", REFUTED, counterexample=COUNTEREXAMPLE, seconds=2.0, where="App A.3",
                statement="Every  x\nsatisfies x = 3."),
        outcome("MOD-P1", VACUOUS, condition="the hypothesis set is empty", backing="sympy", seconds=0.25),
        outcome("IIA-SEC7", ANSWERED, answer="Yes: P(M1) → 1.", backing="limit", kind=QUESTION, seconds=0.75,
                where="§7"),
        outcome("MOD-T2", ERROR, seconds=0.5, evidence={"exception_type": "ZeroDivisionError",
                                                        "message": "division by zero", "traceback": TRACEBACK}),
        outcome("BRG-SEQ", NOT_CHECKED, where=""),
    ]


@pytest.fixture
def report():
    return Report(pmtheory_version="9.9.9", claims=every_verdict())


def with_mutants() -> Report:
    killed = VariantOutcome("1 + 1 = 3", "one and | one make three", "mutant", REFUTED, REFUTED, True, 0.25,
                            '{"total": 3}')
    survivor = VariantOutcome("weak", "a weak variant", "mutant", REFUTED, HOLDS, False, 0.125, "nothing: proof")
    return Report("9.9.9", [
        outcome("PMR-P3.1", HOLDS, backing="proof", seconds=1.0, mutants=(killed, survivor), variants_registered=2),
        outcome("PMR-T1", HOLDS, backing="proof", seconds=1.0),
    ], mutants_run=True)


class TestJson:
    def test_top_level(self, report):
        data = report_to_json(report)
        assert list(data) == REPORT_KEYS
        assert data["schema"] == 3
        assert data["pmtheory_version"] == "9.9.9"
        assert data["provenance"] == {}  # a report built by hand, not by a run
        assert data["complete"] is True and data["mutation"] is None  # mutants not run
        assert [claim["id"] for claim in data["claims"]] == [o.id for o in every_verdict()]  # run order kept
        assert [claim["verdict"] for claim in data["claims"]] == list(VERDICTS)

    def test_every_claim_key_in_order(self, report):
        for claim in report_to_json(report)["claims"]:
            assert list(claim) == CLAIM_KEYS

    def test_holds_row_every_value(self, report):
        assert report_to_json(report)["claims"][0] == {
            "id": "PMR-P3.1", "verdict": "holds", "condition": None, "methods": ["symbolic", "exact"],
            "evidence": {"worst": 1e-13, "limit": "inf", "bad": [1.0, "nan", "-inf"]},  # non-finite as strings
            "counterexample": None, "seconds": 1.25, "backing": "symbolic proof", "where": "Prop 3.1",
            "statement": "the statement of PMR-P3.1", "kind": "claim", "answer": None, "proof_gaps": [],
            "readings": [], "conventions": [], "variants_registered": 0, "mutants": []}

    def test_beside_the_verdict(self, report):
        claim = report_to_json(report)["claims"][1]
        assert claim["condition"] == "β > 0 | and\nq > 0"  # the data keeps the text as it is
        assert claim["proof_gaps"] == [{"step": "App B.1, the step r = g⁻¹(π) + c", "finding": "drops the constant",
                                        "witness": {"K": 3, "r": [0.0, 1.0]}}]
        assert claim["readings"] == [
            {"reading": "π as a density", "verdict": "holds", "condition": None},
            {"reading": "π as a mass", "verdict": "holds-with-condition", "condition": "K ≥ 2"}]
        assert claim["conventions"] == [
            {"convention": "0·log 0 = 0", "verdict_otherwise": "refuted", "otherwise": "0·log 0 = −∞"},
            {"convention": "ties broken left", "verdict_otherwise": "vacuous", "otherwise": ""}]

    def test_refuted_answered_error_not_checked(self, report):
        claims = report_to_json(report)["claims"]
        assert claims[2]["counterexample"] == {
            "inputs": {"x": 2, "π": 0.5, "big": "inf"}, "predicted": 3, "computed": 2,
            "recheck": {"method": "exact rational arithmetic", "computed": "2", "agrees": True}}
        assert claims[2]["backing"] == "" and claims[2]["condition"] is None
        assert claims[3]["condition"] == "the hypothesis set is empty"  # vacuous: the reason
        assert (claims[4]["kind"], claims[4]["answer"]) == ("question", "Yes: P(M1) → 1.")
        assert claims[5]["evidence"] == {"exception_type": "ZeroDivisionError", "message": "division by zero",
                                         "traceback": TRACEBACK}
        assert {key: claims[6][key] for key in ("verdict", "where", "seconds", "evidence", "backing", "kind")} == {
            "verdict": "not-checked", "where": "", "seconds": 0.0, "evidence": {}, "backing": "", "kind": CLAIM}

    @pytest.mark.parametrize("seconds, shown", [(math.nan, "nan"), (math.inf, "inf")])
    def test_non_finite_seconds_are_strings(self, seconds, shown):
        data = report_to_json(Report("1", [outcome("PMR-T1", HOLDS, backing="proof", seconds=seconds)]))
        assert data["claims"][0]["seconds"] == shown

    def test_mutation_summary_and_mutants(self):
        data = report_to_json(with_mutants())
        assert list(data["mutation"]) == MUTATION_KEYS
        assert data["mutation"] == {"claims_with_mutants": 1, "claims_without": ["PMR-T1"], "killed": 1, "total": 2,
                                    "survivors": ["PMR-P3.1: weak"]}
        first, second = data["claims"]
        assert first["variants_registered"] == 2 and second["variants_registered"] == 0
        assert [list(variant) for variant in first["mutants"]] == [MUTANT_KEYS, MUTANT_KEYS]
        assert first["mutants"][1] == {"name": "weak", "statement": "a weak variant", "role": "mutant",
                                       "expected": "refuted", "verdict": "holds", "killed": False, "seconds": 0.125,
                                       "detail": "nothing: proof"}
        assert second["mutants"] == []

    def test_variants_registered_without_the_mutants_run(self):
        # A plain run records how many variants a check registers, with no mutants and no mutation summary.
        data = report_to_json(Report("1", [outcome("PMR-T1", HOLDS, backing="proof", variants_registered=3)]))
        assert data["mutation"] is None
        assert (data["claims"][0]["variants_registered"], data["claims"][0]["mutants"]) == (3, [])

    def test_incomplete(self):
        assert report_to_json(Report("1", [], complete=False))["complete"] is False

    def test_a_value_without_json_form_names_the_claim(self):
        bad = Report("1", [outcome("PMR-T1", HOLDS, backing="proof", evidence={"f": len})])
        with pytest.raises(TypeError, match=r"PMR-T1 evidence\['f'\] is a function"):
            report_to_json(bad)


class TestJsonText:
    def test_round_trips_through_json_loads(self, report):
        text = report_to_json_text(report)
        assert json.loads(text) == report_to_json(report)
        assert text.endswith("}\n") and text.startswith('{\n  "schema": 3,\n  "pmtheory_version": "9.9.9"')

    def test_strict_json_and_characters_kept(self, report):
        text = report_to_json_text(report)
        # allow_nan=False: a NaN/Infinity token would make json.loads with parse_constant fail.
        json.loads(text, parse_constant=lambda token: pytest.fail(f"non-strict JSON token {token}"))
        assert "π as a density" in text and "\\u03c0" not in text  # ensure_ascii=False


class TestMarkdown:
    def test_header_and_summary(self, report):
        lines = report_to_markdown(report).splitlines()
        assert lines[:6] == [
            "# pmtheory claim verdicts",
            "",
            "pmtheory 9.9.9. 7 claims in 5.25 s: 1 holds, 1 holds-with-condition, 1 refuted, 1 vacuous, "
            "1 answered, 1 error, 1 not-checked.",
            "",
            "| ID | where | kind | verdict | condition / answer / backing | seconds |",
            "|---|---|---|---|---|---:|",
        ]

    def test_one_row_per_verdict(self, report):
        lines = report_to_markdown(report).splitlines()
        assert lines[6:13] == [
            "| PMR-P3.1 | Prop 3.1 | claim | holds | symbolic proof | 1.25 |",
            # "|" escaped, the newline folded, the backing and what is beside the verdict counted
            "| PMR-T1 | Thm 1 | claim | holds-with-condition | β > 0 \\| and q > 0 [backing: 500 property examples] "
            "[beside the verdict: 1 proof gap, 2 readings, 2 conventions] | 0.50 |",
            '| PMR-A3 | App A.3 | claim | refuted | counterexample {"x": 2, "π": 0.5, "big": "inf"}, confirmed by '
            "exact rational arithmetic | 2.00 |",
            "| MOD-P1 | §1 | claim | vacuous | vacuous: the hypothesis set is empty [backing: sympy] | 0.25 |",
            "| IIA-SEC7 | §7 | question | answered | Yes: P(M1) → 1. [backing: limit] | 0.75 |",
            "| MOD-T2 | §1 | claim | error | ZeroDivisionError: division by zero | 0.50 |",
            "| BRG-SEQ |  | claim | not-checked |  | 0.00 |",
        ]

    def test_beside_the_verdicts_section(self, report):
        text = report_to_markdown(report)
        section = text.split("## Beside the verdicts: proof gaps, readings, conventions\n", 1)[1].split("\n## ", 1)[0]
        assert section.splitlines() == [
            "",
            "Recorded beside the verdict, never folded into it (shared/CLAIMS.md).",
            "",
            "### PMR-T1 (Thm 1)",
            "",
            "Verdict: holds-with-condition.",
            "",
            '- Proof gap at App B.1, the step r = g⁻¹(π) + c: drops the constant Witness: {"K": 3, "r": [0.0, 1.0]}',
            "- Reading: π as a density → holds",
            "- Reading: π as a mass → holds-with-condition (K ≥ 2)",
            "- Convention: 0·log 0 = 0; the verdict would be refuted under 0·log 0 = −∞",
            "- Convention: ties broken left; the verdict would be vacuous",
        ]

    def test_string_witness_is_folded_to_one_line(self):
        gap = ProofGap("step\n 2", "fails", "K = 3,\n  all tied")
        text = report_to_markdown(Report("1", [outcome("PMR-T1", HOLDS, backing="proof", proof_gaps=(gap,),
                                                       where="")]))
        assert "### PMR-T1\n\nVerdict: holds.\n\n- Proof gap at step 2: fails Witness: K = 3, all tied\n" in text

    def test_refuted_section_has_the_counterexample_as_json(self, report):
        text = report_to_markdown(report)
        section = text.split("## Refuted claims\n", 1)[1].split("\n## ", 1)[0]
        lines = section.splitlines()
        # The statement's whitespace folded; the counterexample as an indented JSON block.
        assert lines[:8] == ["", "### PMR-A3 (App A.3)", "", "Claim: Every x satisfies x = 3.", "", "Counterexample:",
                             "", "```json"]
        assert lines[-1] == "```" and lines[9] == '  "inputs": {'
        assert json.loads("\n".join(lines[8:-1])) == COUNTEREXAMPLE

    def test_errored_section_has_the_traceback(self, report):
        text = report_to_markdown(report)
        section = text.split("## Checks that errored\n", 1)[1]
        assert section == ("\n### MOD-T2\n\n```text\nZeroDivisionError: division by zero\n" + TRACEBACK + "```\n")

    def test_no_empty_sections(self):
        text = report_to_markdown(Report("1", [outcome("PMR-T1", HOLDS, backing="proof", seconds=0.5)]))
        assert "## " not in text  # no beside/refuted/mutants/errored section without content
        assert "1 claim in 0.50 s: 1 holds, 0 holds-with-condition" in text  # singular "claim"
        assert text.endswith("| PMR-T1 | §1 | claim | holds | proof | 0.50 |\n")

    def test_mutants_table(self):
        text = report_to_markdown(with_mutants())
        # 0.38 s: the variants' 0.25 + 0.125 s, apart from the claims' 2.00 s.
        assert "2 claims in 2.00 s" in text
        assert "; mutants and repairs: 1 of 2 killed (0.38 s), 1 of 2 claims with at least one." in text
        section = text.split("## Mutants and repairs\n", 1)[1]
        assert section.splitlines() == [
            "",
            "Each check rerun on nearby statements: a mutant (false) must be refuted, a repair (the corrected "
            "statement of a refuted claim) must hold.",
            "",
            "| ID | variant | role | expected | verdict | killed | detail |",
            "|---|---|---|---|---|---|---|",
            '| PMR-P3.1 | 1 + 1 = 3: one and \\| one make three | mutant | refuted | refuted | yes | {"total": 3} |',
            "| PMR-P3.1 | weak: a weak variant | mutant | refuted | holds | NO | nothing: proof |",
            "| PMR-T1 | (none registered) | | | | no | |",
        ]

    def test_mutant_detail_is_cut_at_300_characters(self):
        long = VariantOutcome("m", "s", "mutant", REFUTED, REFUTED, True, 0.0, "x" * 301)
        fits = VariantOutcome("n", "s", "mutant", REFUTED, REFUTED, True, 0.0, "y" * 300)
        text = report_to_markdown(Report("1", [outcome("PMR-T1", HOLDS, backing="p", mutants=(long, fits),
                                                       variants_registered=2)], mutants_run=True))
        assert f"| {'x' * 299}… |" in text and "x" * 300 not in text
        assert f"| {'y' * 300} |" in text

    def test_backslash_and_pipe_escaped_in_cells(self):
        text = report_to_markdown(Report("1", [outcome("PMR-T1", HOLDS, backing="a\\b | c", where="")]))
        assert "| PMR-T1 |  | claim | holds | a\\\\b \\| c | 0.00 |" in text

    def test_incomplete_run_is_flagged(self):
        text = report_to_markdown(Report("1", [], complete=False))
        assert "pmtheory 1. 0 claims in 0.00 s: 0 holds, 0 holds-with-condition, 0 refuted, 0 vacuous, 0 answered, " \
               "0 error, 0 not-checked; INCOMPLETE (interrupted)." in text


PROVENANCE = {"mode": "quick", "mutants": True, "pmtheory_version": "9.9.9",
              "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True},
              "hypothesis_profile": "default", "seeds": "fixed in each check",
              "versions": {"python": "3.11.7", "numpy": "2.0.0", "torch": None},
              "platform": "Linux-x86_64", "started_utc": "2026-01-01T10:00:00+00:00", "seconds": 12.345}


class TestProvenance:
    def test_json_has_it_whole(self):
        data = report_to_json(Report("9.9.9", [], provenance=PROVENANCE))
        assert data["provenance"] == PROVENANCE
        assert list(data) == REPORT_KEYS

    def test_markdown_section_written_out(self):
        text = report_to_markdown(Report("9.9.9", [outcome("PMR-T1", HOLDS, backing="proof")],
                                         provenance=PROVENANCE))
        section = text.split("## Provenance\n", 1)[1]
        assert section.splitlines() == [
            "",
            "- Run: quick run, with mutants and repairs; started 2026-01-01T10:00:00+00:00 (UTC), took 12.35 s.",
            "- pmtheory 9.9.9 (git commit 0123456789abcdef0123456789abcdef01234567 with uncommitted changes).",
            "- Versions: python 3.11.7, numpy 2.0.0, torch not installed.",
            "- Platform: Linux-x86_64.",
            "- Seeds: fixed in each check; hypothesis profile loaded: default.",
        ]

    def test_markdown_outside_a_checkout(self):
        provenance = {key: value for key, value in PROVENANCE.items() if key != "git"} | {"mode": "full",
                                                                                           "mutants": False}
        text = report_to_markdown(Report("9.9.9", [], provenance=provenance))
        assert "- Run: full run; started" in text
        assert "- pmtheory 9.9.9 (not a git checkout)." in text

    def test_no_section_without_provenance(self, report):
        assert "Provenance" not in report_to_markdown(report)


class TestTable:
    def test_layout_written_out(self, report):
        # id column 8 (PMR-P3.1), verdict 20 (holds-with-condition), seconds 7 ("seconds"),
        # two spaces between columns: the detail column has 65 − 8 − 20 − 7 − 6 = 24 characters.
        lines = report_to_table(report, width=65).splitlines()
        assert lines == [
            "ID        verdict               seconds  condition / backing",
            "--------  --------------------  -------  -------------------",
            "PMR-P3.1  holds                    1.25  symbolic proof",
            "PMR-T1    holds-with-condition     0.50  β > 0 | and q > 0 [back…",
            'PMR-A3    refuted                  2.00  counterexample {"x": 2,…',
            "MOD-P1    vacuous                  0.25  vacuous: the hypothesis…",
            "IIA-SEC7  answered                 0.75  Yes: P(M1) → 1. [backin…",
            "MOD-T2    error                    0.50  ZeroDivisionError: divi…",
            "BRG-SEQ   not-checked              0.00",
            "",
            "7 claims in 5.25 s: 1 holds, 1 holds-with-condition, 1 refuted, 1 vacuous, 1 answered, 1 error, "
            "1 not-checked",
        ]

    @pytest.mark.parametrize("width", [65, 80, 100, 237])
    def test_every_row_fits_and_long_details_fill_the_width(self, report, width):
        lines = report_to_table(report, width=width).splitlines()
        assert all(len(line) <= width for line in lines[:-1])  # the summary line is not cut
        detail = ("β > 0 | and q > 0 [backing: 500 property examples] [beside the verdict: 1 proof gap, 2 readings, "
                  "2 conventions]")  # PMR-T1's, 111 characters
        detail_width = width - 8 - 20 - 7 - 6
        long_row = lines[3]
        assert long_row == "PMR-T1    holds-with-condition     0.50  " + (
            detail if len(detail) <= detail_width else detail[:detail_width - 1] + "…")
        assert len(long_row) == (width if detail_width < len(detail) else 41 + len(detail))

    def test_default_width_is_100(self, report):
        assert report_to_table(report) == report_to_table(report, width=100)

    def test_wider_seconds_column(self):
        text = report_to_table(Report("1", [outcome("PMR-T1", HOLDS, backing="proof", seconds=12345.678)]))
        assert text.splitlines()[2] == "PMR-T1  holds                 12345.68  proof"

    def test_mutation_and_incomplete_in_the_summary(self):
        summary = report_to_table(with_mutants()).splitlines()[-1]
        assert summary.endswith("; mutants and repairs: 1 of 2 killed (0.38 s), 1 of 2 claims with at least one")
        incomplete = Report("1", [outcome("PMR-T1", HOLDS, backing="p")], complete=False)
        assert report_to_table(incomplete).splitlines()[-1].endswith("0 not-checked; INCOMPLETE (interrupted)")

    def test_non_finite_seconds(self):
        text = report_to_table(Report("1", [outcome("PMR-T1", HOLDS, backing="proof", seconds=math.nan)]))
        assert text.splitlines()[2] == "PMR-T1  holds                     nan  proof"
        assert text.splitlines()[-1].startswith("1 claim in nan s:")

    @pytest.mark.parametrize("width", [64, 0, -100])
    def test_too_narrow(self, report, width):
        with pytest.raises(ValueError, match=f"^width must be at least 65 characters, got {width}$"):
            report_to_table(report, width=width)

    @pytest.mark.parametrize("width", [True, 80.0, "80", None])
    def test_width_must_be_an_int(self, report, width):
        with pytest.raises(TypeError, match="^width must be an int, got "):
            report_to_table(report, width=width)


class TestRejectsOtherObjects:
    @pytest.mark.parametrize("render", [report_to_json, report_to_json_text, report_to_markdown, report_to_table])
    def test_names_the_expected_type(self, render):
        with pytest.raises(TypeError, match="^report must be a pmtheory.claims.Report, got a list$"):
            render(every_verdict())


def test_hand_built_counterexamples_render_in_every_format():
    """A ClaimOutcome built by hand (not by the runner) may carry numpy values and infinities in
    its counterexample; the markdown report and the table convert them as the JSON report does."""
    import numpy as np

    from pmtheory.claims import ClaimOutcome, Report
    from pmtheory.report import report_to_json, report_to_markdown, report_to_table

    counterexample = {"inputs": {"x": np.inf, "v": np.array([1.0, 2.0])}, "predicted": 1, "computed": 2,
                      "recheck": {"method": "m", "computed": 2, "agrees": True}}
    report = Report("1", [ClaimOutcome("PMR-T1", "refuted", None, ("exact",), {}, counterexample, 0.0, "", "Thm 1",
                                       "s")])
    assert report_to_json(report)["claims"][0]["counterexample"]["inputs"] == {"x": "inf", "v": [1.0, 2.0]}
    assert '"x": "inf"' in report_to_markdown(report)
    assert '{"x": "inf", "v": [1.0, 2.0]}' in report_to_table(report)
