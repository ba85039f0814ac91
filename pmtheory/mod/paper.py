"""The MOD paper: its catalogue, and the modules that register its checks and figures.

Registered under the entry-point group ``pmtheory.papers`` in ``pyproject.toml``.
"""

from pmtheory.mod.catalogue import ROWS
from pmtheory.papers import Paper

__all__ = ["PAPER"]

PAPER = Paper(
    prefix="MOD",
    title="Decoding-Time Language Model Alignment with Multiple Objectives",
    citation="Shi, Chen, Hu, Liu, Hajishirzi, Smith and Du (NeurIPS 2024), arXiv 2406.18853",
    catalogue=ROWS,
    modules=(
        "pmtheory.mod.claims_theory",
        "pmtheory.mod.claims_extended",
        "pmtheory.mod.figures",
    ),
)
