"""Seed 004 (MOD): multi-objective decoding with f-divergences, and why parameter merging fails.

Shi, Chen, Hu, Liu, Hajishirzi, Smith and Du, "Decoding-Time Language Model Alignment with
Multiple Objectives" (NeurIPS 2024), arXiv 2406.18853.

Library modules: :mod:`~pmtheory.mod.policy` (Prop 1's exact optimum of Σ w_i R_i, re-exported
here), :mod:`~pmtheory.mod.decoding` (the closed-form decoding rules and the published code's),
:mod:`~pmtheory.mod.baselines` (parameter merging, soups and the other baselines). The paper's
catalogue is :mod:`~pmtheory.mod.catalogue`, its checks the ``claims_*`` modules, its figures
:mod:`~pmtheory.mod.figures`; :data:`pmtheory.mod.paper.PAPER` ties them together.
"""

from pmtheory.mod.policy import (
    Prop1Normalizer,
    check_weights,
    implied_rewards,
    optimal_log_policy,
    optimal_policy,
    prop1_bracket,
    prop1_normalizer,
    weighted_f_prime,
)

__all__ = [
    "Prop1Normalizer",
    "check_weights",
    "implied_rewards",
    "optimal_log_policy",
    "optimal_policy",
    "prop1_bracket",
    "prop1_normalizer",
    "weighted_f_prime",
]
