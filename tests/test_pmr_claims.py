"""Tests of the PMR claim checks: pinned verdicts, and mutations of the computation under
test that must flip the verdict (so the checks can come out either way)."""

import numpy as np
import pytest
from scipy.special import log_softmax

import pmtheory.pmr_claims as pmr
from pmtheory.claims import ERROR, HOLDS, REFUTED, default_registry


@pytest.fixture(scope="module")
def quick_results():
    return {cid: default_registry.run([cid], quick=True).claims[0] for cid in ("PMR-P3.1", "PMR-P5.1")}


class TestPinnedVerdicts:
    def test_prop_3_1_holds_on_exact_enumeration(self, quick_results):
        outcome = quick_results["PMR-P3.1"]
        assert outcome.verdict == HOLDS
        assert outcome.evidence["max_mass_off_argmax"] == 0.0
        assert outcome.evidence["instances"] >= 50

    def test_prop_5_1_holds_against_mpmath_and_cvxpy(self, quick_results):
        outcome = quick_results["PMR-P5.1"]
        assert outcome.verdict == HOLDS
        assert outcome.evidence["max_abs_diff_vs_mpmath"] <= 1e-10
        assert outcome.evidence["cvxpy_comparisons"] >= 5
        assert outcome.evidence["max_kkt_residual"] <= 1e-12


class TestChecksCanFail:
    def test_prop_5_1_refutes_a_wrong_closed_form(self, monkeypatch):
        # Drop π_ref from eq 5.1: the check must refute it, with an mpmath recheck.
        def without_reference(rewards, log_reference, beta=1.0):
            return log_softmax(np.asarray(rewards) / beta)

        monkeypatch.setattr(pmr, "kl_rlhf_log_policy", without_reference)
        result = pmr.check_kl_rlhf_closed_form(quick=True)
        assert result.verdict == REFUTED
        cx = result.counterexample
        assert cx["recheck"]["agrees"] is True
        rewards, log_q = np.array(cx["inputs"]["rewards"]), np.array(cx["inputs"]["log_reference"])
        assert len(rewards) <= 3 and np.ptp(log_q) > 0  # shrunk to a small case with a non-uniform π_ref

    def test_prop_3_1_refuses_an_unconfirmed_refutation(self, monkeypatch):
        # A broken enumeration that reports mass off the argmax at a non-optimal point: the
        # floating-point recheck does not confirm it, so the verdict is an error, not refuted.
        from fractions import Fraction

        def broken(rewards):
            k = len(rewards)
            if k < 2 or np.ptp(rewards) == 0:
                return Fraction(0), [Fraction(1, k)] * k
            return Fraction(1, 2), [Fraction(1, k)] * k

        monkeypatch.setattr(pmr, "_max_mass_off_argmax", broken)
        outcome = default_registry.run(["PMR-P3.1"], quick=True).claims[0]
        assert outcome.verdict == ERROR
        assert "did not confirm" in outcome.evidence["message"]


class TestMaxMassOffArgmax:
    def test_ties_share_the_optimal_face(self):
        mass, point = pmr._max_mass_off_argmax(np.array([1.0, 1.0, 0.0]))
        assert mass == 0 and sum(point) == 1 and point[2] == 0

    def test_a_gap_of_1e_300_still_counts(self):
        # HiGHS treats such a gap as zero; rational enumeration does not.
        mass, _ = pmr._max_mass_off_argmax(np.array([0.0, 1e-300]))
        assert mass == 0
