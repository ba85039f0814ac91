"""The §6.1 evaluation metrics of seed 001 on finite response sets, in log space.

Shape letters: ``N`` instances (a prompt x with a sampled pair y₁, y₂), ``K`` responses of
one prompt, ``...`` any batch shape.

Preference matching (PM) divergence, two versions side by side:

- **the paper's** (seed 001, §6.1): the instance PM divergence is the KL divergence between
  the model's and the reward model's binary preferences on the pair,

  .. math::  D_x = KL\\big(p_{llm}(·|y_1,y_2,x) \\,\\|\\, p_{reward}(·|y_1,y_2,x)\\big),\\quad
             p_{llm}(y_1) = σ(a),\\ a = \\log π(y_1|x) − \\log π(y_2|x),\\quad
             p_{reward}(y_1) = σ(b),\\ b = r(x,y_1) − r(x,y_2),

  and the (aggregate) PM divergence is its mean over instances (:func:`pm_divergence`).
- **the published code's** (github.com/JiancongXiao/PM_RLHF, ``step3_ppo_finetuning/main.py``,
  ``evaluation_pm``): the mean over instances of the squared log-odds gap
  ``((r(y₁) − r(y₂)) − (log π(y₁) − log π(y₂)))² = (b − a)²``
  (:func:`squared_log_ratio_pm_divergence`). Both vanish exactly when the binary preferences
  agree (a = b), but they are different numbers: the KL of two Bernoulli laws in their
  logits is the Bregman divergence of softplus, whose curvature σ(1 − σ) is at most 1/4, so
  ``KL ≤ (b − a)²/8``, with equality only in the limit a, b → 0 of small gaps. The tables of
  the paper (PM divergence 2.23, 1.57, ...) come from the code, i.e. from the squared version.

The reward ``r`` is whatever the reward model's preference is built from; the paper's
experiments use ``r = r_θ/β`` (§6, "we utilize r(x, y) = r_θ(x, y)/β"), the code passes the raw
reward-model scores. Pass the one you mean.

Perplexity, entropy and KL (§6.1) are given for a finite response set with the policy's own
probabilities, so the expectations over y ~ π are exact sums. The paper's perplexity is the
*expected per-response* perplexity E_{y~π}[π(y)^{−1/L(y)}] (:func:`expected_perplexity`);
the published code (``evaluation_ppl``) reports the usual corpus perplexity
exp(Σ token NLL / Σ tokens) on held-out SFT text (:func:`corpus_perplexity` is that formula
for given sequence log-probabilities and lengths), and its entropy and KL are per-token
averages over the model's own samples rather than the sequence-level sums below.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), §6.1.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit

from pmtheory._validation import as_float_array, check_finite, check_log_probabilities

__all__ = [
    "bernoulli_kl_from_logits",
    "corpus_perplexity",
    "entropy",
    "expected_perplexity",
    "instance_pm_divergence",
    "instance_squared_log_ratio_pm_divergence",
    "kl_divergence",
    "pm_divergence",
    "population_pm_divergence",
    "sequence_perplexity",
    "squared_log_ratio_pm_divergence",
]

# A sequence log-probability may exceed 0 by rounding only (a sum of log-softmax values, each
# ≤ 0 up to one ulp); anything larger means probabilities or logits were passed by mistake.
_LOG_PROB_SLACK = 1e-6


def _check_log_probs(array: np.ndarray, name: str) -> None:
    check_finite(array, name)
    if np.any(array > _LOG_PROB_SLACK):
        raise ValueError(
            f"{name} must be log-probabilities (≤ 0), got max {array.max()!r}; pass log π(y|x), "
            "e.g. the sum of the response's token log-softmax values"
        )


def _pair_arrays(log_probs_1, log_probs_2, rewards_1, rewards_2):
    arrays = {
        "log_probs_1": as_float_array(log_probs_1, "log_probs_1", min_ndim=0),
        "log_probs_2": as_float_array(log_probs_2, "log_probs_2", min_ndim=0),
        "rewards_1": as_float_array(rewards_1, "rewards_1", min_ndim=0),
        "rewards_2": as_float_array(rewards_2, "rewards_2", min_ndim=0),
    }
    _check_log_probs(arrays["log_probs_1"], "log_probs_1")
    _check_log_probs(arrays["log_probs_2"], "log_probs_2")
    check_finite(arrays["rewards_1"], "rewards_1")
    check_finite(arrays["rewards_2"], "rewards_2")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise ValueError(f"the four arrays must broadcast to one shape (N,), got {shapes}") from None
    a = arrays["log_probs_1"] - arrays["log_probs_2"]  # log-odds of the model
    b = arrays["rewards_1"] - arrays["rewards_2"]  # log-odds of the reward model
    return np.broadcast_to(a, shape), np.broadcast_to(b, shape)


def _softplus_derivative_polynomials(order: int) -> list[dict[tuple[int, int], int]]:
    """A⁽ⁿ⁾ for A = softplus, n = 2..order, as polynomials Σ c·sⁱtʲ in s = σ(1 − σ), t = 1 − 2σ.

    A'' = s, and d/da s = s·t, d/da t = −2s, so each derivative is found exactly by the
    product rule on integer coefficients.
    """
    current = {(1, 0): 1}
    polynomials = [current]
    for _ in range(order - 2):
        derivative: dict[tuple[int, int], int] = {}
        for (i, j), c in current.items():
            derivative[(i, j + 1)] = derivative.get((i, j + 1), 0) + i * c
            if j:
                derivative[(i + 1, j - 1)] = derivative.get((i + 1, j - 1), 0) - 2 * j * c
        current = {key: c for key, c in derivative.items() if c}
        polynomials.append(current)
    return polynomials


# Below this |b − a| the Bernoulli KL is summed as a Taylor series (direct evaluation cancels
# to a relative error ~8·eps/|b − a|); softplus is analytic in a strip of half-width π, so 14
# terms at |b − a| < 0.1 are exact to rounding.
_SERIES_BELOW = 0.1
_SERIES_TERMS = _softplus_derivative_polynomials(15)


def bernoulli_kl_from_logits(a, b) -> np.ndarray:
    r"""KL(Bern(σ(a)) ‖ Bern(σ(b))) from the log-odds a and b, elementwise, in log space.

    .. math::  σ(a)[\log σ(a) − \log σ(b)] + σ(−a)[\log σ(−a) − \log σ(−b)]
               = A(b) − A(a) − A'(a)(b − a),\quad A = \text{softplus}

    For |b − a| ≥ 0.1 the first form is evaluated with ``log_expit`` (exact even for
    probabilities far below float range, a = −900); closer, the two terms cancel, and the
    Bregman form is summed as its Taylor series Σₙ A⁽ⁿ⁾(a)(b − a)ⁿ/n!, n ≥ 2, so the value
    keeps full relative precision down to b − a of one ulp. a = b gives exactly 0.

    Source: seed 001, §6.1 (the instance PM divergence is this KL with a, b the log-odds).

    Args:
      a: log-odds of the first law, any shape. b: log-odds of the second, broadcastable.

    Returns:
      the KL ≥ 0, the broadcast shape.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = np.broadcast_arrays(a, b)
    delta = b - a
    direct = expit(a) * (log_expit(a) - log_expit(b)) + expit(-a) * (log_expit(-a) - log_expit(-b))
    small = np.abs(delta) < _SERIES_BELOW
    s = expit(a) * expit(-a)
    t = -np.tanh(a / 2.0)  # 1 − 2σ(a), without cancellation near σ = 1/2
    d = np.where(small, delta, 0.0)
    series = np.zeros_like(d)
    power, factorial = d * d, 2.0
    for n, polynomial in enumerate(_SERIES_TERMS, start=2):
        coefficient = sum(c * s**i * t**j for (i, j), c in polynomial.items())
        series = series + coefficient * power / factorial
        power, factorial = power * d, factorial * (n + 1)
    return np.maximum(np.where(small, series, direct), 0.0)


def instance_pm_divergence(log_probs_1, log_probs_2, rewards_1, rewards_2) -> np.ndarray:
    """Instance PM divergence KL(p_llm ‖ p_reward) on each pair (y₁, y₂), shape (N,) -> (N,).

    .. math::  D_x = KL\\big(σ(\\log π(y_1|x) − \\log π(y_2|x)) \\,\\|\\, σ(r(x,y_1) − r(x,y_2))\\big)

    Source: seed 001, §6.1 ("Instance PM Divergence").

    Args:
      log_probs_1: log π(y₁|x), shape (N,) (any broadcastable shape), finite, ≤ 0. Sequence
        log-probabilities of any size work (−1000 is fine: only differences are used).
      log_probs_2: log π(y₂|x), same shape.
      rewards_1: r(x, y₁), same shape, finite.
      rewards_2: r(x, y₂), same shape, finite.

    Returns:
      D_x ≥ 0 per instance, shape (N,); 0 exactly when the model's binary preference equals
      the reward model's, σ(a) = σ(b).

    >>> float(instance_pm_divergence(-1.0, -1.0, 0.0, 0.0))
    0.0
    """
    a, b = _pair_arrays(log_probs_1, log_probs_2, rewards_1, rewards_2)
    return bernoulli_kl_from_logits(a, b)


def _weighted_mean(values: np.ndarray, weights) -> float:
    if values.size == 0:
        raise ValueError("need at least one instance (N >= 1), got none")
    if weights is None:
        return float(np.mean(values))
    w = as_float_array(weights, "weights", min_ndim=0)
    check_finite(w, "weights")
    if np.any(w < 0):
        raise ValueError(f"weights must be non-negative, got min {w.min()!r}")
    try:
        w = np.broadcast_to(w, values.shape)
    except ValueError:
        raise ValueError(f"weights {w.shape} must broadcast to the instances' shape {values.shape}") from None
    total = w.sum()
    if total <= 0:
        raise ValueError("weights must not all be zero")
    return float(np.sum(w * values) / total)


def pm_divergence(log_probs_1, log_probs_2, rewards_1, rewards_2, *, weights=None) -> float:
    """Aggregate PM divergence E_x[D_x]: the (weighted) mean of the instance KL divergences.

    .. math::  \\text{PM Divergence} = \\mathbb{E}_x\\, KL\\big(p_{llm}(·|y_1,y_2,x)
               \\,\\|\\, p_{reward}(·|y_1,y_2,x)\\big)

    Source: seed 001, §6.1 ("PM Divergence"). This is the paper's definition; the number the
    published code reports is :func:`squared_log_ratio_pm_divergence` (module doc).

    Args:
      log_probs_1, log_probs_2, rewards_1, rewards_2: as in :func:`instance_pm_divergence`,
        one entry per instance, shape (N,).
      weights: optional non-negative weights of the instances, shape (N,) (e.g. prompt
        probabilities); by default the plain mean over the N instances.

    Returns:
      The aggregate PM divergence, a float ≥ 0; 0 iff every instance with positive weight
      has matching binary preferences.

    >>> round(pm_divergence([-1.0, -2.0], [-2.0, -1.0], [1.0, 0.0], [0.0, 0.0]), 6)
    0.055472
    """
    return _weighted_mean(instance_pm_divergence(log_probs_1, log_probs_2, rewards_1, rewards_2), weights)


def instance_squared_log_ratio_pm_divergence(log_probs_1, log_probs_2, rewards_1, rewards_2) -> np.ndarray:
    """The published code's per-instance PM divergence: the squared log-odds gap, (N,) -> (N,).

    .. math::  \\big((r(x,y_1) − r(x,y_2)) − (\\log π(y_1|x) − \\log π(y_2|x))\\big)^2

    Source: github.com/JiancongXiao/PM_RLHF, ``step3_ppo_finetuning/main.py``, ``evaluation_pm``
    (the code behind seed 001's Tables 2-3). Args as :func:`instance_pm_divergence`.

    Returns:
      (b − a)² ≥ 0 per instance; 0 iff the binary preferences agree; ≥ 8·D_x (module doc).
    """
    a, b = _pair_arrays(log_probs_1, log_probs_2, rewards_1, rewards_2)
    return (b - a) ** 2


def squared_log_ratio_pm_divergence(log_probs_1, log_probs_2, rewards_1, rewards_2, *, weights=None) -> float:
    """The published code's aggregate PM divergence: mean squared log-odds gap (float).

    Source: github.com/JiancongXiao/PM_RLHF, ``evaluation_pm`` (see module doc). Args as
    :func:`pm_divergence`.
    """
    return _weighted_mean(instance_squared_log_ratio_pm_divergence(log_probs_1, log_probs_2, rewards_1, rewards_2),
                          weights)


def _policy_and_rewards(log_policy, rewards):
    log_policy = as_float_array(log_policy, "log_policy")
    check_log_probabilities(log_policy, "log_policy")
    rewards = as_float_array(rewards, "rewards")
    check_finite(rewards, "rewards")
    try:
        shape = np.broadcast_shapes(log_policy.shape, rewards.shape)
    except ValueError:
        raise ValueError(f"log_policy {log_policy.shape} and rewards {rewards.shape} "
                         "must broadcast to (..., K)") from None
    return np.broadcast_to(log_policy, shape), np.broadcast_to(rewards, shape)


def population_pm_divergence(log_policy, rewards, *, log_sampling=None) -> np.ndarray:
    """Aggregate PM divergence of a policy on a finite response set, pairs drawn i.i.d.

    .. math::  \\sum_{i,j} s_i s_j\\, KL\\big(σ(\\log π_i − \\log π_j) \\,\\|\\, σ(r_i − r_j)\\big)

    the population limit of §6.1's procedure (draw y₁, y₂ from ``s``, average D_x); §6.1
    draws them from the model itself, ``s = π`` (the default). With a full-support ``s`` it is
    0 iff π ∝ e^r, i.e. iff π is the PM policy (3.2).

    Source: seed 001, §6.1 and Definition 3.2.

    Args:
      log_policy: log π, shape (..., K), normalized.
      rewards: r, shape (..., K), finite.
      log_sampling: log s, shape (..., K), normalized; ``None`` means s = π.

    Returns:
      shape (...), ≥ 0.
    """
    log_policy, rewards = _policy_and_rewards(log_policy, rewards)
    if log_sampling is None:
        log_s = log_policy
    else:
        log_s = as_float_array(log_sampling, "log_sampling")
        check_log_probabilities(log_s, "log_sampling")
        log_s = np.broadcast_to(log_s, log_policy.shape)
    a = log_policy[..., :, None] - log_policy[..., None, :]
    b = rewards[..., :, None] - rewards[..., None, :]
    weight = np.exp(log_s[..., :, None] + log_s[..., None, :])
    return np.sum(weight * bernoulli_kl_from_logits(a, b), axis=(-2, -1))


def entropy(log_policy) -> np.ndarray:
    """Entropy E_{y~π}[−log π(y|x)] = −Σ_y π log π, shape (..., K) -> (...).

    Source: seed 001, §6.1 ("Entropy"). 0·log 0 = 0 (entries of −inf are zero probabilities).

    Args:
      log_policy: log π, shape (..., K), normalized; −inf allowed for zero probabilities.
    """
    log_policy = _log_policy_allowing_zeros(log_policy, "log_policy")
    p = np.exp(log_policy)
    return -np.sum(np.where(p > 0, p * np.where(p > 0, log_policy, 0.0), 0.0), axis=-1)


def _bregman_kl_terms(log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """q·h(δ) = p·δ − p + q with δ = log p − log q, elementwise; each term is ≥ 0.

    h(δ) = e^δ(δ − 1) + 1 = Σ_{n≥2} (n − 1)δⁿ/n! is summed as a series for |δ| < 0.1 (where
    the direct form cancels), so terms of π ≈ π_ref stay accurate and non-negative.
    """
    p, q = np.exp(log_p), np.exp(log_q)
    with np.errstate(invalid="ignore"):
        delta = log_p - log_q
    small = np.abs(np.where(np.isfinite(delta), delta, 1.0)) < 0.1
    d = np.where(small, delta, 0.0)
    series = np.zeros_like(d)
    power, factorial = d * d, 2.0
    for n in range(2, 14):  # |δ| < 0.1: the n = 13 term is below 1e-15 of the first
        series += (n - 1) * power / factorial
        power, factorial = power * d, factorial * (n + 1)
    with np.errstate(invalid="ignore", over="ignore"):
        direct = np.where(p > 0, p * (np.where(p > 0, delta, 0.0) - 1.0), 0.0) + q
    value = np.where(small, q * series, direct)
    return np.where((p > 0) & (q == 0), np.inf, value)


def kl_divergence(log_policy, log_reference) -> np.ndarray:
    """KL(π ‖ π_ref) = E_{y~π}[log π(y|x) − log π_ref(y|x)], shape (..., K) -> (...).

    Summed as Σ_y [π log(π/π_ref) − π + π_ref] (the same number for normalized π, π_ref), whose
    terms are each ≥ 0, so the result is ≥ 0 and accurate when π ≈ π_ref (the plain sum can
    come out −1e-19 there). Zero entries of π contribute 0 to the KL; π > 0 = π_ref gives +inf.

    Source: seed 001, §6.1 ("KL divergence").

    Args:
      log_policy: log π, shape (..., K), normalized; −inf allowed.
      log_reference: log π_ref, same shape, normalized; −inf allowed.
    """
    log_policy = _log_policy_allowing_zeros(log_policy, "log_policy")
    log_reference = _log_policy_allowing_zeros(log_reference, "log_reference")
    if log_policy.shape != log_reference.shape:
        raise ValueError(f"log_policy and log_reference must have the same shape, got {log_policy.shape} and "
                         f"{log_reference.shape}")
    return np.sum(_bregman_kl_terms(log_policy, log_reference), axis=-1)


def _log_policy_allowing_zeros(array, name: str) -> np.ndarray:
    array = as_float_array(array, name)
    if np.any(np.isnan(array)) or np.any(array == np.inf):
        raise ValueError(f"{name} must be finite or -inf (a zero probability), not NaN or +inf")
    peak = np.max(array, axis=-1, keepdims=True)
    if np.any(peak == -np.inf):
        raise ValueError(f"{name} has a row with every entry -inf (no probability mass)")
    total = np.log(np.sum(np.exp(array - peak), axis=-1)) + peak[..., 0]
    worst = float(np.max(np.abs(total)))
    if worst > 1e-8:
        raise ValueError(f"{name} must log-sum-exp to 0 along its last axis, got up to {worst:.3g}")
    return array


def _lengths(lengths, shape, name="lengths") -> np.ndarray:
    lengths = as_float_array(lengths, name, min_ndim=0)
    check_finite(lengths, name)
    if np.any(lengths < 1) or np.any(lengths != np.round(lengths)):
        raise ValueError(f"{name} must be whole numbers of tokens ≥ 1, got min {lengths.min()!r}")
    try:
        return np.broadcast_to(lengths, shape)
    except ValueError:
        raise ValueError(f"{name} {lengths.shape} must broadcast to {shape}") from None


def sequence_perplexity(log_probs, lengths) -> np.ndarray:
    """Per-response perplexity π(y|x)^{−1/L(y)} = exp(−log π(y|x)/L(y)), elementwise.

    Source: seed 001, §4 footnote 8 and §6.1 ("Perplexity").

    Args:
      log_probs: log π(y|x) of each response, any shape, finite, ≤ 0.
      lengths: L(y) ≥ 1 tokens, broadcastable to ``log_probs``.
    """
    log_probs = as_float_array(log_probs, "log_probs", min_ndim=0)
    _check_log_probs(log_probs, "log_probs")
    return np.exp(-log_probs / _lengths(lengths, log_probs.shape))


def expected_perplexity(log_policy, lengths) -> np.ndarray:
    """The paper's perplexity E_{y~π}[π(y|x)^{−1/L(y)}] on a finite response set, (..., K) -> (...).

    .. math::  \\sum_y π(y) \\exp(−\\log π(y)/L(y)) = \\sum_y \\exp\\big((1 − 1/L(y)) \\log π(y)\\big)

    Source: seed 001, §6.1 ("Perplexity"), exact over the response set instead of sampled.

    Args:
      log_policy: log π, shape (..., K), finite and normalized.
      lengths: L(y) ≥ 1, shape broadcastable to (..., K).
    """
    log_policy = as_float_array(log_policy, "log_policy")
    check_log_probabilities(log_policy, "log_policy")
    exponent = (1.0 - 1.0 / _lengths(lengths, log_policy.shape)) * log_policy
    return np.sum(np.exp(exponent), axis=-1)


def corpus_perplexity(log_probs, lengths) -> float:
    """Corpus perplexity exp(−Σ_n log π(y_n) / Σ_n L(y_n)) over N sequences (float).

    The usual language-model perplexity (per-token NLL averaged over all tokens), the formula
    the published code evaluates on held-out SFT text (``evaluation_ppl``); unlike
    :func:`expected_perplexity` it weights long sequences by their length.

    Source: github.com/JiancongXiao/PM_RLHF, ``step3_ppo_finetuning/main.py``, ``evaluation_ppl``
    (the number behind seed 001's perplexity columns).

    Args:
      log_probs: log π(y_n|x_n), shape (N,), finite, ≤ 0.
      lengths: L(y_n) ≥ 1, shape (N,).
    """
    log_probs = as_float_array(log_probs, "log_probs")
    _check_log_probs(log_probs, "log_probs")
    lengths = _lengths(lengths, log_probs.shape)
    return float(np.exp(-np.sum(log_probs) / np.sum(lengths)))
