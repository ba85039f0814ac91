"""Tests for the symbolic derivations in ``proofs/`` (seed 001, Xiao et al. 2024).

Every derivation is checked twice: it reports ``verified`` on the paper's input and the
objects it returns are the ones the paper states (or, where sympy disagrees with the
paper, the ones sympy found); and a wrong input makes the same machinery report failure.
"""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import example, given, settings, target
from hypothesis import strategies as st

import proofs
from proofs import generalized_pl as gpl
from proofs import pm_identity, pm_ode, preferences
from proofs._symbolic import C1, C2, C_PRIME, K_SYM, PI, R, is_identically_zero

# Symbolic work per example is ~0.1 s; cap the property tests so the file stays fast.
FEW_EXAMPLES = settings(max_examples=20)


class TestPmOdeResidual:
    def test_paper_solution_has_zero_residual(self):
        assert pm_ode.pm_ode_residual(-sp.log(PI) + C1 + C2 / PI) == 0

    def test_wrong_log_coefficient_is_rejected(self):
        # R = −2 log π: πR'' + 2R' + 1/π = π·2/π² − 4/π + 1/π = −1/π.
        assert pm_ode.pm_ode_residual(-2 * sp.log(PI)) == -1 / PI

    def test_non_expression_is_a_type_error(self):
        with pytest.raises(TypeError, match="regularizer"):
            pm_ode.pm_ode_residual(lambda p: p)


class TestPmFirstOrderCondition:
    def test_verified_and_constant_matches_paper(self):
        result = pm_ode.pm_first_order_condition()
        assert result.verified
        # Paper: c' = −c − λ with c = log Σ_j e^{r_j} = log Z.
        assert result.c_prime == -sp.log(sp.Symbol("Z", positive=True)) - sp.Symbol(
            "lambda", real=True
        )
        assert result.first_order_condition == sp.Eq(
            R(PI) + PI * R(PI).diff(PI), -sp.log(PI) + C_PRIME
        )
        assert "interior" in result.conditions

    def test_stationarity_is_r_plus_R_plus_pi_R_prime_plus_lambda(self):
        result = pm_ode.pm_first_order_condition(num_responses=2)
        p1 = sp.Symbol("pi_1", positive=True)
        r1 = sp.Symbol("r_1", real=True)
        lam = sp.Symbol("lambda", real=True)
        assert sp.simplify(result.stationarity[0] - (r1 + R(p1) + p1 * R(p1).diff(p1) + lam)) == 0

    def test_reward_inversion_is_log_pi_plus_log_z(self):
        result = pm_ode.pm_first_order_condition(num_responses=4)
        z = sp.Symbol("Z", positive=True)
        for i, r_of_p in enumerate(result.reward_inversion, start=1):
            assert r_of_p == sp.log(sp.Symbol(f"pi_{i}", positive=True)) + sp.log(z)

    @pytest.mark.parametrize("bad", [1, 1.5, True])
    def test_rejects_bad_num_responses(self, bad):
        with pytest.raises((TypeError, ValueError), match="num_responses"):
            pm_ode.pm_first_order_condition(num_responses=bad)


class TestPmDifferentialEquation:
    def test_verified_and_equals_paper_ode(self):
        result = pm_ode.pm_differential_equation()
        assert result.verified
        expected = PI * R(PI).diff(PI, 2) + 2 * R(PI).diff(PI) + 1 / PI
        assert sp.simplify(result.ode - expected) == 0

    def test_wrong_first_order_condition_gives_wrong_ode(self):
        # R + πR' = −2 log π + c' differentiates to πR'' + 2R' + 2/π, not the PM ODE.
        wrong = sp.Eq(R(PI) + PI * R(PI).diff(PI), -2 * sp.log(PI) + C_PRIME)
        result = pm_ode.pm_differential_equation(wrong)
        assert not result.verified
        assert sp.simplify(result.ode - result.paper_ode) == 1 / PI

    def test_rejects_non_equation(self):
        with pytest.raises(TypeError, match="first_order_condition"):
            pm_ode.pm_differential_equation(R(PI))


class TestPmOdeGeneralSolution:
    def test_verified(self):
        result = pm_ode.pm_ode_general_solution()
        assert result.verified
        assert result.substitution_residual == 0
        assert result.product_rule_residual == 0

    def test_dsolve_is_paper_solution_up_to_renaming(self):
        result = pm_ode.pm_ode_general_solution()
        mapping = dict(result.constant_map)
        dsolve_constants = result.dsolve_solution.rhs.free_symbols - {PI}
        # Each paper constant is one of dsolve's constants, and all of them are used.
        assert set(mapping.values()) == dsolve_constants
        renamed = result.dsolve_solution.rhs.subs({v: k for k, v in mapping.items()})
        assert sp.simplify(renamed - (-sp.log(PI) + C1 + C2 / PI)) == 0

    def test_wrong_candidate_is_rejected(self):
        result = pm_ode.pm_ode_general_solution(-2 * sp.log(PI) + C1)
        assert not result.verified
        assert result.substitution_residual == -1 / PI

    def test_missing_one_over_pi_term_still_solves(self):
        # C2 = 0 is a member of the family (Example 1).
        assert pm_ode.pm_ode_general_solution(-sp.log(PI)).verified


class TestPmFirstOrderConstant:
    def test_sympy_finds_c1_equal_c_prime_plus_one(self):
        result = pm_ode.pm_first_order_constant()
        assert result.verified
        assert result.derived_c1 == C_PRIME + 1

    def test_paper_c1_is_off_by_two(self):
        # §3.3 after (3.13) says C_1 = c' − 1; then R + πR' + log π − c' = −2, not 0.
        result = pm_ode.pm_first_order_constant()
        assert result.paper_c1 == C_PRIME - 1
        assert result.paper_c1_residual == -2
        assert not result.agrees_with_paper


class TestPmConstantTerm:
    def test_remark_3_4_sum_is_k_c2(self):
        result = pm_ode.pm_constant_term()
        assert result.verified
        assert result.expectation_general == K_SYM * C2
        assert result.expectation_explicit == 3 * C2
        assert not result.depends_on_policy
        assert "π_i > 0" in result.conditions

    @pytest.mark.parametrize("num_responses", [1, 2, 7])
    def test_explicit_counts(self, num_responses):
        result = pm_ode.pm_constant_term(num_responses=num_responses)
        assert result.expectation_explicit == num_responses * C2

    def test_term_not_of_form_c_over_pi_depends_on_policy(self):
        result = pm_ode.pm_constant_term(lambda p, c: c / p**2)
        assert not result.verified
        assert result.depends_on_policy

    def test_rejects_non_callable_term(self):
        with pytest.raises(TypeError, match="term"):
            pm_ode.pm_constant_term(C2 / PI)


class TestResponseDependentConstantTerm:
    def test_remark_3_6_sum_is_sum_of_constants(self):
        result = pm_ode.response_dependent_constant_term()
        assert result.verified
        consts = sp.IndexedBase("C_2", real=True)
        i = sp.Symbol("i", integer=True, positive=True)
        assert result.expectation_general == sp.Sum(consts[i], (i, 1, K_SYM))
        assert result.expectation_explicit == sum(sp.symbols("C_2_1:4", real=True))

    def test_policy_dependent_term_is_rejected(self):
        result = pm_ode.response_dependent_constant_term(lambda p, c: c * sp.log(p))
        assert not result.verified
        assert result.depends_on_policy


class TestUniformPenaltyObjective:
    def test_log_one_over_k_makes_identity_exact(self):
        result = pm_ode.uniform_penalty_objective()
        assert result.verified
        assert result.gap == 0
        assert result.gap_explicit == 0
        assert result.kl_rlhf_residual == 0

    def test_solved_constant_is_log_one_over_k(self):
        result = pm_ode.uniform_penalty_objective()
        assert sp.simplify(result.solved_c1 - sp.log(1 / K_SYM)) == 0

    def test_paper_text_constant_one_over_k_is_wrong(self):
        # Example 3's heading says C_{1,x} = 1/k; the gap C_1 + log k is then 1/k + log k.
        result = pm_ode.uniform_penalty_objective()
        assert result.stated_c1 == 1 / K_SYM
        assert sp.simplify(result.stated_c1_gap - (1 / K_SYM + sp.log(K_SYM))) == 0
        assert result.stated_c1_gap_positive

    def test_passing_one_over_k_is_rejected(self):
        result = pm_ode.uniform_penalty_objective(c1=1 / K_SYM, num_responses=4)
        assert not result.verified
        assert sp.simplify(result.gap - (1 / K_SYM + sp.log(K_SYM))) == 0
        assert sp.simplify(result.gap_explicit - (sp.Rational(1, 4) + sp.log(4))) == 0


class TestPmObjectiveIdentity:
    def test_verified_general_and_explicit(self):
        result = pm_identity.pm_objective_identity()
        assert result.verified
        assert result.residual_general == 0
        assert result.residual_explicit == 0

    def test_needs_the_simplex(self):
        # Off the simplex the residual is (Σπ_i − 1)(C_1 + log Z).
        result = pm_identity.pm_objective_identity(num_responses=2)
        p1, p2 = sp.symbols("pi_1:3", positive=True)
        z = sp.Symbol("Z", positive=True)
        assert sp.simplify(result.residual_off_simplex - (p1 + p2 - 1) * (C1 + sp.log(z))) == 0

    def test_wrong_offset_is_rejected(self):
        # Offset C_1 + C_2 (dropping the k of Remark 3.4) leaves (k − 1)·C_2.
        result = pm_identity.pm_objective_identity(num_responses=4, offset=C1 + C2)
        assert not result.verified
        assert sp.simplify(result.residual_general - (K_SYM - 1) * C2) == 0
        assert result.residual_explicit == 3 * C2


class TestPmObjectiveHessian:
    def test_hessian_is_minus_one_over_pi(self):
        result = pm_identity.pm_objective_hessian()
        assert result.verified
        assert result.diagonal == tuple(-1 / p for p in sp.symbols("pi_1:4", positive=True))

    def test_convex_regularizer_is_rejected(self):
        result = pm_identity.pm_objective_hessian(regularizer=sp.log)
        assert not result.verified


class TestLinks:
    @pytest.mark.parametrize(
        "make",
        [
            gpl.symbolic_link,
            gpl.exp_link,
            gpl.softplus_link,
            gpl.exp_asinh_link,
            gpl.scaled_exp_link,
            lambda: gpl.power_link(2),
            lambda: gpl.power_link(sp.Symbol("p", positive=True)),
        ],
    )
    def test_links_are_consistent(self, make):
        link = make()  # __post_init__ checks g(g⁻¹(π)) = π and G' = g
        assert is_identically_zero(link.at(link.g_inverse) - PI)

    def test_wrong_antiderivative_is_rejected(self):
        with pytest.raises(ValueError, match="antiderivative"):
            gpl.Link("bad", gpl.U, sp.exp(gpl.U), sp.log(PI), sp.exp(2 * gpl.U), "u real")

    def test_wrong_inverse_is_rejected(self):
        with pytest.raises(ValueError, match="g_inverse"):
            gpl.Link("bad", gpl.U, sp.exp(gpl.U), sp.log(2 * PI), sp.exp(gpl.U), "u real")

    def test_power_must_be_positive(self):
        with pytest.raises(ValueError, match="power"):
            gpl.power_link(-1)


class TestGeneralizedPmDifferentialEquation:
    def test_symbolic_g_gives_paper_ode(self):
        result = gpl.generalized_pm_differential_equation()
        assert result.verified
        g_prime_at_inverse = gpl._LinkDerivative(gpl._LinkInverse(PI))
        expected = PI * R(PI).diff(PI, 2) + 2 * R(PI).diff(PI) + 1 / g_prime_at_inverse
        assert sp.simplify(result.ode - expected) == 0
        assert "a·e^{b r}" in result.conditions

    def test_exp_link_gives_pm_ode(self):
        result = gpl.generalized_pm_differential_equation(gpl.exp_link())
        assert result.verified
        assert sp.simplify(result.ode - pm_ode.PM_ODE) == 0

    def test_power_link_ode_differs_from_pm_ode(self):
        # g = u²: 1/g'(g⁻¹(π)) = 1/(2√π), not 1/π.
        result = gpl.generalized_pm_differential_equation(gpl.power_link(2))
        assert result.verified
        assert sp.simplify(result.ode - pm_ode.PM_ODE) == 1 / (2 * sp.sqrt(PI)) - 1 / PI


class TestGeneralizedPmOdeSolution:
    @pytest.mark.parametrize(
        "make",
        [
            gpl.symbolic_link,
            gpl.exp_link,
            gpl.softplus_link,
            gpl.exp_asinh_link,
            gpl.scaled_exp_link,
            lambda: gpl.power_link(3),
            lambda: gpl.power_link(sp.Rational(1, 2)),
            lambda: gpl.power_link(sp.Symbol("p", positive=True)),
        ],
    )
    def test_3_14_solves_the_ode(self, make):
        result = gpl.generalized_pm_ode_solution(make())
        assert result.verified
        assert result.substitution_residual == 0
        # (πR)' = −g⁻¹(π) + C_1: the c' of the first-order identity is C_1 itself.
        assert result.first_order_residual == 0

    @pytest.mark.parametrize("make", [gpl.exp_link, lambda: gpl.power_link(2)])
    def test_dsolve_agrees_up_to_constants(self, make):
        result = gpl.generalized_pm_ode_solution(make(), use_dsolve=True)
        assert result.verified
        assert result.dsolve_gap_is_constants

    def test_power_two_dsolve_solution(self):
        result = gpl.generalized_pm_ode_solution(gpl.power_link(2), use_dsolve=True)
        rhs = result.dsolve_solution.rhs
        constants = sorted(rhs.free_symbols - {PI}, key=str)
        assert sp.simplify(rhs - (constants[0] + constants[1] / PI - 2 * sp.sqrt(PI) / 3)) == 0

    @pytest.mark.parametrize(
        "make", [gpl.symbolic_link, lambda: gpl.power_link(2), gpl.softplus_link]
    )
    def test_dropping_the_G_term_is_rejected(self, make):
        link = make()
        wrong = -link.g_inverse + C1 + C2 / PI
        result = gpl.generalized_pm_ode_solution(link, wrong)
        assert not result.verified
        assert result.substitution_residual != 0

    def test_pl_solution_fails_for_power_link(self):
        result = gpl.generalized_pm_ode_solution(gpl.power_link(2), -sp.log(PI) + C1 + C2 / PI)
        assert not result.verified

    def test_dsolve_needs_concrete_link(self):
        with pytest.raises(ValueError, match="concrete"):
            gpl.generalized_pm_ode_solution(use_dsolve=True)

    def test_rejects_non_link(self):
        with pytest.raises(TypeError, match="link"):
            gpl.generalized_pm_ode_solution("exp")


class TestGeneralizedPlReducesToPl:
    def test_exp_gives_theorem_1_with_shifted_c1(self):
        result = gpl.generalized_pl_reduces_to_pl()
        assert result.verified
        assert result.pl_constants == (C1 + 1, C2)
        # G(g⁻¹(π)) = π (the Remark writes exp(log π)/π = 1 for this term).
        assert result.antiderivative_at_inverse == PI

    @pytest.mark.parametrize(
        "make", [lambda: gpl.power_link(2), gpl.softplus_link, gpl.exp_asinh_link]
    )
    def test_other_links_do_not_reduce(self, make):
        result = gpl.generalized_pl_reduces_to_pl(make())
        assert not result.verified
        assert result.pl_constants is None

    def test_scaled_exp_with_unit_rate_reduces(self):
        # g = a·e^u: g⁻¹ = log(π/a), G(g⁻¹(π)) = π, so R = −log π + (log a + C_1 + 1) + C_2/π.
        a = sp.Symbol("a", positive=True)
        result = gpl.generalized_pl_reduces_to_pl(gpl.scaled_exp_link(rate=1))
        assert result.verified
        assert sp.simplify(result.pl_constants[0] - (sp.log(a) + C1 + 1)) == 0


class TestGeneralizedPlRewardShift:
    def test_verified_and_differs_from_paper(self):
        result = gpl.generalized_pl_reward_shift()
        assert result.verified
        assert not result.paper_step_general

    def test_objects(self):
        result = gpl.generalized_pl_reward_shift()
        assert result.scale_invariance_residual == 0
        assert result.inverted_reward == gpl._LinkInverse(gpl.S * PI)
        b = sp.Symbol("b", positive=True)
        assert sp.simplify(result.scaled_exp_shift - sp.log(gpl.S) / b) == 0
        assert sp.simplify(result.power_shift - sp.sqrt(PI) * (sp.sqrt(gpl.S) - 1)) == 0
        # d/dπ √π(√S − 1) at S = 4, π = 1/4: (2 − 1)/(2·(1/2)) = 1.
        assert result.power_witness == 1
        g = sp.Function("g")
        assert result.link_ode == sp.Eq(g(gpl.U).diff(gpl.U), b * g(gpl.U))
        (const,) = result.link_solution.rhs.free_symbols - {gpl.U, b}
        assert result.link_solution.rhs == const * sp.exp(b * gpl.U)


class TestTheorem3Counterexample:
    def test_power_link_counterexample(self):
        result = gpl.theorem3_counterexample()
        assert result.verified
        assert result.target_policy == (sp.Rational(1, 5), sp.Rational(4, 5))
        # λ_i = −r_i + g⁻¹(π_i) − C_1 = −r_i + r_i/√5 − C_1, so λ_2 − λ_1 = −1 + 1/√5.
        assert sp.simplify(result.multiplier_gaps[1] - (-1 + 1 / sp.sqrt(5))) == 0
        assert result.control_gaps == (0, 0)
        assert sp.simplify(
            result.stationarity_in_pi - (sp.Symbol("r", real=True) - sp.sqrt(PI) + C1)
        ) == 0

    def test_true_maximizer_is_not_the_target(self):
        # With C_1 = C_2 = 0, πR(π) = −(2/3)π^{3/2}; the concave objective
        # f(π) = Σπ_i r_i − (2/3)Σπ_i^{3/2} is larger at (0, 1) (f = 4/3) than at the
        # generalized-PL target (1/5, 4/5).
        result = gpl.theorem3_counterexample()
        pi_r = sp.simplify((PI * result.regularizer).subs({C1: 0, C2: 0}))

        def objective(policy):
            return sum(p * r + pi_r.subs(PI, p) for p, r in zip(policy, result.rewards))

        assert objective((0, 1)) == sp.Rational(4, 3)
        assert sp.simplify(objective((0, 1)) - objective(result.target_policy)).is_positive
        # KKT at (0, 1): ∂f/∂π_i = r_i − √π_i = (1, 1), equal, so (0, 1) is the maximizer.
        p1, p2 = sp.symbols("p_1 p_2", nonnegative=True)
        f = objective((p1, p2))
        gradient = [sp.diff(f, v).subs({p1: 0, p2: 1}) for v in (p1, p2)]
        assert gradient == [1, 1]

    def test_softplus_counterexample(self):
        result = gpl.theorem3_counterexample(gpl.softplus_link(), (0, 1))
        assert result.verified
        assert abs(float(result.multiplier_gaps[1]) + 0.19362034051910) < 1e-12

    def test_exp_link_is_not_a_counterexample(self):
        result = gpl.theorem3_counterexample(gpl.exp_link(), (1, 2, 5))
        assert not result.verified
        assert result.multiplier_gaps == (0, 0, 0)

    def test_normalizer_one_is_not_a_counterexample(self):
        # r = (3/5, 4/5): S = 1, so g⁻¹(Sπ) = g⁻¹(π) and the target happens to be stationary.
        rewards = (sp.Rational(3, 5), sp.Rational(4, 5))
        result = gpl.theorem3_counterexample(gpl.power_link(2), rewards)
        assert not result.verified

    def test_rejects_bad_rewards(self):
        with pytest.raises(ValueError, match="at least 2"):
            gpl.theorem3_counterexample(rewards=(1,))
        with pytest.raises(ValueError, match="positive rewards"):
            gpl.theorem3_counterexample(gpl.power_link(2), (-1, 2))

    @FEW_EXAMPLES
    @given(
        r1=st.fractions(min_value=sp.Rational(1, 10), max_value=5, max_denominator=20),
        r2=st.fractions(min_value=sp.Rational(1, 10), max_value=5, max_denominator=20),
    )
    @example(r1=sp.Rational(1, 2), r2=sp.Rational(1, 2))  # ties: stationary
    @example(r1=sp.Rational(3, 5), r2=sp.Rational(4, 5))  # S = 1: stationary
    def test_power_two_gap_matches_hand_formula(self, r1, r2):
        # Independent reference: λ_i = −r_i(1 − 1/√S) − C_1, so λ_2 − λ_1 = −(r_2 − r_1)(1 − 1/√S).
        r1, r2 = sp.Rational(r1), sp.Rational(r2)
        result = gpl.theorem3_counterexample(gpl.power_link(2), (r1, r2))
        s = r1**2 + r2**2
        expected = -(r2 - r1) * (1 - 1 / sp.sqrt(s))
        assert sp.simplify(result.multiplier_gaps[1] - expected) == 0
        target(float(abs(expected)))
        assert result.verified == (r1 != r2 and s != 1)

    @FEW_EXAMPLES
    @given(rewards=st.lists(st.integers(-6, 6), min_size=2, max_size=4))
    def test_exp_control_always_stationary(self, rewards):
        result = gpl.theorem3_counterexample(gpl.exp_link(), tuple(rewards))
        assert all(gap == 0 for gap in result.multiplier_gaps)


class TestKlRlhfBinaryPreference:
    def test_verified(self):
        assert preferences.kl_rlhf_binary_preference().verified

    def test_p_reward_uses_temperature(self):
        result = preferences.kl_rlhf_binary_preference()
        r1, r2 = preferences.REWARDS
        beta = preferences.BETA
        expected = sp.exp(r1 / beta) / (sp.exp(r1 / beta) + sp.exp(r2 / beta))
        assert sp.simplify(result.p_reward[0] - expected) == 0

    def test_bias_is_real(self):
        # p_rlhf ≠ p_reward in general (the paper's point): the machinery can say "no".
        result = preferences.kl_rlhf_binary_preference()
        assert not is_identically_zero(result.p_rlhf[0] - result.p_reward[0])


class TestKlRlhfMatchingConditions:
    def test_btl_target_needs_beta_one_and_uniform_reference(self):
        result = preferences.kl_rlhf_matching_conditions()
        assert result.verified
        q1, q2 = preferences.REF_PREFS
        half = sp.Rational(1, 2)
        assert result.solutions == ({preferences.BETA: 1, q1: half, q2: half},)
        d = preferences.REWARD_GAP
        assert sp.simplify(result.log_odds_gap - (d / preferences.BETA - d + sp.log(q1 / q2))) == 0

    def test_tempered_target_needs_only_uniform_reference(self):
        # With the paper's p_reward (r/β), β is free: the β = 1 condition is about (2.1).
        result = preferences.kl_rlhf_matching_conditions("tempered")
        assert result.verified
        q1, q2 = preferences.REF_PREFS
        assert result.solutions == ({q1: sp.Rational(1, 2), q2: sp.Rational(1, 2)},)
        assert result.coefficients[0] == 0

    @pytest.mark.parametrize(
        "beta, q1, residual_is_zero",
        [
            (1, sp.Rational(1, 2), True),
            (2, sp.Rational(1, 2), False),
            (1, sp.Rational(1, 3), False),
        ],
    )
    def test_gap_at_parameters(self, beta, q1, residual_is_zero):
        result = preferences.kl_rlhf_matching_conditions()
        a, b = preferences.REF_PREFS
        gap = result.p_rlhf.subs({preferences.BETA: beta, a: q1, b: 1 - q1}) - result.p_target
        assert is_identically_zero(gap) == residual_is_zero

    def test_rejects_unknown_target(self):
        with pytest.raises(ValueError, match="target"):
            preferences.kl_rlhf_matching_conditions("uniform")


def _mixed_logit_choice(weights, subset, index):
    # Half PL with weights w, half PL with weights w²: violates IIA.
    squared = [w**2 for w in weights]
    return (
        preferences.plackett_luce_choice(weights, subset, index)
        + preferences.plackett_luce_choice(squared, subset, index)
    ) / 2


def _mixed_pl_ranking(weights, order):
    squared = [w**2 for w in weights]
    return (
        preferences.plackett_luce_ranking(weights, order)
        + preferences.plackett_luce_ranking(squared, order)
    ) / 2


class TestPlSubsetConsistency:
    def test_pl_satisfies_iia_for_four_responses(self):
        result = preferences.pl_subset_consistency()
        assert result.verified
        assert result.num_subsets == 11  # C(4,2) + C(4,3) + C(4,4)

    def test_mixed_logit_violates_iia(self):
        result = preferences.pl_subset_consistency(choice_rule=_mixed_logit_choice)
        assert not result.verified
        assert result.violations

    def test_choice_outside_subset_is_an_error(self):
        with pytest.raises(ValueError, match="not in subset"):
            preferences.plackett_luce_choice(sp.symbols("w_1:4"), (0, 1), 2)


class TestPlRankingMarginals:
    def test_top_choice_is_a1_and_pairs_are_btl(self):
        result = preferences.pl_ranking_marginals()
        assert result.verified
        assert result.total_probability == 1
        w = sp.symbols("w_1:5")
        assert sp.simplify(result.top_choice[0] - w[0] / sum(w)) == 0

    def test_mixed_ranking_is_rejected(self):
        result = preferences.pl_ranking_marginals(3, ranking_model=_mixed_pl_ranking)
        assert not result.verified
        assert result.total_probability == 1  # still a distribution
        assert any(r != 0 for r in result.top_choice_residuals)


class TestRunAll:
    def test_every_derivation_verifies(self):
        results = proofs.run_all()
        assert set(results) == set(proofs.DERIVATIONS)
        assert all(result.verified for result in results.values()), {
            name: result.verified for name, result in results.items()
        }

    def test_results_are_frozen(self):
        result = proofs.pm_ode_general_solution()
        with pytest.raises(AttributeError):
            result.verified = False


class TestPmTwoResponseRegularizer:
    def test_verified_and_not_of_form_3_8(self):
        out = proofs.pm_two_response_regularizer()
        assert out.verified and out.phi_symmetric
        assert is_identically_zero(out.phi - PI * (1 - PI) / 2)
        assert is_identically_zero(out.ode_residual - (sp.Rational(1, 2) - PI))
        assert max(abs(g) for g in out.three_response_gaps) > 0.05

    def test_c_zero_is_theorem_1(self):
        # c = 0 gives −log π + 1, of the form (3.8): φ ≡ 0, no ODE residual, so not "verified".
        out = proofs.pm_two_response_regularizer(0)
        assert out.phi == 0 and out.ode_residual == 0 and not out.verified

    def test_rejects_non_concave_c(self):
        with pytest.raises(ValueError, match="c"):
            proofs.pm_two_response_regularizer(2)


class TestGeneralizedPmExactCondition:
    @pytest.mark.parametrize("make, s_free", [(gpl.exp_link, True), (gpl.scaled_exp_link, True),
                                              (lambda: gpl.power_link(2), False), (gpl.softplus_link, False)])
    def test_s_dependence_only_for_non_exponential(self, make, s_free):
        out = proofs.generalized_pm_exact_condition(make())
        assert out.verified  # S = 1 gives the paper's ODE coefficient
        assert out.s_free is s_free and out.s_dependent is (not s_free)

    def test_power_two_coefficient(self):
        # S/g'(g⁻¹(Sπ)) = S/(2√(Sπ)) = √S/(2√π).
        out = proofs.generalized_pm_exact_condition(gpl.power_link(2))
        assert is_identically_zero(out.exact_ode_coefficient - sp.sqrt(gpl.S) / (2 * sp.sqrt(PI)))


class TestConditionalPmIdentity:
    @pytest.mark.parametrize("in_set", [(True,), (True, False), (False, True, True), (True, True, True)])
    def test_verified(self, in_set):
        out = proofs.conditional_pm_identity(in_set)
        assert out.verified and out.identity_residual == 0 and out.mass_limit == 1
        assert len(out.epsilons) == in_set.count(False)

    def test_optimum_weights(self):
        out = proofs.conditional_pm_identity((True, False))
        r1, r2 = sp.symbols("r_1:3", real=True)
        (eps,) = out.epsilons
        assert is_identically_zero(out.optimum[1] - eps * sp.exp(r2) / (sp.exp(r1) + eps * sp.exp(r2)))

    def test_rejects_empty_set(self):
        with pytest.raises(ValueError, match="in_set"):
            proofs.conditional_pm_identity((False, False))


class TestPythonMProofs:
    """``python -m proofs`` (proofs/__main__.py): the table of derivations and their results."""

    @staticmethod
    def fake_derivations(monkeypatch):
        import proofs.__main__ as entry

        class Result:
            def __init__(self, verified):
                self.verified = verified

        def good():
            """Derive a good thing."""
            return Result(True)

        def bad():
            """Derive a wrong thing.

            More docstring that the table leaves out."""
            return Result(False)

        def unsimplified():
            return Result(sp.Symbol("x") - sp.Symbol("x") + sp.Symbol("y"))  # not a bool: not verified

        def broken():
            raise ZeroDivisionError("division by zero")

        monkeypatch.setattr(entry, "DERIVATIONS", {"t.good": good, "t.bad": bad, "t.unsimplified": unsimplified,
                                                   "t.broken": broken})
        return entry

    def test_table_of_real_derivations(self, capsys):
        from proofs.__main__ import main

        assert main(["pmr.remark_3_[46]", "pmr.pm_ode"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["derivation", "verified", "seconds", "what", "it", "derives"]
        # DERIVATIONS order, not argument order; each row: name, yes, seconds, the docstring's first line.
        names = [line.split()[0] for line in lines[2:-2]]
        assert names == ["pmr.pm_ode", "pmr.remark_3_4", "pmr.remark_3_6"]
        for line in lines[2:-2]:
            assert line.split()[1] == "yes"
        assert lines[3].endswith("Remark 3.4: E_{y∼π} C_2/π(y) = Σ_i π_i·C_2/π_i = k·C_2, independent of π.")
        assert lines[-1].startswith("3 of 3 derivations verified in ")

    def test_failures_are_rows_and_exit_one(self, monkeypatch, capsys):
        entry = self.fake_derivations(monkeypatch)
        assert entry.main([]) == 1
        rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:6]}
        assert rows["t.good"].split()[1] == "yes" and rows["t.good"].endswith("Derive a good thing.")
        assert rows["t.bad"].split()[1] == "NO" and rows["t.bad"].endswith("Derive a wrong thing.")
        assert rows["t.unsimplified"].split()[1] == "NO"
        assert rows["t.broken"].split()[1] == "error"
        assert rows["t.broken"].endswith("ZeroDivisionError: division by zero")  # the others still ran

    def test_summary_counts(self, monkeypatch):
        entry = self.fake_derivations(monkeypatch)
        table = entry.derivation_table(entry.run_derivations(["t.*"]))
        assert table.splitlines()[-1].startswith("1 of 4 derivations verified in ")
        (row,) = entry.run_derivations(["t.good"])
        assert (row.name, row.status, row.what) == ("t.good", "yes", "Derive a good thing.") and row.seconds >= 0

    def test_unknown_name_exits_two_before_running(self, monkeypatch, capsys):
        entry = self.fake_derivations(monkeypatch)
        ran = []
        monkeypatch.setitem(entry.DERIVATIONS, "t.good", lambda: ran.append(1))
        assert entry.main(["t.good", "t.nope"]) == 2
        captured = capsys.readouterr()
        assert "'t.nope'" in captured.err and captured.out == "" and ran == []

    def test_list_runs_nothing(self, monkeypatch, capsys):
        entry = self.fake_derivations(monkeypatch)
        assert entry.main(["--list"]) == 0
        assert capsys.readouterr().out.splitlines() == ["t.good: Derive a good thing.", "t.bad: Derive a wrong thing.",
                                                        "t.unsimplified: ", "t.broken: "]

    def test_every_derivation_is_listed(self, capsys):
        from proofs.__main__ import main

        assert main(["--list"]) == 0
        assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == list(proofs.DERIVATIONS)

    def test_python_m_proofs(self):
        import os
        import subprocess
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parents[1]
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), environment.get("PYTHONPATH")]))
        done = subprocess.run([sys.executable, "-m", "proofs", "pmr.pm_ode"], capture_output=True, text=True,
                              cwd=root, env=environment, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[2].split()[:2] == ["pmr.pm_ode", "yes"]
