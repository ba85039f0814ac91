"""Closed forms of RLHF optima on a finite response set, as the papers state them.

Shape letters: ``K`` responses, ``...`` batch (prompts).

These are the formulas under test: the claim checks compare them with the exact solvers
(:mod:`pmtheory.solvers`), an mpmath reference and cvxpy, never with themselves.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from pmtheory._validation import as_float_array, check_finite, check_log_probabilities, check_positive_scalar

__all__ = ["kl_rlhf_log_policy"]


def kl_rlhf_log_policy(rewards, log_reference, beta: float = 1.0) -> np.ndarray:
    """log π_rlhf for KL RLHF, the closed form of seed 001 Prop 5.1 (eq 5.1).

    .. math::  π_{rlhf}(y) = π_{ref}(y) e^{r(y)/β} / Σ_j π_{ref}(y_j) e^{r(y_j)/β}

    Args:
      rewards: shape (..., K), finite.
      log_reference: log π_ref, shape (..., K), normalized.
      beta: β > 0.

    Returns:
      log π_rlhf, shape (..., K), evaluated in log space.
    """
    rewards = as_float_array(rewards, "rewards")
    log_reference = as_float_array(log_reference, "log_reference")
    check_finite(rewards, "rewards")
    check_log_probabilities(log_reference, "log_reference")
    beta = check_positive_scalar(beta, "beta")
    logits = log_reference + (rewards - rewards.max(axis=-1, keepdims=True)) / beta
    return logits - logsumexp(logits, axis=-1, keepdims=True)
