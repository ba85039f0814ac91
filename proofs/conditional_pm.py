"""Conditional PM RLHF (eq 4.1, Theorem 4), derived with sympy.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), §4.1 (eq 4.1, Theorem 4)
and App B.2 (its proof).

Shapes: ``K`` responses, of which those flagged ``in_set`` form M(x). Every probability and
every ε is a positive symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from proofs._symbolic import C1, C2, is_identically_zero, policy_symbols, reward_symbols, simplified


@dataclass(frozen=True)
class ConditionalPMIdentity:
    """(4.1) as −KL(π‖π*) + log Z + C1 + K·C2, and π*'s conditional on M."""

    in_set: tuple[bool, ...]  # which responses lie in M, shape (K,)
    epsilons: tuple[sp.Symbol, ...]  # ε_y for the responses off M (ε may depend on y), shape (K − |M|,)
    optimum: tuple[sp.Expr, ...]  # π*_y = e^{r_y + 1(y∉M) log ε_y}/Z, shape (K,)
    identity_residual: sp.Expr  # objective − (−KL(π‖π*) + log Z + C1 + K·C2) on the simplex
    conditional_residuals: tuple[sp.Expr, ...]  # π*(y|M) − e^{r_y}/Σ_M e^r for y ∈ M
    mass_limit: sp.Expr  # lim_{ε→0} π*(M) with every ε_y = ε (1 when M ≠ ∅)
    conditions: str  # assumptions the theorem leaves implicit
    verified: bool  # identity residual 0, conditional residuals 0 and mass limit 1


def conditional_pm_identity(in_set: Sequence[bool] = (True, True, False)) -> ConditionalPMIdentity:
    """Theorem 4: (4.1) = −KL(π‖π*) + log Z + C1 + K·C2 with π* ∝ e^r on M, ∝ ε e^r off M.

    .. math::

        \\sum_y π_y\\Big(r_y - \\log π_y + 1(y∉M)\\log ε_y + C_1 + \\frac{C_2}{π_y}\\Big)
        = -KL(π\\|π^*) + \\log Z + C_1 + K C_2,\\quad
        π^*(y|M) = \\frac{e^{r_y}}{\\sum_{y'∈M} e^{r_{y'}}}.

    So the conditional on M is softmax over M for every ε > 0, and π*(M) → 1 as ε → 0.

    Source: seed 001, §4.1, Theorem 4; App B.2. Agrees with the paper for M ≠ ∅ on
    full-support policies (the C2 term is K·C2 only there); B.2's display normalizes over all
    y' where it means y' ∈ M.

    Args:
      in_set: K ≥ 1 flags, True for y ∈ M; at least one True.

    Returns:
      A :class:`ConditionalPMIdentity`.
    """
    in_set = tuple(bool(b) for b in in_set)
    if not in_set or not any(in_set):
        raise ValueError(f"in_set must flag at least one response as in M, got {in_set}")
    k = len(in_set)
    probs = policy_symbols(k)
    rewards = reward_symbols(k)
    eps = sp.symbols(f"epsilon_1:{k + 1}", positive=True)
    shift = [0 if m else sp.log(e) for m, e in zip(in_set, eps)]
    weights = [sp.exp(r + s) for r, s in zip(rewards, shift)]
    z = sum(weights)
    optimum = tuple(w / z for w in weights)
    objective = sum(p * (r - sp.log(p) + s + C1 + C2 / p) for p, r, s in zip(probs, rewards, shift))
    kl = sum(p * (sp.log(p) - sp.log(o)) for p, o in zip(probs, optimum))
    residual = simplified(sp.expand_log((objective - (-kl + sp.log(z) + C1 + k * C2)).subs(
        probs[-1], 1 - sum(probs[:-1])), force=True))
    mass = sum(o for o, m in zip(optimum, in_set) if m)
    z_m = sum(sp.exp(r) for r, m in zip(rewards, in_set) if m)
    conditionals = tuple(simplified(o / mass - sp.exp(r) / z_m) for o, r, m in zip(optimum, rewards, in_set) if m)
    epsilon = sp.Symbol("epsilon", positive=True)
    mass_limit = simplified(sp.limit(mass.subs({e: epsilon for e in eps}), epsilon, 0, "+"))
    return ConditionalPMIdentity(
        in_set=in_set,
        epsilons=tuple(e for e, m in zip(eps, in_set) if not m),
        optimum=optimum,
        identity_residual=residual,
        conditional_residuals=conditionals,
        mass_limit=mass_limit,
        conditions="M(x) ≠ ∅; π of full support (C2/π); ε_y > 0 (may depend on y)",
        verified=residual == 0 and all(c == 0 for c in conditionals) and is_identically_zero(mass_limit - 1),
    )
