"""Helpers shared by the MOD claim checks (seed 004, Shi et al. 2024: multi-objective decoding).

Used by the ``claims_*`` modules of :mod:`pmtheory.mod`: the one raise site of a property
(:func:`_require`), the barrier members of the family the paper applies its results to
(:data:`BARRIER_DIVERGENCES`), the random instances (moderate ones in cvxpy's range, Prop 1's,
and the weighted instances built on them), f'' at ∞ and the rounding allowances, the base
optima, the records of a property search, and the two readings of 'strong-barrier' (seed 004,
App E.1 Def 2, and the family members) shared by Lemma 1, Props 1-2 and Thm 5, with Thm 5's
rule recomputed in mpmath.
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from hypothesis import strategies as st
from scipy.special import log_softmax

from pmtheory.claims import Reading
from pmtheory.divergences import get_divergence
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.solvers import optimal_policy


def _require(ok, message: str) -> None:
    """Fail a property with ``message``. One raise site for every check, so that hypothesis
    treats all failures of a property as one bug and shrinks the first (it would otherwise
    report an exception group for failures raised at different lines)."""
    if not ok:
        raise AssertionError(message)


# The barrier members of the family, and a non-barrier one to show what the hypothesis buys.
BARRIER_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.1", "alpha:0.5", "alpha:0.9", "hellinger")


@st.composite
def _moderate_instance(draw, max_k: int = 6):
    """(rewards, reference, beta) with references ≥ e^-12 and |r/β| ≤ 40: cvxpy's range."""
    k = draw(st.integers(1, max_k))
    rewards = np.asarray(draw(st.lists(st.floats(-4, 4), min_size=k, max_size=k)))
    if k >= 2 and draw(st.booleans()):
        rewards[0] = rewards[-1]
    logits = np.asarray(draw(st.lists(st.floats(-12, 0), min_size=k, max_size=k)))
    reference = np.exp(log_softmax(logits))
    beta = draw(st.sampled_from([0.1, 0.5, 1.0, 3.0]))
    return rewards, reference / reference.sum(), beta


def _second_derivative_at_infinity(name: str):
    """lim_{t→∞} f''(t), by sympy: 0 means f is not strongly convex on R+."""
    div = get_divergence(name)
    return sp.limit(sp.diff(div.expression, div.symbol, 2), div.symbol, sp.oo)


def _recovery_tolerance(rewards: np.ndarray, beta: float) -> float:
    """How far R − β∇f(π/π_ref) may vary in y from rounding alone: f' is evaluated at
    float64 ratios and scaled by β, against rewards of size max|r|; 1e-9 relative is ~10⁷
    ulps, far above rounding and far below any real failure of eq 3."""
    return 1e-9 * (1.0 + float(np.abs(rewards).max()) / beta) * beta


@st.composite
def _prop1_instance(draw):
    """(R of shape (M, K), w on the simplex (vertices included), reference, beta)."""
    m = draw(st.integers(2, 3))
    k = draw(st.integers(1, 6))
    scale = draw(st.sampled_from([0.5, 3.0, 20.0]))
    rewards = np.asarray(draw(st.lists(st.floats(-1, 1), min_size=m * k, max_size=m * k))).reshape(m, k) * scale
    raw = np.asarray(draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]), min_size=m, max_size=m)))
    if raw.sum() == 0:
        raw[0] = 1.0
    weights = raw / raw.sum()
    logits = np.asarray(draw(st.lists(st.floats(-10, 0), min_size=k, max_size=k)))
    reference = np.exp(log_softmax(logits))
    return rewards, weights, reference / reference.sum(), draw(st.sampled_from([0.2, 1.0, 5.0]))


def _bases(rewards: np.ndarray, reference: np.ndarray, name: str, beta: float) -> np.ndarray:
    """The base policies π_i: exact optima for R_i under β·I_f, shape (M, K)."""
    return optimal_policy(rewards, reference, divergence=name, beta=beta).policy


def _reward_tolerance(rewards: np.ndarray) -> float:
    """Rounding allowance for sums of rewards and implied rewards: 1e-9 relative to max|R|
    (rewards pass through f' and (f')⁻¹ in float64; ~10⁷ ulps, far below any real effect)."""
    return 1e-9 * (1.0 + float(np.abs(rewards).max()))


def _search_record(outcome, stats: dict) -> dict:
    """One divergence's record of a property search: its instance count, ``stats``, and the
    search's counterexample and message (which :func:`_split` keeps out of the evidence)."""
    return {"instances": outcome.examples, **stats, "counterexample": outcome.counterexample,
            "message": outcome.message}


def _split(per_divergence: dict) -> tuple[dict, dict]:
    """(evidence without the raw counterexamples, the failed divergences)."""
    evidence = {n: {k: v for k, v in d.items() if k not in ("counterexample", "message")}
                for n, d in per_divergence.items()}
    failed = {n: v for n, v in per_divergence.items() if v["counterexample"] is not None}
    return evidence, failed


def _strong_barrier_readings(evidence_def2: dict, evidence_family: dict, failed_def2: dict, failed_family: dict,
                             family_counterexample: dict | None, family_note: str = "") -> tuple[list, int]:
    """The two readings of 'strong-barrier' shared by Lemma 1, Prop 1, Prop 2 and Thm 5, each with
    its computed verdict (:func:`_reading_verdict`), and the number of instances behind both.

    Def 2 defines it (0 ∉ dom ∇f, C¹ and strongly convex on R+), which the headline uses and the
    hand-written f of :data:`~pmtheory.mod.claims_strong_barrier.STRONG_BARRIER_FUNCTIONS` meet;
    the paper applies the results to the members of :data:`BARRIER_DIVERGENCES`, none strongly
    convex on R+ (f'' → 0 at ∞).
    """
    readings = [
        Reading("'strong-barrier' as Def 2 defines it: 0 ∉ dom ∇f, C¹ and strongly convex on R+ "
                f"(checked on {', '.join(evidence_def2)}; headline)", _reading_verdict(failed_def2)),
        Reading(f"'strong-barrier' as the paper uses it (the members {', '.join(BARRIER_DIVERGENCES)})"
                + (f", {family_note}" if family_note else ""),
                _reading_verdict(failed_family, family_counterexample)),
    ]
    total = sum(v["instances"] for v in evidence_def2.values()) + sum(v["instances"] for v in evidence_family.values())
    return readings, total


def _reading_verdict(failed: dict, counterexample: dict | None = None) -> str:
    """A reading's verdict from its property search (``failed``: the f whose search found a
    counterexample): "holds" when none did, "refuted" when one did and ``counterexample``'s
    independent recheck confirms it. A failure that the recheck does not confirm is not a
    verdict: it raises (the runner reports ``error``)."""
    if not failed:
        return "holds"
    if counterexample is None or counterexample["recheck"]["agrees"] is not True:
        raise RuntimeError(f"a reading's search failed for {sorted(failed)} but the independent recheck does not "
                           f"confirm it: {None if counterexample is None else counterexample['recheck']}")
    return "refuted"


def _high_precision_log_bases(rewards: np.ndarray, reference: np.ndarray, name: str, beta: float) -> np.ndarray:
    """log π_i of the base optima from the independent mpmath solver (pmtheory.highprec), shape (M, K)."""
    return np.array([high_precision_optimal_policy(r, np.log(reference), divergence=name, beta=beta)
                     for r in rewards])


def _mp_f_prime(name: str):
    """f' of ``name`` as an mpmath function, from the sympy expression of f (not the numpy code)."""
    div = get_divergence(name)
    return sp.lambdify(div.symbol, sp.diff(div.expression, div.symbol), "mpmath")


def _mp_f_prime_inverse(name: str, u):
    """(f')⁻¹(u) in mpmath by bisection on s = log t (f' is increasing); None above sup f'."""
    fp = _mp_f_prime(name)
    div = get_divergence(name)
    if u >= div.sup_f_prime:
        return None
    lo, hi = mpmath.mpf(-300), mpmath.mpf(300)
    for _ in range(400):
        mid = (lo + hi) / 2
        if fp(mpmath.exp(mid)) < u:
            lo = mid
        else:
            hi = mid
    return mpmath.exp((lo + hi) / 2)


def _mp_thm5_scores(name: str, policies, weights, reference) -> list:
    """π_ref·(∇f)⁻¹(Σ w ∇f(π_i/π_ref)) per response, in mpmath from sympy's f' (independent
    of :mod:`pmtheory.mod.decoding`); None where the rule is undefined."""
    fp = _mp_f_prime(name)
    scores = []
    for y in range(len(reference)):
        q = mpmath.mpf(float(reference[y]))
        u = mpmath.fsum(mpmath.mpf(float(w)) * fp(mpmath.mpf(float(p[y])) / q) for w, p in zip(weights, policies))
        inverse = _mp_f_prime_inverse(name, u)
        scores.append(None if inverse is None else q * inverse)
    return scores


@st.composite
def _weighted_instance(draw, *, negative: bool = False, min_k: int = 1):
    """(R (M, K), w, reference, β): like Prop 1's instances; ``negative`` draws real weights
    summing to 1 with at least one negative entry (App G.2)."""
    rewards, weights, reference, beta = draw(_prop1_instance())
    if rewards.shape[1] < min_k:
        extra = min_k - rewards.shape[1]
        rewards = np.concatenate([rewards, rewards[:, :1] * 0.5 + 0.1 * np.arange(1, extra + 1)], axis=1)
        reference = np.concatenate([reference, np.full(extra, 0.3)])
        reference = reference / reference.sum()
    if negative:
        m = rewards.shape[0]
        raw = np.asarray(draw(st.lists(st.sampled_from([-4.0, -1.0, -0.25, 0.5, 1.0, 2.0]), min_size=m, max_size=m)))
        raw[0] = -abs(raw[0]) if raw[0] != 0 else -1.0
        weights = raw.copy()
        weights[-1] = 1.0 - raw[:-1].sum()
        if np.all(weights >= 0):
            weights[0], weights[-1] = -1.0, 2.0 - weights[1:-1].sum()
    return rewards, weights, reference, beta


