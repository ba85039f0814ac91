"""The preference-matching (PM) differential equation and its solution, derived with sympy.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024, "On the Algorithmic Bias
of Aligning LLMs with RLHF"), §3.1-§3.3: the first-order condition (3.6)-(3.7), the PM ODE
``π R'' + 2R' + 1/π = 0``, its general solution (3.8), Remarks 3.4 and 3.6, Example 3, and
the constant of (3.13).

Shapes: ``K`` is the number of responses y_1, …, y_K to one prompt x; symbolic sums over a
general ``k`` use :data:`proofs._symbolic.K_SYM`. Every probability symbol is positive.

Each derivation returns a frozen dataclass whose ``verified`` field is computed by the
derivation itself from sympy's simplification, never set by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from proofs._symbolic import (
    C1,
    C2,
    C_PRIME,
    IDX,
    K_SYM,
    LAM,
    PI,
    R,
    Z,
    check_num_responses,
    is_identically_zero,
    log_family_constants,
    policy_symbols,
    reward_symbols,
    simplified,
)

# The paper's claims, written once: (3.7) as ``lhs - rhs``, the PM ODE and (3.8).
PM_FIRST_ORDER_CONDITION = sp.Eq(R(PI) + PI * R(PI).diff(PI), -sp.log(PI) + C_PRIME)
PM_ODE = PI * R(PI).diff(PI, 2) + 2 * R(PI).diff(PI) + 1 / PI
PM_REGULARIZER = -sp.log(PI) + C1 + C2 / PI


def pm_ode_residual(regularizer: sp.Expr, pi: sp.Symbol = PI) -> sp.Expr:
    """Residual of the PM ODE for a candidate regularizer, simplified.

    .. math::  \\mathrm{res}(R) = π R''(π) + 2 R'(π) + 1/π

    Source: seed 001, §3.1 (the PM differential equation).

    Args:
      regularizer: a sympy expression R(π) in ``pi``.
      pi: the probability symbol (positive).

    Returns:
      The simplified residual; 0 iff ``regularizer`` solves the ODE.
    """
    try:
        regularizer = sp.sympify(regularizer, strict=True)
    except sp.SympifyError as error:
        raise TypeError(
            f"regularizer must be a sympy expression, got {type(regularizer).__name__}"
        ) from error
    if not isinstance(regularizer, sp.Expr):
        raise TypeError(f"regularizer must be a sympy expression, got {type(regularizer).__name__}")
    return simplified(pi * regularizer.diff(pi, 2) + 2 * regularizer.diff(pi) + 1 / pi)


@dataclass(frozen=True)
class FirstOrderCondition:
    """Stationarity of the Lagrangian of (3.5) at the PM policy, as in (3.6)-(3.7)."""

    lagrangian: sp.Expr  # L = Σ_i π_i (r_i + R(π_i)) + λ(Σ_i π_i − 1), K terms
    stationarity: tuple[sp.Expr, ...]  # ∂L/∂π_i, shape (K,)
    reward_inversion: tuple[sp.Expr, ...]  # r_i solved from π_i = e^{r_i}/Z, shape (K,)
    first_order_condition: sp.Eq  # (3.7) in a generic π: R(π) + πR'(π) = −log π + c'
    c_prime: sp.Expr  # the constant c' = −log Z − λ found by the derivation
    conditions: str  # assumptions the paper leaves implicit
    verified: bool  # every ∂L/∂π_i = 0 is (3.7) with the same i-free c'


def pm_first_order_condition(num_responses: int = 3) -> FirstOrderCondition:
    """Derive (3.6)-(3.7): stationarity at the PM optimum gives R(π)+πR'(π) = −log π + c'.

    .. math::

        L = \\sum_i π_i (r_i + R(π_i)) + λ(\\sum_i π_i - 1),\\quad
        π_i^* = e^{r_i}/Z \\Rightarrow r_i = \\log π_i^* + \\log Z,\\quad
        R(π_i^*) + π_i^* R'(π_i^*) = -\\log π_i^* + c',\\ c' = -\\log Z - λ.

    Source: seed 001, §3.1, eq (3.5)-(3.7). Agrees with the paper (its c' = −c − λ with
    c = log Σ_j e^{r_j}).

    Args:
      num_responses: K ≥ 2, the number of responses.

    Returns:
      A :class:`FirstOrderCondition`; ``verified`` is True iff each ∂L/∂π_i, with r_i
      eliminated through π_i = e^{r_i}/Z, equals ``R(π_i) + π_i R'(π_i) + log π_i − c'`` for
      one c' that involves neither i, π_i nor r_i.
    """
    k = check_num_responses(num_responses)
    probs = policy_symbols(k)
    rewards = reward_symbols(k)
    lagrangian = sum(p * (r + R(p)) for p, r in zip(probs, rewards)) + LAM * (sum(probs) - 1)
    stationarity = tuple(sp.diff(lagrangian, p) for p in probs)
    inversions = []
    for p, r in zip(probs, rewards):
        (solution,) = sp.solve(sp.Eq(p, sp.exp(r) / Z), r)
        inversions.append(sp.expand_log(solution))
    c_prime = -sp.log(Z) - LAM
    residuals_ok = all(
        is_identically_zero(
            dl.subs(r, r_of_p) - (R(p) + p * R(p).diff(p) + sp.log(p) - c_prime)
        )
        for dl, p, r, r_of_p in zip(stationarity, probs, rewards, inversions)
    )
    c_prime_free = not (c_prime.free_symbols & (set(probs) | set(rewards)))
    return FirstOrderCondition(
        lagrangian=lagrangian,
        stationarity=stationarity,
        reward_inversion=tuple(inversions),
        first_order_condition=PM_FIRST_ORDER_CONDITION,
        c_prime=c_prime,
        conditions=(
            "R differentiable on (0, 1]; the PM policy is interior (every π_i* > 0, which "
            "holds since π_i* = e^{r_i}/Z), so the constraints π_i >= 0 are inactive and "
            "stationarity of the Lagrangian is necessary; Z = Σ_j e^{r_j} > 0"
        ),
        verified=residuals_ok and c_prime_free,
    )


@dataclass(frozen=True)
class PMDifferentialEquation:
    """The PM ODE obtained by differentiating a first-order condition in π."""

    first_order_condition: sp.Eq  # the identity that was differentiated, in a generic π
    ode: sp.Expr  # d/dπ (lhs − rhs), simplified; the ODE is ``ode = 0``
    paper_ode: sp.Expr  # π R'' + 2R' + 1/π, as printed in §3.1
    conditions: str  # assumptions the paper leaves implicit
    verified: bool  # ode − paper_ode ≡ 0 and the constant c' dropped out


def pm_differential_equation(first_order_condition: sp.Eq | None = None) -> PMDifferentialEquation:
    """Differentiate (3.7) in π to get the PM ODE π R'' + 2R' + 1/π = 0.

    .. math::  \\frac{d}{dπ}\\big[R + πR' + \\log π - c'\\big] = πR'' + 2R' + 1/π.

    Source: seed 001, §3.1 (end). Agrees with the paper.

    Args:
      first_order_condition: the identity in ``PI`` to differentiate; defaults to (3.7).

    Returns:
      A :class:`PMDifferentialEquation`; ``verified`` is True iff the derivative equals the
      paper's ODE identically and contains no c'.
    """
    if first_order_condition is None:
        first_order_condition = PM_FIRST_ORDER_CONDITION
    if not isinstance(first_order_condition, sp.Eq):
        raise TypeError(
            "first_order_condition must be a sympy Eq, got "
            f"{type(first_order_condition).__name__}"
        )
    ode = sp.expand(sp.diff(first_order_condition.lhs - first_order_condition.rhs, PI))
    return PMDifferentialEquation(
        first_order_condition=first_order_condition,
        ode=ode,
        paper_ode=PM_ODE,
        conditions=(
            "(3.7) must hold as an identity in π on an open interval, i.e. the PM "
            "probabilities π_i* must sweep an interval as the rewards vary (the paper's "
            "'taking π_i* as a variable'); R twice differentiable there"
        ),
        verified=is_identically_zero(ode - PM_ODE) and not ode.has(C_PRIME),
    )


@dataclass(frozen=True)
class PMODESolution:
    """General solution of the PM ODE, by dsolve and by substitution, as in (3.8)."""

    ode: sp.Expr  # π R'' + 2R' + 1/π (= 0)
    dsolve_solution: sp.Eq  # sympy's general solution, with its constants C1, C2
    regularizer: sp.Expr  # the candidate substituted, by default (3.8) −log π + C_1 + C_2/π
    constant_map: tuple[tuple[sp.Expr, sp.Expr], ...]  # ((C_1, A), (C_2, B)): dsolve's in paper's
    product_rule_residual: sp.Expr  # πR'' + 2R' − (πR)'' (0: the step used to integrate)
    substitution_residual: sp.Expr  # pm_ode_residual(regularizer)
    conditions: str  # assumptions the paper leaves implicit
    verified: bool  # dsolve ≡ (3.8) up to renaming constants, and the residual is 0


def pm_ode_general_solution(regularizer: sp.Expr | None = None) -> PMODESolution:
    """Solve the PM ODE: R(π) = −log π + C1 + C2/π, by dsolve and by substitution.

    .. math::

        πR'' + 2R' = (πR)'' = -1/π \\Rightarrow R(π) = -\\log π + C_1 + C_2/π.   (3.8)

    Source: seed 001, §3.2, eq (3.8) and Theorem 1 (necessity). Agrees with the paper.

    Args:
      regularizer: the candidate solution to substitute; defaults to (3.8).

    Returns:
      A :class:`PMODESolution`; ``verified`` is True iff dsolve's solution is
      ``-log π + A + B/π`` for constants A, B (so it is (3.8) up to renaming), sympy's
      ``checkodesol`` accepts it, and ``regularizer`` leaves a zero residual.
    """
    regularizer = PM_REGULARIZER if regularizer is None else sp.sympify(regularizer)
    dsolve_solution = sp.dsolve(PM_ODE, R(PI))
    dsolve_ok, _ = sp.checkodesol(PM_ODE, dsolve_solution)
    constants = log_family_constants(dsolve_solution.rhs)
    constant_map = () if constants is None else ((C1, constants[0]), (C2, constants[1]))
    product_rule = simplified(
        PI * R(PI).diff(PI, 2) + 2 * R(PI).diff(PI) - sp.diff(PI * R(PI), PI, 2)
    )
    residual = pm_ode_residual(regularizer)
    return PMODESolution(
        ode=PM_ODE,
        dsolve_solution=dsolve_solution,
        regularizer=regularizer,
        constant_map=constant_map,
        product_rule_residual=product_rule,
        substitution_residual=residual,
        conditions=(
            "π in (0, 1] (log π and 1/π need π > 0); R twice differentiable; C_1, C_2 may "
            "depend on the prompt x but not on π"
        ),
        verified=bool(dsolve_ok) and constants is not None and product_rule == 0 and residual == 0,
    )


@dataclass(frozen=True)
class FirstOrderConstant:
    """How C_1 of (3.8)/(3.13) relates to the constant c' of the first-order condition."""

    first_order_condition: sp.Eq  # R + πR' = −log π + c'
    dsolve_solution: sp.Eq  # sympy's general solution of that first-order ODE
    derived_c1: sp.Expr  # the constant term of the solution: c' + 1
    paper_c1: sp.Expr  # what §3.3 prints after (3.13): c' − 1
    paper_c1_residual: sp.Expr  # (R + πR' + log π − c') at C_1 = paper_c1 (−2: not a solution)
    agrees_with_paper: bool  # derived_c1 ≡ paper_c1 (False: the paper has a sign slip)
    verified: bool  # the derived solution satisfies the first-order condition exactly


def pm_first_order_constant() -> FirstOrderConstant:
    """Integrate (3.7)/(3.13) once: R = −log π + (c' + 1) + C2/π, so C_1 = c' + 1.

    .. math::

        (πR)' = -\\log π + c' \\Rightarrow πR = -π\\log π + π + c'π + C_2
        \\Rightarrow R = -\\log π + (c' + 1) + C_2/π.

    Source: seed 001, §3.3, eq (3.13) and the sentence after it.

    **Differs from the paper.** §3.3 states ``C_1 = c' − 1``; sympy finds ``C_1 = c' + 1``
    (with C_1 = c' − 1 the first-order condition is off by the constant −2). The form of
    (3.8)/(3.13) is unaffected, since C_1 is arbitrary.

    Returns:
      A :class:`FirstOrderConstant`; ``verified`` is True iff sympy's solution satisfies
      the first-order condition and its constant term is ``derived_c1``.
    """
    equation = PM_FIRST_ORDER_CONDITION
    residual_expr = equation.lhs - equation.rhs
    dsolve_solution = sp.dsolve(residual_expr, R(PI))
    # dsolve names its one constant C1; rename it C_2 (it multiplies 1/π as in (3.13)).
    (free_constant,) = dsolve_solution.rhs.free_symbols - {PI, C_PRIME}
    solution = dsolve_solution.rhs.subs(free_constant, C2)
    constants = log_family_constants(solution)
    derived_c1 = sp.nan if constants is None else constants[0]
    paper_c1 = C_PRIME - 1

    def first_order_residual(regularizer: sp.Expr) -> sp.Expr:
        return simplified(residual_expr.subs(R(PI), regularizer).doit())

    derived_ok = first_order_residual(-sp.log(PI) + derived_c1 + C2 / PI) == 0
    return FirstOrderConstant(
        first_order_condition=equation,
        dsolve_solution=dsolve_solution,
        derived_c1=derived_c1,
        paper_c1=paper_c1,
        paper_c1_residual=first_order_residual(-sp.log(PI) + paper_c1 + C2 / PI),
        agrees_with_paper=is_identically_zero(derived_c1 - paper_c1),
        verified=constants is not None
        and constants[1] == C2
        and derived_ok
        and first_order_residual(solution) == 0,
    )


def _paper_constant_term(p: sp.Expr, c: sp.Expr) -> sp.Expr:
    return c / p


@dataclass(frozen=True)
class ConstantTerm:
    """The expectation Σ_i π_i·t(π_i) of a regularizer term t, as in Remarks 3.4 and 3.6."""

    term: sp.Expr  # the term t(π_i; C) for a generic index i
    expectation_general: sp.Expr  # Σ_{i=1}^k π_i t(π_i), evaluated for symbolic k
    expectation_explicit: sp.Expr  # the same sum for K explicit responses
    claimed: sp.Expr  # what the paper says it equals: k·C_2 (3.4) or Σ_i C_{2,i} (3.6)
    depends_on_policy: bool  # whether the expectation still involves some π_i
    conditions: str  # assumptions the paper leaves implicit
    verified: bool  # both expectations equal ``claimed`` (and so are free of π)


def _constant_term(
    term: Callable[[sp.Expr, sp.Expr], sp.Expr] | None,
    num_responses: int,
    *,
    response_dependent: bool,
) -> ConstantTerm:
    k = check_num_responses(num_responses, minimum=1)
    term = _paper_constant_term if term is None else term
    if not callable(term):
        raise TypeError(f"term must be callable (pi, constant) -> Expr, got {type(term).__name__}")
    probs_general = sp.IndexedBase("pi", positive=True)
    if response_dependent:
        consts_general = sp.IndexedBase("C_2", real=True)
        const_i = consts_general[IDX]
        consts_explicit = sp.symbols(f"C_2_1:{k + 1}", real=True)
        claimed_general = sp.Sum(const_i, (IDX, 1, K_SYM))
        claimed_explicit = sum(consts_explicit)
    else:
        const_i = C2
        consts_explicit = (C2,) * k
        claimed_general = K_SYM * C2
        claimed_explicit = k * C2
    term_i = term(probs_general[IDX], const_i)
    general = sp.Sum(probs_general[IDX] * term_i, (IDX, 1, K_SYM)).doit()
    probs = policy_symbols(k)
    explicit = sp.expand(sum(p * term(p, c) for p, c in zip(probs, consts_explicit)))
    depends = general.has(probs_general) or bool(explicit.free_symbols & set(probs))
    return ConstantTerm(
        term=term_i,
        expectation_general=general,
        expectation_explicit=explicit,
        claimed=claimed_general,
        depends_on_policy=depends,
        conditions=(
            "every π_i > 0 (C/π is undefined at π_i = 0; if the policy puts mass on only m "
            "of the k responses the sum runs over those m, so it is constant only on the "
            "interior of the simplex)"
        ),
        verified=(not depends)
        and is_identically_zero(general - claimed_general)
        and is_identically_zero(explicit - claimed_explicit),
    )


def pm_constant_term(
    term: Callable[[sp.Expr, sp.Expr], sp.Expr] | None = None, num_responses: int = 3
) -> ConstantTerm:
    """Remark 3.4: E_{y∼π} C_2/π(y) = Σ_i π_i·C_2/π_i = k·C_2, independent of π.

    Source: seed 001, §3.2, Remark 3.4. Agrees with the paper, on the interior of the
    simplex (see ``conditions``).

    Args:
      term: ``(pi_i, C_2) -> t``, the regularizer term; defaults to ``C_2 / pi_i``.
      num_responses: K ≥ 1 for the explicit check (the general-k sum is always done).

    Returns:
      A :class:`ConstantTerm` with ``claimed = k·C_2``; ``verified`` is True iff the sum
      equals k·C_2 for symbolic k and K·C_2 for the explicit K.
    """
    return _constant_term(term, num_responses, response_dependent=False)


def response_dependent_constant_term(
    term: Callable[[sp.Expr, sp.Expr], sp.Expr] | None = None, num_responses: int = 3
) -> ConstantTerm:
    """Remark 3.6: Σ_y π(y)·C_{2,y}/π(y) = Σ_i C_{2,i}, independent of π.

    Source: seed 001, §3.3, Remark 3.6. Agrees with the paper, on the interior of the
    simplex (see ``conditions``).

    Args:
      term: ``(pi_i, C_{2,i}) -> t``; defaults to ``C_{2,i} / pi_i``.
      num_responses: K ≥ 1 for the explicit check (the general-k sum is always done).

    Returns:
      A :class:`ConstantTerm` with ``claimed = Σ_{i=1}^k C_{2,i}``.
    """
    return _constant_term(term, num_responses, response_dependent=True)


@dataclass(frozen=True)
class UniformPenaltyObjective:
    """Example 3: E_π[r − log π + C_1] against E_π r − KL(π‖Unif)."""

    c1: sp.Expr  # the C_1 that was substituted
    gap: sp.Expr  # E_π[r − log π + C_1] − (E_π r − KL(π‖Unif)) on the simplex, general k
    gap_explicit: sp.Expr  # the same gap for K explicit responses (k → K)
    solved_c1: sp.Expr  # the unique C_1 making the gap vanish: log(1/k) = −log k
    stated_c1: sp.Expr  # the constant the paper's text gives for Example 3: 1/k
    stated_c1_gap: sp.Expr  # the gap at C_1 = 1/k: 1/k + log k
    stated_c1_gap_positive: bool  # sympy proves stated_c1_gap > 0 for every integer k ≥ 1
    kl_rlhf_residual: sp.Expr  # (r − β log(π/π_ref)) at β=1, π_ref=1/k minus (r − log π + log(1/k))
    conditions: str  # assumptions the paper leaves implicit
    verified: bool  # gap ≡ 0 for the given C_1 and the KL-RLHF residual ≡ 0


def uniform_penalty_objective(
    c1: sp.Expr | None = None, num_responses: int = 3
) -> UniformPenaltyObjective:
    """Example 3: with C_1 = log(1/k), E_π[r − log π + C_1] = E_π r − KL(π‖Unif).

    .. math::

        \\sum_i π_i (r_i - \\log π_i + C_1) - \\Big(\\sum_i π_i r_i
        - \\sum_i π_i \\log(kπ_i)\\Big) = C_1 + \\log k \\quad (\\textstyle\\sum_i π_i = 1).

    Source: seed 001, §3.2, Example 3.

    **Differs from the paper's text.** The example's heading gives ``C_{1,x} = 1/k``, but
    the displayed objective uses ``log(1/k)``; sympy finds the gap ``C_1 + log k``, so the
    identity holds only for ``C_1 = log(1/k)``; at ``C_1 = 1/k`` it is off by
    ``1/k + log k`` (a π-independent constant, so the maximizer is unchanged).
    The claim that this is KL RLHF with β = 1 and a uniform π_ref holds.

    Args:
      c1: the constant C_1 to test; defaults to ``log(1/k)`` (the displayed formula).
      num_responses: K ≥ 1 for the explicit check (the general-k sum is always done).

    Returns:
      A :class:`UniformPenaltyObjective`; ``verified`` is True iff the gap is 0 for ``c1``.
    """
    k = check_num_responses(num_responses, minimum=1)
    c1 = sp.log(1 / K_SYM) if c1 is None else sp.sympify(c1)
    probs_general = sp.IndexedBase("pi", positive=True)
    rewards_general = sp.IndexedBase("r", real=True)
    p_i, r_i = probs_general[IDX], rewards_general[IDX]
    simplex_sum = sp.Sum(p_i, (IDX, 1, K_SYM))

    def on_simplex(expr: sp.Expr) -> sp.Expr:
        out = sp.simplify(sp.expand_log(sp.expand(expr)))
        return sp.simplify(out.subs(simplex_sum, 1))

    penalized = sp.Sum(p_i * (r_i - sp.log(p_i) + c1), (IDX, 1, K_SYM))
    kl_uniform = sp.Sum(p_i * sp.log(p_i / (1 / K_SYM)), (IDX, 1, K_SYM))
    expected_reward = sp.Sum(p_i * r_i, (IDX, 1, K_SYM))
    gap = on_simplex(penalized - (expected_reward - kl_uniform))

    c1_sym = sp.Symbol("C_1_trial", real=True)
    symbolic_gap = on_simplex(
        sp.Sum(p_i * (r_i - sp.log(p_i) + c1_sym), (IDX, 1, K_SYM))
        - (expected_reward - kl_uniform)
    )
    (solved_c1,) = sp.solve(symbolic_gap, c1_sym)
    stated_c1 = 1 / K_SYM

    probs = policy_symbols(k)
    rewards = reward_symbols(k)
    c1_k = c1.subs(K_SYM, k)
    explicit = sum(p * (r - sp.log(p) + c1_k) for p, r in zip(probs, rewards)) - (
        sum(p * r for p, r in zip(probs, rewards)) - sum(p * sp.log(k * p) for p in probs)
    )
    explicit = simplified(sp.expand_log(explicit).subs(probs[-1], 1 - sum(probs[:-1])))

    beta = 1
    reference = 1 / K_SYM
    r_sym = sp.Symbol("r", real=True)
    kl_rlhf_residual = simplified(
        (r_sym - beta * sp.log(PI / reference)) - (r_sym - sp.log(PI) + sp.log(1 / K_SYM))
    )
    stated_gap = simplified(symbolic_gap.subs(c1_sym, stated_c1))
    return UniformPenaltyObjective(
        c1=c1,
        gap=gap,
        gap_explicit=explicit,
        solved_c1=solved_c1,
        stated_c1=stated_c1,
        stated_c1_gap=stated_gap,
        stated_c1_gap_positive=bool(stated_gap.is_positive),
        kl_rlhf_residual=kl_rlhf_residual,
        conditions=(
            "π_i > 0. Off the simplex the gap is (C_1 + log k)·Σ_i π_i, so C_1 = log(1/k) "
            "works without Σπ_i = 1; the stated-C_1 gap 1/k + log k uses Σ_i π_i = 1"
        ),
        verified=is_identically_zero(gap) and explicit == 0 and kl_rlhf_residual == 0,
    )



@dataclass(frozen=True)
class TwoResponseRegularizer:
    """A regularizer outside (3.8) that is PM whenever a prompt has exactly two responses."""

    regularizer: sp.Expr  # R(π) = −log π + 1 + c(π/2 − π²/3)
    phi: sp.Expr  # φ(π) = (πR)' + log π = c·π(1 − π); (3.7) asks φ(π_i*) to be one c'
    phi_symmetric: bool  # φ(π) = φ(1 − π): with K = 2, φ(π_1*) = φ(π_2*) for every reward pair
    ode_residual: sp.Expr  # πR'' + 2R' + 1/π = c(1 − 2π): not a solution of the PM ODE
    second_derivative: sp.Expr  # (πR)'' = −1/π + c(1 − 2π), < 0 on (0, 1] when |c| < 1
    three_response_gaps: tuple[sp.Expr, ...]  # stationarity gaps at softmax(0, 1, 2), K = 3, to 50 digits
    conditions: str  # what the example shows about Theorem 1's necessity
    verified: bool  # symmetric, not a PM-ODE solution, strictly concave, and a K = 3 gap ≠ 0


def pm_two_response_regularizer(c: sp.Expr = sp.Rational(1, 2)) -> TwoResponseRegularizer:
    """Theorem 1's "only if" needs K ≥ 3: R = −log π + 1 + c(π/2 − π²/3) is PM for K = 2.

    .. math::

        (πR)' = -\\log π + cπ(1 - π),\\quad φ(π) = cπ(1-π) = φ(1-π).

    With two responses π_2* = 1 − π_1*, so (3.7) holds with one c' = φ(π_1*) for every reward
    pair, and for |c| < 1 the objective is strictly concave, so the stationary point is the
    maximizer: the PL policy. The ODE step of §3.1 ("taking π_i* as a variable") needs (3.7)
    at two independent values, i.e. K ≥ 3.

    Source: seed 001, §3.1-§3.2, Theorem 1 (necessity).

    Args:
      c: the coefficient, |c| < 1 (default 1/2).

    Returns:
      A :class:`TwoResponseRegularizer`.
    """
    c = sp.nsimplify(c)
    if not (abs(c) < 1):
        raise ValueError(f"c must satisfy |c| < 1 (concavity), got {c}")
    regularizer = -sp.log(PI) + 1 + c * (PI / 2 - PI**2 / 3)
    phi = simplified(sp.diff(PI * regularizer, PI) + sp.log(PI))
    symmetric = is_identically_zero(phi - phi.subs(PI, 1 - PI))
    residual = pm_ode_residual(regularizer)
    second = sp.diff(PI * regularizer, PI, 2)
    # On (0, 1]: −1/π + c(1 − 2π) ≤ −1/π + |c| < 0 since 1/π ≥ 1 > |c| and |1 − 2π| ≤ 1.
    concave = is_identically_zero(second - (-1 / PI + c * (1 - 2 * PI))) and bool(abs(c) < 1)
    rewards = (0, 1, 2)
    z = sum(sp.exp(r) for r in rewards)
    targets = [sp.exp(r) / z for r in rewards]
    psis = [r + sp.diff(PI * regularizer, PI).subs(PI, t) for r, t in zip(rewards, targets)]
    gaps = tuple(sp.N(psi - psis[0], 50) for psi in psis)

    return TwoResponseRegularizer(
        regularizer=regularizer,
        phi=phi,
        phi_symmetric=symmetric,
        ode_residual=residual,
        second_derivative=simplified(second),
        three_response_gaps=gaps,
        conditions=("Theorem 1's necessity holds for prompts with K ≥ 3 responses (and one R for all reward "
                    "vectors); with K = 2 every R whose φ(π) = (πR)' + log π is symmetric about 1/2 (and keeps "
                    "the objective concave) is PM"),
        verified=symmetric and residual != 0 and concave and any(abs(g) > 1e-30 for g in gaps),
    )
