"""Seed 002 (IIA): RLHF and IIA, the dichotomy choice model, and how RLPO, DPO, IL and SLiC fail.

Xu, Dong, Lu, Lam, Wen and Van Roy, "RLHF and IIA: Perverse Incentives" (2024), arXiv 2312.01057.

Library modules: :mod:`~pmtheory.iia.choice` (the dichotomy choice model and IIA tests),
:mod:`~pmtheory.iia.data` (sampling Assumption 1 data), and the algorithms' objectives, population
limits and simulations, re-exported here: :mod:`~pmtheory.iia.compositions` (choice-set
compositions and the failure threshold F), :mod:`~pmtheory.iia.rlpo_dpo` (RLPO's reward loss and
the RLPO and DPO policies under Assumptions 2-3), :mod:`~pmtheory.iia.il_slic` (IL and SLiC under
Assumption 3), :mod:`~pmtheory.iia.query_formats` (fixed compositions and the pairwise
conversion of §7), :mod:`~pmtheory.iia.population` (population limits),
:mod:`~pmtheory.iia.exact_laws` (exact finite-|D| laws), :mod:`~pmtheory.iia.tabular` (the
tabular parameterization) and :mod:`~pmtheory.iia.simulations`. The paper's catalogue is
:mod:`~pmtheory.iia.catalogue`, its checks the ``claims_*`` modules, its figures
:mod:`~pmtheory.iia.figures`; :data:`pmtheory.iia.paper.PAPER` ties them together.
"""

from pmtheory.iia.compositions import (
    composition_log_probabilities,
    exact_failure_threshold,
    exact_reward_gap_sign,
    failure_threshold,
)
from pmtheory.iia.exact_laws import SignLaw, reward_gap_sign_law, rho_gap_event_probability
from pmtheory.iia.il_slic import fit_il_assumption3, fit_slic_assumption3, il_loss_assumption3, slic_loss_assumption3
from pmtheory.iia.population import (
    DpoLimit,
    PopulationLimit,
    SlicLimit,
    population_dpo_limit,
    population_il_p_m1,
    population_reward_gap,
    population_reward_gap_grid,
    population_rlpo_limit,
    population_slic_limit,
)
from pmtheory.iia.query_formats import (
    exact_fixed_composition_reward_ratio,
    fixed_composition_reward_gap,
    pairwise_conversion_counts,
    population_pairwise_reward_gap,
)
from pmtheory.iia.rlpo_dpo import (
    CategoryPolicyFit,
    RewardGapFit,
    dpo_loss_assumption3,
    fit_dpo_assumption3,
    fit_reward_assumption2,
    fit_rlpo_assumption23,
    reward_loss_assumption2,
    rlpo_log_odds_m2,
)
from pmtheory.iia.simulations import (
    MessageSetSweep,
    QueryFormatStudy,
    RlpoDpoSimulation,
    simulate_il,
    simulate_pairwise_conversion,
    simulate_query_format_study,
    simulate_rlpo_dpo,
    simulate_slic,
)
from pmtheory.iia.tabular import (
    TabularFit,
    dpo_loss_tabular,
    fit_dpo_tabular,
    fit_il_tabular,
    fit_reward_tabular,
    fit_slic_tabular,
    il_loss_tabular,
    policy_loss,
    policy_loss_minimizer,
    reward_loss_tabular,
    slic_loss_tabular,
)

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
