"""Seed 002 as a pmtheory paper (entry point ``pmtheory.papers`` in ``pyproject.toml``)."""

from pmtheory.iia.catalogue import ROWS
from pmtheory.papers import Paper

__all__ = ["PAPER"]

PAPER = Paper(
    prefix="IIA",
    title="RLHF and IIA: Perverse Incentives",
    citation="Xu, Dong, Lu, Lam, Wen and Van Roy (2024), arXiv 2312.01057",
    catalogue=ROWS,
    modules=(
        "pmtheory.iia.claims_choice",
        "pmtheory.iia.claims_losses",
        "pmtheory.iia.claims_rlpo_lemmas",
        "pmtheory.iia.claims_rlpo_dpo",
        "pmtheory.iia.claims_il_slic",
        "pmtheory.iia.claims_query_formats",
        "pmtheory.iia.figures",
    ),
)
