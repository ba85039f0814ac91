"""The figure registry, house style and ``pmtheory figures``."""

from __future__ import annotations

import pytest

from pmtheory import claims, cli, figures
from pmtheory.papers import Paper, PaperError


def probe_paper(prefix: str = "ZZ") -> Paper:
    return Paper(prefix=prefix, title="A probe paper", citation="nobody (2026)",
                 catalogue=[{"id": f"{prefix}-1", "statement": "a line is straight", "method": "figure"}])


@pytest.fixture
def probe_figure(monkeypatch):
    """A throwaway paper with one figure that plots a line, added to the default registry for the test."""
    paper = probe_paper()
    registry = claims.Registry([*claims.default_registry().papers, paper])
    monkeypatch.setattr(claims, "default_registry", lambda: registry)
    calls = []

    @paper.figure("zz-probe", claims=("ZZ-1",), title="a probe")
    def make(out_dir, *, quick):
        calls.append(quick)
        fig, ax = figures.new_figure()
        ax.plot([0, 1], [0, 1], label="line")
        ax.set_xlabel("x")
        ax.legend()
        return figures.save_figure(fig, out_dir, "zz-probe")

    return calls


def test_make_figures_writes_png_and_pdf(probe_figure, tmp_path):
    written = figures.make_figures(tmp_path / "out", ["zz-*"], quick=True)
    assert list(written) == ["zz-probe"]
    paths = written["zz-probe"]
    assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    assert probe_figure == [True]


def test_unknown_pattern_names_the_figures(probe_figure):
    with pytest.raises(ValueError, match="no figure matches 'nope'.*zz-probe"):
        figures.select_figures(["nope"])


@pytest.mark.parametrize("name", ["", "Upper", "with space", "under_score"])
def test_bad_names_are_rejected(name):
    with pytest.raises(ValueError, match="lower-case"):
        probe_paper().figure(name)


def test_a_name_cannot_be_taken_twice_in_a_paper():
    paper = probe_paper()
    paper.figure("zz-probe")(lambda out_dir, *, quick: [])
    with pytest.raises(ValueError, match="registered twice"):
        paper.figure("zz-probe")(lambda out_dir, *, quick: [])


def test_a_name_cannot_be_taken_by_two_papers():
    first, second = probe_paper("ZZ"), probe_paper("ZY")
    first.figure("zz-probe")(lambda out_dir, *, quick: [])
    second.figure("zz-probe")(lambda out_dir, *, quick: [])
    with pytest.raises(PaperError, match="papers ZZ and ZY both register the figure 'zz-probe'"):
        claims.Registry([first, second]).figures()


def test_a_figure_names_claims_of_its_own_paper():
    with pytest.raises(ValueError, match="names claim 'PMR-FIG2', which is not in the catalogue of paper ZZ"):
        probe_paper().figure("zz-probe", claims=["PMR-FIG2"])


def test_the_built_in_figures_are_registered():
    names = figures.figure_names()
    for prefix in ("pmr-", "iia-", "mod-", "bridge-"):
        assert any(name.startswith(prefix) for name in names), prefix
    assert figures.figure_spec("pmr-fig2").paper == "PMR"
    with pytest.raises(ValueError, match="no figure is named 'nope'"):
        figures.figure_spec("nope")


def test_cli_lists_and_makes(probe_figure, tmp_path, capsys):
    assert cli.main(["figures", "--list"]) == 0
    assert "zz-probe: a probe [ZZ-1]" in capsys.readouterr().out
    assert cli.main(["figures", "zz-probe", "--out", str(tmp_path), "--quick"]) == 0
    out = capsys.readouterr()
    assert str(tmp_path / "zz-probe.png") in out.out
    assert "[1/1] zz-probe" in out.err


def test_cli_unknown_figure_is_a_usage_error(probe_figure, capsys):
    assert cli.main(["figures", "no-such-figure"]) == 2
    assert "no figure matches" in capsys.readouterr().err


# --- The figure lint (issue 14 §5) ---------------------------------------------------------------------------


def lint_of(draw, **kwargs) -> list[str]:
    """The lint of a one-axes house-style figure that ``draw(fig, ax)`` fills."""
    fig, ax = figures.new_figure(**kwargs)
    try:
        draw(fig, ax)
        return figures.lint_figure(fig)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_lint_passes_a_clean_figure():
    def draw(fig, ax):
        ax.plot([0, 1], [0, 1], label="line")
        ax.set_xlabel("x")
        ax.legend(loc="lower right")

    assert lint_of(draw) == []


def test_lint_finds_text_outside_the_canvas():
    assert any("'far away' runs outside the canvas" in p
               for p in lint_of(lambda fig, ax: ax.text(1.5, 0.5, "far away", transform=ax.transAxes)))


def test_lint_finds_overlapping_texts():
    def draw(fig, ax):
        ax.text(0.5, 0.5, "first words", transform=ax.transAxes)
        ax.text(0.52, 0.5, "second words", transform=ax.transAxes)

    assert any("'first words' and 'second words' overlap" in p for p in lint_of(draw))


def test_lint_finds_a_legend_over_the_data():
    import numpy as np

    def draw(fig, ax):
        x = np.linspace(0, 1, 50)
        ax.plot(x, np.full_like(x, 0.95), label="a flat line under the legend")
        ax.plot(x, x, label="diagonal")
        ax.legend(loc="upper left")

    assert any("legend" in p and "of the plotted points" in p for p in lint_of(draw))


def test_lint_counts_scatter_markers_under_a_legend():
    import numpy as np

    def draw(fig, ax):
        x, y = np.meshgrid(np.linspace(0, 1, 12), np.linspace(0, 1, 12))
        ax.scatter(x.ravel(), y.ravel(), s=4, label="a grid of markers, some under the legend")
        ax.legend(loc="upper left")

    problems = lint_of(draw)
    assert any("legend ('a grid of markers" in p and "of the plotted points" in p for p in problems), problems


def test_lint_finds_a_tick_label_running_into_a_colour_bar():
    import numpy as np

    def draw(fig, ax):
        # Placed by hand (no layout engine), the colour bar's box starts just right of the axes and
        # reaches below them, where the long "1.00000000" tick label at x = 1 runs into it.
        ax.set_position([0.1, 0.2, 0.7, 0.7])
        colour_bar_axes = fig.add_axes([0.81, 0.1, 0.03, 0.8])
        fig.colorbar(ax.imshow(np.zeros((2, 2)), extent=(0, 1, 0, 1)), cax=colour_bar_axes)
        ax.set_xticks([0.0, 1.0], ["0.0", "1.00000000"])

    assert any("'1.00000000' runs into another axes' box" in p for p in lint_of(draw, layout=None))


def test_save_figure_hands_each_figure_to_the_inspector_before_closing(probe_figure, tmp_path):
    seen = []
    with figures.inspect_saved_figures(lambda fig, stem: seen.append((stem, len(fig.axes)))):
        figures.make_figures(tmp_path, ["zz-*"], quick=True)
    figures.make_figures(tmp_path, ["zz-*"], quick=True)  # outside the block: not inspected
    assert seen == [("zz-probe", 1)]


@pytest.mark.parametrize("name", figures.figure_names())
def test_every_registered_figure_passes_the_lint(every_figure_quick, name):
    written, problems = every_figure_quick
    stems = [path.stem for path in written[name]]
    assert stems, f"{name} wrote nothing"
    for stem in stems:
        assert problems.get(stem) == [], f"{stem}: {problems.get(stem)}"


def test_ctrl_c_during_figures_is_one_line_and_exit_130(probe_figure, monkeypatch, tmp_path, capsys):
    def interrupted(out_dir, names, *, quick, progress, registry):
        progress(1, 1, "zz-probe")
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "make_figures", interrupted)
    assert cli.main(["figures", "zz-probe", "--out", str(tmp_path), "--quick"]) == 130
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == f"pmtheory figures: interrupted; 0 of 1 figures finished under {tmp_path}"
    assert "Traceback" not in captured.err
    assert captured.out == ""
