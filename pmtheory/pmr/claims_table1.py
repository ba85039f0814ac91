"""Check of the PMR claim of Table 1: which RLHF objectives are PM (seed 001, Xiao et al. 2024):
PMR-TAB1.

Uses the shared helpers of :mod:`pmtheory.pmr._claims_common`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import log_softmax, softmax

from pmtheory.claims import Reading, holds, mutant, refuted
from pmtheory.divergences import get_divergence
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.pmr._claims_common import _CERT_ATOL, _certified, _require
from pmtheory.pmr.paper import PAPER
from pmtheory.pmr.pm import conditional_pm_optimal_policy, max_entropy_log_policy, pm_log_policy
from pmtheory.solvers import optimal_policy
from pmtheory.testing import POLICY_ATOL, SOLVER_DIVERGENCES, instances, property_search, reward_vectors

# ---------------------------------------------------------------------------------------
# Table 1: which RLHF objectives are PM.

def _matching_beta(divergence: str, rewards: np.ndarray) -> tuple[float | None, float]:
    """The β at which f-divergence RLHF with a uniform reference puts softmax(r)'s mass on the
    better of two responses, by a root solve on log β ∈ [−8, 8] (p_top falls from 1 to 1/2
    as β grows); None when no β hits it (a jump over the target, as for TV). Returns
    (β or None, |p_top(β) − target| at the answer)."""
    target = softmax(rewards)[np.argmax(rewards)]

    def excess(log_beta):
        sol = optimal_policy(rewards, divergence=divergence, beta=float(np.exp(log_beta)))
        return float(sol.policy[np.argmax(rewards)]) - target

    lo, hi = -8.0, 8.0
    if excess(lo) < 0 or excess(hi) > 0:
        return None, min(abs(excess(lo)), abs(excess(hi)))
    root = brentq(excess, lo, hi, xtol=1e-14, rtol=8 * np.finfo(float).eps, maxiter=300)
    miss = abs(excess(root))
    return (float(np.exp(root)) if miss <= 1e-9 else None), miss


def _tailored_reference(divergence: str, rewards: np.ndarray, beta: float) -> np.ndarray | None:
    """The reference that makes f-divergence RLHF return softmax(r): from the optimality
    condition π* = π_ref·(f')⁻¹(r/β − Z), π_ref = π*/(f')⁻¹(r/β − Z) with Z solving
    Σ π_ref = 1, if such a Z exists inside the domain of (f')⁻¹ (None otherwise)."""
    div = get_divergence(divergence)
    target = softmax(rewards)
    scaled = rewards / beta

    def total(z):
        with np.errstate(all="ignore"):
            return float(np.sum(target / div.f_prime_inverse(scaled - z)))

    # Z must keep every r_y/β − Z inside (f'(0+), sup f'); Σ π*/(f')⁻¹(r/β − Z) increases in Z.
    # A finite end is approached to within 1e-9 relative; an infinite one is searched for by
    # doubling steps until the sum crosses 1 (or 200 steps).
    finite_lo, finite_hi = np.isfinite(div.sup_f_prime), np.isfinite(div.f_prime_at_zero)
    lo = scaled.max() - div.sup_f_prime if finite_lo else None
    hi = scaled.min() - div.f_prime_at_zero if finite_hi else None
    if lo is not None:
        a = lo + 1e-9 * (1.0 + abs(lo))
    else:
        a, step = (hi if hi is not None else scaled.min()) - 1.0, 1.0
        for _ in range(200):
            if total(a) < 1.0:
                break
            a, step = a - step, 2 * step
    if hi is not None:
        b = hi - 1e-9 * (1.0 + abs(hi))
    else:
        b, step = max(a, scaled.max()) + 1.0, 1.0
        for _ in range(200):
            if total(b) > 1.0:
                break
            b, step = b + step, 2 * step
    fa, fb = total(a) - 1.0, total(b) - 1.0
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa > 0 or fb < 0:
        return None
    z = brentq(lambda z: total(z) - 1.0, a, b, xtol=1e-15, rtol=8 * np.finfo(float).eps, maxiter=400)
    reference = target / div.f_prime_inverse(scaled - z)
    return reference / reference.sum()



@PAPER.check("PMR-TAB1", mutants=[
    mutant("KL RLHF is PM", "Table 1 with a ✓ for Standard (KL) RLHF under Preference Matching", kl_pm=True),
    mutant("f-divergence RLHF is PM", "Table 1 with a ✓ for f-divergence RLHF under Preference Matching",
           f_divergence_pm=True),
    mutant("max-entropy RLHF is PM at τ = 2",
           "Maximum Entropy RLHF is preference matching exactly for the tuning parameter τ = 2",
           max_entropy_pm_tau=2.0),
    mutant("conditional PM RLHF is PM outright",
           "Conditional PM RLHF (Def 4.1) is preference matching outright: its optimum is softmax(r) over all "
           "responses", conditional_pm_sense="unconditional"),
])
def check_table_1(*, quick: bool, kl_pm: bool = False, f_divergence_pm: bool = False,
                  max_entropy_pm_tau: float = 1.0, conditional_pm_sense: str = "conditional"):
    """Seed 001, Table 1, "Preference Matching" column: Standard (KL) RLHF ✗, f-divergence RLHF
    ✗, Maximum Entropy RLHF ✗/✓ ("generally not preference matching unless for a certain choice
    of its tuning parameter"), PM RLHF ✓, Conditional PM RLHF ✓ (in the conditional sense of
    Theorem 4). The "Natural Language Generation" column is empirical (Fig 1, §6) and not
    judged here.

    Parameters state the column: ``kl_pm`` and ``f_divergence_pm`` (False: ✗),
    ``max_entropy_pm_tau`` (the τ at which max-entropy RLHF is PM; the paper's Example 1 and
    Example 3 make it 1), ``conditional_pm_sense`` ("conditional": the conditional on M is
    softmax(r_M); "unconditional": the optimum is softmax(r)).

    "PM" is Definition 3.2's: the optimum is softmax(r) for every reward; KL and f-divergence
    RLHF regularize toward the reference model, an SFT model that "by no means yields a
    uniform distribution" (§5.1). (1) Max-entropy: max_entropy_log_policy against the certified
    optimum of −τ·log π on random rewards and τ ∈ [1e-3, 1e3], log π_τ − log softmax(r)
    spreading by exactly |1/τ − 1|·(max r − min r): PM iff τ = 1 (or all rewards tie).
    (2) KL and every divergence in pmtheory.testing.SOLVER_DIVERGENCES, with a non-uniform
    reference: tied rewards give the optimum π_ref (exact solver; mpmath recheck), not the
    uniform softmax(0), at every β tried: not PM. KL RLHF's exact characterization (PM on an
    instance iff log π_ref − (1 − 1/β)r is constant) is checked both ways on random instances;
    the β matching softmax on r = (0, 1), (0, 2), (0, 3) with a uniform reference, and the
    reference tailored to one instance, π*/(f')⁻¹(r/β − Z), are the evidence of the other
    readings. (3) Conditional PM RLHF on r = (0, 1, 2), π_ref = (0.6, 0.3, 0.1), α = 0.2.
    """
    if conditional_pm_sense not in ("conditional", "unconditional"):
        raise ValueError(f"conditional_pm_sense must be 'conditional' or 'unconditional', got {conditional_pm_sense!r}")
    worst = {"max_entropy_vs_certified": 0.0, "max_spread_error": 0.0}

    def check_max_entropy(case):
        rewards, tau = case
        log_pi = max_entropy_log_policy(rewards, tau)
        cert = _certified(rewards, "-tau*log(pi)", {"tau": tau})
        d = float(np.max(np.abs(cert.policy - np.exp(log_pi))))
        worst["max_entropy_vs_certified"] = max(worst["max_entropy_vs_certified"], d)
        _require(d <= _CERT_ATOL, f"max-entropy closed form vs certified optimum: {d}")
        difference = log_pi - pm_log_policy(rewards)
        finite = np.isfinite(difference)
        spread = float(np.ptp(difference[finite])) if finite.any() else 0.0
        predicted = abs(1.0 / tau - 1.0) * float(np.ptp(rewards))
        # Both sides are exact up to rounding of r/τ (relative eps·|r|/τ) and of log-softmax.
        tol = 1e-9 * (1.0 + np.abs(rewards).max() * (1.0 + 1.0 / tau))
        usable = predicted <= 600.0  # beyond e^-600 the smaller probabilities underflow in log-softmax terms
        err = abs(spread - predicted) if usable and finite.all() else 0.0
        worst["max_spread_error"] = max(worst["max_spread_error"], err)
        _require(err <= tol, f"log π_τ − log π* spreads by {spread}, predicted |1/τ − 1|·ptp(r) = {predicted}")

    taus = st.one_of(st.sampled_from([1.0, 0.5, 2.0, 1e-3, 1e3]), st.floats(-3, 3).map(lambda e: float(10.0 ** e)))
    cases = st.integers(1, 6).flatmap(lambda k: st.tuples(reward_vectors(k), taus))
    max_entropy = property_search(cases, check_max_entropy, examples=20 if quick else 150, seed=131)

    kl_worst = {"tailored_reference_miss": 0.0, "random_reference_prediction_error": 0.0}

    def check_kl(instance):
        rewards, log_q, beta = instance
        tailored = log_softmax((1.0 - 1.0 / beta) * rewards)
        hit = optimal_policy(rewards, log_reference=tailored, beta=beta).policy
        d = float(np.max(np.abs(hit - softmax(rewards))))
        kl_worst["tailored_reference_miss"] = max(kl_worst["tailored_reference_miss"], d)
        _require(d <= POLICY_ATOL, f"KL RLHF with π_ref ∝ e^((1−1/β)r) misses softmax by {d}")
        log_pi = optimal_policy(rewards, log_reference=log_q, beta=beta).log_policy
        difference = log_pi - pm_log_policy(rewards)
        predicted = float(np.ptp(log_q - (1.0 - 1.0 / beta) * rewards))
        if np.all(np.isfinite(difference)) and predicted < 600:
            err = abs(float(np.ptp(difference)) - predicted)
            kl_worst["random_reference_prediction_error"] = max(kl_worst["random_reference_prediction_error"], err)
            _require(err <= 1e-9 * (1.0 + np.abs(log_q).max() + np.abs(rewards).max() * (1 + 1 / beta)), (
                f"KL RLHF misses softmax by a log-spread {np.ptp(difference)}, predicted {predicted}"))

    kl = property_search(instances(max_k=5, min_log_prob=-500.0), check_kl, examples=20 if quick else 150, seed=137)

    # (2) A non-uniform reference with tied rewards: PM asks for the uniform softmax(0), every
    # f-divergence optimum is π_ref itself (the divergence is minimized and E r is constant).
    tie_reference = np.array([0.5, 0.3, 0.2])
    tie_rewards = np.zeros(3)
    ties = {}
    for name in SOLVER_DIVERGENCES:
        misses = [float(np.max(np.abs(optimal_policy(tie_rewards, tie_reference, divergence=name, beta=b).policy
                                      - softmax(tie_rewards)))) for b in (0.5, 1.0, 2.0)]
        ties[name] = {"min_miss_over_beta_0.5_1_2": min(misses), "pm": bool(min(misses) <= POLICY_ATOL)}

    matching = {}
    for name in SOLVER_DIVERGENCES:
        betas_found = [_matching_beta(name, np.array([0.0, gap])) for gap in (1.0, 2.0, 3.0)]
        values = [b for b, _ in betas_found]
        common = all(v is not None for v in values) and (max(values) - min(values)) <= 1e-8 * max(values)
        matching[name] = {"beta_for_r_(0,1)_(0,2)_(0,3)": values, "common_beta": bool(common)}
    rng = np.random.default_rng(139)
    tailored = {}
    for name in SOLVER_DIVERGENCES:
        found = verified = 0
        worst_miss = 0.0
        for _ in range(3 if quick else 12):
            rewards = rng.normal(scale=2.0, size=3)
            beta = float(np.exp(rng.uniform(-1.0, 2.0)))
            if name == "tv":
                reference, beta = softmax(rewards), max(beta, 1.01 * float(np.ptp(rewards)))
            else:
                reference = _tailored_reference(name, rewards, beta)
            if reference is None or reference.min() <= 0:
                continue
            found += 1
            miss = float(np.max(np.abs(optimal_policy(rewards, reference, divergence=name, beta=beta).policy
                                       - softmax(rewards))))
            worst_miss = max(worst_miss, miss)
            verified += miss <= 1e-8
        tailored[name] = {"instances_tried": 3 if quick else 12, "instances_with_reference": found,
                          "verified": verified, "max_miss": worst_miss}
    if not all(t["verified"] == t["instances_with_reference"] for t in tailored.values()):
        raise RuntimeError(f"a tailored reference did not reproduce softmax: {tailored}")
    # Forward KL: a tailored reference exists iff β > max r − E_{π*} r (closed form of the above).
    fkl = np.array([0.0, 1.0, 3.0])
    threshold = float(fkl.max() - softmax(fkl) @ fkl)
    fkl_exists = {"threshold": threshold,
                  "below": _tailored_reference("forward_kl", fkl, 0.9 * threshold) is not None,
                  "above": _tailored_reference("forward_kl", fkl, 1.1 * threshold) is not None}

    # (3) Conditional PM RLHF (Def 4.1): the conditional on M against the whole optimum.
    cond_rewards, cond_log_ref, cond_alpha = np.array([0.0, 1.0, 2.0]), np.log([0.6, 0.3, 0.1]), 0.2
    cond_mask = cond_log_ref >= np.log(cond_alpha)
    cond = conditional_pm_optimal_policy(cond_rewards, cond_mask, log_epsilon=cond_log_ref)
    conditional_pm = {"rewards": cond_rewards.tolist(), "reference": np.exp(cond_log_ref).tolist(), "alpha": cond_alpha,
                      "optimum": cond.policy.tolist(),
                      "conditional_on_M_miss": float(np.max(np.abs(np.exp(cond.log_conditional_in_set[cond_mask])
                                                                   - softmax(cond_rewards[cond_mask])))),
                      "unconditional_miss": float(np.max(np.abs(cond.policy - softmax(cond_rewards))))}

    # The τ the claim names against the computation: PM at τ_claim on r = (0, 1), and not PM at
    # another τ (1 when τ_claim ≠ 1, else 2).
    tau_rewards = np.array([0.0, 1.0])
    tau_other = 1.0 if max_entropy_pm_tau != 1.0 else 2.0
    tau_miss = {str(t): float(np.max(np.abs(_certified(tau_rewards, "-tau*log(pi)", {"tau": t}).policy
                                            - softmax(tau_rewards)))) for t in (max_entropy_pm_tau, tau_other)}
    evidence = {"max_entropy_instances": max_entropy.examples, **worst, "kl_instances": kl.examples, **kl_worst,
                "max_entropy_miss_at_tau": tau_miss,
                "tied_rewards_non_uniform_reference": {"reference": tie_reference.tolist(), "by_divergence": ties},
                "uniform_reference_matching_beta": matching, "tailored_reference": tailored,
                "forward_kl_reference_exists_iff_beta_above": fkl_exists, "conditional_pm_rlhf": conditional_pm,
                "claim": {"kl_pm": kl_pm, "f_divergence_pm": f_divergence_pm, "max_entropy_pm_tau": max_entropy_pm_tau,
                          "conditional_pm_sense": conditional_pm_sense}}
    if max_entropy.counterexample is not None:
        rewards, tau = max_entropy.counterexample
        hp = np.exp(high_precision_optimal_policy(rewards, np.full(rewards.size, -np.log(rewards.size)),
                                                  divergence="reverse_kl", beta=tau))
        return refuted({"inputs": {"rewards": rewards.tolist(), "tau": tau},
                        "predicted": "PM iff τ = 1 (log-spread |1/τ − 1|·ptp r)", "computed": max_entropy.message,
                        "recheck": {"method": "mpmath optimum of E r + τH(π) (KL to uniform at β = τ)",
                                    "computed": hp.tolist(),
                                    "agrees": bool(abs(float(np.ptp(np.log(hp) - pm_log_policy(rewards)))
                                                       - abs(1 / tau - 1) * np.ptp(rewards)) > 1e-6)}},
                       evidence)
    if kl.counterexample is not None:
        rewards, log_q, beta = kl.counterexample
        hp = np.exp(high_precision_optimal_policy(rewards, log_softmax((1.0 - 1.0 / beta) * rewards), beta=beta))
        return refuted({"inputs": {"rewards": rewards.tolist(), "log_reference": log_q.tolist(), "beta": beta},
                        "predicted": "KL RLHF is PM iff π_ref ∝ e^((1−1/β)r)", "computed": kl.message,
                        "recheck": {"method": "mpmath KL-RLHF optimum with the tailored reference",
                                    "computed": hp.tolist(),
                                    "agrees": bool(np.max(np.abs(hp - softmax(rewards))) > POLICY_ATOL)}},
                       evidence)
    # Each row of the column, as claimed, against the computation.
    if tau_miss[str(max_entropy_pm_tau)] > _CERT_ATOL:
        hp = np.exp(high_precision_optimal_policy(tau_rewards, np.full(2, -np.log(2.0)), beta=max_entropy_pm_tau))
        return refuted({"inputs": {"rewards": tau_rewards.tolist(), "tau": max_entropy_pm_tau},
                        "predicted": f"max-entropy RLHF is PM at τ = {max_entropy_pm_tau}: optimum softmax(r) = "
                                     f"{softmax(tau_rewards).tolist()}",
                        "computed": {"certified_miss_of_softmax_at_tau": tau_miss},
                        "recheck": {"method": "mpmath optimum of E r + τH(π) (KL to uniform at β = τ)",
                                    "computed": hp.tolist(),
                                    "agrees": bool(np.max(np.abs(hp - softmax(tau_rewards))) > POLICY_ATOL)}},
                       evidence)
    rows = {"reverse_kl": kl_pm, **{n: f_divergence_pm for n in SOLVER_DIVERGENCES if n != "reverse_kl"}}
    unexpected = [n for n, claimed in rows.items() if not claimed and ties[n]["pm"]]
    if unexpected:
        raise RuntimeError(f"tied rewards with a non-uniform reference returned the uniform policy for {unexpected}: "
                           f"no witness that they are not PM ({ties})")
    wrong = [n for n, claimed in rows.items() if claimed and not ties[n]["pm"]]
    if wrong:
        name = next((n for n in wrong if n != "tv"), wrong[0])
        optimum = optimal_policy(tie_rewards, tie_reference, divergence=name, beta=1.0).policy
        if name == "tv":
            recheck = {"method": "exact solver at β = 0.5, 2 (TV: no mpmath path)",
                       "computed": [optimal_policy(tie_rewards, tie_reference, divergence="tv", beta=b).policy.tolist()
                                    for b in (0.5, 2.0)]}
            recheck["agrees"] = bool(all(np.max(np.abs(np.array(p) - softmax(tie_rewards))) > POLICY_ATOL
                                         for p in recheck["computed"]))
        else:
            hp = np.exp(high_precision_optimal_policy(tie_rewards, np.log(tie_reference), divergence=name, beta=1.0))
            recheck = {"method": f"mpmath optimum of {name} RLHF at β = 1", "computed": hp.tolist(),
                       "agrees": bool(np.max(np.abs(hp - softmax(tie_rewards))) > POLICY_ATOL)}
        return refuted({"inputs": {"divergence": name, "reference": tie_reference.tolist(),
                                   "rewards": tie_rewards.tolist(), "beta": [0.5, 1.0, 2.0]},
                        "predicted": f"{name} RLHF is PM: optimum softmax(r) = uniform at tied rewards",
                        "computed": {"optimum_at_beta_1": optimum.tolist(), **ties[name]},
                        "recheck": recheck}, evidence)
    conditional_ok = conditional_pm["conditional_on_M_miss"] <= POLICY_ATOL
    unconditional_ok = conditional_pm["unconditional_miss"] <= POLICY_ATOL
    if not (conditional_ok if conditional_pm_sense == "conditional" else unconditional_ok):
        hp = np.exp(high_precision_optimal_policy(cond_rewards + np.where(cond_mask, 0.0, cond_log_ref),
                                                  np.full(3, -np.log(3.0))))
        target = softmax(cond_rewards[cond_mask]) if conditional_pm_sense == "conditional" else softmax(cond_rewards)
        got = hp[cond_mask] / hp[cond_mask].sum() if conditional_pm_sense == "conditional" else hp
        return refuted({"inputs": {"rewards": cond_rewards.tolist(), "reference": np.exp(cond_log_ref).tolist(),
                                   "alpha": cond_alpha},
                        "predicted": target.tolist(), "computed": conditional_pm,
                        "recheck": {"method": "mpmath optimum of the Definition 4.1 objective",
                                    "computed": got.tolist(),
                                    "agrees": bool(np.max(np.abs(got - target)) > POLICY_ATOL)}},
                       evidence)
    kl_uniform_pm = matching["reverse_kl"]["common_beta"] and all(
        v is not None and abs(v - 1.0) <= 1e-8 for v in matching["reverse_kl"]["beta_for_r_(0,1)_(0,2)_(0,3)"])
    any_tailored = any(t["instances_with_reference"] for t in tailored.values())
    readings = [
        Reading(reading="✗ = not PM with the reference model KL/f-divergence RLHF regularizes toward (an SFT model, "
                        "never uniform per §5.1): some reward vector's optimum is not softmax(r)",
                verdict="holds" if not any(ties[n]["pm"] for n in rows) else "refuted"),
        Reading(reading="✗ = no choice of reference and β makes KL RLHF PM", verdict="refuted" if kl_uniform_pm
                else "holds"),
        Reading(reading="✗ = no single instance (r, π_ref, β) of the objective returns softmax(r)",
                verdict="refuted" if any_tailored or kl_uniform_pm else "holds"),
        Reading(reading="Conditional PM RLHF ✓ = PM outright (optimum softmax(r) over all responses)",
                verdict="holds" if unconditional_ok else "refuted"),
    ]
    backing = (f"{max_entropy.examples} max-entropy and {kl.examples} KL instances (exact solvers, certified solver); "
               f"tied rewards with a non-uniform reference for {len(SOLVER_DIVERGENCES)} divergences at β = 0.5, 1, 2; "
               "β root solves and tailored references for the other readings; Def 4.1 conditional on M")
    notes = ("uniform reference at β = 1 is PM (the paper's Example 3: uniform-penalty RLHF), which §5.1 excludes "
             "for a reference language model" if kl_uniform_pm else "")
    evidence["readings_note"] = notes
    return holds(evidence, backing, readings=readings)
