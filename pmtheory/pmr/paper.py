"""The PMR paper: its catalogue, and the modules that register its checks and figures.

Registered under the entry-point group ``pmtheory.papers`` in ``pyproject.toml``.
"""

from pmtheory.pmr.catalogue import ROWS
from pmtheory.papers import Paper

__all__ = ["PAPER"]

PAPER = Paper(
    prefix="PMR",
    title="On the Algorithmic Bias of Aligning Large Language Models with RLHF: Preference Collapse and Matching Regularization",
    citation="Xiao, Li, Xie, Getzen, Fang, Long and Su (2024), arXiv 2405.16455",
    catalogue=ROWS,
    modules=(
        "pmtheory.pmr.claims_pm",
        "pmtheory.pmr.claims_general",
        "pmtheory.pmr.claims_bias",
        "pmtheory.pmr.figures",
    ),
)
