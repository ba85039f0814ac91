"""The IIA paper: its catalogue, and the modules that register its checks and figures.

Registered under the entry-point group ``pmtheory.papers`` in ``pyproject.toml``.
"""

from pmtheory.iia.catalogue import ROWS
from pmtheory.papers import Paper

__all__ = ["PAPER"]

PAPER = Paper(
    prefix="IIA",
    title="RLHF and IIA: Perverse Incentives",
    citation="Xu, Dong, Lu, Lam, Wen and Van Roy (2024), arXiv 2312.01057",
    catalogue=ROWS,
    modules=(
        "pmtheory.iia.claims_model",
        "pmtheory.iia.claims_failures",
        "pmtheory.iia.figures",
    ),
)
