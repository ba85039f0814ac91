"""Seed 004 as a pmtheory paper (entry point ``pmtheory.papers`` in ``pyproject.toml``)."""

from pmtheory.mod.catalogue import ROWS
from pmtheory.papers import Paper

__all__ = ["PAPER"]

PAPER = Paper(
    prefix="MOD",
    title="Decoding-Time Language Model Alignment with Multiple Objectives",
    citation="Shi, Chen, Hu, Liu, Hajishirzi, Smith and Du (NeurIPS 2024), arXiv 2406.18853",
    catalogue=ROWS,
    modules=(
        "pmtheory.mod.claims_strong_barrier",
        "pmtheory.mod.claims_decoding",
        "pmtheory.mod.claims_merging",
        "pmtheory.mod.claims_suboptimal",
        "pmtheory.mod.claims_appendix",
        "pmtheory.mod.claims_token",
        "pmtheory.mod.figures",
    ),
)
