"""The optional compiled kernel of the solvers (pmtheory/solvers/_fused.c, issue 17) against the
numpy passes it replaces, which stay the reference: the same answers to a few ulps on inputs
that reach the corners, each certified, for reverse KL and the four barrier divergences it
knows; certificates that fail on a wrong answer; rows whose answers do not depend on their
batch or their address.

Where the kernel is not built (no C compiler or no glibc libmvec) these tests skip, saying so;
CI sets PMTHEORY_REQUIRE_KERNEL=1 (.ci/run), so that there they fail instead."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import log_softmax

from pmtheory import SolverError, optimal_policy
from pmtheory.divergences import get_divergence
from pmtheory.solvers import _kernel
from pmtheory.solvers._kernel import barrier_passes, kernel_status, reverse_kl_passes, use_kernel
from pmtheory.testing import kkt_tolerance

EPS = np.finfo(np.float64).eps
# The two paths form every logit x, log π = x − L and the certificate by the same operations in
# the same order; they differ in exp (glibc's vector exp is within 4 ulps, numpy's within 1) and
# in the order of the sums (both within a few ulps), which reach log π through L = log Σ e^x.
# 32 ulps of 1 + |log π| leave room for both; measured at most 8 ulps over 400 random problems
# (reverse KL) and 10 over 48 (the barrier divergences, whose root is found to the same tolerance
# on both paths).
LOG_TOLERANCE = 32 * EPS
FUSED = ["reverse_kl", "forward_kl", "js", "hellinger", "alpha:0.5"]


def _require_kernel():
    if _kernel._LIBRARY is None:
        message = f"the compiled kernel is missing: {kernel_status()}"
        if os.environ.get("PMTHEORY_REQUIRE_KERNEL"):
            pytest.fail(message + "; PMTHEORY_REQUIRE_KERNEL is set, as .ci/run sets it")
        pytest.skip(message)


@pytest.fixture(autouse=True)
def kernel_built():
    _require_kernel()


def _both_paths(rewards, divergence="reverse_kl", **options):
    with use_kernel(True) as on:
        assert on
        fused = optimal_policy(rewards, divergence=divergence, **options)
    with use_kernel(False):
        reference = optimal_policy(rewards, divergence=divergence, **options)
    return fused, reference


def _assert_agree(fused, reference):
    finite = np.isfinite(reference.log_policy)
    np.testing.assert_array_equal(np.isfinite(fused.log_policy), finite)
    expected = reference.log_policy[finite]
    error = np.abs(fused.log_policy[finite] - expected) / (1.0 + np.abs(expected))
    assert error.max(initial=0.0) <= LOG_TOLERANCE, f"max relative |Δ log π| = {error.max():.3g}"
    assert np.max(np.abs(fused.policy - reference.policy), initial=0.0) <= LOG_TOLERANCE
    scale = 1.0 + np.abs(reference.multiplier)
    assert np.all(np.abs(fused.multiplier - reference.multiplier) <= LOG_TOLERANCE * scale)


@st.composite
def problems(draw):
    """(rewards, log q, β) of shape (B, K) with K from the kernel's least up: ties, huge
    rewards and offsets, references down to e^-700 (1e-304), extreme β, float32 rewards."""
    k = draw(st.sampled_from([16, 17, 33, 100, 257, 1000, 4099]))
    b = draw(st.integers(1, 3))
    generator = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 30.0, 1e4]))
    offset = draw(st.sampled_from([0.0, 1e6, -1e12, 1e15]))
    rewards = generator.standard_normal((b, k)) * scale + offset
    if draw(st.booleans()):
        rewards[:, : k // 2] = rewards[:, :1]  # ties
    spread = draw(st.sampled_from([0.1, 3.0, 100.0]))
    log_q = log_softmax(generator.standard_normal((b, k)) * spread, axis=-1)
    if draw(st.booleans()):
        log_q[:, -3:] = -700.0  # probabilities near 1e-304
        log_q = log_softmax(log_q, axis=-1)
    beta = draw(st.sampled_from([1.0, 1e-8, 0.03, 7.0, 1e8]))
    if draw(st.booleans()):
        rewards = rewards.astype(np.float32)
    return rewards, log_q, beta


class TestAgainstTheNumpyPasses:
    @given(problems(), st.sampled_from(FUSED))
    def test_same_answers_each_certified(self, problem, divergence):
        rewards, log_q, beta = problem
        try:
            fused, reference = _both_paths(rewards, divergence, log_reference=log_q, beta=beta)
        except SolverError as error:  # rewards/β beyond float64: refused alike by both paths
            with use_kernel(False), pytest.raises(SolverError, match=str(error).split(":")[0]):
                optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=beta)
            return
        assert np.all(fused.kkt_residual <= kkt_tolerance(log_q))
        _assert_agree(fused, reference)

    @pytest.mark.parametrize("divergence", FUSED[1:])
    def test_policies_below_the_normal_range(self, divergence):
        # Δ/β up to 3000: h(Δ + d) underflows for JS (e^-3000) and π of the far responses leaves
        # the normal range, so the final pass's certificate is NaN there and the caller certifies
        # those rows again in log space, on both paths.
        rewards = np.linspace(0.0, -3000.0, 64)[None, :].repeat(2, axis=0)
        rewards[1] *= 1e-3
        fused, reference = _both_paths(rewards, divergence, beta=1.0)
        _assert_agree(fused, reference)
        assert np.all(fused.kkt_residual <= 1e-9)

    @pytest.mark.parametrize("k", [16, 100, 1 << 17, (1 << 17) + 5])
    def test_broadcast_reference_and_strided_rewards(self, k):
        # A reference shared by every row (row stride 0), a uniform one, and rewards that are a
        # strided view (the kernel declines them: the numpy passes run) all agree.
        generator = np.random.default_rng(k)
        rewards = generator.standard_normal((3, k)) * 4.0
        log_q = log_softmax(generator.standard_normal(k))
        _assert_agree(*_both_paths(rewards, log_reference=log_q, beta=0.5))
        _assert_agree(*_both_paths(rewards, beta=0.5))
        wide = np.repeat(rewards, 2, axis=-1)[:, ::2]
        assert reverse_kl_passes(wide, np.broadcast_to(log_q, wide.shape)) is None
        _assert_agree(optimal_policy(rewards, log_reference=log_q, divergence="reverse_kl"),
                      optimal_policy(wide, log_reference=log_q, divergence="reverse_kl"))

    def test_an_unnormalized_reference_is_refused_on_the_kernel_path(self):
        log_q = np.full((2, 100), np.log(1 / 100))
        log_q[1] += 1e-3
        with use_kernel(True), pytest.raises(ValueError, match="log_reference"):
            optimal_policy(np.zeros((2, 100)), log_reference=log_q, divergence="reverse_kl")

    def test_the_recentred_pivot(self):
        # The most likely response lies far below the best reward (Δ = 50/β): both paths
        # re-form the logits from its reward.
        k = 64
        rewards = np.zeros((2, k))
        rewards[:, 0] = 50.0
        log_q = np.full((2, k), -400.0)
        log_q[:, 1:] = np.log((1.0 - np.exp(-400.0)) / (k - 1))
        fused, reference = _both_paths(rewards, log_reference=log_q, beta=1.0)
        _assert_agree(fused, reference)
        assert np.all(fused.kkt_residual <= kkt_tolerance(log_q))


class TestTheKernelsOwnCertificate:
    def test_flags_a_wrong_normalizer_and_a_wrong_logit(self):
        # The pass that writes π also certifies it. Off by 1e-6 in L, π is off by a constant
        # factor, which stationarity cannot see (Z absorbs it) and Σπ does; one logit off by
        # 1e-6 breaks stationarity at that response.
        generator = np.random.default_rng(3)
        rewards = generator.standard_normal((3, 100))
        log_q = log_softmax(generator.standard_normal((3, 100)), axis=-1)
        passes = reverse_kl_passes(rewards, log_q)
        logits, exps = np.empty(rewards.shape), np.empty(rewards.shape)
        best = rewards.max(axis=-1)
        _, total, _, _ = passes.logits(best, 1.0, False, logits, exps)
        logits[2, 7] += 1e-6
        mass, worst = passes.policy(best, 1.0, np.log(total) + np.array([0.0, 1e-6, 0.0]), np.zeros(3, bool),
                                    logits, exps)
        assert abs(mass[0] - 1.0) < 1e-15 and worst[0] < 1e-15
        assert abs(mass[1] - 1.0) > 9e-7
        assert worst[2] > 1e-7

    @pytest.mark.parametrize("divergence", FUSED[1:])
    def test_the_barrier_final_pass_flags_a_wrong_root(self, divergence):
        # The final pass certifies what it writes. At the solver's root it writes the solver's π
        # with Σπ = 1 to rounding; at d off by 1e-6, Σπ shows it (stationarity cannot: each π is
        # q·h(D) at its own D, which the violation |D − (S − f'(π/q))| checks to rounding); a NaN
        # in q reaches the violation.
        generator = np.random.default_rng(5)
        rewards = generator.standard_normal((3, 64))
        log_q = log_softmax(generator.standard_normal((3, 64)), axis=-1)
        solution = optimal_policy(rewards, log_reference=log_q, divergence=divergence)
        div = get_divergence(divergence)
        best = rewards.max(axis=-1)
        d = solution.multiplier - best + div.sup_f_prime  # d = S − max a + Z, β = 1
        gap, q = best[:, None] - rewards, np.exp(log_q)
        q[2, 9] = np.nan
        mass, smallest, worst = barrier_passes(div, gap, q).final(d * np.array([1.0, 1.0 + 1e-6, 1.0]))
        assert abs(mass[0] - 1.0) < 1e-13 and worst[0] < 1e-13 and smallest[0] == q[0].min()
        np.testing.assert_allclose(q[0], solution.policy[0], rtol=1e-12, atol=0)
        np.testing.assert_allclose(gap[0], np.log(q[0]), rtol=4 * EPS, atol=0)  # libmvec's log: ≤ 4 ulps
        assert abs(mass[1] - 1.0) > 1e-8 and worst[1] < 1e-13
        assert np.isnan(worst[2]) and np.isnan(mass[2])

    def test_a_nan_reaches_the_certificate(self):
        rewards = np.zeros((1, 32))
        log_q = np.full((1, 32), np.log(1 / 32))
        log_q[0, 5] = np.nan
        passes = reverse_kl_passes(rewards, log_q)
        logits, exps = np.empty(rewards.shape), np.empty(rewards.shape)
        peak, total, _, _ = passes.logits(np.zeros(1), 1.0, False, logits, exps)
        assert np.isnan(peak[0]) and np.isnan(total[0])
        _, worst = passes.policy(np.zeros(1), 1.0, np.zeros(1), np.zeros(1, bool), logits, exps)
        assert np.isnan(worst[0])


class TestRowsStandAlone:
    @pytest.mark.parametrize("divergence", FUSED)
    @pytest.mark.parametrize("k", [16, 17, 100, 1000])
    def test_a_row_does_not_depend_on_its_batch_or_its_address(self, k, divergence):
        # The same row alone, inside a batch, and at an address 8 bytes off the one before
        # (no peeling for alignment in the vectorized loops) gives the same bits.
        generator = np.random.default_rng(k)
        rewards = generator.standard_normal((7, k)) * generator.choice([0.1, 3.0, 30.0], size=(7, 1))
        log_q = log_softmax(generator.standard_normal((7, k)) * 2.0, axis=-1)
        batched = optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=0.7)
        buffer = np.empty(2 * k + 1)
        for row in range(7):
            shifted = buffer[1:k + 1]
            shifted[...] = rewards[row]
            for r in (rewards[row], shifted):  # a row alone: its work arrays are new, aligned or not
                single = optimal_policy(r, log_reference=log_q[row], divergence=divergence, beta=0.7)
                assert np.array_equal(batched.log_policy[row], single.log_policy)
                assert np.array_equal(batched.policy[row], single.policy)
                assert batched.kkt_residual[row] == single.kkt_residual


class TestWhichPath:
    def test_the_divergences_it_knows(self):
        gap, q = np.zeros((2, 16)), np.full((2, 16), 1 / 16)
        for name in FUSED[1:]:
            assert barrier_passes(get_divergence(name), gap, q) is not None
        for name in ("alpha:0.3", "chi2", "tv"):
            assert barrier_passes(get_divergence(name), gap, q) is None
        assert barrier_passes(get_divergence("js"), np.asfortranarray(np.zeros((16, 16))), q[:1]) is None

    def test_short_rows_and_the_switch_take_the_numpy_passes(self):
        rewards, log_q = np.zeros((2, 15)), np.full((2, 15), -np.log(15))
        assert reverse_kl_passes(rewards, log_q) is None  # K < 16: numpy's column passes are faster
        assert reverse_kl_passes(np.zeros((2, 16)), np.full((2, 16), -np.log(16))) is not None
        with use_kernel(False):
            assert reverse_kl_passes(np.zeros((2, 16)), np.full((2, 16), -np.log(16))) is None

    def test_a_kernel_built_for_another_cpu_is_not_run(self, monkeypatch):
        # -march=native: a checkout moved to a CPU without the build machine's vector extensions
        # must fall back to numpy, not die of an illegal instruction.
        class Elsewhere:
            def __getattr__(self, name):
                function = lambda: 0  # noqa: E731 (a stand-in for a ctypes function)
                return function

        assert _kernel._LIBRARY.pmt_cpu_supported() == 1  # here, where it was built
        monkeypatch.setattr(_kernel.ctypes, "CDLL", lambda path: Elsewhere())
        library, why = _kernel._load()
        assert library is None and "another CPU" in why and "pip install -e ." in why

    def test_the_environment_turns_it_off(self, monkeypatch):
        monkeypatch.setenv("PMTHEORY_KERNEL", "numpy")
        library, why = _kernel._load()
        assert library is None and "PMTHEORY_KERNEL=numpy" in why
        assert kernel_status().startswith("compiled kernel")  # the loaded module is unchanged
        monkeypatch.setenv("PMTHEORY_KERNEL", "off")
        with pytest.raises(ValueError, match="PMTHEORY_KERNEL must be 'auto'.*got 'off'"):
            _kernel._load()
        monkeypatch.setenv("PMTHEORY_KERNEL", "auto")
        assert _kernel._load()[0] is not None
