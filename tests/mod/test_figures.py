"""Tests of pmtheory.mod.figures: the figures register, render from the library, and show what
the claims say."""

import numpy as np
import pytest

from pmtheory.figures import figure_names, figure_spec, make_figures
from pmtheory.mod.baselines import pareto_fronts
from pmtheory.mod.figures import PARETO_DIVERGENCES, pareto_problem, token_gap_curves


class TestRegistry:
    def test_figures_are_registered_with_their_claims(self):
        assert {"mod-pareto", "mod-token-gap"} <= set(figure_names())
        assert set(figure_spec("mod-pareto").claims) == {"MOD-PAR", "MOD-D2"}
        assert figure_spec("mod-token-gap").claims == ("MOD-TOK",)


class TestRendering:
    @pytest.mark.parametrize("name", ["mod-pareto", "mod-token-gap"])
    def test_quick_figure_writes_png_and_pdf(self, tmp_path, name):
        written = make_figures(tmp_path, [name], quick=True)[name]
        assert sorted(p.suffix for p in written) == [".pdf", ".png"]
        for path in written:
            assert path.stat().st_size > 5000


class TestContent:
    def test_pareto_problem_separates_the_methods(self):
        # The panels must show something: the α code (no 1/α) sits visibly off MOD's front.
        rewards, reference, beta = pareto_problem()
        fronts = pareto_fronts(rewards, reference, np.linspace(0, 1, 5), divergence="alpha:0.3", beta=beta)
        assert np.max(np.abs(fronts.points["published_code"] - fronts.points["mod"])) > 0.05
        np.testing.assert_allclose(fronts.points["mod"], fronts.points["morlhf"], atol=1e-10)
        assert "alpha:0.3" in PARETO_DIVERGENCES

    def test_token_gap_curves(self):
        curves = token_gap_curves(np.array([0.0, 0.5, 1.0]), range(2), divergences=("reverse_kl",))
        gap = curves["reverse_kl"]
        assert gap["mean"].shape == (3,)
        # At a vertex token-level sampling is the base policy itself; in between there is a gap.
        assert abs(gap["max"][0]) <= 1e-12 and abs(gap["max"][2]) <= 1e-12
        assert gap["mean"][1] > 1e-5
        assert np.all((gap["greedy_miss"] >= 0) & (gap["greedy_miss"] <= 1))
