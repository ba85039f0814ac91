"""Hypothesis strategies and named tolerances for property tests of RLHF objectives.

A kit for your own pytest suite, and what pmtheory's claim checks and tests draw from. The
strategies reach the corners the theory has to survive: near-degenerate references
(probabilities down to 1e-300, log-probabilities down to -1e4), huge rewards (±1e4), exact
ties, K = 1 and K = 2, β from 1e-3 to 1e3 (further on request), and every divergence the
solvers handle.

Shapes: ``K`` is the number of responses to one prompt. Every array is a fresh float64
numpy array of shape (K,); β is a Python float; a divergence is a name (str) that
:func:`pmtheory.get_divergence` and :func:`pmtheory.optimal_policy` accept.

==========================  ============================================================
strategy                    draws
==========================  ============================================================
``references(k)``           π_ref, shape (k,), strictly positive, sums to 1, min ≥ 1e-300
``log_references(k)``       log π_ref, shape (k,), log-sums to 0, entries ≥ -1e4
``reward_vectors(k)``       r, shape (k,), in [-1e4, 1e4], often with an exact tie
``betas()``                 β in [1e-3, 1e3] (``min_beta``/``max_beta`` to go further)
``divergences()``           a name from ``SOLVER_DIVERGENCES`` (and ``alpha:<a>`` on request)
``instances()``             the tuple (rewards, log_reference, beta), K in [1, max_k]
``regularized_problems()``  a :class:`RegularizedProblem`: an instance and a divergence
==========================  ============================================================

With the pytest plugin that comes with pmtheory (:mod:`pmtheory.pytest_plugin`), your suite
also gets the ``ci`` (derandomized, 60 examples) and ``fuzz`` (2000 random examples)
hypothesis profiles: ``pytest --pmtheory-profile fuzz``.

Example: reverse-KL RLHF has the closed form π* = softmax(log π_ref + r/β) (seed 001,
Prop 5.1); a test of it over the kit's problems (rewards shifted by their maximum first, as
the solver does, so that r/β up to 1e7 loses no accuracy):

.. code-block:: python

    import numpy as np
    from hypothesis import given, strategies as st
    from scipy.special import log_softmax

    from pmtheory import optimal_policy
    from pmtheory.testing import POLICY_ATOL, regularized_problems

    @given(regularized_problems(divergence=st.just("reverse_kl")))
    def test_reverse_kl_is_a_softmax(problem):
        sol = optimal_policy(problem.rewards, log_reference=problem.log_reference,
                             divergence=problem.divergence, beta=problem.beta)
        shifted = (problem.rewards - problem.rewards.max()) / problem.beta
        closed_form = np.exp(log_softmax(problem.log_reference + shifted))
        np.testing.assert_allclose(sol.policy, closed_form, rtol=0, atol=POLICY_ATOL)

The draws are float64 only. pmtheory's solvers check normalization to 1e-8 and a vector
normalized in float32 misses that by up to ~1e-7, so to test your own float32 code, cast a
draw yourself (``references(k).map(lambda q: q.astype(np.float32))``) and renormalize in
float64 before you hand it to pmtheory.

The strategies' draws for their default arguments are pinned (tests/test_testing.py): the
claim checks' verdicts depend on them, so a change would change the verdicts.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from scipy.special import log_softmax

__all__ = [
    "POLICY_ATOL",
    "KKT_TOL",
    "kkt_tolerance",
    "CVXPY_ATOL",
    "SOLVER_DIVERGENCES",
    "betas",
    "divergences",
    "log_references",
    "references",
    "reward_vectors",
    "instances",
    "RegularizedProblem",
    "regularized_problems",
    "PropertyOutcome",
    "property_search",
    "slow_scale",
]

# The accuracy bar of the exact solvers: max |Δπ| against an independent high-precision
# solve. Rewards are given in float64, so r/β differences carry a relative rounding error of
# eps; with |r/β| up to 1e7 that is an absolute 1e-9 in a logit in the worst case, but the
# solvers shift by max r before dividing, so the responses that carry mass see O(eps) errors.
POLICY_ATOL = 1e-10
# KKT residuals (scaled as in pmtheory.solvers) of an exact solve: a few hundred ulps leaves
# room for the O(K·eps) rounding of Σπ at the K used in property tests.
KKT_TOL = 1e-12


def kkt_tolerance(log_reference) -> float:
    """KKT_TOL plus the floor set by float64 log-probabilities: log π and log q of size L
    carry absolute rounding errors of eps·L, so the stationarity term f'(π/q), computed from
    log(π/q), is off by eps·L·ρf''(ρ) however exact the solve (16·eps·L covers ρf''(ρ) ≤ 8;
    found by the fuzz profile at log q = −1e4, where it reaches 1.2e-12 for chi2)."""
    return KKT_TOL + 16.0 * np.finfo(np.float64).eps * float(np.max(np.abs(log_reference)))

# Agreement expected between pmtheory.cvx (Clarabel at 1e-10 tolerances, objective divided
# by β) and the exact π on moderate instances: measured worst cases are ~3e-6 (exponential
# cone, reverse KL) and ~1.4e-5 (power cone, alpha:0.9 with q ≈ 0.15). So the claim checks
# use cvxpy only in the sharp direction (cvxpy must never beat the exact objective) and
# report the π gap as evidence; this bound is for tests of pmtheory.cvx itself.
CVXPY_ATOL = 1e-4

# Every divergence the solvers handle, with two members of the alpha family. The strategy
# divergences() draws from this table, so a divergence added to the solvers belongs here.
SOLVER_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.3", "alpha:0.9", "hellinger", "chi2", "tv")

_REWARD_SCALES = (1e-3, 1.0, 30.0, 1e4)
# The a of alpha:<a> that divergences(alpha_family=True) draws, end points included: a → 0
# is reverse KL and a → 1 forward KL, and the solvers stay certified at 1e-3 and 0.999.
_ALPHA_RANGE = (1e-3, 0.999)


def betas(*, min_beta: float = 1e-3, max_beta: float = 1e3) -> st.SearchStrategy[float]:
    """β > 0, spread over [min_beta, max_beta] on a log scale, with the end points themselves.

    Corners: ``min_beta`` and ``max_beta`` exactly, and 1.0 when it is in range. With the
    default rewards (up to ±1e4) the default range gives |r|/β up to 1e7; pass e.g.
    ``min_beta=1e-8`` for sharper optima.

    Args:
      min_beta, max_beta: 0 < min_beta ≤ max_beta, both finite.

    Returns:
      A strategy for Python floats.

    Raises:
      ValueError: a bound that is not finite and positive, or ``min_beta > max_beta``.
    """
    for name, value in (("min_beta", min_beta), ("max_beta", max_beta)):
        if isinstance(value, bool) or not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0 such as 1e-3, got {value!r}")
    if min_beta > max_beta:
        raise ValueError(f"min_beta must be <= max_beta, got min_beta={min_beta!r} > max_beta={max_beta!r}")
    ends = [min_beta, 1.0, max_beta] if min_beta <= 1.0 <= max_beta else [min_beta, max_beta]
    low, high = math.log10(min_beta), math.log10(max_beta)
    # 10**log10(b) may round one ulp past b; the clip keeps the draws inside the bounds.
    return st.one_of(st.sampled_from(ends),
                     st.floats(low, high).map(lambda e: min(max(float(10.0**e), min_beta), max_beta)))


@st.composite
def reward_vectors(draw, k: int) -> np.ndarray:
    """Rewards r of shape (k,), float64, in [-1e4, 1e4].

    Corners: a scale drawn from 1e-3, 1, 30 and 1e4 (so |r| spans tiny to huge), and for
    k ≥ 2 an exact tie r_i = r_j in about half the draws (possibly at the maximum, the case
    that splits the optimum's mass).
    """
    scale = draw(st.sampled_from(_REWARD_SCALES))
    values = draw(st.lists(st.floats(-1.0, 1.0), min_size=k, max_size=k))
    rewards = np.clip(np.asarray(values) * scale, -1e4, 1e4)
    if k >= 2 and draw(st.booleans()):
        i, j = draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))
        rewards[i] = rewards[j]  # an exact tie (possibly at the maximum)
    return rewards


@st.composite
def log_references(draw, k: int, *, min_log_prob: float = -1e4) -> np.ndarray:
    """Normalized log-probabilities log π_ref of shape (k,), float64, entries ≥ ``min_log_prob``.

    logsumexp = 0 up to rounding (the clip at ``min_log_prob`` adds < e^min_log_prob). Corners:
    logits spread over 1, 30, 690 (near the float64 underflow of e^x) and −min_log_prob, and
    for k ≥ 2 one entry pushed to the bottom of the spread in about half the draws. With the
    default −1e4 most such entries are far below float range: pass them to the solvers as
    ``log_reference``, or use :func:`references` for linear probabilities.
    """
    spread = draw(st.sampled_from([1.0, 30.0, 690.0, -min_log_prob]))
    values = draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
    logits = -np.asarray(values) * spread
    if k >= 2 and draw(st.booleans()):
        logits[draw(st.integers(0, k - 1))] = -min(spread, -min_log_prob)  # one near-degenerate entry
    return np.maximum(log_softmax(logits), min_log_prob)  # clip may denormalize by < 1e-4000


@st.composite
def references(draw, k: int) -> np.ndarray:
    """Probability vectors π_ref of shape (k,), float64, strictly positive, summing to 1.

    :func:`log_references` with ``min_log_prob=-690`` exponentiated and renormalized: entries
    reach down to e^-690 ≈ 1e-300, still normal floats, so q·f(π/q) and π/q stay finite.
    """
    log_q = draw(log_references(k, min_log_prob=-690.0))
    q = np.exp(log_q)
    return q / q.sum()


def divergences(*, barrier: bool | None = None, alpha_family: bool = False) -> st.SearchStrategy[str]:
    """Names of divergences the solvers handle, as :func:`pmtheory.optimal_policy` takes them.

    Draws from ``SOLVER_DIVERGENCES`` (shrinking towards ``"reverse_kl"``). Corners: every
    name in the table, the barriers (f'(0+) = −∞: the optimum keeps every response) and the
    non-barriers chi2 and tv (whose optimum may put π = 0 on a response).

    Args:
      barrier: True for barrier divergences only (what MOD Prop 1 and
        :func:`pmtheory.mod.optimal_policy` need), False for the non-barriers only, None for all.
      alpha_family: also draw ``"alpha:<a>"`` with a anywhere in [1e-3, 0.999], the end points
        themselves included (every member of the family is a barrier).

    Returns:
      A strategy for str.

    Raises:
      TypeError: ``barrier`` not None or a bool, or ``alpha_family`` not a bool.
    """
    if barrier is not None and not isinstance(barrier, bool):
        raise TypeError(f"barrier must be True, False or None, got {barrier!r}")
    if not isinstance(alpha_family, bool):
        raise TypeError(f"alpha_family must be True or False, got {alpha_family!r}")
    from pmtheory.divergences import get_divergence

    names = [name for name in SOLVER_DIVERGENCES if barrier is None or get_divergence(name).barrier == barrier]
    strategy = st.sampled_from(names)
    if alpha_family and barrier is not False:
        low, high = _ALPHA_RANGE
        a = st.one_of(st.sampled_from([low, high]), st.floats(low, high))
        strategy = st.one_of(strategy, a.map(lambda value: f"alpha:{value!r}"))
    return strategy


@st.composite
def instances(draw, *, max_k: int = 6, min_log_prob: float = -1e4):
    """The tuple (rewards, log_reference, beta) with K in [1, max_k]: shapes (K,), (K,), float.

    One draw of :func:`reward_vectors`, :func:`log_references` (with ``min_log_prob``) and
    :func:`betas` at a common K; K = 1 (the trivial simplex) and K = 2 are among the corners.
    Unpack it as ``rewards, log_q, beta = instance``.
    """
    k = draw(st.integers(1, max_k))
    return draw(reward_vectors(k)), draw(log_references(k, min_log_prob=min_log_prob)), draw(betas())


@dataclass(frozen=True, eq=False)
class RegularizedProblem:
    """One f-regularized RLHF problem for a single prompt, as :func:`pmtheory.optimal_policy` takes it.

    .. math::  \\max_{π ∈ Δ_K} Σ_y π(y) r(y) − β·I_f(π ‖ π_{ref})

    Source: seed 004, Lemma 1 (eq 3); seed 001, §5.2.
    """

    rewards: np.ndarray  # r, shape (K,), float64
    log_reference: np.ndarray  # log π_ref, shape (K,), float64, logsumexp = 0
    beta: float  # β > 0
    divergence: str  # the name of f (see pmtheory.divergences)

    @property
    def reference(self) -> np.ndarray:
        """π_ref = exp(log_reference), shape (K,), renormalized in float64.

        Raises:
          ValueError: an entry of π_ref is below the smallest normal float (log_reference
            below -708): draw with ``min_log_prob >= -690`` to use linear probabilities.
        """
        if np.min(self.log_reference) < np.log(np.finfo(np.float64).tiny):
            raise ValueError(
                f"reference: log_reference reaches {np.min(self.log_reference):.4g}, below float64 range "
                "(-708); draw the problem with regularized_problems(min_log_prob=-690.0) or use log_reference"
            )
        q = np.exp(self.log_reference)
        return q / q.sum()


@st.composite
def regularized_problems(draw, *, max_k: int = 6, min_log_prob: float = -1e4,
                         divergence: st.SearchStrategy[str] | None = None) -> RegularizedProblem:
    """A whole :class:`RegularizedProblem`: an :func:`instances` draw and a divergence.

    Args:
      max_k: K is drawn in [1, max_k].
      min_log_prob: the floor of log π_ref (see :func:`log_references`); -690 or above keeps
        :attr:`RegularizedProblem.reference` in float range.
      divergence: a strategy for divergence names; default :func:`divergences` (every name
        in ``SOLVER_DIVERGENCES``). ``st.just("reverse_kl")`` fixes one.

    Returns:
      A strategy for :class:`RegularizedProblem`: the instance is drawn by :func:`instances`
      with ``max_k`` and ``min_log_prob``, then the divergence.
    """
    rewards, log_reference, beta = draw(instances(max_k=max_k, min_log_prob=min_log_prob))
    name = draw(divergences() if divergence is None else divergence)
    return RegularizedProblem(rewards=rewards, log_reference=log_reference, beta=beta, divergence=name)


@dataclass(frozen=True)
class PropertyOutcome:
    """What a property search found."""

    examples: int  # how many examples the property was evaluated on
    counterexample: object | None  # the shrunk failing example, or None when all passed
    message: str  # the failing check's message ("" when none failed)


@contextlib.contextmanager
def _without_local_constants():
    """Hypothesis (≥ 6.13x) mixes numeric constants found in every imported local module into
    its draws, so the examples of a search, and hence a verdict, would depend on which
    modules happen to be imported (a test session imports the tests; the CLI does not) and on
    constants anywhere in the repo. Inside this block the pool of local constants is empty,
    so a search depends only on its strategy and seed. Uses hypothesis internals; if they
    are not there (other versions), it changes nothing.
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants

        original = providers._get_local_constants
        cache = providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):  # pragma: no cover - other hypothesis versions
        yield
        return
    providers._get_local_constants = Constants
    cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def property_search(strategy: st.SearchStrategy, check, *, examples: int, seed: int = 0) -> PropertyOutcome:
    """Run ``check(example)`` on ``examples`` hypothesis examples; shrink the first failure.

    ``check`` raises ``AssertionError`` when the property fails for that example. The search
    is derandomized through ``seed`` and uses no example database, so a claim's verdict is
    reproducible; hypothesis shrinks a failure to a small example, which is returned.
    """
    from hypothesis import HealthCheck, Phase, given, settings

    seen = {"count": 0, "last_failure": None, "message": ""}

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        report_multiple_bugs=False,  # one failure, shrunk, not an ExceptionGroup of several
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )
    @given(strategy)
    def run(example):
        seen["count"] += 1
        try:
            check(example)
        except AssertionError as failure:
            seen["last_failure"] = example
            seen["message"] = str(failure)
            raise

    run._hypothesis_internal_use_seed = seed  # derandomize uses a fixed seed; keep it explicit
    try:
        with _without_local_constants():
            run()
    except AssertionError:
        return PropertyOutcome(seen["count"], seen["last_failure"], seen["message"])
    return PropertyOutcome(seen["count"], None, "")


def slow_scale() -> int:
    """The size factor of tests marked ``slow``: ``PMTHEORY_SLOW_SCALE`` (default 1).

    The default test run (CI) runs every slow test at scale 1, its reduced size; a full sweep
    sets e.g. ``PMTHEORY_SLOW_SCALE=10``. Slow tests multiply their number of instances,
    seeds or grid points by this factor.

    Raises:
      ValueError: the variable is set to something other than a positive integer.
    """
    text = os.environ.get("PMTHEORY_SLOW_SCALE", "1")
    try:
        scale = int(text)
    except ValueError:
        scale = 0
    if scale < 1:
        raise ValueError(f"PMTHEORY_SLOW_SCALE must be a positive integer such as 1 or 10, got {text!r}")
    return scale
