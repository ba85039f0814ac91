"""Making the papers' figures, and the house style they share.

Every figure is made by a function that its paper registers (:meth:`pmtheory.papers.Paper.figure`),
computed by the same library code the claim checks use. A figure function receives the output
directory and ``quick`` (fewer points / seeds, never a different computation) and returns the
paths it wrote; :func:`save_figure` writes each figure as PNG and PDF in one style.

Adding a figure to a paper::

    from pmtheory.figures import new_figure, save_figure
    from pmtheory.pmr.paper import PAPER

    @PAPER.figure("pmr-fig2", claims=("PMR-FIG2",), title="p_rlhf against p_reward, β = 1")
    def fig2(out_dir, *, quick):
        fig, ax = new_figure()
        ...
        return save_figure(fig, out_dir, "pmr-fig2")
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "figure_names",
    "figure_spec",
    "make_figures",
    "new_figure",
    "save_figure",
    "select_figures",
]

# One look for every figure: sized for a two-column paper at 2x, readable when shrunk.
_STYLE = {
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
}


def _figures(registry) -> dict:
    if registry is None:
        from pmtheory.claims import default_registry

        registry = default_registry()
    return registry.figures()


def figure_names(registry=None) -> tuple[str, ...]:
    """Every figure name of the papers of ``registry`` (default: every installed paper), sorted."""
    return tuple(sorted(_figures(registry)))


def figure_spec(name: str, registry=None):
    """The :class:`~pmtheory.papers.FigureSpec` of figure ``name``; ValueError if there is none."""
    figures = _figures(registry)
    if name not in figures:
        raise ValueError(f"no figure is named {name!r}; figures: {', '.join(sorted(figures)) or '(none)'}")
    return figures[name]


def select_figures(patterns: Iterable[str] | None, registry=None) -> tuple[str, ...]:
    """Names matching any of ``patterns`` (globs); all when ``patterns`` is empty or None.

    Raises:
      ValueError: a pattern matches no figure (the message lists the figures).
    """
    names = figure_names(registry)
    patterns = list(patterns or [])
    if not patterns:
        return names
    chosen: list[str] = []
    for pattern in patterns:
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            raise ValueError(f"no figure matches {pattern!r}; figures: {', '.join(names) or '(none)'}")
        chosen.extend(n for n in matched if n not in chosen)
    return tuple(chosen)


def make_figures(out_dir: str | Path, names: Iterable[str] | None = None, *, quick: bool = False,
                 progress: Callable[[int, int, str], None] | None = None, registry=None) -> dict[str, list[Path]]:
    """Make the figures ``names`` (globs; all by default) of the papers of ``registry`` (default:
    every installed paper) under ``out_dir``; return their paths by figure name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = _figures(registry)
    chosen = select_figures(names, registry)
    written: dict[str, list[Path]] = {}
    for index, name in enumerate(chosen, 1):
        if progress is not None:
            progress(index, len(chosen), name)
        paths = figures[name].make(out, quick=quick)
        written[name] = [Path(p) for p in paths]
    return written


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 3.6, height: float = 2.8, **kwargs):
    """A matplotlib (figure, axes) in the house style, ``width`` × ``height`` inches per panel.

    The style is applied to matplotlib's rcParams (text and lines added later follow it).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update(_STYLE)
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), **kwargs)


def save_figure(fig, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``fig`` as ``<out_dir>/<stem>.png`` and ``.pdf`` in the house style; close it."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    for path in paths:
        fig.savefig(path, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    plt.close(fig)
    return paths
