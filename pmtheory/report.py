"""Rendering a claims :class:`~pmtheory.claims.Report` as JSON data, markdown and a terminal table.

Everything here is generated from the report: no verdict, condition or number is written by
hand. The three forms:

- :func:`report_to_json`: the machine-readable report,
  ``{"pmtheory_version", "claims": [{"id", "verdict", "condition", "methods", "evidence",
  "counterexample", "seconds", "backing", "where", "statement"}]}``, strict JSON (no NaN).
- :func:`report_to_markdown`: a table of every claim, then one section per refuted claim
  with its counterexample as a JSON block, and one per errored check.
- :func:`report_to_table`: fixed-width columns for a terminal, and a summary line with the
  count of each verdict.
"""

from __future__ import annotations

import json

from pmtheory.claims import ERROR
from pmtheory.claims import HOLDS
from pmtheory.claims import HOLDS_WITH_CONDITION
from pmtheory.claims import REFUTED
from pmtheory.claims import VERDICTS
from pmtheory.claims import ClaimOutcome
from pmtheory.claims import Report
from pmtheory.claims import to_jsonable

__all__ = [
    "report_to_json",
    "report_to_json_text",
    "report_to_markdown",
    "report_to_table",
]

# The narrowest terminal table still laid out in columns: ID, verdict and seconds take about
# 45 characters, and a detail column narrower than 20 says nothing.
_MIN_TABLE_WIDTH = 65


def _check_report(report) -> None:
    if not isinstance(report, Report):
        raise TypeError(f"report must be a pmtheory.claims.Report, got a {type(report).__name__}")


def report_to_json(report: Report) -> dict:
    """The report as JSON data (dicts, lists, strings, numbers; NaN/inf already strings).

    Schema: ``{"pmtheory_version": str, "claims": [{"id": str, "verdict": str, "condition":
    str | None, "methods": [str], "evidence": dict, "counterexample": dict | None, "seconds":
    float, "backing": str, "where": str, "statement": str}]}``, claims in run order.
    """
    _check_report(report)
    claims = [
        {
            "id": outcome.id,
            "verdict": outcome.verdict,
            "condition": outcome.condition,
            "methods": list(outcome.methods),
            "evidence": to_jsonable(outcome.evidence, f"{outcome.id} evidence"),
            "counterexample": to_jsonable(outcome.counterexample, f"{outcome.id} counterexample"),
            "seconds": to_jsonable(outcome.seconds, f"{outcome.id} seconds"),
            "backing": outcome.backing,
            "where": outcome.where,
            "statement": outcome.statement,
        }
        for outcome in report.claims
    ]
    return {"pmtheory_version": report.pmtheory_version, "claims": claims}


def report_to_json_text(report: Report) -> str:
    """:func:`report_to_json` as strict JSON text (indented, UTF-8 characters kept, newline-terminated)."""
    return json.dumps(report_to_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _summary(report: Report) -> str:
    counts = report.counts()
    total_seconds = sum(outcome.seconds for outcome in report.claims)
    noun = "claim" if len(report.claims) == 1 else "claims"
    parts = ", ".join(f"{counts[verdict]} {verdict}" for verdict in VERDICTS)
    return f"{len(report.claims)} {noun} in {total_seconds:.2f} s: {parts}"


def _detail(outcome: ClaimOutcome) -> str:
    """The condition / backing column: what the verdict rests on, in one line."""
    if outcome.verdict == HOLDS_WITH_CONDITION:
        return f"{outcome.condition} [backing: {outcome.backing}]"
    if outcome.verdict == HOLDS:
        return outcome.backing
    if outcome.verdict == REFUTED:
        recheck = outcome.counterexample["recheck"]["method"]
        inputs = json.dumps(outcome.counterexample["inputs"], ensure_ascii=False)
        return f"counterexample {inputs}, confirmed by {recheck}"
    if outcome.verdict == ERROR:
        return f"{outcome.evidence.get('exception_type', 'error')}: {outcome.evidence.get('message', '')}"
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _markdown_cell(text: str) -> str:
    return _one_line(text).replace("\\", "\\\\").replace("|", "\\|")


def report_to_markdown(report: Report) -> str:
    """The report as markdown: a table (ID, where, verdict, condition / backing, seconds), then
    a section per refuted claim with its counterexample as a JSON code block, then a section
    per errored check with its exception."""
    _check_report(report)
    lines = [
        "# pmtheory claim verdicts",
        "",
        f"pmtheory {report.pmtheory_version}. {_summary(report)}.",
        "",
        "| ID | where | verdict | condition / backing | seconds |",
        "|---|---|---|---|---:|",
    ]
    for outcome in report.claims:
        cells = (outcome.id, outcome.where, outcome.verdict, _detail(outcome), f"{outcome.seconds:.2f}")
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    refuted = [outcome for outcome in report.claims if outcome.verdict == REFUTED]
    if refuted:
        lines += ["", "## Refuted claims"]
        for outcome in refuted:
            counterexample = json.dumps(outcome.counterexample, indent=2, ensure_ascii=False, allow_nan=False)
            lines += [
                "",
                f"### {outcome.id}" + (f" ({outcome.where})" if outcome.where else ""),
                "",
                f"Claim: {_one_line(outcome.statement)}",
                "",
                "Counterexample:",
                "",
                "```json",
                counterexample,
                "```",
            ]
    errored = [outcome for outcome in report.claims if outcome.verdict == ERROR]
    if errored:
        lines += ["", "## Checks that errored"]
        for outcome in errored:
            lines += ["", f"### {outcome.id}", "", "```text", _detail(outcome)]
            if outcome.evidence.get("traceback"):
                lines.append(outcome.evidence["traceback"].rstrip("\n"))
            lines.append("```")
    return "\n".join(lines) + "\n"


def _fit(text: str, width: int) -> str:
    text = _one_line(text)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def report_to_table(report: Report, *, width: int = 100) -> str:
    """The report as a fixed-width terminal table and a summary line.

    Columns: ID, verdict, seconds, condition / backing (cut to fit ``width`` characters).
    The last line counts the claims of each verdict.

    Args:
      report: the run's report.
      width: the line width to fit, at least 65.
    """
    _check_report(report)
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"width must be an int, got {width!r}")
    if width < _MIN_TABLE_WIDTH:
        raise ValueError(f"width must be at least {_MIN_TABLE_WIDTH} characters, got {width}")
    id_width = max([len("ID")] + [len(outcome.id) for outcome in report.claims])
    verdict_width = max(len(verdict) for verdict in VERDICTS)
    seconds_width = max([len("seconds")] + [len(f"{outcome.seconds:.2f}") for outcome in report.claims])
    detail_width = max(width - id_width - verdict_width - seconds_width - 6, 1)

    def row(claim_id: str, verdict: str, seconds: str, detail: str) -> str:
        columns = (f"{claim_id:<{id_width}}", f"{verdict:<{verdict_width}}", f"{seconds:>{seconds_width}}",
                   _fit(detail, detail_width))
        return "  ".join(columns).rstrip()

    lines = [row("ID", "verdict", "seconds", "condition / backing")]
    lines.append(row("-" * id_width, "-" * verdict_width, "-" * seconds_width, "-" * min(detail_width, 19)))
    for outcome in report.claims:
        lines.append(row(outcome.id, outcome.verdict, f"{outcome.seconds:.2f}", _detail(outcome)))
    lines.append("")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"
