"""pmtheory.testing: the property search behind the claim checks, tolerances and sizes, and the
strategy kit (the corners each strategy reaches, its guarantees, and its pinned default draws)."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from scipy.special import log_softmax, logsumexp

from pmtheory import get_divergence, optimal_policy
from pmtheory.testing import (
    SOLVER_DIVERGENCES,
    RegularizedProblem,
    betas,
    divergences,
    instances,
    kkt_tolerance,
    log_references,
    property_search,
    references,
    regularized_problems,
    reward_vectors,
    slow_scale,
)


def test_property_search_passes_and_counts():
    outcome = property_search(st.integers(0, 10), lambda x: None, examples=20, seed=1)
    assert outcome.counterexample is None and outcome.message == "" and 1 <= outcome.examples <= 20


def test_property_search_shrinks_a_failure():
    def check(x):
        assert x < 7, f"{x} is too big"

    outcome = property_search(st.integers(0, 1000), check, examples=100, seed=1)
    assert outcome.counterexample == 7 and outcome.message.startswith("7 is too big")


def test_property_search_reports_one_of_several_distinct_failures():
    def check(x):  # two failures at different lines: hypothesis groups them
        if x % 2:
            assert x < 3, "odd"
        else:
            assert x < 4, "even"

    outcome = property_search(st.integers(0, 100), check, examples=200, seed=3)
    assert outcome.counterexample in (3, 4) and outcome.message.split("\n")[0] in ("odd", "even")


def test_property_search_lets_other_errors_through():
    def check(x):
        raise KeyError("not a property failure")

    with pytest.raises(KeyError):
        property_search(st.integers(), check, examples=5)


def test_kkt_tolerance_grows_with_log_reference():
    assert kkt_tolerance(np.log([0.5, 0.5])) == pytest.approx(1e-12, rel=1e-3)
    assert kkt_tolerance(np.array([-1e4, 0.0])) > 3e-12


@pytest.mark.parametrize("text", ["0", "-1", "x", "1.5"])
def test_slow_scale_rejects_bad_values(monkeypatch, text):
    monkeypatch.setenv("PMTHEORY_SLOW_SCALE", text)
    with pytest.raises(ValueError, match="PMTHEORY_SLOW_SCALE"):
        slow_scale()


def test_slow_scale_default_and_override(monkeypatch):
    monkeypatch.delenv("PMTHEORY_SLOW_SCALE", raising=False)
    assert slow_scale() == 1
    monkeypatch.setenv("PMTHEORY_SLOW_SCALE", "10")
    assert slow_scale() == 10


def test_property_search_ignores_constants_of_imported_modules(tmp_path, monkeypatch):
    """Hypothesis draws numeric constants from imported local modules; a search must not."""
    def examples():
        seen = []
        property_search(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=4), seen.append, examples=80, seed=5)
        return seen

    before = examples()
    (tmp_path / "_pmtheory_probe_constants.py").write_text(
        "A = 123456.75\nB = -98765.25\nC = 4242.125\nD = [777.5, 31337.0]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import _pmtheory_probe_constants  # noqa: F401

    assert examples() == before


# ---------------------------------------------------------------------------------------------
# The strategy kit.

# find() settings: deterministic, no example database, and enough examples that a corner the
# strategy draws in a few percent of draws is found (each corner below is sampled_from one of
# ≤ 10 values, or a coin flip, so 2000 examples miss it with probability far below 1e-9).
FIND = settings(max_examples=2000, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))


def reached(strategy, condition):
    """Some draw of ``strategy`` satisfies ``condition`` (hypothesis searches for it)."""
    find(strategy, condition, settings=FIND)
    return True


def holds_for_all(strategy, check, examples=150):
    """``check`` (which asserts) passes on ``examples`` draws of ``strategy``."""
    outcome = property_search(strategy, check, examples=examples, seed=11)
    assert outcome.counterexample is None, (outcome.counterexample, outcome.message)


def member_of(allowed):
    def check(value):
        assert value in allowed, value
    return check


def within(low, high):
    def check(value):
        assert isinstance(value, float) and low <= value <= high, value
    return check


sizes = st.integers(1, 6)


class TestReferences:
    def test_probability_vectors_of_shape_k(self):
        def check(case):
            k, q = case
            assert q.shape == (k,) and q.dtype == np.float64 and np.all(q > 0)
            # normalized in float64: |Σq − 1| is a few ulps (8·eps covers K ≤ 6 additions)
            assert abs(q.sum() - 1.0) <= 8 * np.finfo(np.float64).eps

        holds_for_all(sizes.flatmap(lambda k: st.tuples(st.just(k), references(k))), check)

    def test_reaches_1e_300(self):
        # e^-690 = 1.9e-300 is the floor; entries pushed there after renormalization stay < 1e-299
        assert reached(references(3), lambda q: q.min() < 1e-299)


class TestLogReferences:
    def test_normalized_and_floored(self):
        def check(case):
            k, log_q = case
            assert log_q.shape == (k,) and log_q.dtype == np.float64 and np.all(log_q >= -1e4)
            # the clip at -1e4 adds < e^-1e4 to the sum; the rest is float64 rounding of log_softmax
            assert abs(logsumexp(log_q)) <= 8 * np.finfo(np.float64).eps

        holds_for_all(sizes.flatmap(lambda k: st.tuples(st.just(k), log_references(k))), check)

    def test_reaches_the_floor(self):
        assert reached(log_references(3), lambda log_q: log_q.min() == -1e4)
        assert reached(log_references(3, min_log_prob=-750.0), lambda log_q: log_q.min() == -750.0)


class TestRewardVectors:
    def test_bounded(self):
        def check(rewards):
            assert rewards.dtype == np.float64 and np.all(np.abs(rewards) <= 1e4), rewards

        holds_for_all(sizes.flatmap(reward_vectors), check)

    def test_reaches_huge_tiny_and_ties(self):
        assert reached(reward_vectors(3), lambda r: np.abs(r).max() >= 5e3)
        assert reached(reward_vectors(3), lambda r: 0 < np.abs(r).max() <= 1e-3)
        assert reached(reward_vectors(3), lambda r: np.unique(r).size < 3 and np.ptp(r) > 0)  # a tie, not all equal
        assert reached(reward_vectors(3), lambda r: np.sum(r == r.max()) >= 2 and np.ptp(r) > 0)  # a tie at the top


class TestBetas:
    def test_default_range_and_end_points(self):
        holds_for_all(betas(), within(1e-3, 1e3))
        assert reached(betas(), lambda b: b == 1e-3) and reached(betas(), lambda b: b == 1e3)

    def test_extreme_range(self):
        wide = betas(min_beta=1e-8, max_beta=1e6)
        holds_for_all(wide, within(1e-8, 1e6))
        for corner in (1e-8, 1.0, 1e6):
            assert reached(wide, lambda b, corner=corner: b == corner)
        assert reached(wide, lambda b: 1e-8 < b < 1e-6)  # the log scale reaches the small decades

    def test_range_without_one_stays_inside(self):
        """10**log10(b) can round past b (7.3 does): the clip keeps every draw in range."""
        narrow = betas(min_beta=2.0, max_beta=7.3)
        holds_for_all(narrow, within(2.0, 7.3))
        assert reached(narrow, lambda b: b == 7.3)

    @pytest.mark.parametrize(("kwargs", "name"), [
        ({"min_beta": 0.0}, "min_beta"), ({"max_beta": float("inf")}, "max_beta"),
        ({"min_beta": -1.0}, "min_beta"), ({"max_beta": True}, "max_beta"),
        ({"min_beta": 10.0, "max_beta": 1.0}, "min_beta must be <= max_beta"),
    ])
    def test_bad_bounds(self, kwargs, name):
        with pytest.raises(ValueError, match=name):
            betas(**kwargs)


class TestDivergences:
    @pytest.mark.parametrize("name", SOLVER_DIVERGENCES)
    def test_reaches_every_name(self, name):
        assert reached(divergences(), lambda drawn: drawn == name)

    def test_draws_only_table_names(self):
        holds_for_all(divergences(), member_of(SOLVER_DIVERGENCES))

    def test_barrier_filter(self):
        barriers = {name for name in SOLVER_DIVERGENCES if get_divergence(name).barrier}
        assert barriers == set(SOLVER_DIVERGENCES) - {"chi2", "tv"}  # f'(0+) finite only for these two
        holds_for_all(divergences(barrier=True), member_of(barriers))
        holds_for_all(divergences(barrier=False), member_of({"chi2", "tv"}))
        for name in barriers:
            assert reached(divergences(barrier=True), lambda d, name=name: d == name)
        for name in ("chi2", "tv"):
            assert reached(divergences(barrier=False), lambda d, name=name: d == name)

    def test_alpha_family_reaches_its_end_points_and_the_interior(self):
        family = divergences(alpha_family=True)
        # a read from the name here: get_divergence runs a sympy analysis (~0.1 s) per new a
        alphas = family.filter(lambda d: d.startswith("alpha:")).map(lambda d: float(d.split(":")[1]))
        for corner in (1e-3, 0.999):
            name = find(family, lambda d, corner=corner: d.startswith("alpha:") and float(d[6:]) == corner,
                        settings=FIND)
            assert get_divergence(name).alpha == corner and get_divergence(name).barrier
        assert reached(alphas, lambda a: a not in (1e-3, 0.3, 0.9, 0.999))
        holds_for_all(alphas.map(lambda a: 1e-3 <= a <= 0.999), member_of({True}))
        # every alpha member is a barrier, so barrier=False adds none of them
        holds_for_all(divergences(barrier=False, alpha_family=True), member_of({"chi2", "tv"}))

    def test_every_drawn_name_is_solvable(self):
        r, q = np.array([0.0, 1.0, 3.0]), np.array([0.2, 0.3, 0.5])

        def check(name):
            sol = optimal_policy(r, q, divergence=name)
            assert sol.kkt_residual <= kkt_tolerance(np.log(q)), (name, sol.kkt_residual)

        holds_for_all(divergences(alpha_family=True), check, examples=15)  # ~0.1 s per new alpha:<a>

    @pytest.mark.parametrize(("kwargs", "error"),
                             [({"barrier": "yes"}, "barrier"), ({"alpha_family": 1}, "alpha_family")])
    def test_bad_arguments(self, kwargs, error):
        with pytest.raises(TypeError, match=error):
            divergences(**kwargs)


class TestInstances:
    def test_k_from_1_to_max_k(self):
        assert reached(instances(max_k=5), lambda e: e[0].size == 1)
        assert reached(instances(max_k=5), lambda e: e[0].size == 5)

        def check(instance):
            rewards, log_q, beta = instance
            assert rewards.shape == log_q.shape and 1 <= rewards.size <= 5 and isinstance(beta, float)

        holds_for_all(instances(max_k=5), check)


class TestRegularizedProblems:
    def test_fields(self):
        def check(problem):
            assert isinstance(problem, RegularizedProblem)
            k = problem.rewards.shape[0]
            assert problem.rewards.shape == problem.log_reference.shape == (k,) and 1 <= k <= 4
            assert problem.log_reference.min() >= -690.0 and problem.divergence in SOLVER_DIVERGENCES
            q = problem.reference
            assert np.all(q > 0) and abs(q.sum() - 1.0) <= 8 * np.finfo(np.float64).eps

        holds_for_all(regularized_problems(max_k=4, min_log_prob=-690.0), check)

    def test_divergence_strategy_is_used(self):
        holds_for_all(regularized_problems(divergence=st.just("chi2")).map(lambda p: p.divergence), member_of({"chi2"}))
        assert reached(regularized_problems(), lambda p: p.divergence == "tv")

    def test_reference_below_float_range_is_a_clear_error(self):
        problem = find(regularized_problems(), lambda p: p.log_reference.min() < -708.4, settings=FIND)
        with pytest.raises(ValueError, match=r"min_log_prob=-690"):
            problem.reference

    def test_module_docstring_example_runs(self):
        """The example in pmtheory.testing's docstring is a working test."""
        import pmtheory.testing

        code = re.search(r"\.\. code-block:: python\n\n(.*?)\n\n(?=\S)", pmtheory.testing.__doc__, re.S)
        namespace = {}
        exec(textwrap.dedent(code.group(1)), namespace)  # noqa: S102 - our own docstring
        namespace["test_reverse_kl_is_a_softmax"]()


# ---------------------------------------------------------------------------------------------
# The default draws are pinned: the claim checks' verdicts depend on them. These are the
# strategies as they were before the kit was documented (pmtheory.testing at f45b108); the kit
# must draw exactly the same numbers from the same choices.

def _pinned_betas():
    return st.one_of(st.sampled_from([1e-3, 1.0, 1e3]), st.floats(-3, 3).map(lambda e: float(10.0**e)))


@st.composite
def _pinned_reward_vectors(draw, k):
    scale = draw(st.sampled_from((1e-3, 1.0, 30.0, 1e4)))
    values = draw(st.lists(st.floats(-1.0, 1.0), min_size=k, max_size=k))
    rewards = np.clip(np.asarray(values) * scale, -1e4, 1e4)
    if k >= 2 and draw(st.booleans()):
        i, j = draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))
        rewards[i] = rewards[j]
    return rewards


@st.composite
def _pinned_log_references(draw, k, *, min_log_prob=-1e4):
    spread = draw(st.sampled_from([1.0, 30.0, 690.0, -min_log_prob]))
    values = draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
    logits = -np.asarray(values) * spread
    if k >= 2 and draw(st.booleans()):
        logits[draw(st.integers(0, k - 1))] = -min(spread, -min_log_prob)
    return np.maximum(log_softmax(logits), min_log_prob)


@st.composite
def _pinned_references(draw, k):
    q = np.exp(draw(_pinned_log_references(k, min_log_prob=-690.0)))
    return q / q.sum()


@st.composite
def _pinned_instances(draw, *, max_k=6, min_log_prob=-1e4):
    k = draw(st.integers(1, max_k))
    rewards = draw(_pinned_reward_vectors(k))
    return rewards, draw(_pinned_log_references(k, min_log_prob=min_log_prob)), draw(_pinned_betas())


def _fingerprint(value):
    """Bit-exact identity of a draw (arrays by their bytes, floats by their hex)."""
    if isinstance(value, tuple):
        return tuple(_fingerprint(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    return value.hex() if isinstance(value, float) else value


def _draws(strategy, seed):
    seen = []
    property_search(strategy, lambda example: seen.append(_fingerprint(example)), examples=100, seed=seed)
    return seen


@pytest.mark.parametrize(("kit", "pinned"), [
    (betas(), _pinned_betas()),
    (sizes.flatmap(reward_vectors), sizes.flatmap(_pinned_reward_vectors)),
    (sizes.flatmap(log_references), sizes.flatmap(_pinned_log_references)),
    (sizes.flatmap(references), sizes.flatmap(_pinned_references)),
    (instances(), _pinned_instances()),
    (instances(max_k=6, min_log_prob=-750.0), _pinned_instances(max_k=6, min_log_prob=-750.0)),
], ids=["betas", "reward_vectors", "log_references", "references", "instances", "instances-750"])
def test_default_draws_are_pinned(kit, pinned):
    kit_draws = _draws(kit, seed=3)
    assert len(kit_draws) == 100 and kit_draws == _draws(pinned, seed=3)
