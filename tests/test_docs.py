"""docs/<paper>.md are `pmtheory verify '<PAPER>-*' --markdown` reports: every claim of the
paper appears once, and each verdict is the one the check computes now (``--quick``)."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from pmtheory.claims import default_registry
from pmtheory.papers import ENTRY_POINT_GROUP

DOCS = Path(__file__).resolve().parents[1] / "docs"
# pmtheory's own papers (entry points of the pmtheory distribution): docs/<prefix>.md -> "<PREFIX>-".
_PREFIXES = [ep.load().prefix for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
             if ep.dist.metadata["Name"] == "pmtheory"]
PAPERS = {f"{prefix.lower()}.md": f"{prefix}-" for prefix in _PREFIXES}
CLAIM_IDS = tuple(claim_id for claim_id in default_registry().ids if claim_id.startswith(tuple(PAPERS.values())))
# A row of the verdict table: | ID | where | kind | verdict | ... (the mutants table's third
# column is a role, mutant or repair, so its rows do not match).
_ROW = re.compile(r"^\| (?P<id>[A-Z]+-[^ |]+) \| [^|]* \| (?:claim|question) \| (?P<verdict>[a-z-]+) \|", re.MULTILINE)


def _verdicts(path: Path) -> dict[str, str]:
    rows = _ROW.findall(path.read_text(encoding="utf-8"))
    ids = [claim_id for claim_id, _ in rows]
    assert len(ids) == len(set(ids)), f"{path.name} lists a claim twice"
    return dict(rows)


def test_the_built_in_papers_have_docs():
    assert sorted(PAPERS) == ["brg.md", "iia.md", "mod.md", "pmr.md"]


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_doc_lists_every_claim_of_its_paper(name):
    path = DOCS / name
    if not path.exists():
        pytest.fail(f"docs/{name} is missing: pmtheory verify '{PAPERS[name]}*' --markdown docs/{name}")
    expected = {claim_id for claim_id in CLAIM_IDS if claim_id.startswith(PAPERS[name])}
    assert set(_verdicts(path)) == expected


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_doc_verdicts_are_the_computed_ones(name, quick_outcomes):
    path = DOCS / name
    if not path.exists():
        pytest.fail(f"docs/{name} is missing")
    documented = _verdicts(path)
    computed = {claim_id: outcome.verdict for claim_id, outcome in quick_outcomes(sorted(documented)).items()}
    stale = {claim_id: (documented[claim_id], computed[claim_id])
             for claim_id in documented if documented[claim_id] != computed[claim_id]}
    assert not stale, (
        f"docs/{name} disagrees with the checks (documented, computed): {stale}; regenerate it with "
        f"pmtheory verify '{PAPERS[name]}*' --mutants --markdown docs/{name}"
    )


def test_every_mutant_and_repair_is_killed(quick_outcomes):
    """Issue 12: rerun on its mutants (nearby false statements) each check says refuted, and on
    its repairs (the corrected statements of refuted claims) holds. A survivor means the
    check could not tell the paper's statement from a wrong one."""
    outcomes = quick_outcomes(list(CLAIM_IDS))
    survivors = {claim_id: [(variant.name, variant.expected, variant.verdict, variant.detail[:300])
                            for variant in outcome.mutants if not variant.killed]
                 for claim_id, outcome in outcomes.items()}
    survivors = {claim_id: names for claim_id, names in survivors.items() if names}
    assert not survivors, f"mutants or repairs not killed (name, expected, verdict, detail): {survivors}"
    without = [claim_id for claim_id, outcome in outcomes.items() if not outcome.mutants]
    assert not without, f"no mutant or repair ran for {without}"
    # A refuted claim registers a repair (its corrected statement); every other verdict a mutant.
    wrong_role = {claim_id: outcome.verdict for claim_id, outcome in outcomes.items()
                  if not any(v.role == ("repair" if outcome.verdict == "refuted" else "mutant")
                             for v in outcome.mutants)}
    assert not wrong_role, f"a refuted claim needs a repair, any other a mutant: {wrong_role}"
