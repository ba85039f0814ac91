"""Tests of pmtheory.pmr.figures: the plotted numbers (quick grids), and one render of each figure."""

import numpy as np
import pytest
from scipy.special import logit

from pmtheory.figures import figure_names, figure_spec, make_figures
from pmtheory.pmr import figures as F


class TestFig2Curves:
    def test_exact_curves_are_eq_5_2_and_the_caption(self):
        c = F.fig2_curves(quick=True)
        assert c.exact.shape == (len(F.FIG2_P_REFS), c.p_reward.size)
        np.testing.assert_allclose(c.exact, np.asarray(c.predicted), atol=1e-12)
        half = list(c.p_ref).index(0.5)
        np.testing.assert_allclose(c.exact[half], c.p_reward, atol=1e-12)  # no bias at p_ref = 1/2
        assert np.all(c.exact[c.p_ref < 0.5] < c.p_reward) and np.all(c.exact[c.p_ref > 0.5] > c.p_reward)

    def test_hand_point(self):
        # p_ref = 0.1, p_reward = 0.9: odds 1/9 · 9 = 1, so p_rlhf = 1/2.
        c = F.fig2_curves(quick=True, p_refs=(0.1,))
        value = np.interp(0.9, c.p_reward, c.exact[0])
        assert value == pytest.approx(0.5, abs=2e-3)  # interpolated on the quick grid
        exact = F.f_rlhf_pair_preference(logit(0.9), logit(0.1))
        assert float(exact) == pytest.approx(0.5, abs=1e-14)


class TestFig9Curves:
    def test_smaller_beta_more_bias_below_one(self):
        curves = F.fig9_curves(quick=True)
        bias = {c.beta: np.max(np.abs(c.exact[0] - c.p_reward)) for c in curves[:-1]}
        assert bias[0.1] > bias[0.5] > bias[1.0]
        assert bias[1.0] <= 1e-12

    def test_a3_region(self):
        low = F.fig9_curves(quick=True)[-1]
        above = low.p_reward > 0.7
        row = list(low.p_ref).index(0.5)
        assert np.all(low.exact[row, above] > 0.99)
        # p_ref = 0.01 fails just above 0.7 (between the quick grid's points): logit = log(1/99)
        # + 10·logit(0.705) = 3.93 < logit(0.99) = 4.60.
        assert float(F.f_rlhf_pair_preference(logit(0.705), logit(0.01), beta=0.1)) < 0.99


class TestFdivCurves:
    def test_reverse_kl_prediction_is_exact(self):
        c = F.fdiv_curves("reverse_kl", quick=True)
        assert c.predicted.count() == c.exact.size
        np.testing.assert_allclose(c.exact, c.predicted.filled(np.nan), atol=1e-12)

    def test_chi2_prediction_is_not(self):
        c = F.fdiv_curves("chi2", quick=True)
        gap = np.abs(c.exact - c.predicted)
        assert gap.max() > 0.05

    def test_tv_has_no_prediction(self):
        c = F.fdiv_curves("tv", quick=True)
        assert c.predicted.count() == 0
        # TV keeps the reference preference until r1 − r2 exceeds β, then all mass moves.
        middle = np.abs(logit(c.p_reward)) < 1.0
        np.testing.assert_allclose(c.exact[:, middle], np.broadcast_to(c.p_ref[:, None], c.exact[:, middle].shape),
                                   atol=1e-12)


class TestCollapseCurves:
    @pytest.mark.parametrize("name", F.COLLAPSE_DIVERGENCES)
    def test_curves_reach_the_exact_limit(self, name):
        c = F.collapse_curves(name, quick=True)
        assert c.p_ref[-1] == pytest.approx(1e-16)
        np.testing.assert_allclose(c.exact[:, -1], c.limit, atol=1e-6)

    def test_only_kl_and_chi2_collapse(self):
        collapsing = [n for n in F.COLLAPSE_DIVERGENCES if np.all(F.collapse_curves(n, quick=True).limit == 0.0)]
        assert collapsing == ["reverse_kl", "chi2"]


class TestRender:
    def test_every_pmr_figure_renders(self, tmp_path):
        names = [n for n in figure_names() if n.startswith("pmr-")]
        assert set(names) >= {"pmr-fig2", "pmr-fig9", "pmr-fdiv-fig2", "pmr-collapse"}
        written = make_figures(tmp_path, names, quick=True)
        for name in names:
            paths = written[name]
            assert [p.suffix for p in paths] == [".png", ".pdf"]
            assert all(p.stat().st_size > 10_000 for p in paths)
        assert "PMR-FIG2" in figure_spec("pmr-fig2").claims
