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
