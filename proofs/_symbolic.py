"""Shared sympy symbols and the zero test used by every derivation in :mod:`proofs`.

Private: the derivation modules import from here; nothing here is re-exported.
"""

from __future__ import annotations

import numbers

import sympy as sp

# A policy probability π(y|x) of one response: positive, so that log π, 1/π and
# log(ab) = log a + log b are legitimate. The paper's π = 0 endpoint is excluded everywhere.
PI = sp.Symbol("pi", positive=True)

# The paper's constants C_{1,x}, C_{2,x} (real; they may depend on the prompt, never on π).
C1 = sp.Symbol("C_1", real=True)
C2 = sp.Symbol("C_2", real=True)

# The constant c' of (3.7): it may depend on the prompt and the rewards, never on i or π.
C_PRIME = sp.Symbol("c'", real=True)

# The Lagrange multiplier of Σπ_i = 1 and the PL normalizer Z = Σ_j e^{r_j} > 0.
LAM = sp.Symbol("lambda", real=True)
Z = sp.Symbol("Z", positive=True)

# The number of responses k in the general-k summations, with its summation index.
K_SYM = sp.Symbol("k", integer=True, positive=True)
IDX = sp.Symbol("i", integer=True, positive=True)

# The unknown regularizer R(π).
R = sp.Function("R")


def _sqrt_of_factored(expr: sp.Expr) -> sp.Expr:
    """Rewrite every √(base) as √(factor(base)), so √((π²+1)²) collapses to π²+1."""
    return expr.replace(
        lambda node: node.is_Pow and node.exp == sp.S.Half,
        lambda node: sp.sqrt(sp.factor(node.base)),
    )


def simplified(expr: sp.Expr) -> sp.Expr:
    """Simplify ``expr`` hard enough for the identities in this package.

    Expands special functions (``polylog(1, z) = -log(1 - z)``), expands logarithms of
    positive symbols, and denests square roots of perfect squares, with one ``simplify``
    pass before and after the square-root step.
    """
    out = sp.expand_func(sp.sympify(expr))
    out = sp.expand_log(out)
    out = sp.simplify(_sqrt_of_factored(out))
    return sp.simplify(_sqrt_of_factored(out))


def is_identically_zero(expr: sp.Expr) -> bool:
    """True when sympy reduces ``expr`` to exactly 0 (a proof of the identity ``expr ≡ 0``).

    False means sympy did not reduce it to 0; pair it with :func:`is_provably_nonzero` when
    a derivation needs the stronger statement that the expression is *not* zero.
    """
    return simplified(expr) == 0


def is_provably_nonzero(expr: sp.Expr) -> bool:
    """True when sympy proves ``expr ≠ 0`` (``is_zero`` is False after simplification)."""
    out = simplified(expr)
    if out.is_zero is False:
        return True
    # Numbers that ``is_zero`` leaves open (nested radicals): decide by exact comparison.
    if not out.free_symbols:
        return out.equals(0) is False
    return False


def check_num_responses(num_responses: object, *, minimum: int = 2) -> int:
    """Validate a response count K: an int (not bool) with K ≥ ``minimum``."""
    if isinstance(num_responses, bool) or not isinstance(num_responses, numbers.Integral):
        raise TypeError(
            f"num_responses must be an int, got {type(num_responses).__name__}: {num_responses!r}"
        )
    if num_responses < minimum:
        raise ValueError(f"num_responses must be >= {minimum}, got {num_responses}")
    return int(num_responses)


def policy_symbols(num_responses: int) -> tuple[sp.Symbol, ...]:
    """Positive symbols π_1, …, π_K for the probabilities of K responses."""
    return sp.symbols(f"pi_1:{num_responses + 1}", positive=True)


def reward_symbols(num_responses: int) -> tuple[sp.Symbol, ...]:
    """Real symbols r_1, …, r_K for the rewards of K responses."""
    return sp.symbols(f"r_1:{num_responses + 1}", real=True)


def log_family_constants(
    regularizer: sp.Expr, pi: sp.Symbol = PI
) -> tuple[sp.Expr, sp.Expr] | None:
    """Write ``regularizer`` as ``-log π + A + B/π`` and return ``(A, B)``, or None.

    ``(A, B)`` exist iff ``π·(regularizer + log π)`` is a polynomial of degree ≤ 1 in π
    whose coefficients do not involve π; A is its π-coefficient and B its constant term.
    """
    shifted = sp.expand(simplified(pi * (regularizer + sp.log(pi))))
    try:
        poly = sp.Poly(shifted, pi)
    except sp.PolynomialError:
        return None
    if poly.degree() > 1 or any(coeff.has(pi) for coeff in poly.all_coeffs()):
        return None
    return poly.coeff_monomial(pi), poly.coeff_monomial(1)
