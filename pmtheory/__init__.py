"""pmtheory: checks the theory of RLHF alignment papers by exact computation.

Public names are re-exported here, one per line; anything else is private. They are loaded
on first use (PEP 562), so that ``import pmtheory.papers`` or the pytest plugin does not pay
for sympy, scipy and cvxpy.
"""

from __future__ import annotations

import importlib

# Public name -> the module that defines it.
_EXPORTS = {
    "CertifiedSolution": "pmtheory.certified",
    "solve_pointwise_regularized": "pmtheory.certified",
    "iia_test": "pmtheory.iia.choice",
    "Divergence": "pmtheory.divergences",
    "DIVERGENCE_NAMES": "pmtheory.divergences",
    "f_divergence": "pmtheory.divergences",
    "f_divergence_from_log": "pmtheory.divergences",
    "get_divergence": "pmtheory.divergences",
    "failure_threshold": "pmtheory.iia",
    "population_reward_gap": "pmtheory.iia",
    "population_reward_gap_grid": "pmtheory.iia",
    "reward_gap_sign_law": "pmtheory.iia",
    "instance_pm_divergence": "pmtheory.pmr.metrics",
    "pm_divergence": "pmtheory.pmr.metrics",
    "population_pm_divergence": "pmtheory.pmr.metrics",
    "squared_log_ratio_pm_divergence": "pmtheory.pmr.metrics",
    "conditional_pm_log_policy": "pmtheory.pmr.pm",
    "conditional_pm_objective": "pmtheory.pmr.pm",
    "conditional_pm_optimal_policy": "pmtheory.pmr.pm",
    "ConditionalPMSolution": "pmtheory.pmr.pm",
    "generalized_pm_log_policy": "pmtheory.pmr.pm",
    "generalized_pm_optimal_policy": "pmtheory.pmr.pm",
    "generalized_pm_regularizer": "pmtheory.pmr.pm",
    "max_entropy_log_policy": "pmtheory.pmr.pm",
    "max_entropy_objective": "pmtheory.pmr.pm",
    "pm_log_policy": "pmtheory.pmr.pm",
    "pm_objective": "pmtheory.pmr.pm",
    "pm_optimal_value": "pmtheory.pmr.pm",
    "pm_regularizer": "pmtheory.pmr.pm",
    "pm_regularizer_from_log": "pmtheory.pmr.pm",
    "btl_maximum_likelihood": "pmtheory.pmr.preferences",
    "btl_preference": "pmtheory.pmr.preferences",
    "BTLFit": "pmtheory.pmr.preferences",
    "plackett_luce_log_choice": "pmtheory.pmr.preferences",
    "policy_preference": "pmtheory.pmr.preferences",
    "f_rlhf_binary_preference": "pmtheory.pmr.rlhf",
    "kl_rlhf_log_policy": "pmtheory.pmr.rlhf",
    "preference_collapse_limit": "pmtheory.pmr.rlhf",
    "kkt_residual": "pmtheory.solvers",
    "optimal_policy": "pmtheory.solvers",
    "regularized_objective": "pmtheory.solvers",
    "Solution": "pmtheory.solvers",
    "SolverError": "pmtheory.solvers",
}

__all__ = [
    "btl_maximum_likelihood",
    "btl_preference",
    "BTLFit",
    "CertifiedSolution",
    "conditional_pm_log_policy",
    "conditional_pm_objective",
    "conditional_pm_optimal_policy",
    "ConditionalPMSolution",
    "Divergence",
    "DIVERGENCE_NAMES",
    "f_divergence",
    "f_divergence_from_log",
    "f_rlhf_binary_preference",
    "failure_threshold",
    "generalized_pm_log_policy",
    "generalized_pm_optimal_policy",
    "generalized_pm_regularizer",
    "get_divergence",
    "iia_test",
    "instance_pm_divergence",
    "kkt_residual",
    "kl_rlhf_log_policy",
    "max_entropy_log_policy",
    "max_entropy_objective",
    "optimal_policy",
    "plackett_luce_log_choice",
    "pm_divergence",
    "pm_log_policy",
    "pm_objective",
    "pm_optimal_value",
    "pm_regularizer",
    "pm_regularizer_from_log",
    "policy_preference",
    "population_pm_divergence",
    "population_reward_gap",
    "population_reward_gap_grid",
    "preference_collapse_limit",
    "regularized_objective",
    "reward_gap_sign_law",
    "Solution",
    "SolverError",
    "solve_pointwise_regularized",
    "squared_log_ratio_pm_divergence",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'pmtheory' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
