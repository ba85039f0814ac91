"""Rendering a claims :class:`~pmtheory.claims.Report` as JSON data, markdown, HTML and a terminal table.

Everything here is generated from the report: no verdict, condition or number is written by
hand. The forms:

- :func:`report_to_json`: the machine-readable report (schema 3, see its docstring), strict
  JSON (no NaN).
- :func:`report_to_markdown`: the run's provenance, a table of every claim, then the proof gaps, readings and
  conventions recorded beside the verdicts, one section per refuted claim with its
  counterexample as a JSON block, the mutants and repairs when they were run, and one section
  per errored check.
- :func:`report_to_html`: one self-contained page: provenance, the verdict table filterable by
  paper and verdict, every claim's full record, and the figures embedded as PNG data.
- :func:`report_to_table`: fixed-width columns for a terminal, and a summary line with the
  count of each verdict.

:func:`claim_record_text` is the full record of one claim (``pmtheory show``): nothing cut.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from pmtheory.claims import (
    ANSWERED,
    ERROR,
    HOLDS,
    HOLDS_WITH_CONDITION,
    NOT_CHECKED,
    REFUTED,
    VACUOUS,
    VERDICTS,
    ClaimOutcome,
    Report,
    to_jsonable,
)

__all__ = [
    "REPORT_SCHEMA",
    "ReportFigure",
    "claim_record_text",
    "report_to_html",
    "report_to_json",
    "report_to_json_text",
    "report_to_markdown",
    "report_to_table",
]

# The version of the JSON report's layout (``report_to_json``); 2 added kinds, answers,
# proof gaps, readings, conventions and mutants; 3 added the top-level "provenance" object.
REPORT_SCHEMA = 3

# The narrowest terminal table still laid out in columns: ID, verdict and seconds take about
# 45 characters, and a detail column narrower than 20 says nothing.
_MIN_TABLE_WIDTH = 65


def _check_report(report) -> None:
    if not isinstance(report, Report):
        raise TypeError(f"report must be a pmtheory.claims.Report, got a {type(report).__name__}")


def report_to_json(report: Report) -> dict:
    """The report as JSON data (dicts, lists, strings, numbers; NaN/inf already strings).

    Schema 3::

        {"schema": 3, "pmtheory_version": str, "complete": bool,
         "provenance": {"mode": "quick" | "full", "mutants": bool, "pmtheory_version": str,
                        "git": {"commit": str, "dirty": bool} (only when run from a git checkout),
                        "hypothesis_profile": str | None, "seeds": str,
                        "versions": {"python", "numpy", "scipy", "sympy", "mpmath", "cvxpy",
                                     "clarabel", "scs", "hypothesis", "torch",
                                     "transformers": str | None (not installed)},
                        "platform": str, "started_utc": ISO 8601 str, "seconds": float}
                       ({} for a report not made by a run),
         "mutation": {"claims_with_mutants": int, "claims_without": [id], "killed": int,
                      "total": int, "survivors": ["ID: name"]} | None (mutants not run),
         "claims": [{"id", "verdict", "condition", "methods", "evidence", "counterexample",
                     "seconds", "backing", "where", "statement",
                     "kind": "claim" | "question", "answer": str | None,
                     "proof_gaps": [{"step", "finding", "witness"}],
                     "readings": [{"reading", "verdict", "condition"}],
                     "conventions": [{"convention", "verdict_otherwise", "otherwise"}],
                     "variants_registered": int,
                     "mutants": [{"name", "statement", "role", "expected", "verdict",
                                  "killed", "seconds", "detail"}] (empty unless run)}]}

    Verdict words: holds, holds-with-condition, refuted, vacuous, answered, error,
    not-checked. ``condition`` is the condition of holds-with-condition and the reason of
    vacuous. Claims are in run order; ``complete`` is False for an interrupted run.

    Changes: schema 3 added ``provenance`` (:mod:`pmtheory.claims.provenance`); nothing was
    removed or renamed, so a reader of schema 2 reads schema 3 by ignoring it.
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
            "kind": outcome.kind,
            "answer": outcome.answer,
            "proof_gaps": to_jsonable(list(outcome.proof_gaps), f"{outcome.id} proof_gaps"),
            "readings": to_jsonable(list(outcome.readings), f"{outcome.id} readings"),
            "conventions": to_jsonable(list(outcome.conventions), f"{outcome.id} conventions"),
            "variants_registered": outcome.variants_registered,
            "mutants": to_jsonable(list(outcome.mutants), f"{outcome.id} mutants"),
        }
        for outcome in report.claims
    ]
    return {"schema": REPORT_SCHEMA, "pmtheory_version": report.pmtheory_version, "complete": report.complete,
            "provenance": to_jsonable(report.provenance, "provenance"), "mutation": report.mutation(),
            "claims": claims}


def report_to_json_text(report: Report) -> str:
    """:func:`report_to_json` as strict JSON text (indented, UTF-8 characters kept, newline-terminated)."""
    return json.dumps(report_to_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _summary(report: Report) -> str:
    counts = report.counts()
    total_seconds = sum(outcome.seconds for outcome in report.claims)
    noun = "claim" if len(report.claims) == 1 else "claims"
    parts = ", ".join(f"{counts[verdict]} {verdict}" for verdict in VERDICTS)
    summary = f"{len(report.claims)} {noun} in {total_seconds:.2f} s: {parts}"
    mutation = report.mutation()
    if mutation is not None:
        variant_seconds = sum(variant.seconds for outcome in report.claims for variant in outcome.mutants)
        summary += (f"; mutants and repairs: {mutation['killed']} of {mutation['total']} killed "
                    f"({variant_seconds:.2f} s), {mutation['claims_with_mutants']} of {len(report.claims)} "
                    f"{noun} with at least one")
    if not report.complete:
        summary += "; INCOMPLETE (interrupted)"
    return summary


def _beside(outcome: ClaimOutcome) -> str:
    """What is recorded beside the verdict, counted in a few words."""
    parts = []
    for items, word in ((outcome.proof_gaps, "proof gap"), (outcome.readings, "reading"),
                        (outcome.conventions, "convention")):
        if items:
            parts.append(f"{len(items)} {word}{'s' if len(items) > 1 else ''}")
    return f" [beside the verdict: {', '.join(parts)}]" if parts else ""


def _detail(outcome: ClaimOutcome) -> str:
    """The condition / backing column: what the verdict rests on, in one line."""
    if outcome.verdict == HOLDS_WITH_CONDITION:
        text = f"{outcome.condition} [backing: {outcome.backing}]"
    elif outcome.verdict == VACUOUS:
        text = f"vacuous: {outcome.condition} [backing: {outcome.backing}]"
    elif outcome.verdict == ANSWERED:
        text = f"{outcome.answer} [backing: {outcome.backing}]"
    elif outcome.verdict == HOLDS:
        text = outcome.backing
    elif outcome.verdict == REFUTED:
        recheck = outcome.counterexample["recheck"]["method"]
        inputs = json.dumps(to_jsonable(outcome.counterexample["inputs"], f"{outcome.id} counterexample inputs"),
                            ensure_ascii=False, allow_nan=False)
        text = f"counterexample {inputs}, confirmed by {recheck}"
    elif outcome.verdict == ERROR:
        return f"{outcome.evidence.get('exception_type', 'error')}: {outcome.evidence.get('message', '')}"
    else:
        return ""
    return text + _beside(outcome)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _markdown_cell(text: str) -> str:
    return _one_line(text).replace("\\", "\\\\").replace("|", "\\|")


def _provenance_sentences(provenance: dict) -> list[str]:
    """A run's provenance as sentences, one per fact (empty for a report not made by a run)."""
    if not provenance:
        return []
    mode = provenance.get("mode", "?") + (" run, with mutants and repairs" if provenance.get("mutants") else " run")
    git = provenance.get("git")
    source = (f"git commit {git['commit']}" + (" with uncommitted changes" if git.get("dirty") else "")
              if git else "not a git checkout")
    sentences = [f"Run: {mode}; started {provenance.get('started_utc', '?')} (UTC), took "
                 f"{provenance.get('seconds', 0.0):.2f} s.",
                 f"pmtheory {provenance.get('pmtheory_version', '?')} ({source})."]
    versions = provenance.get("versions", {})
    if versions:
        sentences.append("Versions: " + ", ".join(f"{name} {version if version is not None else 'not installed'}"
                                                  for name, version in versions.items()) + ".")
    sentences.append(f"Platform: {provenance.get('platform', '?')}.")
    sentences.append(f"Seeds: {provenance.get('seeds', '?')}; hypothesis profile loaded: "
                     f"{provenance.get('hypothesis_profile') or 'none'}.")
    return sentences


def _provenance_lines(provenance: dict) -> list[str]:
    """The markdown lines of a run's provenance (empty for a report not made by a run)."""
    sentences = _provenance_sentences(provenance)
    return ["", "## Provenance", "", *(f"- {sentence}" for sentence in sentences)] if sentences else []


def report_to_markdown(report: Report) -> str:
    """The report as markdown: a table (ID, where, kind, verdict, condition / answer / backing,
    seconds); the run's provenance (mode, versions, git commit, platform, times); the proof
    gaps, readings and conventions beside the verdicts; a section per refuted claim with its
    counterexample as a JSON code block; the mutants and repairs when they were run; a section
    per errored check with its exception."""
    _check_report(report)
    lines = [
        "# pmtheory claim verdicts",
        "",
        f"pmtheory {report.pmtheory_version}. {_summary(report)}.",
        "",
        "| ID | where | kind | verdict | condition / answer / backing | seconds |",
        "|---|---|---|---|---|---:|",
    ]
    for outcome in report.claims:
        cells = (outcome.id, outcome.where, outcome.kind, outcome.verdict, _detail(outcome),
                 f"{outcome.seconds:.2f}")
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    lines += _provenance_lines(report.provenance)
    annotated = [outcome for outcome in report.claims
                 if outcome.proof_gaps or outcome.readings or outcome.conventions]
    if annotated:
        lines += ["", "## Beside the verdicts: proof gaps, readings, conventions", "",
                  "Recorded beside the verdict, never folded into it (shared/CLAIMS.md)."]
        for outcome in annotated:
            lines += ["", f"### {outcome.id}" + (f" ({outcome.where})" if outcome.where else ""),
                      "", f"Verdict: {outcome.verdict}.", ""]
            for gap in outcome.proof_gaps:
                witness = gap.witness if isinstance(gap.witness, str) else json.dumps(gap.witness, ensure_ascii=False)
                lines.append(f"- Proof gap at {_one_line(gap.step)}: {_one_line(gap.finding)} Witness: "
                             f"{_one_line(witness)}")
            for reading in outcome.readings:
                condition = f" ({_one_line(reading.condition)})" if reading.condition else ""
                lines.append(f"- Reading: {_one_line(reading.reading)} → {reading.verdict}{condition}")
            for convention in outcome.conventions:
                otherwise = f" under {_one_line(convention.otherwise)}" if convention.otherwise else ""
                lines.append(f"- Convention: {_one_line(convention.convention)}; the verdict would be "
                             f"{convention.verdict_otherwise}{otherwise}")
    refuted = [outcome for outcome in report.claims if outcome.verdict == REFUTED]
    if refuted:
        lines += ["", "## Refuted claims"]
        for outcome in refuted:
            counterexample = json.dumps(to_jsonable(outcome.counterexample, f"{outcome.id} counterexample"), indent=2,
                                        ensure_ascii=False, allow_nan=False)
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
    if report.mutants_run:
        lines += ["", "## Mutants and repairs", "",
                  "Each check rerun on nearby statements: a mutant (false) must be refuted, a repair (the "
                  "corrected statement of a refuted claim) must hold.", "",
                  "| ID | variant | role | expected | verdict | killed | detail |", "|---|---|---|---|---|---|---|"]
        for outcome in report.claims:
            if not outcome.mutants:
                lines.append(f"| {_markdown_cell(outcome.id)} | (none registered) | | | | no | |")
            for variant in outcome.mutants:
                cells = (outcome.id, f"{variant.name}: {variant.statement}", variant.role, variant.expected,
                         variant.verdict, "yes" if variant.killed else "NO", _fit(variant.detail, 300))
                lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
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


def _json_block(value, name: str) -> str:
    return json.dumps(to_jsonable(value, name), indent=2, ensure_ascii=False, allow_nan=False)


def claim_record_text(outcome: ClaimOutcome, *, title: str = "", citation: str = "") -> str:
    """The full record of one claim as plain text, nothing cut or folded (``pmtheory show``).

    Lines: the ID, ``where`` and kind; the paper's title and citation (when given); the
    statement and methods; the verdict and its seconds; the condition (holds-with-condition),
    the reason (vacuous) or the answer (answered); the backing; each proof gap, reading and
    convention; the evidence and the counterexample as indented JSON; for an errored check
    the exception and traceback.

    Args:
      outcome: the claim's outcome, from a run.
      title: the paper's title ("" leaves the line out).
      citation: the paper's citation (authors, year, arXiv ID).
    """
    if not isinstance(outcome, ClaimOutcome):
        raise TypeError(f"outcome must be a pmtheory.claims.ClaimOutcome, got a {type(outcome).__name__}")
    where = f" ({outcome.where})" if outcome.where else ""
    lines = [f"{outcome.id}{where}, {outcome.kind}"]
    if title or citation:
        lines.append("Paper: " + " - ".join(part for part in (title, citation) if part))
    lines += [f"Statement: {outcome.statement}", f"Methods: {', '.join(outcome.methods) or 'none'}", "",
              f"Verdict: {outcome.verdict} ({outcome.seconds:.2f} s)"]
    if outcome.verdict == HOLDS_WITH_CONDITION:
        lines.append(f"Condition: {outcome.condition}")
    elif outcome.verdict == VACUOUS:
        lines.append(f"Why vacuous: {outcome.condition}")
    if outcome.answer is not None:
        lines.append(f"Answer: {outcome.answer}")
    if outcome.backing:
        lines.append(f"Backing: {outcome.backing}")
    if outcome.verdict == NOT_CHECKED:
        lines.append("No check is registered for this claim.")
    for gap in outcome.proof_gaps:
        witness = gap.witness if isinstance(gap.witness, str) else _json_block(gap.witness, f"{outcome.id} witness")
        lines += [f"Proof gap at {gap.step}: {gap.finding}", f"Witness: {witness}"]
    for reading in outcome.readings:
        condition = f" ({reading.condition})" if reading.condition else ""
        lines.append(f"Reading: {reading.reading} -> {reading.verdict}{condition}")
    for convention in outcome.conventions:
        otherwise = f" under {convention.otherwise}" if convention.otherwise else ""
        lines.append(f"Convention: {convention.convention}; the verdict would be {convention.verdict_otherwise}"
                     f"{otherwise}")
    if outcome.verdict == ERROR:
        error = f"{outcome.evidence.get('exception_type', 'error')}: {outcome.evidence.get('message', '')}"
        lines += ["", f"Error: {error}"]
        if outcome.evidence.get("traceback"):
            lines.append(outcome.evidence["traceback"].rstrip("\n"))
    else:
        lines += ["", "Evidence:", _json_block(outcome.evidence, f"{outcome.id} evidence")]
    if outcome.counterexample is not None:
        lines += ["", "Counterexample:", _json_block(outcome.counterexample, f"{outcome.id} counterexample")]
    for variant in outcome.mutants:
        lines.append(f"Variant ({variant.role}) {variant.name}: {variant.statement} -> {variant.verdict}, expected "
                     f"{variant.expected}, {'killed' if variant.killed else 'NOT killed'}: {variant.detail}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFigure:
    """A figure to embed in the HTML report (:func:`report_to_html`).

    ``png`` holds the PNG file's bytes; ``error`` says why the figure could not be made (then
    ``png`` is empty and the report shows the error in its place).
    """

    name: str  # the figure's name, e.g. "pmr-fig2"
    title: str  # one line
    claims: tuple[str, ...] = ()  # the claim IDs it illustrates
    paper: str = ""  # the prefix of its paper
    png: bytes = b""
    error: str = ""


_VERDICT_COLOURS = {
    HOLDS: "#1a7f37", HOLDS_WITH_CONDITION: "#9a6700", REFUTED: "#cf222e", VACUOUS: "#8250df",
    ANSWERED: "#0969da", ERROR: "#82071e", NOT_CHECKED: "#57606a",
}

_HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 78em; padding: 0 1em; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1em; margin-bottom: 0.3em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { position: sticky; top: 0; background: #f6f8fa; }
td.seconds { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { white-space: nowrap; }
.verdict { font-weight: 600; white-space: nowrap; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; padding: 0.7em; font-size: 0.85em; }
#filters { margin: 1em 0; display: flex; gap: 1.5em; align-items: center; flex-wrap: wrap; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { font-size: 0.9em; margin-top: 0.3em; }
.figure-error { color: #82071e; }
"""

# The verdict and paper filters: the selection is kept in the address (#paper=PMR&verdict=refuted)
# so that a filtered view can be linked to. Without JavaScript everything is shown.
_HTML_SCRIPT = """
(function () {
  var paper = document.getElementById("filter-paper");
  var verdict = document.getElementById("filter-verdict");
  var count = document.getElementById("shown-count");
  function apply() {
    var shown = 0;
    document.querySelectorAll("[data-paper]").forEach(function (element) {
      var visible = (!paper.value || element.dataset.paper === paper.value) &&
        (!verdict.value || element.dataset.verdict === undefined || element.dataset.verdict === verdict.value);
      element.hidden = !visible;
      if (visible && element.classList.contains("claim-row")) { shown += 1; }
    });
    count.textContent = "showing " + shown + " of " + document.querySelectorAll(".claim-row").length + " claims";
    var wanted = new URLSearchParams();
    if (paper.value) { wanted.set("paper", paper.value); }
    if (verdict.value) { wanted.set("verdict", verdict.value); }
    try { history.replaceState(null, "", "#" + wanted.toString()); } catch (error) { /* some file:// pages */ }
  }
  var given = new URLSearchParams(location.hash.slice(1));
  [[paper, "paper"], [verdict, "verdict"]].forEach(function (pair) {
    var value = given.get(pair[1]);
    if (value !== null && Array.prototype.some.call(pair[0].options, function (o) { return o.value === value; })) {
      pair[0].value = value;
    }
    pair[0].addEventListener("change", apply);
  });
  apply();
})();
"""


def _html_options(element_id: str, label: str, values: list[tuple[str, str]]) -> str:
    options = "".join(f'<option value="{escape(value)}">{escape(text)}</option>' for value, text in values)
    return (f'<label>{escape(label)} <select id="{element_id}"><option value="">all</option>{options}'
            f"</select></label>")


def _html_figure(figure: ReportFigure) -> str:
    claims_text = f" Illustrates {', '.join(figure.claims)}." if figure.claims else ""
    caption = f"<figcaption><b>{escape(figure.name)}</b>: {escape(figure.title)}.{escape(claims_text)}</figcaption>"
    if figure.png:
        data = base64.b64encode(figure.png).decode("ascii")
        body = f'<img alt="{escape(figure.name)}: {escape(figure.title)}" src="data:image/png;base64,{data}">'
    else:
        body = f'<p class="figure-error">Not made: {escape(figure.error or "no image")}</p>'
    return (f'<figure id="figure-{escape(figure.name)}" class="report-figure" data-paper="{escape(figure.paper)}">'
            f"{body}{caption}</figure>")


def report_to_html(report: Report, *, figures: Iterable[ReportFigure] = (), papers: Iterable = (),
                   figures_note: str = "") -> str:
    """The report as one self-contained HTML page (``pmtheory verify --html``).

    The page holds the summary and the run's provenance; the verdict table, which a few lines of
    plain JavaScript filter by paper and by verdict (the choice is kept in the address,
    ``#paper=PMR&verdict=refuted``); each claim's full record as :func:`claim_record_text` prints it,
    nothing cut; and the figures, embedded as PNG data. Nothing is loaded from elsewhere.

    Args:
      report: the run's report.
      figures: the figures to embed, in order.
      papers: the papers of the run (objects with ``prefix``, ``title`` and ``citation``, such as
        :class:`pmtheory.papers.Paper`), for each record's citation and the paper filter's labels.
      figures_note: one sentence above the figures, e.g. why there are none.
    """
    _check_report(report)
    figures = list(figures)
    for figure in figures:
        if not isinstance(figure, ReportFigure):
            raise TypeError(f"figures must be pmtheory.report.ReportFigure items, got a {type(figure).__name__}")
    by_prefix = {paper.prefix: paper for paper in papers}
    prefixes = list(dict.fromkeys([outcome.id.split("-", 1)[0] for outcome in report.claims]
                                  + [figure.paper for figure in figures if figure.paper]))
    figures_of: dict[str, list[str]] = {}
    for figure in figures:
        for claim_id in figure.claims:
            figures_of.setdefault(claim_id, []).append(figure.name)

    def verdict_cell(verdict: str) -> str:
        colour = _VERDICT_COLOURS.get(verdict, "inherit")
        return f'<span class="verdict" style="color: {colour}">{escape(verdict)}</span>'

    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>pmtheory claim verdicts</title>", f"<style>{_HTML_STYLE}</style>", "</head>", "<body>",
             "<h1>pmtheory claim verdicts</h1>",
             f'<p id="summary">pmtheory {escape(report.pmtheory_version)}. {escape(_summary(report))}.</p>']
    papers_listed = [by_prefix[prefix] for prefix in prefixes if prefix in by_prefix]
    if papers_listed:
        parts.append("<ul>" + "".join(f"<li><b>{escape(paper.prefix)}</b>: {escape(paper.title)}. "
                                      f"{escape(paper.citation)}.</li>" for paper in papers_listed) + "</ul>")
    sentences = _provenance_sentences(report.provenance)
    if sentences:
        parts += ['<h2 id="provenance">Provenance</h2>',
                  "<ul>" + "".join(f"<li>{escape(sentence)}</li>" for sentence in sentences) + "</ul>"]
    counts = report.counts()
    parts += ['<h2 id="verdicts">Verdicts</h2>', '<div id="filters">',
              _html_options("filter-paper", "Paper", [(prefix, prefix) for prefix in prefixes]),
              _html_options("filter-verdict", "Verdict",
                            [(verdict, f"{verdict} ({counts[verdict]})") for verdict in VERDICTS if counts[verdict]]),
              f'<span id="shown-count">{len(report.claims)} claims</span>', "</div>",
              '<table id="verdict-table"><thead><tr><th>ID</th><th>where</th><th>kind</th><th>verdict</th>'
              "<th>condition / answer / backing</th><th>seconds</th></tr></thead><tbody>"]
    for outcome in report.claims:
        prefix = outcome.id.split("-", 1)[0]
        parts.append(f'<tr class="claim-row" data-id="{escape(outcome.id)}" data-paper="{escape(prefix)}" '
                     f'data-verdict="{escape(outcome.verdict)}"><td><a href="#claim-{escape(outcome.id)}">'
                     f"{escape(outcome.id)}</a></td><td>{escape(outcome.where)}</td><td>{escape(outcome.kind)}</td>"
                     f"<td>{verdict_cell(outcome.verdict)}</td><td>{escape(_detail(outcome))}</td>"
                     f'<td class="seconds">{outcome.seconds:.2f}</td></tr>')
    parts += ["</tbody></table>", '<h2 id="records">Claim records</h2>']
    for outcome in report.claims:
        prefix = outcome.id.split("-", 1)[0]
        paper = by_prefix.get(prefix)
        record = claim_record_text(outcome, title=getattr(paper, "title", ""), citation=getattr(paper, "citation", ""))
        links = ", ".join(f'<a href="#figure-{escape(name)}">{escape(name)}</a>'
                          for name in figures_of.get(outcome.id, ()))
        parts.append(f'<section class="claim-record" id="claim-{escape(outcome.id)}" data-paper="{escape(prefix)}" '
                     f'data-verdict="{escape(outcome.verdict)}"><h3>{escape(outcome.id)}: '
                     f"{verdict_cell(outcome.verdict)}</h3>" + (f"<p>Figures: {links}</p>" if links else "")
                     + f"<pre>{escape(record)}</pre></section>")
    parts.append('<h2 id="figures">Figures</h2>')
    if figures_note:
        parts.append(f"<p>{escape(figures_note)}</p>")
    parts += [_html_figure(figure) for figure in figures]
    parts += [f"<script>{_HTML_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"
