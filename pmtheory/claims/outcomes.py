"""What a run gives: one :class:`ClaimOutcome` per selected claim, collected in a :class:`Report`."""

from __future__ import annotations

from dataclasses import dataclass, field

from pmtheory.claims.verdicts import CLAIM, ERROR, VERDICTS, Convention, ProofGap, Reading, VariantOutcome

__all__ = ["ClaimOutcome", "Report"]


@dataclass(frozen=True)
class ClaimOutcome:
    """What running (or not running) the check of one claim gave."""

    id: str  # the claim ID
    verdict: str  # one of VERDICTS
    condition: str | None  # holds-with-condition: the condition; vacuous: why; else None
    methods: tuple[str, ...]  # the catalogue's method words for the claim
    evidence: dict  # JSON-able evidence; for "error": exception_type, message, traceback
    counterexample: dict | None  # the rechecked counterexample of a refuted verdict, else None
    seconds: float  # wall-clock time the check took (0.0 when not checked)
    backing: str  # what backs the verdict; "" for refuted, error and not-checked
    where: str  # where the paper states the claim ("" for BRG)
    statement: str  # the claim, as the catalogue words it
    kind: str = CLAIM  # the catalogue row's kind: "claim" or "question"
    answer: str | None = None  # a question's one-sentence answer
    proof_gaps: tuple[ProofGap, ...] = ()
    readings: tuple[Reading, ...] = ()
    conventions: tuple[Convention, ...] = ()
    mutants: tuple[VariantOutcome, ...] = ()  # filled when the run included mutants
    variants_registered: int = 0  # how many mutants and repairs the claim's check registers


@dataclass(frozen=True)
class Report:
    """The outcomes of one run, in catalogue order."""

    pmtheory_version: str  # the version of pmtheory that produced it
    claims: list[ClaimOutcome] = field(default_factory=list)  # one outcome per selected claim
    mutants_run: bool = False  # whether the mutants and repairs were run too
    complete: bool = True  # False when the run was interrupted before every selected claim
    # Where the verdicts came from (pmtheory.claims.provenance.run_provenance): mode, versions,
    # git commit, platform, start time, run time. Empty for a report not made by a run.
    provenance: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many claims got each verdict, for every verdict word (zeros included)."""
        counts = dict.fromkeys(VERDICTS, 0)
        for outcome in self.claims:
            counts[outcome.verdict] += 1
        return counts

    def mutation(self) -> dict | None:
        """The run's mutants and repairs, or None when they were not run: ``{"claims_with_mutants":
        int, "claims_without": [IDs that register none], "killed": int, "total": int,
        "survivors": ["ID: name" of each one not killed]}``."""
        if not self.mutants_run:
            return None
        variants = [variant for outcome in self.claims for variant in outcome.mutants]
        return {
            "claims_with_mutants": sum(1 for outcome in self.claims if outcome.mutants),
            "claims_without": [outcome.id for outcome in self.claims if not outcome.variants_registered],
            "killed": sum(1 for variant in variants if variant.killed),
            "total": len(variants),
            "survivors": [f"{outcome.id}: {variant.name}" for outcome in self.claims
                          for variant in outcome.mutants if not variant.killed],
        }

    @property
    def has_errors(self) -> bool:
        """Whether any check errored (a refuted claim is a finding, not an error)."""
        return any(outcome.verdict == ERROR for outcome in self.claims)

    def outcome(self, claim_id: str) -> ClaimOutcome:
        """The outcome of ``claim_id``; ValueError if the run did not include it."""
        for outcome in self.claims:
            if outcome.id == claim_id:
                return outcome
        raise ValueError(f"claim_id {claim_id!r} is not in this report")
