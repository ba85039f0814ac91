"""The verifier core: the verdict a check returns, catalogue rows, and the registry that runs
the checks of every paper.

Every formal statement of a paper pmtheory checks has a stable ID (``PMR-P3.1``, ``IIA-E12``,
``MOD-T4``, ``BRG-SEQ``, ...) and a row in the paper's catalogue, with a *kind*: a ``claim`` the
paper asserts, or a ``question`` it raises without asserting an answer. A paper
(:class:`pmtheory.papers.Paper`) holds its catalogue and registers one check per ID::

    @PAPER.check("TOY-1", mutants=[mutant("1 + 1 = 3", "one and one make three", total=3)])
    def check_toy_1(*, quick: bool, total: int = 2) -> CheckResult:
        return holds({"sum": 1 + 1}, backing="integer arithmetic") if 1 + 1 == total else refuted(...)

The module layout, by concern:

- :mod:`pmtheory.claims.verdicts`: the verdicts, :class:`CheckResult` and its constructors
  (:func:`holds`, :func:`holds_with_condition`, :func:`refuted`, :func:`vacuous`,
  :func:`answered`), what is recorded beside a verdict (:class:`ProofGap`, :class:`Reading`,
  :class:`Convention`), and mutants and repairs (:class:`Variant`).
- :mod:`pmtheory.claims.catalogue`: :class:`ClaimInfo` rows and selecting them by ID or glob.
- :mod:`pmtheory.claims.outcomes`: :class:`ClaimOutcome` and :class:`Report`.
- :mod:`pmtheory.claims.registry`: :class:`Registry` and :func:`run_claims`.
- :mod:`pmtheory.claims.jsonable`: :func:`to_jsonable`, so every report is strict JSON.

Sources: the verdict rules are the project's ``shared/CLAIMS.md``; the catalogues are
transcribed from it beside each paper (``pmtheory/<paper>/catalogue.py``).
"""

from pmtheory.claims.catalogue import METHOD_WORDS, ClaimInfo, UnknownClaimError, select_claim_ids
from pmtheory.claims.jsonable import to_jsonable
from pmtheory.claims.outcomes import ClaimOutcome, Report
from pmtheory.claims.registry import Registry, default_registry, pmtheory_version, run_claims
from pmtheory.claims.verdicts import (
    ANSWERED,
    CLAIM,
    ERROR,
    HOLDS,
    HOLDS_WITH_CONDITION,
    KINDS,
    MUTANT,
    NOT_CHECKED,
    QUESTION,
    REFUTED,
    REPAIR,
    VACUOUS,
    VERDICTS,
    VERDICTS_FOR_KIND,
    CheckResult,
    Convention,
    ProofGap,
    Reading,
    Variant,
    VariantOutcome,
    answered,
    holds,
    holds_with_condition,
    mutant,
    refuted,
    repair,
    vacuous,
)

__all__ = [
    "ANSWERED",
    "CLAIM",
    "ERROR",
    "HOLDS",
    "HOLDS_WITH_CONDITION",
    "KINDS",
    "METHOD_WORDS",
    "MUTANT",
    "NOT_CHECKED",
    "QUESTION",
    "REFUTED",
    "REPAIR",
    "VACUOUS",
    "VERDICTS",
    "VERDICTS_FOR_KIND",
    "CheckResult",
    "ClaimInfo",
    "ClaimOutcome",
    "Convention",
    "ProofGap",
    "Reading",
    "Registry",
    "Report",
    "UnknownClaimError",
    "Variant",
    "VariantOutcome",
    "answered",
    "default_registry",
    "holds",
    "holds_with_condition",
    "mutant",
    "pmtheory_version",
    "refuted",
    "repair",
    "run_claims",
    "select_claim_ids",
    "to_jsonable",
    "vacuous",
]
