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

Every figure can be linted (:func:`lint_figure`: text inside the canvas, no two text boxes overlapping,
legends off the data); :func:`inspect_saved_figures` hands each figure :func:`save_figure` writes to a
callback before it is closed, which is how the tests lint every registered figure.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "figure_names",
    "figure_spec",
    "inspect_saved_figures",
    "lint_figure",
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

    The style is applied to matplotlib's rcParams (text and lines added later follow it). The layout
    is ``"constrained"`` unless ``layout`` says otherwise, so that labels, titles and colour bars stay
    inside the canvas (:func:`lint_figure` checks it).
    """
    kwargs.setdefault("layout", "constrained")
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
    for callback in list(_ON_SAVE):
        callback(fig, stem)
    plt.close(fig)
    return paths


# Callbacks (figure, stem) that save_figure runs on each figure after writing it, before closing it.
_ON_SAVE: list[Callable] = []


@contextmanager
def inspect_saved_figures(callback: Callable) -> Iterator[None]:
    """Within the block, call ``callback(fig, stem)`` for every figure :func:`save_figure` writes,
    after writing it and before closing it (``stem`` is the file name without suffix).

    Example (collect the lint of every figure)::

        problems = {}
        with inspect_saved_figures(lambda fig, stem: problems.setdefault(stem, lint_figure(fig))):
            make_figures(out_dir, quick=True)
    """
    _ON_SAVE.append(callback)
    try:
        yield
    finally:
        _ON_SAVE.remove(callback)


# Lint thresholds. Two text boxes overlap when their intersection is wider AND taller than
# _OVERLAP_PX display pixels (at the figure's dpi): glyph boxes carry a little padding, so touching
# boxes of neatly set text meet within a pixel without the glyphs touching.
_OVERLAP_PX = 1.0
# A legend may cover at most this fraction of an axes' plotted ink (line length sampled every
# _INK_STEP_PX pixels, and markers): a legend over a curve's very end passes, one over a stretch of
# a curve or over 2 of 128 scatter markers (bridge-mod before issue 14) does not. Every built-in
# figure's legends cover 0%.
LEGEND_COVER_LIMIT = 0.01
_INK_STEP_PX = 2.0


def _drawn_texts(fig) -> list:
    """(text artist, display bbox) of every non-empty text that a draw of ``fig`` renders."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    if not isinstance(fig.canvas, FigureCanvasAgg):  # e.g. a Figure() made without pyplot
        FigureCanvasAgg(fig)
    drawn: dict = {}  # by id: a layout engine may draw a text twice
    original = Text.draw

    def recording_draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn[id(self)] = (self, self.get_window_extent(renderer))

    Text.draw = recording_draw
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return list(drawn.values())


def _ink_points(ax):
    """Display coordinates (n, 2) of what ``ax`` plots inside its box: its lines resampled every
    _INK_STEP_PX pixels, and its markers (scatter offsets, line markers, error-bar segments)."""
    import numpy as np
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.lines import Line2D

    chunks = []

    def polyline(xy):
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if len(xy) == 1:
            chunks.append(xy)
        for a, b in zip(xy[:-1], xy[1:]):
            n = max(int(np.hypot(*(b - a)) // _INK_STEP_PX), 1)
            t = np.linspace(0.0, 1.0, n + 1)[:, None]
            chunks.append(a + t * (b - a))

    for artist in ax.get_children():
        if not artist.get_visible():
            continue
        if isinstance(artist, Line2D):
            xy = artist.get_transform().transform(np.asarray(artist.get_xydata(), dtype=float))
            if artist.get_linestyle() not in ("None", "none", " ", ""):
                polyline(xy)
            elif artist.get_marker() not in (None, "None", "none", " ", ""):
                chunks.append(xy[np.all(np.isfinite(xy), axis=1)])
        elif isinstance(artist, PathCollection):  # scatter markers
            chunks.append(artist.get_offset_transform().transform(np.asarray(artist.get_offsets(), dtype=float)))
        elif isinstance(artist, LineCollection):  # error bars, vlines
            for path in artist.get_paths():
                polyline(artist.get_transform().transform(path.vertices))
        # Filled areas (confidence bands) and colour meshes are not points: a legend may sit on them.
    if not chunks:
        return np.empty((0, 2))
    points = np.concatenate(chunks)
    return points[_inside(points, ax.bbox)]


def _overlap(a, b) -> bool:
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


def _inside(points, bbox):
    return ((points[:, 0] >= bbox.x0) & (points[:, 0] <= bbox.x1)
            & (points[:, 1] >= bbox.y0) & (points[:, 1] <= bbox.y1))


def lint_figure(fig) -> list[str]:
    """What a referee would object to in ``fig`` (empty when nothing), by renderer extents.

    Three checks:

    - every drawn text lies inside the canvas (``fig.bbox``; 1 px slack);
    - no two drawn text boxes overlap (by more than 1 px each way), and no text of one axes (tick
      labels, labels, title) runs into the box of another axes (e.g. a colour bar);
    - each legend covers at most :data:`LEGEND_COVER_LIMIT` of its axes' plotted ink (a legend made
      by ``fig.legend`` is checked against every axes).
    """
    import numpy as np
    from matplotlib.text import Text

    texts = _drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    problems: list[str] = []

    def name(text) -> str:
        return repr(" ".join(text.get_text().split())[:40])

    for text, box in texts:
        if box.x0 < canvas.x0 - 1 or box.y0 < canvas.y0 - 1 or box.x1 > canvas.x1 + 1 or box.y1 > canvas.y1 + 1:
            problems.append(f"text {name(text)} runs outside the canvas")
    for i, (first, a) in enumerate(texts):
        for second, b in texts[i + 1:]:
            width = min(a.x1, b.x1) - max(a.x0, b.x0)
            height = min(a.y1, b.y1) - max(a.y0, b.y0)
            if width > _OVERLAP_PX and height > _OVERLAP_PX:
                problems.append(f"texts {name(first)} and {name(second)} overlap")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    owners = {id(t): ax for ax in axes for t in ax.findobj(Text)}  # tick labels have no .axes
    for text, box in texts:
        owner = owners.get(id(text))
        if owner is None:
            continue
        for ax in axes:
            if ax is owner or _overlap(ax.bbox, owner.bbox):  # itself, a twin or an inset
                continue
            area = ax.bbox
            width = min(box.x1, area.x1) - max(box.x0, area.x0)
            height = min(box.y1, area.y1) - max(box.y0, area.y0)
            if width > _OVERLAP_PX and height > _OVERLAP_PX:
                problems.append(f"text {name(text)} runs into another axes' box")
                break
    legends = [(ax.get_legend(), [ax]) for ax in axes if ax.get_legend() is not None]
    legends += [(legend, axes) for legend in fig.legends]
    for legend, covered_axes in legends:
        if not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        points = np.concatenate([_ink_points(ax) for ax in covered_axes] or [np.empty((0, 2))])
        if len(points):
            fraction = float(np.mean(_inside(points, box)))
            if fraction > LEGEND_COVER_LIMIT:
                labels = ", ".join(name(t) for t in legend.get_texts()[:3])
                problems.append(f"legend ({labels}) covers {fraction:.0%} of the plotted points "
                                f"(limit {LEGEND_COVER_LIMIT:.0%})")
    return problems
