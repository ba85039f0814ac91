"""Catalogue rows: one :class:`ClaimInfo` per formal statement of a paper, and the selection of
rows by ID or glob.

A paper's catalogue lives beside the paper (``pmtheory/<paper>/catalogue.py`` for the built-in
papers, transcribed from the project's ``shared/CLAIMS.md``), never in the registry. Each row is a
dict with the columns of CLAIMS.md's tables: ``id``, ``where``, ``statement``, ``method`` (the
method words, comma-separated; parenthesised notes are dropped) and ``kind`` (``claim``, the
default, or ``question``). :func:`claim_info_from_row` validates one row.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pmtheory.claims.verdicts import CLAIM, KINDS

__all__ = [
    "METHOD_WORDS",
    "ROW_KEYS",
    "ClaimInfo",
    "UnknownClaimError",
    "claim_info_from_row",
    "select_claim_ids",
]

# The method words of CLAIMS.md's method column (its parenthesised notes are dropped).
METHOD_WORDS = ("symbolic", "exact", "property", "simulation", "population", "bridge", "figure")
# The keys a catalogue row may have; "where" and "kind" may be left out ("" and "claim").
ROW_KEYS = ("id", "where", "statement", "method", "kind")
# A claim ID: the paper's prefix, a dash, then letters, digits and dots (e.g. "PMR-P3.1").
_ID_BODY = r"[A-Za-z0-9][A-Za-z0-9._]*"


@dataclass(frozen=True)
class ClaimInfo:
    """One row of a paper's claims catalogue."""

    id: str  # the stable claim ID, e.g. "PMR-P3.1"
    paper: str  # the ID's prefix, e.g. "PMR"
    where: str  # where the paper states it, e.g. "Prop 3.1"; "" where the row has no place (BRG)
    statement: str  # the claim, as the catalogue words it
    methods: tuple[str, ...]  # the method words that should check it, e.g. ("exact", "property")
    kind: str = CLAIM  # "claim" (the paper asserts it) or "question" (the toolkit answers it)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind of {self.id} must be one of {', '.join(KINDS)}, got {self.kind!r}")


def method_words(cell: str) -> tuple[str, ...]:
    """The method words of a CLAIMS.md method cell: ``"exact, property (500 draws)"`` gives
    ``("exact", "property")``."""
    return tuple(re.sub(r"\(.*?\)", "", word).strip() for word in cell.split(","))


def claim_info_from_row(row, prefix: str, where_in_catalogue: str = "catalogue row") -> ClaimInfo:
    """Validate one catalogue row of the paper ``prefix`` and return it as a :class:`ClaimInfo`.

    Args:
      row: a dict with keys ``id``, ``statement``, ``method`` and optionally ``where`` and
        ``kind`` (see the module doc), or a :class:`ClaimInfo` (checked the same way).
      prefix: the paper's ID prefix; the row's ID must be ``<prefix>-<name>``.
      where_in_catalogue: how error messages name the row, e.g. "paper TOY, catalogue row 2".

    Raises:
      ValueError: a key is missing or unknown, or a value is empty or not one of the allowed
        words; the message names the row, the key and the fix.
    """
    if isinstance(row, ClaimInfo):
        row = {"id": row.id, "where": row.where, "statement": row.statement, "method": ", ".join(row.methods),
               "kind": row.kind}
    if not isinstance(row, Mapping):
        raise ValueError(f"{where_in_catalogue} must be a dict with keys {', '.join(ROW_KEYS)}, got {row!r}")
    unknown = [key for key in row if key not in ROW_KEYS]
    if unknown:
        raise ValueError(f"{where_in_catalogue} has unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"a row has the keys {', '.join(ROW_KEYS)}")
    missing = [key for key in ("id", "statement", "method") if key not in row]
    if missing:
        raise ValueError(f"{where_in_catalogue} lacks the key(s) {', '.join(missing)}; "
                         f"a row has the keys {', '.join(ROW_KEYS)} ('where' and 'kind' may be left out)")
    claim_id = row["id"]
    if not isinstance(claim_id, str) or not re.fullmatch(re.escape(prefix) + "-" + _ID_BODY, claim_id):
        raise ValueError(f"{where_in_catalogue} has id {claim_id!r}; an ID is the paper's prefix, a dash and "
                         f"letters, digits or dots, e.g. '{prefix}-1' or '{prefix}-P3.1'")
    where_in_catalogue = f"{where_in_catalogue} ({claim_id})"
    for key, default in (("where", ""), ("statement", None), ("method", None), ("kind", CLAIM)):
        value = row.get(key, default)
        if not isinstance(value, str) or (key != "where" and not value.strip()):
            raise ValueError(f"{where_in_catalogue}: {key!r} must be a non-empty string, got {value!r}")
    methods = method_words(row["method"])
    bad = [word for word in methods if word not in METHOD_WORDS]
    if bad:
        raise ValueError(f"{where_in_catalogue}: method {row['method']!r} has {', '.join(map(repr, bad))}; "
                         f"the method words are {', '.join(METHOD_WORDS)} (comma-separated)")
    kind = row.get("kind", CLAIM)
    if kind not in KINDS:
        raise ValueError(f"{where_in_catalogue}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return ClaimInfo(id=claim_id, paper=prefix, where=row.get("where", ""), statement=row["statement"],
                     methods=methods, kind=kind)


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """" (did you mean A, B?)" for the candidates close to ``name``, or ""."""
    candidates = list(candidates)
    # IDs are case-sensitive; a pattern that matches only when case is ignored gets those first.
    close = [c for c in candidates if fnmatch.fnmatchcase(c.upper(), name.upper())][:3]
    close = close or difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


class UnknownClaimError(ValueError):
    """A claim ID or glob that matches no claim in the catalogue."""

    def __init__(self, patterns: list[str], catalogue_ids: Iterable[str]) -> None:
        self.patterns = list(patterns)  # the patterns that matched nothing
        catalogue_ids = list(catalogue_ids)
        described = ", ".join(f"{pattern!r}{suggestion(pattern, catalogue_ids)}" for pattern in self.patterns)
        super().__init__(
            f"no claim in the catalogue matches {described}; IDs look like 'PMR-P3.1' and "
            "globs like 'PMR-*' (case-sensitive)"
        )


def select_claim_ids(patterns: Iterable[str] | None, catalogue_ids: Iterable[str]) -> tuple[str, ...]:
    """The catalogue IDs matched by any of ``patterns`` (IDs or fnmatch globs), in catalogue order.

    Matching is case-sensitive; ``None`` or no patterns selects every ID; an ID matched by
    several patterns is selected once.

    Raises:
      TypeError: ``patterns`` is a single string, or holds a non-string.
      UnknownClaimError (a ValueError): a pattern matches no catalogue ID; names each one.
    """
    catalogue_ids = tuple(catalogue_ids)
    if patterns is None:
        return catalogue_ids
    if isinstance(patterns, (str, bytes)):
        raise TypeError(
            f"patterns must be a list of claim IDs or globs, got the single string {patterns!r}; wrap it in a list"
        )
    patterns = list(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"patterns must hold strings (claim IDs or globs), got {pattern!r}")
    if not patterns:
        return catalogue_ids
    selected: set[str] = set()
    unknown = []
    for pattern in patterns:
        matches = [claim_id for claim_id in catalogue_ids if fnmatch.fnmatchcase(claim_id, pattern)]
        if not matches:
            unknown.append(pattern)
        selected.update(matches)
    if unknown:
        raise UnknownClaimError(unknown, catalogue_ids)
    return tuple(claim_id for claim_id in catalogue_ids if claim_id in selected)
