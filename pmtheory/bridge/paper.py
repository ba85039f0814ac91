"""The bridge as a pmtheory paper (entry point ``pmtheory.papers`` in ``pyproject.toml``)."""

from pmtheory.bridge.catalogue import ROWS
from pmtheory.papers import Paper

__all__ = ["PAPER"]

PAPER = Paper(
    prefix="BRG",
    title="The bridge: the papers' theory on the logits of causal LMs (OPT, Llama)",
    citation="pmtheory's own claims about seed 001 §4-§6 and seed 004 on real models (shared/CLAIMS.md, BRG rows)",
    catalogue=ROWS,
    modules=(
        "pmtheory.bridge.claims_sequence",
        "pmtheory.bridge.claims_training",
        "pmtheory.bridge.claims_mod",
        "pmtheory.bridge.figures",
    ),
)
