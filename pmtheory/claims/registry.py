"""The registry of papers and the runner of their checks.

A :class:`Registry` holds papers (:class:`pmtheory.papers.Paper`); the package's default one
(:func:`default_registry`) holds every paper registered under the entry-point group
``pmtheory.papers``. :meth:`Registry.run` runs the checks of the selected claims and collects
a :class:`~pmtheory.claims.Report`, adding two verdicts of its own: ``error`` (the check
raised, returned something other than a :class:`~pmtheory.claims.CheckResult`, or a verdict
its row's kind does not admit) and ``not-checked`` (no check is registered for the ID).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import importlib.metadata
import json
import time
import traceback
from collections.abc import Callable, Iterable

import numpy as np

from pmtheory.claims.catalogue import ClaimInfo, select_claim_ids, suggestion
from pmtheory.claims.outcomes import ClaimOutcome, Report
from pmtheory.claims.provenance import run_provenance
from pmtheory.claims.verdicts import (
    CLAIM,
    ERROR,
    NOT_CHECKED,
    REFUTED,
    CheckResult,
    Variant,
    VariantOutcome,
)

__all__ = ["Registry", "default_registry", "pmtheory_version", "run_claims"]

# How many of the innermost traceback entries an ``error`` outcome keeps: enough to show
# the failing line of the check and the library call under it, short enough for a report.
_TRACEBACK_ENTRIES = 8

# The version reported when pmtheory runs from a source tree that was never installed.
_FALLBACK_VERSION = "0.1.0"

# A progress callback: (1-based index, total, claim ID, None before the check / its outcome after).
Progress = Callable[[int, int, str, "ClaimOutcome | None"], None]


def pmtheory_version() -> str:
    """The installed pmtheory version (``importlib.metadata``), or "0.1.0" when not installed."""
    try:
        return importlib.metadata.version("pmtheory")
    except importlib.metadata.PackageNotFoundError:
        return _FALLBACK_VERSION


class Registry:
    """Papers, the checks they register, and the runner of those checks.

    Args:
      papers: the papers, in the order their claims are listed and run.

    Raises:
      PaperError: two different papers share a prefix.
      TypeError: an item is not a :class:`~pmtheory.papers.Paper`.
    """

    def __init__(self, papers: Iterable = ()) -> None:
        self._papers: dict = {}
        if isinstance(papers, (str, bytes)):
            raise TypeError(f"papers must be a list of pmtheory.papers.Paper, got {papers!r}")
        for paper in papers:
            self.add(paper)

    def add(self, paper) -> None:
        """Add ``paper`` (adding the same paper twice is a no-op).

        Raises:
          PaperError: another paper has the same prefix.
          TypeError: ``paper`` is not a :class:`~pmtheory.papers.Paper`.
        """
        from pmtheory.papers import Paper, PaperError

        if not isinstance(paper, Paper):
            raise TypeError(f"paper must be a pmtheory.papers.Paper, got {paper!r}")
        known = self._papers.get(paper.prefix)
        if known is paper:
            return
        if known is not None:
            raise PaperError(f"two papers use the prefix {paper.prefix!r}: {known.title!r} ({known.citation}) and "
                             f"{paper.title!r} ({paper.citation}); give the new one another prefix")
        self._papers[paper.prefix] = paper

    @property
    def papers(self) -> tuple:
        """The papers, in order."""
        return tuple(self._papers.values())

    @property
    def catalogue(self) -> tuple[ClaimInfo, ...]:
        """Every paper's rows, paper by paper, each in catalogue order."""
        return tuple(info for paper in self._papers.values() for info in paper.claims)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every claim ID, in catalogue order."""
        return tuple(info.id for info in self.catalogue)

    def paper_of(self, claim_id: str):
        """The paper whose catalogue has ``claim_id``.

        Raises:
          TypeError: ``claim_id`` is not a string.
          ValueError: no paper has that claim (the message suggests close IDs).
        """
        if not isinstance(claim_id, str):
            raise TypeError(f"claim_id must be a claim ID string such as 'PMR-P3.1', got {claim_id!r}")
        paper = self._papers.get(claim_id.split("-", 1)[0])
        if paper is None or claim_id not in paper.ids:
            raise ValueError(f"claim_id {claim_id!r} is not in the catalogue{suggestion(claim_id, self.ids)}")
        return paper

    def claim_info(self, claim_id: str) -> ClaimInfo:
        """The catalogue row of ``claim_id`` (errors as :meth:`paper_of`)."""
        return self.paper_of(claim_id).claim_info(claim_id)

    def registered_ids(self) -> tuple[str, ...]:
        """The IDs that have a check, in catalogue order."""
        return tuple(claim_id for paper in self._papers.values() for claim_id in paper.ids
                     if paper.check_for(claim_id) is not None)

    def check_for(self, claim_id: str):
        """The check registered for ``claim_id``, or None."""
        return self.paper_of(claim_id).check_for(claim_id)

    def variants_for(self, claim_id: str) -> tuple[Variant, ...]:
        """The mutants and repairs registered with ``claim_id``'s check (empty if none)."""
        return self.paper_of(claim_id).variants_for(claim_id)

    def figures(self) -> dict:
        """Every paper's figures, by name (:class:`~pmtheory.papers.FigureSpec`).

        Raises:
          PaperError: two papers register a figure of the same name.
        """
        from pmtheory.papers import PaperError

        figures: dict = {}
        for paper in self._papers.values():
            for name, spec in paper.figures.items():
                if name in figures:
                    raise PaperError(f"papers {figures[name].paper} and {paper.prefix} both register the figure "
                                     f"{name!r}; rename one")
                figures[name] = spec
        return figures

    def run(
        self,
        patterns: Iterable[str] | None = None,
        *,
        quick: bool = False,
        progress: Progress | None = None,
        mutants: bool = False,
    ) -> Report:
        """Run the checks of the claims matched by ``patterns``; see :func:`run_claims`."""
        if not isinstance(quick, (bool, np.bool_)):
            raise TypeError(f"quick must be a bool, got {quick!r}")
        if not isinstance(mutants, (bool, np.bool_)):
            raise TypeError(f"mutants must be a bool, got {mutants!r}")
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable (index, total, claim_id, outcome) or None, got {progress!r}")
        started, start = datetime.datetime.now(datetime.timezone.utc), time.perf_counter()  # loading included
        selected = select_claim_ids(patterns, self.ids)  # before any import: typos fail fast
        for prefix in dict.fromkeys(claim_id.split("-", 1)[0] for claim_id in selected):
            self._papers[prefix].load()
        outcomes: list[ClaimOutcome] = []

        def report(complete: bool) -> Report:
            version = pmtheory_version()
            provenance = run_provenance(quick=bool(quick), mutants=bool(mutants), started=started,
                                        seconds=time.perf_counter() - start, pmtheory_version=version)
            return Report(pmtheory_version=version, claims=outcomes, mutants_run=bool(mutants), complete=complete,
                          provenance=provenance)

        try:
            for index, claim_id in enumerate(selected, start=1):
                if progress is not None:
                    progress(index, len(selected), claim_id, None)
                paper = self.paper_of(claim_id)
                outcome = self._run_check(paper, paper.claim_info(claim_id), bool(quick))
                if mutants:
                    variant_outcomes = tuple(self._run_variant(paper, claim_id, variant, bool(quick))
                                             for variant in paper.variants_for(claim_id))
                    outcome = dataclasses.replace(outcome, mutants=variant_outcomes)
                outcomes.append(outcome)
                if progress is not None:
                    progress(index, len(selected), claim_id, outcome)
        except KeyboardInterrupt as interrupt:
            interrupt.partial_report = report(complete=False)
            raise
        return report(complete=True)

    def _run_check(self, paper, info: ClaimInfo, quick: bool) -> ClaimOutcome:
        check = paper.check_for(info.id)
        if check is None:
            return _outcome(info, NOT_CHECKED, evidence={}, seconds=0.0)
        variants_registered = len(paper.variants_for(info.id))
        result, seconds, error = _call(info.id, check, info.kind, quick, {})
        if error is not None:
            return _outcome(info, ERROR, evidence=error, seconds=seconds, variants_registered=variants_registered)
        return _outcome(
            info,
            result.verdict,
            evidence=result.evidence,
            seconds=seconds,
            condition=result.condition,
            counterexample=result.counterexample,
            backing=result.backing,
            answer=result.answer,
            proof_gaps=result.proof_gaps,
            readings=result.readings,
            conventions=result.conventions,
            variants_registered=variants_registered,
        )

    def _run_variant(self, paper, claim_id: str, variant: Variant, quick: bool) -> VariantOutcome:
        # A variant is a statement, so it is judged as a claim even where the row is a question.
        result, seconds, error = _call(claim_id, paper.check_for(claim_id), CLAIM, quick, variant.params)
        if error is not None:
            verdict, detail = ERROR, f"{error['exception_type']}: {error['message']}"
        else:
            verdict = result.verdict
            detail = (json.dumps(result.counterexample["inputs"], ensure_ascii=False)
                      if result.verdict == REFUTED else (result.condition or result.backing))
        return VariantOutcome(name=variant.name, statement=variant.statement, role=variant.role,
                              expected=variant.expected, verdict=verdict, killed=verdict == variant.expected,
                              seconds=float(seconds), detail=" ".join(detail.split()))


def _call(claim_id: str, check, kind: str, quick: bool, params: dict) -> tuple[CheckResult | None, float, dict | None]:
    """Run one check; (result, seconds, None) or (None, seconds, error evidence)."""
    start = time.perf_counter()
    try:
        result = check(quick=quick, **params)
    except Exception as error:  # a failing check is reported, never fatal to the run
        return None, time.perf_counter() - start, _error_evidence(error)
    seconds = time.perf_counter() - start
    if not isinstance(result, CheckResult):
        module = getattr(check, "__module__", None) or "?"
        message = (
            f"the check of {claim_id} ({module}.{getattr(check, '__qualname__', repr(check))}) returned a "
            f"{type(result).__name__}, expected a CheckResult (use holds, holds_with_condition, refuted, vacuous "
            "or answered)"
        )
        return None, seconds, {"exception_type": "TypeError", "message": message, "traceback": ""}
    try:
        result.validate_for(kind)
    except ValueError as error:
        return None, seconds, {"exception_type": "ValueError", "message": f"{claim_id}: {error}", "traceback": ""}
    return result, seconds, None


def _outcome(info: ClaimInfo, verdict: str, *, evidence: dict, seconds: float, **fields) -> ClaimOutcome:
    return ClaimOutcome(
        id=info.id,
        verdict=verdict,
        condition=fields.pop("condition", None),
        methods=info.methods,
        evidence=evidence,
        counterexample=fields.pop("counterexample", None),
        seconds=float(seconds),
        backing=fields.pop("backing", ""),
        where=info.where,
        statement=info.statement,
        kind=info.kind,
        **fields,
    )


def _error_evidence(error: BaseException) -> dict:
    frames = "".join(traceback.format_exception(error, limit=-_TRACEBACK_ENTRIES))
    return {"exception_type": type(error).__qualname__, "message": str(error), "traceback": frames}


@functools.cache
def default_registry() -> Registry:
    """The registry of every installed paper (:func:`pmtheory.papers.installed_papers`), built
    on the first call.

    Raises:
      PaperError: an installed paper does not load, or none is installed.
    """
    from pmtheory.papers import installed_papers

    return Registry(installed_papers())


def run_claims(
    patterns: Iterable[str] | None = None,
    *,
    quick: bool = False,
    progress: Progress | None = None,
    mutants: bool = False,
    registry: Registry | None = None,
) -> Report:
    """Run the registered checks of the selected claims and collect their verdicts.

    Each selected claim, in catalogue order, gets an outcome: the verdict its check returns
    (timed), ``error`` if the check raised (the evidence keeps the exception type, message and
    the innermost traceback entries), returned something other than a
    :class:`~pmtheory.claims.CheckResult`, or returned a verdict its row's kind does not admit
    (``answered`` for a claim, anything else for a question), and ``not-checked`` if no check
    is registered for it.

    Args:
      patterns: claim IDs or fnmatch globs such as "PMR-*" (case-sensitive); None or empty
        runs every claim of every paper.
      quick: passed to every check; a quick check runs fewer random instances, never a
        different kind of check.
      progress: called as ``progress(index, total, claim_id, None)`` before each check and
        ``progress(index, total, claim_id, outcome)`` after it; ``index`` counts from 1.
      mutants: also rerun each check on its registered mutants and repairs
        (:class:`~pmtheory.claims.Variant`); each outcome's ``mutants`` says which were killed.
      registry: the papers to run (default: :func:`default_registry`, every installed paper).

    Returns:
      A :class:`~pmtheory.claims.Report` with one outcome per selected claim, and its
      ``provenance`` (:func:`pmtheory.claims.provenance.run_provenance`): quick or full,
      versions, git commit, platform, start time and run time.

    Raises:
      UnknownClaimError (a ValueError): a pattern matches no catalogue ID (checked before any
        check runs); the message names it.
      KeyboardInterrupt: passed on, with the claims finished so far as its
        ``partial_report`` (a :class:`~pmtheory.claims.Report` with ``complete=False``).
    """
    registry = default_registry() if registry is None else registry
    return registry.run(patterns, quick=quick, progress=progress, mutants=mutants)
