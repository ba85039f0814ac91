"""The verdict a check returns (:class:`CheckResult`), what it records beside the verdict, and
the mutants and repairs on which a check is rerun.

Verdicts (``shared/CLAIMS.md``, "Verdict rules"). For a row of kind ``claim``:

- ``holds``: true as the paper states it, under the paper's own hypotheses; ``backing`` says
  what backs a "for all" claim (a symbolic proof, N property examples, an enumeration).
- ``holds-with-condition``: true only under a condition the paper's hypotheses do not give
  (a substantive one, not a well-definedness the notation presumes); ``condition`` writes it.
- ``refuted``: false as stated: a concrete counterexample inside the paper's hypotheses,
  confirmed by an independent method (a second solver, exact arithmetic, a certificate).
- ``vacuous``: true only because its hypothesis can never be met; ``condition`` says why.

For a row of kind ``question``, the only verdict is ``answered``, with a one-sentence
``answer``. Beside any verdict, never folded into it: ``proof_gaps`` (:class:`ProofGap`),
``readings`` (:class:`Reading`) and ``conventions`` (:class:`Convention`). The runner adds
``error`` and ``not-checked`` (:mod:`pmtheory.claims.registry`).

A check earns nothing if it would say ``holds`` of a false statement. So each check reads the
statement it tests through keyword arguments whose defaults are the paper's, and registers
*mutants* (nearby false statements: the same check must return ``refuted``) and, for a
refuted claim, *repairs* (the corrected statement: it must return ``holds``): :class:`Variant`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pmtheory.claims.jsonable import to_jsonable

__all__ = [
    "ANSWERED",
    "CLAIM",
    "ERROR",
    "HOLDS",
    "HOLDS_WITH_CONDITION",
    "KINDS",
    "MUTANT",
    "NOT_CHECKED",
    "QUESTION",
    "REFUTED",
    "REPAIR",
    "VACUOUS",
    "VERDICTS",
    "VERDICTS_FOR_KIND",
    "CheckResult",
    "Convention",
    "ProofGap",
    "Reading",
    "Variant",
    "VariantOutcome",
    "answered",
    "holds",
    "holds_with_condition",
    "mutant",
    "refuted",
    "repair",
    "vacuous",
]

HOLDS = "holds"
HOLDS_WITH_CONDITION = "holds-with-condition"
REFUTED = "refuted"
VACUOUS = "vacuous"
ANSWERED = "answered"
ERROR = "error"
NOT_CHECKED = "not-checked"
# Every verdict word, in the order reports list them.
VERDICTS = (HOLDS, HOLDS_WITH_CONDITION, REFUTED, VACUOUS, ANSWERED, ERROR, NOT_CHECKED)
# The verdicts a check may return; the other two are the runner's.
_CHECK_VERDICTS = (HOLDS, HOLDS_WITH_CONDITION, REFUTED, VACUOUS, ANSWERED)

# The kinds of catalogue row (CLAIMS.md "Kinds"), and the verdicts each admits: a claim the
# paper asserts is judged; a question it only raises is answered, never refuted.
CLAIM = "claim"
QUESTION = "question"
KINDS = (CLAIM, QUESTION)
VERDICTS_FOR_KIND = {CLAIM: (HOLDS, HOLDS_WITH_CONDITION, REFUTED, VACUOUS), QUESTION: (ANSWERED,)}


# The keys a counterexample must have, and those of its recheck.
_COUNTEREXAMPLE_KEYS = ("inputs", "predicted", "computed", "recheck")
_RECHECK_KEYS = ("method", "computed", "agrees")


@dataclass(frozen=True)
class ProofGap:
    """A step of the paper's proof that fails, recorded beside the verdict (CLAIMS.md:
    ``proof_gaps``). A false step does not make a true statement false."""

    step: str  # where the step is, e.g. "App B.1, the step r_i = g⁻¹(π_i) + c"
    finding: str  # what fails there
    witness: dict | str  # a concrete instance or derivation showing it (JSON-able)

    def __post_init__(self) -> None:
        _require_text(self.step, "ProofGap.step")
        _require_text(self.finding, "ProofGap.finding")
        if isinstance(self.witness, str):
            _require_text(self.witness, "ProofGap.witness")
        elif isinstance(self.witness, Mapping) and self.witness:
            object.__setattr__(self, "witness", to_jsonable(self.witness, "ProofGap.witness"))
        else:
            raise TypeError(f"ProofGap.witness must be a non-empty dict or string, got {self.witness!r}")


@dataclass(frozen=True)
class Reading:
    """One reading of a sentence whose notation admits two, with its own verdict (CLAIMS.md:
    ``readings``); the headline verdict uses the reading the paper's own text supports."""

    reading: str  # the reading, in words
    verdict: str  # the verdict under it: one of holds, holds-with-condition, refuted, vacuous
    condition: str | None = None  # the condition, when verdict is holds-with-condition

    def __post_init__(self) -> None:
        _require_text(self.reading, "Reading.reading")
        if self.verdict not in VERDICTS_FOR_KIND[CLAIM]:
            raise ValueError(
                f"Reading.verdict must be one of {', '.join(VERDICTS_FOR_KIND[CLAIM])}, got {self.verdict!r}")
        if self.verdict == HOLDS_WITH_CONDITION:
            _require_text(self.condition, "Reading.condition (for holds-with-condition)")
        elif self.condition is not None:
            raise ValueError(f"Reading.condition must be None for verdict {self.verdict!r}, got {self.condition!r}")


@dataclass(frozen=True)
class Convention:
    """A boundary convention the verdict turns on (CLAIMS.md: ``conventions``), and the
    verdict the claim would get under the other convention."""

    convention: str  # the convention used, e.g. "π·(C2/π) = 0 at π = 0 (y ∼ π never draws y)"
    verdict_otherwise: str  # the verdict under the other convention (a claim verdict)
    otherwise: str = ""  # the other convention, in words (optional)

    def __post_init__(self) -> None:
        _require_text(self.convention, "Convention.convention")
        if self.verdict_otherwise not in VERDICTS_FOR_KIND[CLAIM]:
            raise ValueError(f"Convention.verdict_otherwise must be one of {', '.join(VERDICTS_FOR_KIND[CLAIM])}, "
                             f"got {self.verdict_otherwise!r}")
        if not isinstance(self.otherwise, str):
            raise TypeError(f"Convention.otherwise must be a string, got {self.otherwise!r}")


def _require_text(value, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def _as_tuple(items, cls, name: str) -> tuple:
    if items is None:
        return ()
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise TypeError(f"{name} must be a list of {cls.__name__}, got {items!r}")
    items = tuple(items)
    for item in items:
        if not isinstance(item, cls):
            raise TypeError(f"{name} must hold {cls.__name__} instances, got {item!r}")
    return items


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check, with the numbers that earned it.

    Build it with :func:`holds`, :func:`holds_with_condition`, :func:`refuted`,
    :func:`vacuous` or :func:`answered`; direct construction runs the same validation.
    ``evidence`` and ``counterexample`` are stored converted by :func:`to_jsonable`. Whether
    the verdict suits the row's kind (``answered`` only for a question, the others only for
    a claim) is checked by :meth:`validate_for` when the runner meets the catalogue row.
    """

    verdict: str  # "holds", "holds-with-condition", "refuted", "vacuous" or "answered"
    evidence: dict  # JSON-able numbers, strings and lists the check computed (worst errors, counts, ...)
    # holds-with-condition: the condition written out; vacuous: why the hypothesis is never
    # met (or the conclusion empty); None for the others.
    condition: str | None = None
    counterexample: dict | None = None  # inputs/predicted/computed/recheck; only (and always) for refuted
    backing: str = ""  # what backs the verdict, e.g. "symbolic proof", "500 property examples"
    answer: str | None = None  # the one-sentence answer of a question; only (and always) for answered
    proof_gaps: tuple[ProofGap, ...] = ()  # failing steps of the paper's proof, beside the verdict
    readings: tuple[Reading, ...] = ()  # the verdict under each reading of ambiguous notation
    conventions: tuple[Convention, ...] = ()  # boundary conventions the verdict turns on

    def __post_init__(self) -> None:
        if self.verdict not in _CHECK_VERDICTS:
            raise ValueError(
                f"verdict must be one of {', '.join(_CHECK_VERDICTS)}, got {self.verdict!r}"
                + ("; 'error' and 'not-checked' are the runner's: raise instead" if self.verdict in VERDICTS else "")
            )
        if not isinstance(self.evidence, Mapping):
            raise TypeError(f"evidence must be a dict of JSON-able values, got a {type(self.evidence).__name__}")
        object.__setattr__(self, "evidence", to_jsonable(self.evidence, "evidence"))
        if not isinstance(self.backing, str):
            raise TypeError(f"backing must be a string, got a {type(self.backing).__name__}")
        object.__setattr__(self, "proof_gaps", _as_tuple(self.proof_gaps, ProofGap, "proof_gaps"))
        object.__setattr__(self, "readings", _as_tuple(self.readings, Reading, "readings"))
        object.__setattr__(self, "conventions", _as_tuple(self.conventions, Convention, "conventions"))
        if self.verdict in (HOLDS_WITH_CONDITION, VACUOUS):
            if not isinstance(self.condition, str) or not self.condition.strip():
                what = "the condition" if self.verdict == HOLDS_WITH_CONDITION else "why the hypothesis is never met"
                raise ValueError(f"condition must be a non-empty string ({what}) for {self.verdict}, "
                                 f"got {self.condition!r}")
        elif self.condition is not None:
            raise ValueError(f"condition must be None for verdict {self.verdict!r}, got {self.condition!r}")
        if self.verdict == ANSWERED:
            if not isinstance(self.answer, str) or not self.answer.strip():
                raise ValueError(f"answer must be a non-empty sentence for {ANSWERED}, got {self.answer!r}")
        elif self.answer is not None:
            raise ValueError(f"answer must be None for verdict {self.verdict!r} (only a question is answered)")
        if self.verdict != REFUTED and not self.backing.strip():
            raise ValueError(
                f"backing must say what backs a {self.verdict} verdict (e.g. 'symbolic proof', "
                f"'500 property examples'), got {self.backing!r}"
            )
        if self.verdict == REFUTED:
            object.__setattr__(self, "counterexample", _validated_counterexample(self.counterexample))
        elif self.counterexample is not None:
            raise ValueError(f"counterexample must be None for verdict {self.verdict!r}")

    def validate_for(self, kind: str) -> None:
        """Raise ValueError unless this verdict suits a catalogue row of ``kind``: a question
        is ``answered`` (never refuted), a claim gets one of the four claim verdicts."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if self.verdict not in VERDICTS_FOR_KIND[kind]:
            hint = ("a question is answered, never refuted: return answered(...)" if kind == QUESTION
                    else "only a question is answered: return holds, holds_with_condition, refuted or vacuous")
            raise ValueError(f"verdict {self.verdict!r} is not allowed for a {kind}; {hint}")


def _validated_counterexample(counterexample) -> dict:
    """Check the shape of a refutation's counterexample and return its JSON-able copy."""
    if not isinstance(counterexample, Mapping):
        raise TypeError(
            f"counterexample must be a dict with keys {', '.join(_COUNTEREXAMPLE_KEYS)}, "
            f"got {type(counterexample).__name__}"
        )
    missing = [key for key in _COUNTEREXAMPLE_KEYS if key not in counterexample]
    if "recheck" in missing:
        raise ValueError(
            "counterexample must have a 'recheck' {'method', 'computed', 'agrees'}: a refutation "
            "must be confirmed by an independent method (a second solver, exact arithmetic, a certificate)"
        )
    if missing:
        raise ValueError(
            f"counterexample is missing key(s) {', '.join(missing)}; it needs {', '.join(_COUNTEREXAMPLE_KEYS)}"
        )
    converted = to_jsonable(counterexample, "counterexample")
    inputs = converted["inputs"]
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(
            "counterexample['inputs'] must be a non-empty dict of the concrete inputs (numbers; "
            f"functions as sympy-parsable strings), got {inputs!r}"
        )
    recheck = converted["recheck"]
    if not isinstance(recheck, dict):
        raise TypeError(
            f"counterexample['recheck'] must be a dict with keys {', '.join(_RECHECK_KEYS)}, got {recheck!r}"
        )
    missing = [key for key in _RECHECK_KEYS if key not in recheck]
    if missing:
        raise ValueError(
            f"counterexample['recheck'] is missing key(s) {', '.join(missing)}; it needs {', '.join(_RECHECK_KEYS)}"
        )
    if not isinstance(recheck["method"], str) or not recheck["method"].strip():
        raise ValueError(
            f"counterexample['recheck']['method'] must name the independent method, got {recheck['method']!r}"
        )
    if recheck["agrees"] is not True:
        raise ValueError(
            "counterexample['recheck']['agrees'] must be True: the independent recheck did not "
            f"confirm the counterexample (got {recheck['agrees']!r}), so the claim is not refuted"
        )
    return converted


def holds(evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``holds``: the claim holds as stated.

    Args:
      evidence: JSON-able numbers the check computed (worst errors, instance counts, ...).
      backing: what backs it for every case the claim covers, e.g. "symbolic proof",
        "500 property examples", "exhaustive enumeration of 64 cases".
      **beside: ``proof_gaps``, ``readings``, ``conventions`` (lists of :class:`ProofGap`,
        :class:`Reading`, :class:`Convention`), reported beside the verdict.
    """
    return CheckResult(HOLDS, evidence, backing=backing, **beside)


def holds_with_condition(condition: str, evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``holds-with-condition``: the claim holds under ``condition``, which the paper's
    hypotheses do not give; ``condition`` writes it out (a substantive one: not a
    non-emptiness or well-definedness the notation already presumes). Args as :func:`holds`."""
    return CheckResult(HOLDS_WITH_CONDITION, evidence, condition=condition, backing=backing, **beside)


def refuted(counterexample: Mapping, evidence: Mapping | None = None, **beside) -> CheckResult:
    """Verdict ``refuted``, with a counterexample confirmed by an independent method.

    Args:
      counterexample: ``{"inputs": {...concrete numbers; functions as sympy-parsable
        strings...}, "predicted": what the claim says, "computed": what was computed,
        "recheck": {"method": the independent method, "computed": its result, "agrees": True}}``.
      evidence: JSON-able numbers the check computed (default: none).
      **beside: as :func:`holds`.

    Raises:
      ValueError: a key is missing, or the recheck is missing or its ``agrees`` is not True.
    """
    return CheckResult(REFUTED, {} if evidence is None else evidence, counterexample=counterexample, **beside)


def vacuous(reason: str, evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``vacuous``: the claim is true only because its hypothesis can never be met
    (or its conclusion is empty). ``reason`` says why, ``backing`` what shows it (e.g. "sympy:
    the hypothesis set is empty"). Other args as :func:`holds`."""
    return CheckResult(VACUOUS, evidence, condition=reason, backing=backing, **beside)


def answered(answer: str, evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``answered`` for a catalogue *question*: ``answer`` in one sentence, with the
    evidence that earned it. Never for a claim. Other args as :func:`holds`."""
    return CheckResult(ANSWERED, evidence, backing=backing, answer=answer, **beside)


# ---------------------------------------------------------------------------------------
# Mutants and repairs
# ---------------------------------------------------------------------------------------

MUTANT = "mutant"
REPAIR = "repair"


@dataclass(frozen=True)
class Variant:
    """A nearby statement on which a claim's own check is rerun (``pmtheory verify --mutants``).

    A *mutant* is a false statement near a claim that holds (a constant changed, a sign
    flipped, an inequality reversed, a hypothesis dropped): the check must return
    ``refuted``. A *repair* is the corrected statement of a refuted claim: the check must
    return ``holds``. Either way the same check function runs, called as
    ``check(quick=..., **params)``: ``params`` are the keyword arguments through which the
    check reads the statement it tests, so the variant is a different statement, not a
    different computation. A variant is *killed* when the check returns ``expected``.
    """

    name: str  # short name, e.g. "C1 = c' − 1"
    statement: str  # the variant's statement, in words
    params: dict  # keyword arguments of the check that encode the variant's statement
    role: str  # "mutant" or "repair"

    def __post_init__(self) -> None:
        _require_text(self.name, "Variant.name")
        _require_text(self.statement, "Variant.statement")
        if self.role not in (MUTANT, REPAIR):
            raise ValueError(f"Variant.role must be {MUTANT!r} or {REPAIR!r}, got {self.role!r}")
        if not isinstance(self.params, Mapping) or not self.params:
            raise ValueError(
                f"Variant {self.name!r} needs params: the check's keyword arguments that state the variant "
                "(a variant with no params would rerun the claim itself)"
            )
        for key in self.params:
            if not isinstance(key, str) or not key.isidentifier() or key == "quick":
                raise ValueError(f"Variant {self.name!r} has a bad parameter name {key!r}")

    @property
    def expected(self) -> str:
        """The verdict that kills it: ``refuted`` for a mutant, ``holds`` for a repair."""
        return REFUTED if self.role == MUTANT else HOLDS


def mutant(name: str, statement: str, **params) -> Variant:
    """A false statement near a claim; its check, called with ``params``, must refute it."""
    return Variant(name, statement, dict(params), MUTANT)


def repair(name: str, statement: str, **params) -> Variant:
    """The corrected statement of a refuted claim; its check, called with ``params``, must
    return ``holds``."""
    return Variant(name, statement, dict(params), REPAIR)


@dataclass(frozen=True)
class VariantOutcome:
    """What the check gave on one mutant or repair."""

    name: str
    statement: str
    role: str  # "mutant" or "repair"
    expected: str  # the verdict that kills it
    verdict: str  # the verdict the check returned ("error" if it raised)
    killed: bool  # verdict == expected
    seconds: float
    detail: str = ""  # the error message, or the counterexample's inputs, in one line
