"""The checks section of ``pmtheory bench --checks`` (issue 17): how long ``pmtheory verify`` takes.

It runs the checks of every installed paper's claims (or of those ``--checks ID ...``
selects) in this process, as ``pmtheory verify`` does (full; ``--quick``: the quick checks CI
runs), times each, and reports the total against issue 17's bar (a full run of every claim
within 4 minutes on the 2-core bench machine; other runs have no bar) and the five slowest
checks. Off unless ``--checks`` is given: a full run takes minutes.
A check that errors is listed with its time; it does not change the bench's exit status.
"The module doc" below is that of :mod:`pmtheory.bench`.
"""

from __future__ import annotations

from typing import Callable

from pmtheory.bench._common import _Settings
from pmtheory.bench._output import _Column, _format_number

# Issue 17: the full verify stays under 4 minutes on the 2-core bench machine.
CHECKS_BAR_SECONDS = 240.0
# How many of the slowest checks the table lists.
SLOWEST = 5


def _checks_rows(settings: _Settings, progress: Callable[[str], None]) -> tuple[list[dict], list[dict]]:
    """The total row and the ``SLOWEST`` slowest checks' rows, and the bar on the total (full run only)."""
    from pmtheory.claims import run_claims

    if settings.checks is None:
        return [], []
    mode = "quick" if settings.quick else "full"
    every = not settings.checks

    def report_progress(index, total, claim_id, outcome):
        if outcome is not None:
            progress(f"checks ({mode}): {index}/{total} {claim_id} {outcome.verdict} in {outcome.seconds:.1f} s")

    report = run_claims(settings.checks or None, quick=settings.quick, progress=report_progress)
    total = float(report.provenance["seconds"])
    slowest = sorted(report.claims, key=lambda outcome: outcome.seconds, reverse=True)[:SLOWEST]
    rows = [{"section": "checks", "status": "ok", "name": f"all {len(report.claims)} checks", "mode": mode,
             "seconds": total, "verdict": "-"}]
    rows += [{"section": "checks", "status": "ok", "name": outcome.id, "mode": mode, "seconds": float(outcome.seconds),
              "verdict": outcome.verdict} for outcome in slowest]
    bars = []
    if every and not settings.quick:
        status = "PASS" if total <= CHECKS_BAR_SECONDS else "FAIL"
        bars.append({"section": "checks", "name": f"pmtheory verify (full) ≤ {CHECKS_BAR_SECONDS:g} s",
                     "status": status, "measured": total, "threshold": CHECKS_BAR_SECONDS,
                     "detail": f"{total:.1f} s for {len(report.claims)} checks; slowest: "
                               + ", ".join(f"{outcome.id} {outcome.seconds:.1f} s" for outcome in slowest)})
    return rows, bars


_CHECKS_COLUMNS = (
    _Column("check", 28, lambda row: str(row["name"])),
    _Column("verdict", 20, lambda row: str(row["verdict"])),
    _Column("mode", 5, lambda row: str(row["mode"])),
    _Column("seconds", 9, lambda row: _format_number(row["seconds"], ".1f")),
)


def _checks_note(settings: _Settings) -> str:
    if settings.checks is None:
        return "off: pass --checks (runs every check as pmtheory verify does, and lists the 5 slowest; minutes)."
    if settings.quick or settings.checks:
        which = "the quick checks (as CI runs them)" if settings.quick else "the full checks of the selected claims"
        return f"{which}, in this process; the 4-minute bar applies to the full run of every claim only."
    return (f"the full checks, in this process, with the total against issue 17's bar ({CHECKS_BAR_SECONDS:g} s) "
            f"and the {SLOWEST} slowest.")
