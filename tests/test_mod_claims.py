"""Tests of the MOD claim checks: pinned verdicts and conditions, and mutations that flip them."""

import numpy as np
import pytest

import pmtheory.mod_claims as mod
from pmtheory.claims import HOLDS_WITH_CONDITION, REFUTED, default_registry


@pytest.fixture(scope="module")
def quick_results():
    return {cid: default_registry.run([cid], quick=True).claims[0] for cid in ("MOD-L1", "MOD-P1")}


class TestPinnedVerdicts:
    def test_lemma_1_holds_once_strong_barrier_is_read_as_strictly_convex(self, quick_results):
        outcome = quick_results["MOD-L1"]
        assert outcome.verdict == HOLDS_WITH_CONDITION
        assert "none of reverse_kl, forward_kl, js" in outcome.condition
        for name in mod.BARRIER_DIVERGENCES:
            assert outcome.evidence[name]["strongly_convex_on_R_plus"] is False
            assert outcome.evidence[name]["f_second_derivative_limit_at_infinity"] == "0"
            assert outcome.evidence[name]["form_kkt_residual"] <= 1e-12
        assert outcome.evidence["non_barrier_chi2"]["form_is_a_distribution"] is False

    def test_prop_1_bracket_needs_the_extension_for_bounded_derivatives(self, quick_results):
        outcome = quick_results["MOD-P1"]
        assert outcome.verdict == HOLDS_WITH_CONDITION
        assert outcome.evidence["reverse_kl"]["instances_with_phi_undefined_at_t1"] == 0
        assert outcome.evidence["forward_kl"]["instances_with_phi_undefined_at_t1"] > 0
        first = outcome.evidence["forward_kl"]["first_undefined_instance"]
        assert first["max_argument_at_t1"] >= first["sup_f_prime"] == 0.0
        for name in mod.BARRIER_DIVERGENCES:
            assert outcome.evidence[name]["formula_vs_direct"] <= 1e-9


class TestChecksCanFail:
    def test_lemma_1_refutes_a_reward_inversion_without_beta(self, monkeypatch):
        real = mod.implied_rewards

        def without_beta(policy, reference, *, divergence, beta):
            return real(policy, reference, divergence=divergence, beta=1.0)

        monkeypatch.setattr(mod, "implied_rewards", without_beta)
        result = mod.check_lemma1(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["recheck"]["agrees"] is True
        assert result.counterexample["inputs"]["beta"] != 1.0

    def test_prop_1_refutes_a_shrunken_bracket(self, monkeypatch):
        real = mod.prop1_bracket

        def shrunken(*args, **kwargs):
            t1, t2 = real(*args, **kwargs)
            return t1, t1 + (t2 - t1) * 1e-3 - 1e-3

        monkeypatch.setattr(mod, "prop1_bracket", shrunken)
        result = mod.check_prop1(quick=True)
        assert result.verdict == REFUTED
        assert result.counterexample["computed"].startswith("bracket:")
        assert result.counterexample["recheck"]["agrees"] is True
