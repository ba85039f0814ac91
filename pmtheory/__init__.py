"""pmtheory: checks the theory of RLHF alignment papers by exact computation.

Public names are re-exported here one per line; anything else is private.
"""

from pmtheory.certified import CertifiedSolution
from pmtheory.certified import solve_pointwise_regularized
from pmtheory.iia.choice import iia_test
from pmtheory.divergences import Divergence
from pmtheory.divergences import DIVERGENCE_NAMES
from pmtheory.divergences import f_divergence
from pmtheory.divergences import f_divergence_from_log
from pmtheory.divergences import get_divergence
from pmtheory.iia import failure_threshold
from pmtheory.iia import population_reward_gap
from pmtheory.iia import population_reward_gap_grid
from pmtheory.iia import reward_gap_sign_law
from pmtheory.pmr.metrics import instance_pm_divergence
from pmtheory.pmr.metrics import pm_divergence
from pmtheory.pmr.metrics import population_pm_divergence
from pmtheory.pmr.metrics import squared_log_ratio_pm_divergence
from pmtheory.pmr.pm import conditional_pm_log_policy
from pmtheory.pmr.pm import conditional_pm_objective
from pmtheory.pmr.pm import conditional_pm_optimal_policy
from pmtheory.pmr.pm import ConditionalPMSolution
from pmtheory.pmr.pm import generalized_pm_log_policy
from pmtheory.pmr.pm import generalized_pm_optimal_policy
from pmtheory.pmr.pm import generalized_pm_regularizer
from pmtheory.pmr.pm import max_entropy_log_policy
from pmtheory.pmr.pm import max_entropy_objective
from pmtheory.pmr.pm import pm_log_policy
from pmtheory.pmr.pm import pm_objective
from pmtheory.pmr.pm import pm_optimal_value
from pmtheory.pmr.pm import pm_regularizer
from pmtheory.pmr.pm import pm_regularizer_from_log
from pmtheory.pmr.preferences import btl_maximum_likelihood
from pmtheory.pmr.preferences import btl_preference
from pmtheory.pmr.preferences import BTLFit
from pmtheory.pmr.preferences import plackett_luce_log_choice
from pmtheory.pmr.preferences import policy_preference
from pmtheory.pmr.rlhf import f_rlhf_binary_preference
from pmtheory.pmr.rlhf import kl_rlhf_log_policy
from pmtheory.pmr.rlhf import preference_collapse_limit
from pmtheory.solvers import kkt_residual
from pmtheory.solvers import optimal_policy
from pmtheory.solvers import regularized_objective
from pmtheory.solvers import Solution

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
    "solve_pointwise_regularized",
    "squared_log_ratio_pm_divergence",
]
