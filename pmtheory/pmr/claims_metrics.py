"""Check of seed 001's claim on the §6.1 metrics: PMR-MET (``shared/CLAIMS.md``).

Statement, mutants and independent rechecks as in :mod:`pmtheory.pmr.claims_bias`.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), §6.1.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
from hypothesis import strategies as st
from scipy.special import log_softmax

from pmtheory.claims import holds, mutant, refuted
from pmtheory.divergences import f_divergence_from_log
from pmtheory.pmr import metrics
from pmtheory.pmr.paper import PAPER
from pmtheory.testing import property_search, reward_vectors

# ---------------------------------------------------------------------------------------
# PMR-MET: the §6.1 metrics
# ---------------------------------------------------------------------------------------


def _mp_bernoulli_kl(a: float, b: float) -> float:
    """Bernoulli KL in log-odds by mpmath; the two terms cancel to ~(b − a)², so the working
    precision grows with the digits of b − a (60 digits plus twice those)."""
    gap = abs(a - b)
    digits = 60 + (2 * int(-math.log10(gap)) if 0 < gap < 1 else 0)
    with mpmath.workdps(digits):
        a, b = mpmath.mpf(a), mpmath.mpf(b)
        p = 1 / (1 + mpmath.exp(-a))
        # log σ and log(1 − σ) directly, so extreme log-odds keep their digits.
        lp, lq = -mpmath.log1p(mpmath.exp(-a)), -mpmath.log1p(mpmath.exp(-b))
        lp1, lq1 = -mpmath.log1p(mpmath.exp(a)), -mpmath.log1p(mpmath.exp(b))
        return float(p * (lp - lq) + (1 - p) * (lp1 - lq1))


# The relative error the quadrature recheck of a Bernoulli KL must certify (its own error
# estimate): far below every tolerance it is compared at (1e-9 and up).
_QUAD_RTOL = mpmath.mpf("1e-20")


def _quad_bernoulli_kl(a: float, b: float) -> mpmath.mpf:
    """KL(Bern(σ(a)) ‖ Bern(σ(b))) as the Bregman integral of softplus, ∫_a^b (σ(t) − σ(a)) dt,
    by mpmath tanh-sinh quadrature: an independent recheck of the instance PM divergence that
    shares no formula with :func:`_mp_bernoulli_kl` (logs of σ) or with
    ``metrics.bernoulli_kl_from_logits`` (``log_expit`` and a Taylor series).

    The integrand is written σ(t)·σ(−a)·(1 − e^{a−t}) (no cancellation, so its relative
    precision is the working precision's), scaled by its value at t = b (the quadrature's
    stopping rule is absolute), and the interval is split at a, 0 and ±1, ±10, ±100, ±1000
    around them, where σ bends. Returns an mpf (no float underflow: e^-3000 stays exact);
    a = b gives exactly 0. Raises RuntimeError if the quadrature's own error estimate exceeds
    ``_QUAD_RTOL`` relative (checked against a 12000-digit direct evaluation on extreme pairs
    to 1e-40).
    """
    a, b = float(a), float(b)
    if a == b:
        return mpmath.mpf(0)
    gap = abs(a - b)
    digits = 40 + (2 * int(-math.log10(gap)) if gap < 1 else 0)
    with mpmath.workdps(digits):
        am, bm = mpmath.mpf(a), mpmath.mpf(b)
        sigma_neg_a = 1 / (1 + mpmath.exp(am))

        def difference(t):  # σ(t) − σ(a)
            return -mpmath.expm1(am - t) * sigma_neg_a / (1 + mpmath.exp(-t))

        scale = abs(difference(bm))
        lo, hi = min(am, bm), max(am, bm)
        cuts = {lo, hi} | {c + d for c in (am, mpmath.mpf(0)) for d in (0, 1, -1, 10, -10, 100, -100, 1000, -1000)
                           if lo < c + d < hi}
        value, error = mpmath.quad(lambda t: difference(t) / scale, sorted(cuts), error=True)
        if not error <= _QUAD_RTOL * abs(value):
            raise RuntimeError(f"the quadrature of the Bernoulli KL at (a, b) = ({a}, {b}) did not converge "
                               f"(error estimate {mpmath.nstr(error, 3)} of {mpmath.nstr(value, 5)})")
        return +((value if bm > am else -value) * scale)


def _mp_str(value) -> str:
    """An mpf as a decimal string (17 digits): JSON-able without float underflow."""
    return mpmath.nstr(value, 17, min_fixed=-5, max_fixed=5)


# PMR-MET's tolerances, each the primary check's and its independent recheck's:
# - instance PM divergence vs the stated definition: 1e-9 relative (the toolkit's float value is
#   good to ~1e-13 relative; the mpmath and quadrature values to 1e-20 and better);
# - population metrics: the PM policy's PM divergence ≤ 1e-15 (float log_softmax leaves log-odds
#   off by ~eps·|r| ≤ 1e-13, i.e. a KL ≤ 1e-27); entropy and KL to 1e-12·(1 + |value|) (a K ≤ 6
#   float sum of terms ≤ 600 in size); expected perplexity to 1e-12 relative against mpmath, and
#   its scipy log-space recheck must confirm a miss of more than 1e-10 relative (logsumexp of
#   exponents up to ~600 is good to ~1e-13).
_MET_INSTANCE_RTOL = 1e-9
_MET_PM_ZERO_ATOL = 1e-15
_MET_SUM_RTOL = 1e-12
_MET_PERPLEXITY_RTOL = 1e-12
_MET_PERPLEXITY_RECHECK_RTOL = 1e-10


def _differs(value, exact, rtol) -> bool:
    """|value − exact| > rtol·|exact| in mpmath (exact may be far below float range)."""
    with mpmath.workdps(50):
        value, exact = mpmath.mpf(value), mpmath.mpf(exact)
        return bool(abs(value - exact) > rtol * abs(exact))


def _quad_population_pm_divergence(log_policy, rewards) -> mpmath.mpf:
    """Σ_{i,j} π_i π_j KL(σ(log π_i − log π_j) ‖ σ(r_i − r_j)) with :func:`_quad_bernoulli_kl`
    (pairs i < j doubled: KL(σ(−a) ‖ σ(−b)) = KL(σ(a) ‖ σ(b))), in mpmath at 50 digits."""
    log_policy, rewards = np.asarray(log_policy, float), np.asarray(rewards, float)
    with mpmath.workdps(50):
        total = mpmath.mpf(0)
        for i, j in itertools.combinations(range(log_policy.size), 2):
            if np.isneginf(log_policy[i]) or np.isneginf(log_policy[j]):
                continue
            weight = mpmath.exp(mpmath.mpf(float(log_policy[i])) + mpmath.mpf(float(log_policy[j])))
            total += 2 * weight * _quad_bernoulli_kl(float(log_policy[i] - log_policy[j]),
                                                     float(rewards[i] - rewards[j]))
        return +total


@PAPER.check("PMR-MET", mutants=[
    mutant("PM divergence reversed", "The instance PM divergence is D_KL(p_reward ‖ p_llm).",
           kl_direction="reward||llm"),
    mutant("perplexity without the inverse", "Perplexity = E_{y∼π}[p_1 ⋯ p_Length(y)]^{+1/Length(y)}.",
           perplexity_exponent=1.0),
])
def check_metrics(*, quick: bool, kl_direction: str = "llm||reward", perplexity_exponent: float = -1.0):
    """Seed 001, §6.1: PM divergence (instance, aggregate), perplexity, entropy, KL; PM divergence 0
    iff preferences match.

    Statement parameters (defaults are §6.1's definitions): ``kl_direction`` "llm||reward" for
    D_KL(p_llm ‖ p_reward) (the paper) or "reward||llm"; ``perplexity_exponent`` the power
    per token length in E[(p_1⋯p_L)^{e/L}] (−1 in the paper). The toolkit's metrics are
    judged against the stated definitions evaluated independently (mpmath).

    Methods (property, hypothesis): (1) the instance PM divergence against an mpmath
    Bernoulli KL at 60+ digits on log-probabilities down to −1e4 and rewards up to ±1e4;
    (2) 0 exactly when the log-odds agree, > 0 when they differ, and for the population
    version on a finite response set 0 iff the policy is softmax(r); (3) the published code's
    squared log-odds version is (b − a)² ≥ 8·KL, zero at the same places; (4) entropy and KL
    against :mod:`pmtheory.divergences` and direct sums, expected perplexity against mpmath.
    The torch-side (bridge) evaluation of these metrics is checked by ``pmtheory.bridge``.

    A failure is re-checked, per kind, by a method the primary comparison does not use: the
    Bernoulli KL (instance, and summed over pairs for the population PM divergence) by
    quadrature of its Bregman integral (:func:`_quad_bernoulli_kl`); the squared log-odds gap
    in exact rationals; entropy and KL as mpmath sums at 50 digits; expected perplexity in log
    space by ``scipy.special.logsumexp``. The recheck must confirm both that the stated
    definition has the property the toolkit's value violates and that the toolkit's value
    misses it; otherwise the check raises (the runner reports ``error``).
    """
    if kl_direction not in ("llm||reward", "reward||llm"):
        raise ValueError(f"kl_direction must be 'llm||reward' or 'reward||llm', got {kl_direction!r}")

    def stated_order(a, b):  # a = logit p_llm(y1), b = logit p_reward(y1): the stated KL's (first, second)
        return (a, b) if kl_direction == "llm||reward" else (b, a)

    def stated_instance(a, b):
        return _mp_bernoulli_kl(*stated_order(a, b))

    worst = {"max_rel_err_vs_mpmath": 0.0, "max_kl_over_squared_times_8": 0.0, "max_entropy_err": 0.0,
             "max_kl_err": 0.0, "max_perplexity_rel_err": 0.0}
    logprob = st.one_of(st.sampled_from([0.0, -1e-12, -1.0, -1e4]), st.floats(-1e4, 0.0))
    reward = st.one_of(st.sampled_from([0.0, 1e4, -1e4]), st.floats(-1e4, 1e4))

    def instance_failures(l1, l2, r1, r2):
        """The toolkit's instance metrics on one pair, and the stated properties they violate (in order)."""
        value = float(metrics.instance_pm_divergence(l1, l2, r1, r2))
        a, b = l1 - l2, r1 - r2
        reference = stated_instance(a, b)
        squared = float(metrics.instance_squared_log_ratio_pm_divergence(l1, l2, r1, r2))
        failures = {}
        if reference > 1e-290:
            err = abs(value - reference) / reference
            worst["max_rel_err_vs_mpmath"] = max(worst["max_rel_err_vs_mpmath"], err)
            if err > _MET_INSTANCE_RTOL:
                failures["definition"] = f"instance PM divergence {value} vs mpmath {reference}"
        if not value >= 0.0:
            failures["negative"] = f"instance PM divergence {value} < 0"
        if a == b and value != 0.0:
            failures["nonzero_at_match"] = f"matching preferences give PM divergence {value}"
        elif a != b and abs(a) <= 50 and abs(b) <= 50 and abs(a - b) >= 1e-6 and not value > 0.0:
            failures["zero_at_mismatch"] = f"different preferences give PM divergence 0 (a={a}, b={b})"
        if squared != (b - a) ** 2:
            failures["squared_gap"] = f"the code's squared log-odds gap {squared} ≠ (b − a)² = {(b - a) ** 2}"
        if squared > 0:
            worst["max_kl_over_squared_times_8"] = max(worst["max_kl_over_squared_times_8"], 8 * value / squared)
        if not value <= squared / 8 * (1 + 1e-9) + 1e-300:
            failures["above_squared_over_8"] = f"KL {value} > squared gap / 8 = {squared / 8}"
        return value, squared, failures

    def instance_check(example):
        failures = instance_failures(*example)[2]
        assert not failures, "; ".join(failures.values())

    n = 40 if quick else 300
    out_instance = property_search(st.tuples(logprob, logprob, reward, reward), instance_check, examples=n, seed=61)

    def population_failures(rewards, log_noise, lengths):
        """The toolkit's population metrics, and the stated properties they violate (in order)."""
        k = rewards.size
        pm = log_softmax(rewards)
        perturbed = log_softmax(rewards + log_noise)
        values = {"pm_policy": float(metrics.population_pm_divergence(pm, rewards)),
                  "perturbed": float(metrics.population_pm_divergence(perturbed, rewards)),
                  "entropy": float(metrics.entropy(perturbed)),
                  "kl": float(metrics.kl_divergence(perturbed, pm)),
                  "perplexity": float(metrics.expected_perplexity(perturbed, lengths))}
        failures = {}
        if not values["pm_policy"] <= _MET_PM_ZERO_ATOL:
            failures["pm_policy_nonzero"] = f"the PM policy has population PM divergence {values['pm_policy']}"
        spread = float(np.ptp(log_noise))
        if k >= 2 and 1e-6 <= spread <= 50 and np.ptp(rewards) <= 50 and not values["perturbed"] > 0:
            failures["non_pm_policy_zero"] = (f"a non-PM policy (noise spread {spread}) has population PM "
                                              "divergence 0")
        # entropy and KL against independent formulas.
        p = np.exp(perturbed)
        direct = float(-np.sum(np.where(p > 0, p * perturbed, 0.0)))
        worst["max_entropy_err"] = max(worst["max_entropy_err"], abs(values["entropy"] - direct))
        if not abs(values["entropy"] - direct) <= _MET_SUM_RTOL * (1 + abs(direct)):
            failures["entropy"] = f"entropy {values['entropy']} vs direct sum {direct}"
        other = float(f_divergence_from_log(perturbed, pm, "reverse_kl"))
        worst["max_kl_err"] = max(worst["max_kl_err"], abs(values["kl"] - other))
        if not (abs(values["kl"] - other) <= _MET_SUM_RTOL * (1 + abs(other)) and values["kl"] >= 0):
            failures["kl"] = f"KL {values['kl']} vs pmtheory.divergences {other}"
        # expected perplexity against mpmath.
        with mpmath.workdps(40):
            ref = mpmath.fsum(mpmath.exp(mpmath.mpf(float(lp)))
                              * mpmath.exp(mpmath.mpf(perplexity_exponent) * mpmath.mpf(float(lp)) / int(n_))
                              for lp, n_ in zip(perturbed, lengths))
        rel = abs(values["perplexity"] - float(ref)) / float(ref)
        worst["max_perplexity_rel_err"] = max(worst["max_perplexity_rel_err"], rel)
        if not rel <= _MET_PERPLEXITY_RTOL:
            failures["perplexity"] = f"expected perplexity {values['perplexity']} vs mpmath {float(ref)}"
        return pm, perturbed, values, failures

    def population_check(example):
        failures = population_failures(*example)[3]
        assert not failures, "; ".join(failures.values())

    @st.composite
    def population_problems(draw):
        k = draw(st.integers(1, 6))
        rewards = np.clip(draw(reward_vectors(k)), -300, 300)
        noise = np.array(draw(st.lists(st.sampled_from([0.0, 1e-6, 0.5, 3.0, -2.0]) | st.floats(-5, 5),
                                       min_size=k, max_size=k)))
        lengths = np.array(draw(st.lists(st.integers(1, 300), min_size=k, max_size=k)))
        return rewards, noise, lengths

    out_population = property_search(population_problems(), population_check, examples=n, seed=62)
    if out_instance.counterexample is not None:
        l1, l2, r1, r2 = out_instance.counterexample
        value, squared, failures = instance_failures(l1, l2, r1, r2)
        kind = next(iter(failures), None)
        a, b = l1 - l2, r1 - r2
        if kind == "squared_gap":
            # Exact rationals: (b − a)² of the float log-odds; a float result rounds b − a and the
            # square, each by ≤ 2^-53 relative, so a miss above 1e-12 relative is real.
            exact = (Fraction(b) - Fraction(a)) ** 2
            recheck = {"method": "exact rational arithmetic (fractions.Fraction): (b − a)² of the log-odds",
                       "computed": str(exact),
                       "agrees": bool(abs(Fraction(squared) - exact) > Fraction(1, 10**12) * exact)}
            predicted = "the code's PM divergence is (b − a)², b − a the log-odds gap"
        else:
            # The stated definition by quadrature of its Bregman integral, at the float log-odds
            # a = l1 − l2, b = r1 − r2 that the metric and the primary check both see.
            exact = _quad_bernoulli_kl(*stated_order(a, b))
            if kind == "above_squared_over_8":
                with mpmath.workdps(50):
                    bound = (mpmath.mpf(b) - mpmath.mpf(a)) ** 2 / 8
                satisfied = exact <= bound * (1 + mpmath.mpf("1e-15"))
            else:
                satisfied = {"definition": True, "negative": exact >= 0, "nonzero_at_match": exact == 0,
                             "zero_at_mismatch": exact > 0}.get(kind, False)
            recheck = {"method": "mpmath tanh-sinh quadrature of the Bregman integral ∫_a^b (σ(t) − σ(a)) dt "
                                 f"(the stated {kl_direction} Bernoulli KL), error estimate ≤ 1e-20 relative",
                       "computed": _mp_str(exact),
                       "agrees": bool(kind is not None and satisfied
                                      and _differs(value, exact, _MET_INSTANCE_RTOL))}
            predicted = f"the stated instance PM divergence D_KL({kl_direction.replace('||', ' ‖ ')}) (§6.1)"
        return refuted({
            "inputs": {"log_probs": [l1, l2], "rewards": [r1, r2], "kl_direction": kl_direction, "failed": kind},
            "predicted": predicted, "computed": value if kind != "squared_gap" else squared,
            "recheck": recheck,
        }, {"message": out_instance.message, "failures": failures, **worst})
    if out_population.counterexample is not None:
        rewards, noise, lengths = out_population.counterexample
        pm, perturbed, values, failures = population_failures(rewards, noise, lengths)
        kind = next(iter(failures), None)
        inputs = {"rewards": rewards.tolist(), "log_noise": noise.tolist(), "lengths": lengths.tolist(),
                  "perplexity_exponent": perplexity_exponent, "failed": kind}
        if kind in ("pm_policy_nonzero", "non_pm_policy_zero"):
            policy = pm if kind == "pm_policy_nonzero" else perturbed
            value = values["pm_policy" if kind == "pm_policy_nonzero" else "perturbed"]
            exact = _quad_population_pm_divergence(policy, rewards)
            satisfied = exact <= _MET_PM_ZERO_ATOL if kind == "pm_policy_nonzero" else exact > 0
            method = ("Σ_{i,j} π_i π_j KL(σ(log π_i − log π_j) ‖ σ(r_i − r_j)) in mpmath at 50 digits, each KL by "
                      "tanh-sinh quadrature of its Bregman integral")
            agrees = satisfied and _differs(value, exact, _MET_INSTANCE_RTOL)
            predicted = ("population PM divergence 0 at the PM policy softmax(r)" if kind == "pm_policy_nonzero"
                         else "population PM divergence > 0 at a policy other than softmax(r)")
        elif kind in ("entropy", "kl"):
            with mpmath.workdps(50):
                lp = [mpmath.mpf(float(x)) for x in perturbed]
                lq = [mpmath.mpf(float(x)) for x in pm]
                exact = (-mpmath.fsum(mpmath.exp(x) * x for x in lp) if kind == "entropy"
                         else mpmath.fsum(mpmath.exp(x) * (x - y) for x, y in zip(lp, lq)))
                value = values[kind]
                agrees = (abs(mpmath.mpf(value) - exact) > _MET_SUM_RTOL * (1 + abs(exact))
                          or (kind == "kl" and value < 0 <= exact))
            method = ("mpmath at 50 digits: −Σ π log π" if kind == "entropy"
                      else "mpmath at 50 digits: Σ π (log π − log softmax r)")
            predicted = "entropy −Σ π log π (§6.1)" if kind == "entropy" else "KL(π ‖ π_PM) = Σ π log(π/π_PM) (§6.1)"
        elif kind == "perplexity":
            from scipy.special import logsumexp

            value = values["perplexity"]
            exact = float(np.exp(logsumexp(perturbed * (1.0 + perplexity_exponent / lengths))))
            method = "scipy.special.logsumexp in log space: log Σ_y exp((1 + e/L(y))·log π(y))"
            agrees = _differs(value, exact, _MET_PERPLEXITY_RECHECK_RTOL)
            predicted = f"E_y∼π[π(y)^({perplexity_exponent}/L(y))] (the stated perplexity)"
        else:  # no independent recheck for this failure: the refutation cannot be confirmed
            value, exact, method, agrees = out_population.message, None, "none available", False
            predicted = "metric as §6.1 defines it"
        return refuted({
            "inputs": inputs, "predicted": predicted, "computed": value,
            "recheck": {"method": method, "computed": exact if exact is None or isinstance(exact, float)
                        else _mp_str(exact), "agrees": bool(agrees)},
        }, {"message": out_population.message, "failures": failures, **worst})
    return holds({"instances": out_instance.examples, "population_instances": out_population.examples, **worst,
                  "bridge": "the torch evaluation is checked in pmtheory.bridge"},
                 backing=f"{out_instance.examples} + {out_population.examples} property instances against mpmath "
                         "and independent implementations")
