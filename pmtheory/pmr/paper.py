"""Seed 001 as a pmtheory paper (entry point ``pmtheory.papers`` in ``pyproject.toml``)."""

from pmtheory.papers import Paper
from pmtheory.pmr.catalogue import ROWS

__all__ = ["PAPER"]

PAPER = Paper(
    prefix="PMR",
    title=("On the Algorithmic Bias of Aligning Large Language Models with RLHF: "
           "Preference Collapse and Matching Regularization"),
    citation="Xiao, Li, Xie, Getzen, Fang, Long and Su (2024), arXiv 2405.16455",
    catalogue=ROWS,
    modules=(
        "pmtheory.pmr.claims_optima",
        "pmtheory.pmr.claims_pm",
        "pmtheory.pmr.claims_constants",
        "pmtheory.pmr.claims_general",
        "pmtheory.pmr.claims_conditional",
        "pmtheory.pmr.claims_table1",
        "pmtheory.pmr.claims_bias",
        "pmtheory.pmr.claims_f_rlhf",
        "pmtheory.pmr.claims_beta",
        "pmtheory.pmr.claims_preferences",
        "pmtheory.pmr.claims_metrics",
        "pmtheory.pmr.figures",
    ),
)
