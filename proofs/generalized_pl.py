"""PM regularization for the generalized PL model P(y) = g(r_y)/Σ_j g(r_j), with sympy.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), §3.4 (the generalized PM
ODE, Theorem 3 and eq (3.14), Remark 3.8) and App B.1 (proof of Theorem 3).

A link g is positive, strictly increasing and differentiable, with inverse g⁻¹ and an
antiderivative G (G' = g). It is given either symbolically (:func:`symbolic_link`: sympy
functions that know g(g⁻¹(π)) = π, (g⁻¹)' = 1/g'(g⁻¹) and G' = g, nothing else) or
concretely (:func:`exp_link`, :func:`power_link`, :func:`softplus_link`,
:func:`exp_asinh_link`, :func:`scaled_exp_link`).

What sympy finds, in short: the generalized ODE and its solution (3.14) are right *given*
App B.1's step ``r_i = g⁻¹(π_i*) + c``; that step holds only for g(r) = a·e^{b r}
(:func:`generalized_pl_reward_shift`), and Theorem 3's sufficiency fails for other links
(:func:`theorem3_counterexample`).

Shapes: ``K`` is the number of responses to one prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from proofs._symbolic import (
    C1,
    C2,
    C_PRIME,
    PI,
    R,
    is_identically_zero,
    is_provably_nonzero,
    log_family_constants,
    simplified,
)

# A reward value r on the whole real line, and one restricted to r > 0 (power links).
U = sp.Symbol("u", real=True)
U_POSITIVE = sp.Symbol("u", positive=True)

# The normalizer S = Σ_j g(r_j) > 0 of the generalized PL model.
S = sp.Symbol("S", positive=True)


# A symbolic link: four sympy functions that carry exactly the rules a proof may use.
class _LinkDerivative(sp.Function):
    """g'(u), an unknown positive function."""

    nargs = 1


class _Link(sp.Function):
    """g(u); g(g⁻¹(π)) = π and g' = _LinkDerivative."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if isinstance(arg, _LinkInverse):
            return arg.args[0]
        return None

    def fdiff(self, argindex=1):
        return _LinkDerivative(self.args[0])


class _LinkInverse(sp.Function):
    """g⁻¹(π); g⁻¹(g(u)) = u and (g⁻¹)'(π) = 1/g'(g⁻¹(π))."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if isinstance(arg, _Link):
            return arg.args[0]
        return None

    def fdiff(self, argindex=1):
        return 1 / _LinkDerivative(self)


class _LinkAntiderivative(sp.Function):
    """G(u) with G' = g."""

    nargs = 1

    def fdiff(self, argindex=1):
        return _Link(self.args[0])


# Print them as g, g', g^{-1}, G.
_Link.__name__ = "g"
_LinkDerivative.__name__ = "g'"
_LinkInverse.__name__ = "g_inv"
_LinkAntiderivative.__name__ = "G"


@dataclass(frozen=True)
class Link:
    """A positive increasing invertible link g with inverse and antiderivative G (G' = g)."""

    name: str  # short label, e.g. "exp", "power(2)"
    variable: sp.Symbol  # the reward variable u of g(u) and G(u)
    g: sp.Expr  # g(u)
    g_inverse: sp.Expr  # g⁻¹(π), an expression in PI
    antiderivative: sp.Expr  # G(u), any antiderivative of g
    domain: str  # where g is positive, increasing and invertible

    def __post_init__(self) -> None:
        if not isinstance(self.variable, sp.Symbol):
            raise TypeError(f"variable must be a sympy Symbol, got {type(self.variable).__name__}")
        if not is_identically_zero(self.g.subs(self.variable, self.g_inverse) - PI):
            raise ValueError(f"link {self.name!r}: g(g_inverse(pi)) is not pi")
        if not is_identically_zero(sp.diff(self.antiderivative, self.variable) - self.g):
            raise ValueError(f"link {self.name!r}: d/du antiderivative is not g")

    def inverse_at(self, value: sp.Expr) -> sp.Expr:
        """g⁻¹(value)."""
        return self.g_inverse.subs(PI, value)

    def at(self, value: sp.Expr) -> sp.Expr:
        """g(value)."""
        return self.g.subs(self.variable, value)

    def derivative_at_inverse(self) -> sp.Expr:
        """g'(g⁻¹(π)), an expression in PI."""
        return sp.diff(self.g, self.variable).subs(self.variable, self.g_inverse)

    def antiderivative_at_inverse(self) -> sp.Expr:
        """G(g⁻¹(π)), an expression in PI."""
        return self.antiderivative.subs(self.variable, self.g_inverse)


def symbolic_link() -> Link:
    """An arbitrary link g, known only through g(g⁻¹(π)) = π, (g⁻¹)' = 1/g'∘g⁻¹, G' = g."""
    return Link(
        name="symbolic",
        variable=U,
        g=_Link(U),
        g_inverse=_LinkInverse(PI),
        antiderivative=_LinkAntiderivative(U),
        domain="any positive, strictly increasing, differentiable g with g' > 0",
    )


def exp_link() -> Link:
    """g(u) = e^u, the PL model: g⁻¹(π) = log π, G = e^u."""
    return Link("exp", U, sp.exp(U), sp.log(PI), sp.exp(U), "u real")


def scaled_exp_link(scale: sp.Expr | None = None, rate: sp.Expr | None = None) -> Link:
    """g(u) = a·e^{b u} (a, b > 0): g⁻¹(π) = log(π/a)/b, G = (a/b) e^{b u}."""
    a = sp.Symbol("a", positive=True) if scale is None else sp.sympify(scale)
    b = sp.Symbol("b", positive=True) if rate is None else sp.sympify(rate)
    if a.is_positive is False or b.is_positive is False:
        raise ValueError(f"scale and rate must be positive, got scale={a}, rate={b}")
    return Link(
        f"scaled_exp({a}, {b})",
        U,
        a * sp.exp(b * U),
        sp.log(PI / a) / b,
        a / b * sp.exp(b * U),
        "u real",
    )


def power_link(power: sp.Expr = 2) -> Link:
    """g(u) = u^p on u > 0 (p > 0): g⁻¹(π) = π^{1/p}, G = u^{p+1}/(p+1)."""
    p = sp.sympify(power)
    if p.is_positive is not True:
        raise ValueError(f"power must be a positive number or positive symbol, got {power!r}")
    return Link(
        f"power({p})",
        U_POSITIVE,
        U_POSITIVE**p,
        PI ** (1 / p),
        U_POSITIVE ** (p + 1) / (p + 1),
        "u > 0",
    )


def softplus_link() -> Link:
    """g(u) = log(1 + e^u): g⁻¹(π) = log(e^π − 1), G = −Li₂(−e^u)."""
    return Link(
        "softplus",
        U,
        sp.log(1 + sp.exp(U)),
        sp.log(sp.exp(PI) - 1),
        -sp.polylog(2, -sp.exp(U)),
        "u real (g maps onto (0, ∞))",
    )


def exp_asinh_link() -> Link:
    """g(u) = u + √(u² + 1) = e^{asinh u}: g⁻¹(π) = (π − 1/π)/2, G = u²/2 + (u√(u²+1) + asinh u)/2."""
    return Link(
        "exp_asinh",
        U,
        U + sp.sqrt(U**2 + 1),
        (PI - 1 / PI) / 2,
        U**2 / 2 + (U * sp.sqrt(U**2 + 1) + sp.asinh(U)) / 2,
        "u real (g maps onto (0, ∞))",
    )


def _check_link(link: Link | None) -> Link:
    if link is None:
        return symbolic_link()
    if not isinstance(link, Link):
        raise TypeError(f"link must be a proofs.generalized_pl.Link, got {type(link).__name__}")
    return link


def generalized_pm_regularizer(link: Link | None = None) -> sp.Expr:
    """Eq (3.14): R(π) = −g⁻¹(π) + C_1 + (G(g⁻¹(π)) + C_2)/π.

    Source: seed 001, §3.4, Theorem 3, eq (3.14).

    Args:
      link: the link g; defaults to :func:`symbolic_link`.

    Returns:
      The regularizer as an expression in PI with constants C_1, C_2.
    """
    link = _check_link(link)
    return -link.g_inverse + C1 + (link.antiderivative_at_inverse() + C2) / PI


def generalized_pm_ode_residual(regularizer: sp.Expr, link: Link | None = None) -> sp.Expr:
    """Residual of the generalized PM ODE, simplified.

    .. math::  π R''(π) + 2R'(π) + 1/g'(g^{-1}(π))

    Source: seed 001, §3.4 and App B.1.

    Args:
      regularizer: a candidate R(π), an expression in PI.
      link: the link g; defaults to :func:`symbolic_link`.

    Returns:
      The simplified residual; 0 iff ``regularizer`` solves the ODE.
    """
    link = _check_link(link)
    regularizer = sp.sympify(regularizer)
    return simplified(
        PI * regularizer.diff(PI, 2) + 2 * regularizer.diff(PI) + 1 / link.derivative_at_inverse()
    )


@dataclass(frozen=True)
class GeneralizedPMDifferentialEquation:
    """The generalized PM ODE from App B.1's first-order identity."""

    link: Link  # the link g
    first_order_condition: sp.Eq  # App B.1's premise: R + πR' = −g⁻¹(π) + c'
    ode: sp.Expr  # d/dπ (lhs − rhs), expanded; the ODE is ``ode = 0``
    paper_ode: sp.Expr  # π R'' + 2R' + 1/g'(g⁻¹(π)) as printed in §3.4
    conditions: str  # assumptions the paper leaves implicit
    verified: bool  # ode ≡ paper_ode and c' dropped out


def generalized_pm_differential_equation(
    link: Link | None = None,
) -> GeneralizedPMDifferentialEquation:
    """Differentiate R + πR' = −g⁻¹(π) + c' to get π R'' + 2R' + 1/g'(g⁻¹(π)) = 0.

    .. math::  \\frac{d}{dπ}\\big[R + πR' + g^{-1}(π) - c'\\big]
               = πR'' + 2R' + \\frac{1}{g'(g^{-1}(π))}.

    Source: seed 001, §3.4 (displayed ODE) and App B.1.

    The differentiation step agrees with the paper. Its premise does not hold for a general
    g: B.1 derives it from ``r_i = g⁻¹(π_i*) + c``, which is true only for g = a·e^{b r}
    (see :func:`generalized_pl_reward_shift`); this is recorded in ``conditions``.

    Args:
      link: the link g; defaults to :func:`symbolic_link`.

    Returns:
      A :class:`GeneralizedPMDifferentialEquation`.
    """
    link = _check_link(link)
    premise = sp.Eq(R(PI) + PI * R(PI).diff(PI), -link.g_inverse + C_PRIME)
    ode = sp.expand(sp.diff(premise.lhs - premise.rhs, PI))
    paper_ode = PI * R(PI).diff(PI, 2) + 2 * R(PI).diff(PI) + 1 / link.derivative_at_inverse()
    return GeneralizedPMDifferentialEquation(
        link=link,
        first_order_condition=premise,
        ode=ode,
        paper_ode=paper_ode,
        conditions=(
            "g differentiable with g' > 0 so g⁻¹ is differentiable; the premise "
            "R + πR' = −g⁻¹(π) + c' with an i-free c' requires g⁻¹(Sπ) − g⁻¹(π) to be "
            "independent of π for the normalizer S = Σ_j g(r_j), which holds iff "
            "g(r) = a·e^{b r} (App B.1 asserts r_i = g⁻¹(π_i*) + c for every g)"
        ),
        verified=is_identically_zero(ode - paper_ode) and not ode.has(C_PRIME),
    )


@dataclass(frozen=True)
class GeneralizedPMODESolution:
    """Eq (3.14) checked against the generalized PM ODE."""

    link: Link  # the link g
    regularizer: sp.Expr  # the candidate, by default (3.14)
    substitution_residual: sp.Expr  # generalized_pm_ode_residual(regularizer, link)
    first_order_residual: sp.Expr  # (πR)' + g⁻¹(π) − C_1: 0 means (πR)' = −g⁻¹(π) + C_1
    dsolve_solution: sp.Eq | None  # sympy's general solution (only when use_dsolve)
    dsolve_gap_is_constants: bool | None  # dsolve − regularizer = A + B/π (None: not run)
    verified: bool  # residual ≡ 0 (and dsolve agrees up to constants, when run)


def generalized_pm_ode_solution(
    link: Link | None = None,
    regularizer: sp.Expr | None = None,
    *,
    use_dsolve: bool = False,
) -> GeneralizedPMODESolution:
    """Check (3.14) solves π R'' + 2R' + 1/g'(g⁻¹(π)) = 0, by substitution (and dsolve).

    .. math::

        (πR)' = -g^{-1}(π) + C_1,\\quad
        \\int g^{-1}(π)\\,dπ = π g^{-1}(π) - G(g^{-1}(π))
        \\Rightarrow R = -g^{-1}(π) + C_1 + \\frac{G(g^{-1}(π)) + C_2}{π}.

    Source: seed 001, §3.4, Theorem 3, eq (3.14); App B.1. Agrees with the paper (as a
    solution of the ODE); here C_1 equals the c' of the first-order identity.

    Args:
      link: the link g; defaults to :func:`symbolic_link`.
      regularizer: candidate R(π) in PI; defaults to (3.14) for ``link``.
      use_dsolve: also solve the ODE with ``sympy.dsolve`` (concrete links only; fast for
        exp and power links, very slow for softplus and exp_asinh).

    Returns:
      A :class:`GeneralizedPMODESolution`; ``verified`` is True iff the residual is 0 and,
      when dsolve ran, its solution differs from ``regularizer`` by some A + B/π.
    """
    link = _check_link(link)
    if regularizer is None:
        regularizer = generalized_pm_regularizer(link)
    regularizer = sp.sympify(regularizer)
    residual = generalized_pm_ode_residual(regularizer, link)
    first_order = simplified(sp.diff(PI * regularizer, PI) + link.g_inverse - C1)
    dsolve_solution = None
    gap_is_constants = None
    if use_dsolve:
        if link.g.has(_Link):
            raise ValueError("use_dsolve needs a concrete link, got the symbolic one")
        ode = PI * R(PI).diff(PI, 2) + 2 * R(PI).diff(PI) + 1 / link.derivative_at_inverse()
        dsolve_solution = sp.dsolve(ode, R(PI))
        gap = PI * (dsolve_solution.rhs - regularizer)
        gap_is_constants = is_identically_zero(sp.diff(gap, PI, 2))
    return GeneralizedPMODESolution(
        link=link,
        regularizer=regularizer,
        substitution_residual=residual,
        first_order_residual=first_order,
        dsolve_solution=dsolve_solution,
        dsolve_gap_is_constants=gap_is_constants,
        verified=residual == 0 and gap_is_constants is not False,
    )


@dataclass(frozen=True)
class GeneralizedToPL:
    """Remark 3.8: (3.14) for a link, matched to Theorem 1's −log π + A + B/π."""

    link: Link  # the link g
    regularizer: sp.Expr  # (3.14) for this link
    antiderivative_at_inverse: sp.Expr  # G(g⁻¹(π)); π for g = exp
    pl_constants: tuple[sp.Expr, sp.Expr] | None  # (A, B), or None when no match exists
    verified: bool  # (3.14) has Theorem 1's form −log π + A + B/π


def generalized_pl_reduces_to_pl(link: Link | None = None) -> GeneralizedToPL:
    """Remark 3.8: for g = exp, (3.14) is −log π + (C_1 + 1) + C_2/π, Theorem 1's form.

    .. math::  G(g^{-1}(π)) = e^{\\log π} = π \\Rightarrow
               R = -\\log π + (C_1 + 1) + C_2/π.

    Source: seed 001, §3.4, Remark 3.8. Agrees with the paper, with one wording slip:
    the Remark says "the additional term G(g⁻¹(π)) becomes exp(log π)/π = 1"; sympy finds
    G(g⁻¹(π)) = π, and it is G(g⁻¹(π))/π that equals 1 (so C_1 shifts by 1).

    Args:
      link: the link g; defaults to :func:`exp_link`.

    Returns:
      A :class:`GeneralizedToPL`; ``verified`` is True iff constants A, B free of π exist.
    """
    link = exp_link() if link is None else _check_link(link)
    regularizer = generalized_pm_regularizer(link)
    constants = log_family_constants(regularizer)
    return GeneralizedToPL(
        link=link,
        regularizer=regularizer,
        antiderivative_at_inverse=simplified(link.antiderivative_at_inverse()),
        pl_constants=constants,
        verified=constants is not None,
    )


@dataclass(frozen=True)
class RewardShift:
    """App B.1's step r_i = g⁻¹(π_i*) + c, tested for a general link."""

    inverted_reward: sp.Expr  # r solved from π = g(r)/S: g⁻¹(Sπ)
    shift: sp.Expr  # g⁻¹(Sπ) − g⁻¹(π); B.1 needs it free of π (its "c")
    shift_derivative: sp.Expr  # ∂shift/∂π = S/g'(g⁻¹(Sπ)) − 1/g'(g⁻¹(π)), symbolic g
    scale_invariance_residual: sp.Expr  # π·shift_derivative − (φ(Sπ) − φ(π)), φ(v) = v/g'(g⁻¹(v))
    link_ode: sp.Eq  # φ ≡ 1/b turns into g'(u) = b g(u)
    link_solution: sp.Eq  # dsolve(link_ode): g(u) = C e^{b u}
    scaled_exp_shift: sp.Expr  # the shift for g = a e^{b u}: log(S)/b, free of π
    power_shift: sp.Expr  # the shift for g = u²: √π(√S − 1), depends on π
    power_witness: sp.Expr  # ∂shift/∂π for g = u² at S = 4, π = 1/4: 1 ≠ 0
    paper_step_general: bool  # the step holds for every link (False: only for a e^{b u})
    conditions: str  # assumptions of the characterization
    verified: bool  # all of the identities above were proved


def generalized_pl_reward_shift() -> RewardShift:
    """App B.1's r_i = g⁻¹(π_i*) + c holds for every normalizer S iff g(r) = a·e^{b r}.

    .. math::

        π = g(r)/S \\Rightarrow r = g^{-1}(Sπ);\\quad
        \\partial_π[g^{-1}(Sπ) - g^{-1}(π)] = \\frac{φ(Sπ) - φ(π)}{π},\\ φ(v) = \\frac{v}{g'(g^{-1}(v))}.

    The shift is free of π for all S > 0 iff φ is constant, φ ≡ 1/b, i.e. g' = b g,
    i.e. g = a e^{b u}.

    Source: seed 001, App B.1 ("π_i* = g(r_i)/Σ_j g(r_j), which gives r_i = g⁻¹(π_i*) + c").

    **Differs from the paper.** B.1 asserts the step for every g. sympy finds
    r_i = g⁻¹(S π_i*) with S = Σ_j g(r_j); this equals g⁻¹(π_i*) + c with an i-free c only
    for g = a·e^{b r} (c = log(S)/b). For g(u) = u² the shift is √π(√S − 1), which depends
    on π_i*. The generalized ODE and (3.14), derived from this step, therefore do not
    characterize PM regularizers for other links (see :func:`theorem3_counterexample`).

    Returns:
      A :class:`RewardShift`.
    """
    link = symbolic_link()
    inverted = link.inverse_at(S * PI)
    inversion_ok = is_identically_zero(link.at(inverted) / S - PI)
    shift = inverted - link.g_inverse
    shift_derivative = sp.diff(shift, PI)

    def phi(value: sp.Expr) -> sp.Expr:
        return value / _LinkDerivative(link.inverse_at(value))

    scale_residual = simplified(PI * shift_derivative - (phi(S * PI) - phi(PI)))

    # φ(v) = φ(π₀) for every v > 0 (take S = v/π₀): so g'(g⁻¹(v)) = b·v with 1/b = φ(π₀);
    # at v = g(u) this is g'(u) = b·g(u).
    b = sp.Symbol("b", positive=True)
    v = sp.Symbol("v", positive=True)
    pi0 = sp.Rational(1, 2)
    phi_constant = sp.Eq(phi(v), phi(pi0))
    derivative_at_v = sp.solve(phi_constant, _LinkDerivative(link.inverse_at(v)))[0]
    rate_ok = is_identically_zero(derivative_at_v * phi(pi0) - v)  # g'(g⁻¹(v)) = v/φ(π₀)
    f = sp.Function("g")
    link_ode = sp.Eq(f(U).diff(U), b * f(U))  # b = 1/φ(π₀), v = g(u)
    link_solution = sp.dsolve(link_ode, f(U))
    (integration_constant,) = link_solution.rhs.free_symbols - {U, b}
    link_solution_ok = is_identically_zero(
        link_solution.rhs - integration_constant * sp.exp(b * U)
    )

    scaled = scaled_exp_link()
    scaled_shift = simplified(scaled.inverse_at(S * PI) - scaled.g_inverse)
    scaled_ok = not scaled_shift.has(PI) and is_identically_zero(
        scaled_shift - sp.log(S) / sp.Symbol("b", positive=True)
    )

    power = power_link(2)
    power_shift = simplified(power.inverse_at(S * PI) - power.g_inverse)
    power_witness = simplified(sp.diff(power_shift, PI).subs({S: 4, PI: sp.Rational(1, 4)}))
    witness_nonzero = is_provably_nonzero(power_witness)

    return RewardShift(
        inverted_reward=inverted,
        shift=shift,
        shift_derivative=shift_derivative,
        scale_invariance_residual=scale_residual,
        link_ode=link_ode,
        link_solution=link_solution,
        scaled_exp_shift=scaled_shift,
        power_shift=power_shift,
        power_witness=power_witness,
        paper_step_general=not witness_nonzero,
        conditions=(
            "R may depend on the prompt only through constants, so the step must hold for "
            "every normalizer S = Σ_j g(r_j) the rewards can produce; the characterization "
            "takes S over all of (0, ∞) (true when g maps onto (0, ∞)); g' > 0"
        ),
        verified=inversion_ok
        and scale_residual == 0
        and rate_ok
        and link_solution_ok
        and scaled_ok
        and witness_nonzero,
    )


@dataclass(frozen=True)
class Theorem3Counterexample:
    """Stationarity of the generalized-PL policy under (3.14), for given rewards and link."""

    link: Link  # the link g tested
    rewards: tuple[sp.Expr, ...]  # r_1, …, r_K, shape (K,)
    target_policy: tuple[sp.Expr, ...]  # π_i* = g(r_i)/Σ_j g(r_j), shape (K,)
    regularizer: sp.Expr  # (3.14) for the link
    multipliers: tuple[sp.Expr, ...]  # λ_i solving ∂L/∂π_i = 0 at π*, shape (K,)
    multiplier_gaps: tuple[sp.Expr, ...]  # λ_i − λ_1, shape (K,); all 0 iff π* is stationary
    # r + (πR)'(π) for the link, = r − g⁻¹(π) + C_1; a stationary policy makes it −λ
    stationarity_in_pi: sp.Expr
    control_gaps: tuple[sp.Expr, ...]  # the same gaps for g = exp (Theorem 1): all 0
    conditions: str  # assumptions
    verified: bool  # some gap is provably ≠ 0 for ``link`` while every exp gap is 0


def theorem3_counterexample(
    link: Link | None = None, rewards: Sequence[sp.Expr] = (1, 2)
) -> Theorem3Counterexample:
    """Theorem 3's sufficiency fails: with (3.14), g(r)/Σg(r) is not stationary for g = u².

    .. math::

        \\frac{\\partial L}{\\partial π_i} = r_i + (πR)'(π_i) + λ
        = r_i - g^{-1}(π_i) + C_1 + λ,

    so π* = g(r)/S is stationary iff r_i − g⁻¹(π_i*) is the same for every i. For
    g(u) = u² and r = (1, 2): S = 5, g⁻¹(π*) = (1/√5, 2/√5), and λ_2 − λ_1 = 1/√5 − 1 ≠ 0.
    (Stationary points of the (3.14) objective instead satisfy π_i = g(r_i + c): a shift
    of the rewards, which is a rescaling of π only when g is exponential. For this example
    the concave objective is maximized at π = (0, 1), against the target (1/5, 4/5).)

    Source: seed 001, §3.4, Theorem 3 ("R is a PM regularizer if and only if (3.14)").

    **Differs from the paper.** Theorem 3's "if" direction is false for non-exponential g.
    The exp control (Theorem 1) passes. B.1's last line also names the PL policy
    e^r/Σe^r instead of g(r)/Σg(r).

    Args:
      link: the link to test; defaults to :func:`power_link` with p = 2.
      rewards: K ≥ 2 exact rewards in the link's domain.

    Returns:
      A :class:`Theorem3Counterexample`; ``verified`` is True iff the counterexample holds
      (a gap is provably non-zero for ``link``) and the exp control has all gaps 0. With
      ``link = exp_link()`` it is False: no counterexample there.
    """
    link = power_link(2) if link is None else _check_link(link)
    rewards = tuple(sp.sympify(r) for r in rewards)
    if len(rewards) < 2:
        raise ValueError(f"rewards must hold at least 2 values, got {len(rewards)}")
    if any(not r.is_real for r in rewards):
        raise ValueError(f"rewards must be real, got {rewards}")
    if link.variable.is_positive and any(not r.is_positive for r in rewards):
        raise ValueError(
            f"link {link.name!r} needs positive rewards ({link.domain}), got {rewards}"
        )

    def gaps_for(test_link: Link) -> tuple[tuple, tuple, tuple, sp.Expr]:
        weights = [test_link.at(r) for r in rewards]
        total = sum(weights)
        target = tuple(w / total for w in weights)
        reg = generalized_pm_regularizer(test_link)
        d_reg = sp.diff(PI * reg, PI)  # (πR)' = R + πR'
        multipliers = tuple(simplified(-(r + d_reg.subs(PI, p))) for r, p in zip(rewards, target))
        gaps = tuple(simplified(m - multipliers[0]) for m in multipliers)
        return target, multipliers, gaps, reg

    target, multipliers, gaps, reg = gaps_for(link)
    _, _, control_gaps, _ = gaps_for(exp_link())
    r_sym = sp.Symbol("r", real=True)
    return Theorem3Counterexample(
        link=link,
        rewards=rewards,
        target_policy=target,
        regularizer=reg,
        multipliers=multipliers,
        multiplier_gaps=gaps,
        stationarity_in_pi=simplified(r_sym + sp.diff(PI * reg, PI)),
        control_gaps=control_gaps,
        conditions=(
            "interior target policy (all g(r_i) > 0), so stationarity of the Lagrangian of "
            "Σπ_i(r_i + R(π_i)) s.t. Σπ_i = 1 is necessary for optimality"
        ),
        verified=any(is_provably_nonzero(gap) for gap in gaps)
        and all(gap == 0 for gap in control_gaps),
    )


@dataclass(frozen=True)
class GeneralizedPMExactCondition:
    """What stationarity at the generalized-PL target really asks of R (no B.1 shortcut)."""

    link: Link  # the link g
    stationarity: sp.Expr  # (πR)'(π) + g⁻¹(Sπ): must be one constant c'(S) at every π_i* = g(r_i)/S
    exact_ode_coefficient: sp.Expr  # S/g'(g⁻¹(Sπ)): stationarity differentiated gives (πR)'' = −this
    stated_ode_coefficient: sp.Expr  # 1/g'(g⁻¹(π)): the paper's ODE (the S = 1 case)
    s_derivative: sp.Expr  # ∂/∂S of the exact coefficient; 0 iff the condition is S-free
    s_free: bool  # sympy reduces s_derivative to 0: the exact condition does not depend on S
    s_dependent: bool  # s_derivative is provably ≠ 0 at the witness S = 2, π = 1/10
    verified: bool  # the exact coefficient at S = 1 equals the stated one


def generalized_pm_exact_condition(link: Link | None = None) -> GeneralizedPMExactCondition:
    """Stationarity at π* = g(r)/S asks (πR)'(π) = −g⁻¹(Sπ) + c'(S), so (πR)'' = −S/g'(g⁻¹(Sπ)).

    .. math::

        r_i + (πR)'(π_i^*) + λ = 0,\\quad r_i = g^{-1}(Sπ_i^*)
        \\Rightarrow (πR)'(π) = -g^{-1}(Sπ) + c'(S)
        \\Rightarrow π R'' + 2R' + \\frac{S}{g'(g^{-1}(Sπ))} = 0.

    R may depend on the prompt only through constants, so a PM regularizer must satisfy this
    for every normalizer S = Σ_j g(r_j) the rewards produce; the stated ODE of §3.4 is S = 1.
    The condition is S-free iff g = a·e^{bu} (then S/g'(g⁻¹(Sπ)) = 1/(bπ)); for any other g
    no regularizer of the form R(π) + C1,x + C2,x/π is PM.

    Source: seed 001, §3.4 and App B.1 (corrected).

    Args:
      link: the link g; defaults to :func:`power_link` with p = 2.

    Returns:
      A :class:`GeneralizedPMExactCondition`.
    """
    link = power_link(2) if link is None else _check_link(link)
    stationarity = sp.diff(PI * R(PI), PI) + link.inverse_at(S * PI)
    coefficient = simplified(S / sp.diff(link.g, link.variable).subs(link.variable, link.inverse_at(S * PI)))
    stated = simplified(1 / link.derivative_at_inverse())
    derivative = simplified(sp.diff(coefficient, S))
    return GeneralizedPMExactCondition(
        link=link,
        stationarity=stationarity,
        exact_ode_coefficient=coefficient,
        stated_ode_coefficient=stated,
        s_derivative=derivative,
        s_free=derivative == 0,
        s_dependent=is_provably_nonzero(derivative.subs({S: 2, PI: sp.Rational(1, 10)})),
        verified=is_identically_zero(coefficient.subs(S, 1) - stated),
    )
