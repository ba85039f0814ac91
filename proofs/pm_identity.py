"""The PM objective as a KL divergence to the PL policy (proof of Theorem 1), with sympy.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), §3.5 (proof of the
sufficiency part of Theorem 1).

Shapes: ``K`` is the number of responses to one prompt; the general-k identity uses
``sympy.Sum`` over an indexed policy π[i], i = 1..k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from proofs._symbolic import (
    C1,
    C2,
    IDX,
    K_SYM,
    Z,
    check_num_responses,
    is_identically_zero,
    policy_symbols,
    reward_symbols,
    simplified,
)

# The paper's π-independent offset in §3.5: log Z + C_1 + k·C_2 (log Z is added below).
PAPER_OFFSET = C1 + K_SYM * C2


@dataclass(frozen=True)
class PMObjectiveIdentity:
    """E_π[r − log π + C_1 + C_2/π] against −KL(π‖π*) + log Z + offset, π* = e^r/Z."""

    offset: sp.Expr  # the claimed π-independent term besides log Z (paper: C_1 + k·C_2)
    residual_general: sp.Expr  # LHS − RHS for symbolic k, with Σ_i π_i = 1 used
    residual_explicit: sp.Expr  # LHS − RHS for K explicit responses, with Σ_i π_i = 1 used
    residual_off_simplex: sp.Expr  # LHS − RHS for K responses without Σπ_i = 1
    conditions: str  # assumptions the paper leaves implicit
    verified: bool  # both on-simplex residuals are 0


def pm_objective_identity(
    num_responses: int = 3, offset: sp.Expr | None = None
) -> PMObjectiveIdentity:
    """§3.5: E_π[r − log π + C_1 + C_2/π] = −KL(π‖π*) + log Z + C_1 + k·C_2.

    .. math::

        \\sum_i π_i\\Big(r_i - \\log π_i + C_1 + \\frac{C_2}{π_i}\\Big)
        = -\\sum_i π_i \\log\\frac{π_i}{e^{r_i}/Z} + \\log Z + C_1 + kC_2,
        \\quad Z = \\sum_j e^{r_j},\\ \\sum_i π_i = 1.

    Source: seed 001, §3.5 (proof of Theorem 1). Agrees with the paper. The identity needs
    Σπ_i = 1 (off the simplex the residual is (Σπ_i − 1)(C_1 + log Z)) and every π_i > 0.

    Args:
      num_responses: K ≥ 1 for the explicit check (the general-k sum is always done).
      offset: the claimed constant besides log Z; defaults to C_1 + k·C_2 (k → K when
        explicit).

    Returns:
      A :class:`PMObjectiveIdentity`; ``verified`` is True iff the residual is 0 for
      symbolic k and for the explicit K.
    """
    k = check_num_responses(num_responses, minimum=1)
    offset = PAPER_OFFSET if offset is None else sp.sympify(offset)

    probs_general = sp.IndexedBase("pi", positive=True)
    rewards_general = sp.IndexedBase("r", real=True)
    p_i, r_i = probs_general[IDX], rewards_general[IDX]
    lhs = sp.Sum(p_i * (r_i - sp.log(p_i) + C1 + C2 / p_i), (IDX, 1, K_SYM))
    kl = sp.Sum(p_i * sp.log(p_i / (sp.exp(r_i) / Z)), (IDX, 1, K_SYM))
    rhs = -kl + sp.log(Z) + offset
    residual = sp.simplify(sp.expand(sp.expand_log(lhs - rhs, force=True)).doit())
    residual_general = sp.simplify(residual.subs(sp.Sum(p_i, (IDX, 1, K_SYM)), 1))

    probs = policy_symbols(k)
    rewards = reward_symbols(k)
    # Z = Σ_j e^{r_j} enters only through log Z; keep it as the positive symbol Z.
    lhs_k = sum(p * (r - sp.log(p) + C1 + C2 / p) for p, r in zip(probs, rewards))
    kl_k = sum(p * sp.log(p / (sp.exp(r) / Z)) for p, r in zip(probs, rewards))
    residual_k = lhs_k - (-kl_k + sp.log(Z) + offset.subs(K_SYM, k))
    off_simplex = sp.factor(simplified(residual_k))
    on_simplex = simplified(residual_k.subs(probs[-1], 1 - sum(probs[:-1])))
    return PMObjectiveIdentity(
        offset=offset,
        residual_general=residual_general,
        residual_explicit=on_simplex,
        residual_off_simplex=off_simplex,
        conditions=(
            "Σ_i π_i = 1 and every π_i > 0 (C_2/π_i undefined at 0); Z = Σ_j e^{r_j}. "
            "Optimality of π* then follows from KL ≥ 0 with equality iff π = π* (Gibbs)"
        ),
        verified=is_identically_zero(residual_general) and on_simplex == 0,
    )


@dataclass(frozen=True)
class PMObjectiveHessian:
    """Hessian of Σ_i π_i (r_i + R(π_i)) in π, for a given regularizer."""

    regularizer: sp.Expr  # R(π) used, as an expression in the generic π
    hessian: sp.Matrix  # ∂²/∂π_i∂π_j of the objective, shape (K, K)
    diagonal: tuple[sp.Expr, ...]  # its diagonal, shape (K,)
    verified: bool  # the Hessian is diagonal with every entry provably < 0 (strict concavity)


def pm_objective_hessian(
    num_responses: int = 3,
    regularizer: Callable[[sp.Expr], sp.Expr] | None = None,
) -> PMObjectiveHessian:
    """The (3.9) objective is strictly concave on the open simplex: Hessian = diag(−1/π_i).

    .. math::  \\frac{\\partial^2}{\\partial π_i^2} π_i\\Big(r_i - \\log π_i + C_1 +
               \\frac{C_2}{π_i}\\Big) = -\\frac{1}{π_i}.

    Source: seed 001, §3.5 (used implicitly: the stationary point found in §3.1 is the
    global maximizer). Agrees with the paper; with strict concavity the PL policy is the
    unique maximizer over the open simplex.

    Args:
      num_responses: K ≥ 1.
      regularizer: ``pi -> R(pi)``; defaults to (3.8), −log π + C_1 + C_2/π.

    Returns:
      A :class:`PMObjectiveHessian`; ``verified`` is True iff the Hessian is diagonal with
      negative entries.
    """
    k = check_num_responses(num_responses, minimum=1)
    if regularizer is None:

        def regularizer(p: sp.Expr) -> sp.Expr:
            return -sp.log(p) + C1 + C2 / p

    if not callable(regularizer):
        raise TypeError(f"regularizer must be callable pi -> Expr, got {type(regularizer).__name__}")
    probs = policy_symbols(k)
    rewards = reward_symbols(k)
    objective = sum(p * (r + regularizer(p)) for p, r in zip(probs, rewards))
    hessian = sp.hessian(objective, probs).applyfunc(simplified)
    diagonal = tuple(hessian[i, i] for i in range(k))
    off_diagonal_zero = all(hessian[i, j] == 0 for i in range(k) for j in range(k) if i != j)
    generic = sp.Symbol("pi", positive=True)
    return PMObjectiveHessian(
        regularizer=regularizer(generic),
        hessian=hessian,
        diagonal=diagonal,
        verified=off_diagonal_zero and all(bool(d.is_negative) for d in diagonal),
    )
