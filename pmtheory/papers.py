"""Papers as plugins: a :class:`Paper` is a catalogue of claims with the checks and figures that
judge them, and pmtheory finds papers through the entry-point group ``pmtheory.papers``.

The built-in papers (PMR, IIA, MOD and the bridge's BRG) register there in pmtheory's own
``pyproject.toml``, exactly as a third-party package would::

    [project.entry-points."pmtheory.papers"]
    toy = "toy_paper:PAPER"

A paper that is importable but not installed is loaded by ``pmtheory verify --paper
toy_paper:PAPER`` (and ``pmtheory figures --paper``). A paper in one file::

    from pmtheory.papers import Paper
    from pmtheory.claims import holds

    PAPER = Paper(prefix="TOY", title="A toy paper", citation="Doe (2026), arXiv 0000.00000",
                  catalogue=[{"id": "TOY-1", "where": "eq 1", "statement": "1 + 1 = 2",
                              "method": "exact", "kind": "claim"}])

    @PAPER.check("TOY-1")
    def check_toy_1(*, quick: bool):
        return holds({"sum": 1 + 1}, backing="integer arithmetic")

A larger paper keeps its checks and figures in modules of its own and names them in
``modules``; they are imported (once) the first time the paper's checks or figures are needed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pmtheory.claims.catalogue import ClaimInfo, claim_info_from_row, suggestion
from pmtheory.claims.verdicts import CheckResult, Variant

__all__ = [
    "ENTRY_POINT_GROUP",
    "FigureSpec",
    "Paper",
    "PaperError",
    "installed_papers",
    "load_paper",
]

# The entry-point group through which packages (pmtheory included) register papers.
ENTRY_POINT_GROUP = "pmtheory.papers"
# A paper's prefix: capital letters and digits, starting with a letter (e.g. "PMR", "TOY2").
_PREFIX = re.compile(r"[A-Z][A-Z0-9]*")
# A figure's name: lower-case letters, digits and dashes (it is the file stem).
_FIGURE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")

# A check: ``check(*, quick: bool, **statement) -> CheckResult``.
Check = Callable[..., CheckResult]
# A figure: ``make(out_dir: Path, *, quick: bool) -> list[Path]``.
FigureFunction = Callable[..., list[Path]]


class PaperError(ValueError):
    """A paper that cannot be used: a malformed catalogue row, a prefix or figure name that
    clashes, an entry point or ``MODULE:ATTR`` that does not load. The message names the fix."""


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure."""

    name: str  # file stem and CLI name, e.g. "pmr-fig2"
    make: FigureFunction  # make(out_dir: Path, *, quick: bool) -> list[Path]
    claims: tuple[str, ...]  # the claim IDs it illustrates
    title: str  # one line for ``pmtheory figures --list``
    paper: str = ""  # the prefix of the paper it belongs to


class Paper:
    """A paper whose claims pmtheory checks.

    Args:
      prefix: the prefix of every claim ID of the paper, e.g. "PMR" (capital letters and
        digits); unique among the papers of a run.
      title: the paper's title.
      citation: authors, year and where to find it, e.g. "Doe (2026), arXiv 0000.00000".
      catalogue: the rows, each a dict ``{"id", "where", "statement", "method", "kind"}`` as in
        ``shared/CLAIMS.md`` ("where" and "kind" may be left out: "" and "claim"), or a
        :class:`~pmtheory.claims.ClaimInfo`. IDs are ``<prefix>-<name>`` and unique.
      modules: modules that register this paper's checks and figures, imported on the first
        query (:meth:`load`); empty when they are registered where the paper is defined.

    Raises:
      PaperError (a ValueError): a bad prefix, title or citation; a malformed or repeated row.
    """

    def __init__(self, prefix: str, title: str, citation: str, catalogue: Iterable, *,
                 modules: Iterable[str] = ()) -> None:
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise PaperError(f"prefix must be capital letters and digits starting with a letter, e.g. 'TOY', "
                             f"got {prefix!r}")
        for name, value in (("title", title), ("citation", citation)):
            if not isinstance(value, str) or not value.strip():
                raise PaperError(f"the {name} of paper {prefix} must be a non-empty string, got {value!r}")
        if isinstance(catalogue, (str, bytes, Mapping)) or not isinstance(catalogue, Iterable):
            raise PaperError(f"the catalogue of paper {prefix} must be a list of rows (dicts), got {catalogue!r}")
        if isinstance(modules, str) or not all(isinstance(module, str) for module in modules):
            raise PaperError(f"modules of paper {prefix} must be a list of module names, got {modules!r}")
        self.prefix = prefix
        self.title = title
        self.citation = citation
        self.modules = tuple(modules)
        claims: list[ClaimInfo] = []
        for index, row in enumerate(catalogue, start=1):
            try:
                claims.append(claim_info_from_row(row, prefix, f"paper {prefix}, catalogue row {index}"))
            except ValueError as error:
                raise PaperError(str(error)) from None
        if not claims:
            raise PaperError(f"the catalogue of paper {prefix} is empty; give at least one row")
        seen: set[str] = set()
        for info in claims:
            if info.id in seen:
                raise PaperError(f"paper {prefix}: the catalogue repeats the ID {info.id}")
            seen.add(info.id)
        self.claims: tuple[ClaimInfo, ...] = tuple(claims)
        self._info_by_id = {info.id: info for info in claims}
        self._checks: dict[str, Check] = {}
        self._variants: dict[str, tuple[Variant, ...]] = {}
        self._figures: dict[str, FigureSpec] = {}
        self._loaded = False
        self._loading = False

    def __repr__(self) -> str:
        return f"Paper(prefix={self.prefix!r}, title={self.title!r}, {len(self.claims)} claims)"

    @property
    def ids(self) -> tuple[str, ...]:
        """The claim IDs, in catalogue order."""
        return tuple(info.id for info in self.claims)

    def claim_info(self, claim_id: str) -> ClaimInfo:
        """The catalogue row of ``claim_id``; ValueError if the paper has no such claim."""
        if claim_id not in self._info_by_id:
            raise ValueError(f"paper {self.prefix} has no claim {claim_id!r}{suggestion(str(claim_id), self.ids)}")
        return self._info_by_id[claim_id]

    # -- registration -------------------------------------------------------------------

    def check(self, claim_id: str, *, mutants: Iterable[Variant] = ()) -> Callable[[Check], Check]:
        """Decorator: register ``check(*, quick: bool, **statement) -> CheckResult`` as the
        check of ``claim_id``, with its mutants and repairs (:func:`~pmtheory.claims.mutant`,
        :func:`~pmtheory.claims.repair`).

        Every variant's ``params`` must bind to the check's signature: they are the keyword
        arguments through which the check reads the statement it tests.

        Raises:
          ValueError: ``claim_id`` is not in the catalogue, or already has a check; two
            variants share a name.
          TypeError: ``claim_id`` is not a string; the decorated object is not callable or
            cannot be called as ``check(quick=...)`` or with a variant's params; a variant is
            not a :class:`~pmtheory.claims.Variant`.
        """
        if not isinstance(claim_id, str):
            raise TypeError(f"claim_id must be a claim ID string such as '{self.prefix}-1', got {claim_id!r}")
        if claim_id not in self._info_by_id:
            raise ValueError(f"claim_id {claim_id!r} is not in the catalogue of paper {self.prefix}"
                             f"{suggestion(claim_id, self.ids)}; add a row for it first")
        if isinstance(mutants, (str, bytes, Mapping)) or not isinstance(mutants, Iterable):
            raise TypeError(f"mutants of {claim_id} must be a list of Variant (mutant(...), repair(...)), "
                            f"got {mutants!r}")
        variants = tuple(mutants)
        for variant in variants:
            if not isinstance(variant, Variant):
                raise TypeError(f"mutants of {claim_id} must hold Variant instances (mutant(...), repair(...)), "
                                f"got {variant!r}")
        names = [variant.name for variant in variants]
        if len(names) != len(set(names)):
            raise ValueError(f"mutants of {claim_id} repeat a name: {names}")

        def decorator(check: Check) -> Check:
            if not callable(check):
                raise TypeError(f"{self.prefix}.check({claim_id!r}) must decorate a function, got {check!r}")
            for params in [{}] + [variant.params for variant in variants]:
                try:
                    inspect.signature(check).bind(quick=True, **params)
                except TypeError:
                    if not params:
                        raise TypeError(
                            f"the check of {claim_id} ({_describe(check)}) must accept the keyword argument quick: "
                            "def check(*, quick: bool) -> CheckResult"
                        ) from None
                    raise TypeError(
                        f"the check of {claim_id} ({_describe(check)}) does not accept the mutant parameters "
                        f"{sorted(params)}: add them as keyword arguments whose defaults state the paper's claim"
                    ) from None
                except ValueError:  # no signature to inspect (some builtins): accept it
                    pass
            if claim_id in self._checks:
                raise ValueError(
                    f"claim_id {claim_id!r} is registered twice: by {_describe(self._checks[claim_id])} "
                    f"and by {_describe(check)}"
                )
            self._checks[claim_id] = check
            self._variants[claim_id] = variants
            return check

        return decorator

    def figure(self, name: str, *, claims: Iterable[str] = (), title: str = "") -> Callable[[FigureFunction],
                                                                                             FigureFunction]:
        """Decorator: register ``make(out_dir, *, quick) -> list[Path]`` as the figure ``name``,
        which illustrates the claims ``claims`` of this paper.

        Raises:
          ValueError: ``name`` is not lower-case letters, digits and dashes, or is taken in this
            paper; a claim is not in this paper's catalogue.
        """
        if not isinstance(name, str) or not _FIGURE_NAME.fullmatch(name):
            raise ValueError(f"figure name must be lower-case letters, digits and '-', got {name!r}")
        if isinstance(claims, str):
            raise TypeError(f"claims of figure {name!r} must be a list of claim IDs, got the string {claims!r}")
        claims = tuple(claims)
        for claim_id in claims:
            if claim_id not in self._info_by_id:
                raise ValueError(f"figure {name!r} names claim {claim_id!r}, which is not in the catalogue of "
                                 f"paper {self.prefix}{suggestion(str(claim_id), self.ids)}")

        def decorator(make: FigureFunction) -> FigureFunction:
            if not callable(make):
                raise TypeError(f"{self.prefix}.figure({name!r}) must decorate a function, got {make!r}")
            if name in self._figures and self._figures[name].make is not make:
                raise ValueError(f"figure {name!r} is registered twice in paper {self.prefix}")
            self._figures[name] = FigureSpec(name, make, claims, title, self.prefix)
            return make

        return decorator

    # -- queries ------------------------------------------------------------------------

    def load(self) -> None:
        """Import :attr:`modules` (once), so that their checks and figures register. Every
        query calls it; an import error propagates."""
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            for module_name in self.modules:
                importlib.import_module(module_name)
            self._loaded = True
        finally:
            self._loading = False

    def check_for(self, claim_id: str) -> Check | None:
        """The check registered for ``claim_id``, or None."""
        self.load()
        return self._checks.get(claim_id)

    def variants_for(self, claim_id: str) -> tuple[Variant, ...]:
        """The mutants and repairs registered with ``claim_id``'s check (empty if none)."""
        self.load()
        return self._variants.get(claim_id, ())

    @property
    def figures(self) -> dict[str, FigureSpec]:
        """The registered figures, by name."""
        self.load()
        return dict(self._figures)


def _describe(function) -> str:
    module = getattr(function, "__module__", None) or "?"
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


# ---------------------------------------------------------------------------------------
# Finding papers
# ---------------------------------------------------------------------------------------


def installed_papers() -> tuple[Paper, ...]:
    """The papers registered under the entry-point group ``pmtheory.papers``: pmtheory's own
    first, then other packages' by package name; each package's by entry-point name (pmtheory
    names its papers by seed number, so PMR, IIA, MOD, then BRG).

    Raises:
      PaperError: an entry point fails to load or is not a :class:`Paper`; none is registered
        (pmtheory is not installed: ``python -m pip install -e .``).
    """
    entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    if not entry_points:
        raise PaperError(f"no paper is registered under the entry-point group {ENTRY_POINT_GROUP!r}: pmtheory "
                         "is not installed, or was installed before papers became plugins; run "
                         "python -m pip install -e . in the repository")

    def distribution(entry_point) -> str:
        dist = getattr(entry_point, "dist", None)
        return dist.metadata["Name"] if dist is not None else ""

    ordered = sorted(entry_points, key=lambda ep: (distribution(ep) != "pmtheory", distribution(ep), ep.name))
    papers = []
    for entry_point in ordered:
        where = f"the entry point {entry_point.name} = {entry_point.value!r} (package {distribution(entry_point)!r})"
        try:
            paper = entry_point.load()
        except Exception as error:
            raise PaperError(f"{where} failed to load: {type(error).__name__}: {error}") from error
        if not isinstance(paper, Paper):
            raise PaperError(f"{where} is a {type(paper).__name__}, not a pmtheory.papers.Paper")
        papers.append(paper)
    return tuple(papers)


def load_paper(spec: str) -> Paper:
    """The :class:`Paper` named by ``spec`` = ``"MODULE:ATTR"`` (e.g. ``"toy_paper:PAPER"``),
    imported from ``sys.path``; the current folder is put on ``sys.path`` first, as ``python -m``
    does, so that a paper file in it loads.

    Raises:
      PaperError: ``spec`` is not ``MODULE:ATTR``; the module does not import; it has no
        ``ATTR``, or ``ATTR`` is not a :class:`Paper`.
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(part.strip() for part in spec.split(":")):
        raise PaperError(f"--paper wants MODULE:ATTR, e.g. toy_paper:PAPER, got {spec!r}")
    module_name, attribute = (part.strip() for part in spec.split(":"))
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise PaperError(f"cannot import {module_name!r} for --paper {spec}: no such module on sys.path; "
                             "run from its folder or add that folder to PYTHONPATH") from error
        raise PaperError(f"importing {module_name!r} for --paper {spec} failed: {error}") from error
    except Exception as error:
        raise PaperError(f"importing {module_name!r} for --paper {spec} failed: "
                         f"{type(error).__name__}: {error}") from error
    if not hasattr(module, attribute):
        raise PaperError(f"module {module_name!r} has no attribute {attribute!r} (--paper {spec})")
    paper = getattr(module, attribute)
    if not isinstance(paper, Paper):
        raise PaperError(f"{spec} is a {type(paper).__name__}, not a pmtheory.papers.Paper")
    return paper
