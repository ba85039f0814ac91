"""Seed 002 (IIA): RLHF and IIA, the dichotomy choice model, and how RLPO, DPO, IL and SLiC fail.

Xu, Dong, Lu, Lam, Wen and Van Roy, "RLHF and IIA: Perverse Incentives" (2024), arXiv 2312.01057.

Library modules: :mod:`~pmtheory.iia.choice` (the dichotomy choice model and IIA tests),
:mod:`~pmtheory.iia.model` (the algorithms' objectives, population limits and simulations;
re-exported here), :mod:`~pmtheory.iia.data` (sampling Assumption 1 data). The paper's catalogue
is :mod:`~pmtheory.iia.catalogue`, its checks the ``claims_*`` modules, its figures
:mod:`~pmtheory.iia.figures`; :data:`pmtheory.iia.paper.PAPER` ties them together.
"""

from pmtheory.iia.model import CategoryPolicyFit
from pmtheory.iia.model import DpoLimit
from pmtheory.iia.model import MessageSetSweep
from pmtheory.iia.model import PopulationLimit
from pmtheory.iia.model import QueryFormatStudy
from pmtheory.iia.model import RewardGapFit
from pmtheory.iia.model import RlpoDpoSimulation
from pmtheory.iia.model import SignLaw
from pmtheory.iia.model import SlicLimit
from pmtheory.iia.model import TabularFit
from pmtheory.iia.model import composition_log_probabilities
from pmtheory.iia.model import dpo_loss_assumption3
from pmtheory.iia.model import dpo_loss_tabular
from pmtheory.iia.model import exact_failure_threshold
from pmtheory.iia.model import exact_fixed_composition_reward_ratio
from pmtheory.iia.model import exact_reward_gap_sign
from pmtheory.iia.model import failure_threshold
from pmtheory.iia.model import fit_dpo_assumption3
from pmtheory.iia.model import fit_dpo_tabular
from pmtheory.iia.model import fit_il_assumption3
from pmtheory.iia.model import fit_il_tabular
from pmtheory.iia.model import fit_reward_assumption2
from pmtheory.iia.model import fit_reward_tabular
from pmtheory.iia.model import fit_rlpo_assumption23
from pmtheory.iia.model import fit_slic_assumption3
from pmtheory.iia.model import fit_slic_tabular
from pmtheory.iia.model import fixed_composition_reward_gap
from pmtheory.iia.model import il_loss_assumption3
from pmtheory.iia.model import il_loss_tabular
from pmtheory.iia.model import pairwise_conversion_counts
from pmtheory.iia.model import policy_loss
from pmtheory.iia.model import policy_loss_minimizer
from pmtheory.iia.model import population_dpo_limit
from pmtheory.iia.model import population_il_p_m1
from pmtheory.iia.model import population_pairwise_reward_gap
from pmtheory.iia.model import population_reward_gap
from pmtheory.iia.model import population_reward_gap_grid
from pmtheory.iia.model import population_rlpo_limit
from pmtheory.iia.model import population_slic_limit
from pmtheory.iia.model import reward_gap_sign_law
from pmtheory.iia.model import reward_loss_assumption2
from pmtheory.iia.model import reward_loss_tabular
from pmtheory.iia.model import rho_gap_event_probability
from pmtheory.iia.model import rlpo_log_odds_m2
from pmtheory.iia.model import simulate_il
from pmtheory.iia.model import simulate_pairwise_conversion
from pmtheory.iia.model import simulate_query_format_study
from pmtheory.iia.model import simulate_rlpo_dpo
from pmtheory.iia.model import simulate_slic
from pmtheory.iia.model import slic_loss_assumption3
from pmtheory.iia.model import slic_loss_tabular

__all__ = [
    "CategoryPolicyFit",
    "DpoLimit",
    "MessageSetSweep",
    "PopulationLimit",
    "QueryFormatStudy",
    "RewardGapFit",
    "RlpoDpoSimulation",
    "SignLaw",
    "SlicLimit",
    "TabularFit",
    "composition_log_probabilities",
    "dpo_loss_assumption3",
    "dpo_loss_tabular",
    "exact_failure_threshold",
    "exact_fixed_composition_reward_ratio",
    "exact_reward_gap_sign",
    "failure_threshold",
    "fit_dpo_assumption3",
    "fit_dpo_tabular",
    "fit_il_assumption3",
    "fit_il_tabular",
    "fit_reward_assumption2",
    "fit_reward_tabular",
    "fit_rlpo_assumption23",
    "fit_slic_assumption3",
    "fit_slic_tabular",
    "fixed_composition_reward_gap",
    "il_loss_assumption3",
    "il_loss_tabular",
    "pairwise_conversion_counts",
    "policy_loss",
    "policy_loss_minimizer",
    "population_dpo_limit",
    "population_il_p_m1",
    "population_pairwise_reward_gap",
    "population_reward_gap",
    "population_reward_gap_grid",
    "population_rlpo_limit",
    "population_slic_limit",
    "reward_gap_sign_law",
    "reward_loss_assumption2",
    "reward_loss_tabular",
    "rho_gap_event_probability",
    "rlpo_log_odds_m2",
    "simulate_il",
    "simulate_pairwise_conversion",
    "simulate_query_format_study",
    "simulate_rlpo_dpo",
    "simulate_slic",
    "slic_loss_assumption3",
    "slic_loss_tabular",
]
