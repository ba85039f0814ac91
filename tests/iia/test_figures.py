"""Tests of pmtheory.iia.figures: each figure is registered, quick, and written as PNG + PDF."""

import time

import pytest

from pmtheory import figures

NAMES = ("iia-fig2", "iia-fig3", "iia-phase", "iia-sec6")


def test_the_iia_figures_are_registered_with_their_claims():
    assert set(NAMES) <= set(figures.figure_names())
    assert "IIA-FIG2" in figures.figure_spec("iia-fig2").claims
    assert "IIA-FIG3" in figures.figure_spec("iia-fig3").claims
    assert "IIA-SEC6" in figures.figure_spec("iia-sec6").claims


@pytest.mark.parametrize("name", NAMES)
def test_quick_figure_is_written_fast(name, tmp_path):
    start = time.perf_counter()
    written = figures.make_figures(tmp_path, [name], quick=True)[name]
    elapsed = time.perf_counter() - start
    assert {path.suffix for path in written} == {".png", ".pdf"}
    for path in written:
        assert path.exists() and path.stat().st_size > 10_000
    assert elapsed < 15.0, f"{name} took {elapsed:.1f} s with quick=True"
