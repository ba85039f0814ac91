"""Symbolic derivations (sympy) of the theory in the papers under ``shared/seeds/``.

Each derivation performs its computation when called and returns a small frozen dataclass
with the sympy objects it derived and a ``verified`` flag computed by the derivation. Where
sympy disagrees with the paper, the derivation's docstring says so and the dataclass records
both versions. :func:`run_all` runs every derivation with its defaults and returns the
results; ``python -m proofs`` (:mod:`proofs.__main__`) runs them and prints a table of each
one's result.

Public names are re-exported here one per line; anything else is private.
"""

from __future__ import annotations

from typing import Any, Callable

from proofs.conditional_pm import conditional_pm_identity
from proofs.generalized_pl import (
    Link,
    exp_asinh_link,
    exp_link,
    generalized_pl_reduces_to_pl,
    generalized_pl_reward_shift,
    generalized_pm_differential_equation,
    generalized_pm_exact_condition,
    generalized_pm_ode_residual,
    generalized_pm_ode_solution,
    generalized_pm_regularizer,
    power_link,
    scaled_exp_link,
    softplus_link,
    symbolic_link,
    theorem3_counterexample,
)
from proofs.pm_identity import pm_objective_hessian, pm_objective_identity
from proofs.pm_ode import (
    pm_constant_term,
    pm_differential_equation,
    pm_first_order_condition,
    pm_first_order_constant,
    pm_ode_general_solution,
    pm_ode_residual,
    pm_two_response_regularizer,
    response_dependent_constant_term,
    uniform_penalty_objective,
)
from proofs.preferences import (
    kl_rlhf_binary_preference,
    kl_rlhf_matching_conditions,
    pl_ranking_marginals,
    pl_subset_consistency,
    plackett_luce_choice,
    plackett_luce_ranking,
)

__all__ = [
    "DERIVATIONS",
    "Link",
    "conditional_pm_identity",
    "exp_asinh_link",
    "exp_link",
    "generalized_pl_reduces_to_pl",
    "generalized_pl_reward_shift",
    "generalized_pm_differential_equation",
    "generalized_pm_exact_condition",
    "generalized_pm_ode_residual",
    "generalized_pm_ode_solution",
    "generalized_pm_regularizer",
    "kl_rlhf_binary_preference",
    "kl_rlhf_matching_conditions",
    "pl_ranking_marginals",
    "pl_subset_consistency",
    "plackett_luce_choice",
    "plackett_luce_ranking",
    "pm_constant_term",
    "pm_differential_equation",
    "pm_first_order_condition",
    "pm_first_order_constant",
    "pm_objective_hessian",
    "pm_objective_identity",
    "pm_ode_general_solution",
    "pm_ode_residual",
    "pm_two_response_regularizer",
    "power_link",
    "response_dependent_constant_term",
    "run_all",
    "scaled_exp_link",
    "softplus_link",
    "symbolic_link",
    "theorem3_counterexample",
    "uniform_penalty_objective",
]

# Every derivation run by run_all, keyed by a name that says what it checks and in which
# seed it lives; the CLAIMS.md row each one serves is in the comment.
DERIVATIONS: dict[str, Callable[[], Any]] = {
    "pmr.first_order_condition": pm_first_order_condition,  # PMR-E3.7
    "pmr.pm_ode": pm_differential_equation,  # PMR-ODE
    "pmr.pm_ode_solution": pm_ode_general_solution,  # PMR-E3.8, PMR-T1 (necessity)
    "pmr.first_order_constant": pm_first_order_constant,  # PMR-E3.8 / (3.13) constant
    "pmr.remark_3_4": pm_constant_term,  # PMR-R3.4
    "pmr.remark_3_6": response_dependent_constant_term,  # PMR-R3.6
    "pmr.example_3": uniform_penalty_objective,  # PMR-EX3
    "pmr.objective_identity": pm_objective_identity,  # PMR-PF1, PMR-T1 (sufficiency)
    "pmr.objective_hessian": pm_objective_hessian,  # PMR-T1 (uniqueness)
    "pmr.two_response_regularizer": pm_two_response_regularizer,  # PMR-T1 / PMR-T2 (necessity needs K ≥ 3)
    "pmr.generalized_ode": generalized_pm_differential_equation,  # PMR-GODE
    "pmr.generalized_ode_solution": generalized_pm_ode_solution,  # PMR-GODE (3.14)
    "pmr.remark_3_8": generalized_pl_reduces_to_pl,  # PMR-R3.8
    "pmr.generalized_reward_shift": generalized_pl_reward_shift,  # PMR-GODE (B.1 step)
    "pmr.theorem3_counterexample": theorem3_counterexample,  # PMR-GODE (Thm 3 "if")
    "pmr.generalized_exact_condition": generalized_pm_exact_condition,  # PMR-GODE, PMR-T3 (exact condition)
    "pmr.conditional_pm_identity": conditional_pm_identity,  # PMR-T4
    "pmr.binary_preference": kl_rlhf_binary_preference,  # PMR-E5.2
    "pmr.matching_conditions": kl_rlhf_matching_conditions,  # PMR-E5.2 (iff)
    "pmr.pl_subset_consistency": pl_subset_consistency,  # PMR-A1 (IIA)
    "pmr.pl_ranking_marginals": pl_ranking_marginals,  # PMR-A1 (A.1 from Assumption A.1)
}


def run_all() -> dict[str, Any]:
    """Run every derivation in :data:`DERIVATIONS` with its defaults.

    Returns:
      ``{name: result}``, one frozen dataclass per derivation, each with ``verified``.
    """
    return {name: derive() for name, derive in DERIVATIONS.items()}
