"""Tests of pmtheory.highprec: the mpmath reference for the f-regularized optimum, against
closed forms derived by hand (MOD Lemma 1, solved per divergence on two or three responses)
and against the reverse-KL softmax evaluated in mpmath at 80 digits; its invariances, its
corners (K = 1, probabilities below float range, |r|/β beyond float range, a clipped χ²
support, a barrier that pulls mass onto a near-zero response) and its input errors.

Why exact equality is used below: the function returns each entry correctly rounded from an
mpmath value that is accurate to about 10^(5 − digits) (digits ≥ 40 by default), and the
references are computed at 60 to 80 digits and rounded once; the two roundings disagree only
when the true value lies within ~1e-35 of a float64 rounding boundary, which none of these
inputs does.

Shape letters: K = number of responses.
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from scipy.special import log_softmax

from pmtheory.divergences import get_divergence
from pmtheory.highprec import high_precision_optimal_policy
from pmtheory.testing import SOLVER_DIVERGENCES, instances

SMOOTH = tuple(name for name in SOLVER_DIVERGENCES if name != "tv")
# Working precision of the references computed in these tests (above the function's default
# of ≥ 40 digits, so the reference is the more accurate of the two).
REFERENCE_DIGITS = 60
LOG_HALF = np.log([0.5, 0.5])  # exp(fl(log ½)) renormalizes to exactly ½ each (both entries equal)


def _reference_q(log_q):
    """q = exp(log_q) renormalized in mpmath, from the float inputs as given (the function's
    contract is about the log_reference it receives, which is normalized only to 1e-8)."""
    q = [mpmath.exp(mpmath.mpf(float(x))) for x in log_q]
    total = mpmath.fsum(q)
    return [x / total for x in q]


def _as_float_logs(policy):
    return np.array([float(mpmath.log(p)) if p > 0 else -np.inf for p in policy])


class TestClosedForms:
    """Lemma 1, π_i = q_i·(f')⁻¹(a_i − Z) with a = r/β and Σπ = 1, solved by hand."""

    def test_reverse_kl_two_responses(self):
        # f'(t) = log t + 1: π ∝ q·e^a; q = (½, ½), a = (0, 1): π = (1, e)/(1 + e).
        with mpmath.workdps(REFERENCE_DIGITS):
            e = mpmath.e
            expected = _as_float_logs([1 / (1 + e), e / (1 + e)])
        np.testing.assert_array_equal(high_precision_optimal_policy([0.0, 1.0], LOG_HALF), expected)

    def test_forward_kl_two_responses(self):
        # f'(t) = −1/t: π_i = q_i/(Z − a_i). ½/Z + ½/(Z − 1) = 1 ⇒ Z² − 2Z + ½ = 0,
        # Z = 1 + 1/√2 (the root above max a), π = (1 − 1/√2, 1/√2).
        with mpmath.workdps(REFERENCE_DIGITS):
            root = 1 / mpmath.sqrt(2)
            expected = _as_float_logs([1 - root, root])
        out = high_precision_optimal_policy([0.0, 1.0], LOG_HALF, divergence="forward_kl")
        np.testing.assert_array_equal(out, expected)

    def test_js_two_responses(self):
        # f'(t) = log(2t/(t + 1)): t = e^u/(2 − e^u). With x = e^{−Z}, q = (½, ½), a = (0, 1):
        # x/(2 − x) + ex/(2 − ex) = 2 ⇒ 2e·x² − 3(1 + e)·x + 4 = 0; the root with ex < 2 is
        # the smaller one.
        with mpmath.workdps(REFERENCE_DIGITS):
            e = mpmath.e
            x = (3 * (1 + e) - mpmath.sqrt(9 * (1 + e) ** 2 - 32 * e)) / (4 * e)
            assert e * x < 2
            expected = _as_float_logs([x / (2 - x) / 2, e * x / (2 - e * x) / 2])
        out = high_precision_optimal_policy([0.0, 1.0], LOG_HALF, divergence="js")
        np.testing.assert_array_equal(out, expected)

    def test_chi2_interior(self):
        # f'(t) = 2(t − 1): π = q(1 + (a − Z)/2). q = (½, ½), a = (1, 0): Z = ½, π = (5/8, 3/8).
        with mpmath.workdps(REFERENCE_DIGITS):
            expected = _as_float_logs([mpmath.mpf(5) / 8, mpmath.mpf(3) / 8])
        out = high_precision_optimal_policy([1.0, 0.0], LOG_HALF, divergence="chi2")
        np.testing.assert_array_equal(out, expected)

    def test_chi2_clipped_support_gives_minus_inf(self):
        # a = r/β = (0, 1000, 999), q ≈ (.98, .01, .01): response 0 leaves the support. On
        # A = {1, 2}: Σ_A q_i(1 + (a_i − Z)/2) = 1 ⇒ Z = (2(W − 1) + Σ_A q·a)/W, W = Σ_A q.
        rewards, log_q, beta = [0.0, 10.0, 9.99], np.log([0.98, 0.01, 0.01]), 0.01
        with mpmath.workdps(REFERENCE_DIGITS):
            q = _reference_q(log_q)
            a = [mpmath.mpf(r) / mpmath.mpf(beta) for r in rewards]
            w = q[1] + q[2]
            z = (2 * (w - 1) + q[1] * a[1] + q[2] * a[2]) / w
            assert 1 + (a[0] - z) / 2 < 0  # response 0 is indeed clipped
            expected = _as_float_logs([0, q[1] * (1 + (a[1] - z) / 2), q[2] * (1 + (a[2] - z) / 2)])
        out = high_precision_optimal_policy(rewards, log_q, divergence="chi2", beta=beta)
        assert out[0] == -np.inf  # an exact zero, not a very negative number
        np.testing.assert_array_equal(out, expected)

    @pytest.mark.parametrize("divergence", ["hellinger", "alpha:0.3"])
    def test_power_family_two_responses(self, divergence):
        # hellinger: f'(t) = 1 − 1/√t, t = (1 − u)^{−2}; alpha:α: f'(t) = (1 − t^{−α})/α,
        # t = (1 − αu)^{−1/α}. With q = (½, ½), a = (0, 1), Z is the root of
        # Σ ½·t(a_i − Z) = 1 in Prop 1's bracket [0, 1] (f'(1) = 0), found by mpmath's
        # bracketing solver at 60 digits from these formulas (not the module's), started on
        # [0.1, 1] (hellinger's t(1 − Z) has its pole at Z = 0; the sum exceeds 1 at 0.1).
        alpha = get_divergence(divergence).alpha  # None for hellinger
        with mpmath.workdps(REFERENCE_DIGITS):
            scale = 1 if alpha is None else mpmath.mpf(alpha)
            power = 2 if alpha is None else 1 / scale

            def t(u):
                return (1 - scale * u) ** (-power)

            z = mpmath.findroot(lambda z: t(0 - z) / 2 + t(1 - z) / 2 - 1, (mpmath.mpf("0.1"), 1), solver="anderson")
            assert 0 < z < 1
            expected = _as_float_logs([t(0 - z) / 2, t(1 - z) / 2])
        out = high_precision_optimal_policy([0.0, 1.0], LOG_HALF, divergence=divergence)
        np.testing.assert_array_equal(out, expected)

    @pytest.mark.parametrize("divergence", ["forward_kl", "js"])
    def test_barrier_pulls_mass_onto_a_near_zero_response(self, divergence):
        # q = (½, ½, q3), q3 = e^{−745} (below the smallest float64), a = (0, 1, 2). A barrier
        # needs a_3 − Z < sup f', so Z > 2 − sup f' whatever q3 is; as q3 → 0 the root tends
        # to that end, the first two responses take their mass there and the third takes the
        # rest (corrections O(q3) ~ 1e-323, invisible in float64):
        # forward_kl (sup f' = 0, π_i = q_i/(Z − a_i)): Z → 2, π → (¼, ½, ¼);
        # js (sup f' = log 2, π_i = q_i·e^{a_i − Z}/(2 − e^{a_i − Z})): e^{−Z} → 2e^{−2},
        #   π_1 → ½e^{−2}/(1 − e^{−2}), π_2 → ½e^{−1}/(1 − e^{−1}), π_3 = 1 − π_1 − π_2.
        log_q = np.array([np.log(0.5), np.log(0.5), -745.0])
        log_q[:2] -= math.log1p(math.exp(-745.0))  # normalized to float precision
        with mpmath.workdps(REFERENCE_DIGITS):
            if divergence == "forward_kl":
                first, second = mpmath.mpf(1) / 4, mpmath.mpf(1) / 2
            else:
                first = mpmath.exp(-2) / (1 - mpmath.exp(-2)) / 2
                second = mpmath.exp(-1) / (1 - mpmath.exp(-1)) / 2
            expected = _as_float_logs([first, second, 1 - first - second])
        out = high_precision_optimal_policy([0.0, 1.0, 2.0], log_q, divergence=divergence)
        np.testing.assert_array_equal(out, expected)


class TestReverseKlAgainstMpmath:
    # A reverse-KL optimum is the softmax of log q + r/β, which mpmath evaluates directly
    # (no root-finding), so it checks the bisection, the renormalization of q and the final
    # rounding on the shared corners: K = 1..5, exact ties, rewards to ±1e4, β in [1e-3, 1e3],
    # reference probabilities down to e^{−700}.
    @settings(max_examples=30)  # each example is a bisection at up to ~350 digits
    @given(instances(max_k=5, min_log_prob=-700.0))
    def test_matches_the_closed_form(self, instance):
        rewards, log_q, beta = instance
        out = high_precision_optimal_policy(rewards, log_q, beta=beta)
        with mpmath.workdps(80):
            logits = [mpmath.mpf(float(lq)) + mpmath.mpf(float(r)) / mpmath.mpf(beta) for r, lq in zip(rewards, log_q)]
            peak = max(logits)
            log_total = peak + mpmath.log(mpmath.fsum(mpmath.exp(x - peak) for x in logits))
            exact = [x - log_total for x in logits]
        expected = np.array([float(x) for x in exact])
        # Rounding the mpmath value costs ½ ulp; the mpmath value itself is off by at most
        # ~10^(5 − digits) ≤ 1e-35 absolute in log π (what shows when log π ≈ 0).
        error = np.abs(out - expected)
        bound = 0.5 * np.spacing(np.abs(expected)) + 1e-35
        assert np.all(error <= bound), (out, expected)


class TestInvariances:
    REWARDS = np.array([0.5, -1.0, 2.0, 0.25])
    # Rounded to multiples of 2^-40 (still normalized to ~1e-12), so that adding 2^-27 below is exact.
    LOG_Q = np.round(log_softmax(np.array([0.0, -3.0, 1.0, -0.5])) * 2.0**40) / 2.0**40

    @pytest.mark.parametrize("divergence", SMOOTH)
    def test_permuting_responses_permutes_the_policy(self, divergence):
        out = high_precision_optimal_policy(self.REWARDS, self.LOG_Q, divergence=divergence, beta=0.7)
        order = np.array([2, 0, 3, 1])
        permuted = high_precision_optimal_policy(self.REWARDS[order], self.LOG_Q[order], divergence=divergence,
                                                 beta=0.7)
        np.testing.assert_array_equal(permuted, out[order])

    @pytest.mark.parametrize("divergence", SMOOTH)
    def test_a_constant_added_to_the_rewards_changes_nothing(self, divergence):
        # The shift 3 is exact on these rewards (they and their sums are dyadic); Z moves by 3/β.
        out = high_precision_optimal_policy(self.REWARDS, self.LOG_Q, divergence=divergence, beta=0.5)
        shifted = high_precision_optimal_policy(self.REWARDS + 3.0, self.LOG_Q, divergence=divergence, beta=0.5)
        np.testing.assert_array_equal(shifted, out)

    @pytest.mark.parametrize("divergence", SMOOTH)
    def test_only_r_over_beta_matters(self, divergence):
        # Doubling r and β is exact in binary, so a = r/β is the same number.
        out = high_precision_optimal_policy(self.REWARDS, self.LOG_Q, divergence=divergence, beta=0.7)
        scaled = high_precision_optimal_policy(2 * self.REWARDS, self.LOG_Q, divergence=divergence, beta=1.4)
        np.testing.assert_array_equal(scaled, out)

    @pytest.mark.parametrize("divergence", SMOOTH)
    def test_reference_is_renormalized_at_full_precision(self, divergence):
        # A log reference off by 2^-27 ≈ 7.5e-9 (inside the 1e-8 the validation accepts) names
        # the same q after renormalization: the result must not carry the 7.5e-9.
        out = high_precision_optimal_policy(self.REWARDS, self.LOG_Q, divergence=divergence)
        off = high_precision_optimal_policy(self.REWARDS, self.LOG_Q + 2.0**-27, divergence=divergence)
        np.testing.assert_array_equal(off, out)

    @pytest.mark.parametrize("divergence", SMOOTH)
    def test_output_is_a_float64_normalized_log_policy(self, divergence):
        out = high_precision_optimal_policy(self.REWARDS, self.LOG_Q, divergence=divergence)
        assert out.dtype == np.float64 and out.shape == (4,)
        # Σ of K = 4 correctly rounded entries: each exp(log π) is off by ≲ 2 ulp.
        assert abs(math.fsum(np.exp(out)) - 1.0) <= 8 * np.finfo(float).eps


class TestCorners:
    @pytest.mark.parametrize("divergence", SMOOTH)
    def test_one_response_gets_probability_one(self, divergence):
        # K = 1: the bracket is a point, Z = a − f'(1) and π = q·(f')⁻¹(f'(1)) = 1.
        np.testing.assert_array_equal(high_precision_optimal_policy([3.0], [0.0], divergence=divergence), [0.0])

    def test_ties_get_equal_probability(self):
        out = high_precision_optimal_policy([1.0, 1.0, 0.0], np.log([0.25, 0.25, 0.5]), divergence="js")
        assert out[0] == out[1] and out[2] < out[0]

    def test_probability_below_float_range_stays_finite(self):
        # q3 = e^{−745} underflows as a float64 probability; its log-probability is kept:
        # reverse KL gives log π = log q + a − log Σ q·e^a, here −745 + 0 − log(1 + ...) .
        log_q = np.array([-745.0, 0.0])
        out = high_precision_optimal_policy([0.0, 0.0], log_q)
        with mpmath.workdps(400):  # 1 + e^{−745} needs 324+ digits
            log_total = mpmath.log(1 + mpmath.exp(-745))
            expected = [float(-745 - log_total), float(-log_total)]
        np.testing.assert_array_equal(out, expected)
        assert np.isfinite(out).all()

    @pytest.mark.parametrize("divergence", ["reverse_kl", "chi2"])
    def test_reward_over_beta_beyond_float_range(self, divergence):
        # |r|/β = 1e310 overflows float64 (the default working precision used to raise
        # OverflowError computing it); in mpmath it is finite, and the top response takes all
        # the mass: log π = (0, −1e310 → −inf).
        out = high_precision_optimal_policy([1e300, 0.0], LOG_HALF, divergence=divergence, beta=1e-10)
        np.testing.assert_array_equal(out, [0.0, -np.inf])

    def test_explicit_digits_agree_with_the_default(self):
        rewards, log_q = [0.3, -1.2, 0.8], log_softmax(np.array([0.0, -2.0, 1.0]))
        default = high_precision_optimal_policy(rewards, log_q, divergence="hellinger")
        np.testing.assert_array_equal(high_precision_optimal_policy(rewards, log_q, divergence="hellinger",
                                                                    digits=70), default)
        np.testing.assert_array_equal(high_precision_optimal_policy(rewards, log_q, divergence="hellinger",
                                                                    digits=np.int64(50)), default)


class TestValidation:
    def test_shapes(self):
        with pytest.raises(ValueError, match=r"rewards and log_reference must both have shape \(K,\), got \(2,\) "
                                             r"and \(3,\)"):
            high_precision_optimal_policy([0.0, 1.0], np.log([0.2, 0.3, 0.5]))
        with pytest.raises(ValueError, match=r"must both have shape \(K,\), got \(1, 2\)"):
            high_precision_optimal_policy([[0.0, 1.0]], [LOG_HALF])

    def test_rewards_must_be_finite(self):
        with pytest.raises(ValueError, match=r"rewards must be finite, got nan at index \(1,\)"):
            high_precision_optimal_policy([0.0, np.nan], LOG_HALF)

    def test_log_reference_must_be_normalized_and_finite(self):
        with pytest.raises(ValueError, match="log_reference must log-sum-exp to 0.*subtract"):
            high_precision_optimal_policy([0.0, 1.0], [0.0, 0.0])
        with pytest.raises(ValueError, match="log_reference must be finite"):
            high_precision_optimal_policy([0.0, 1.0], [0.0, -np.inf])

    @pytest.mark.parametrize("beta", [0.0, -1.0, np.inf])
    def test_beta_must_be_positive(self, beta):
        with pytest.raises(ValueError, match="beta must be a finite number > 0"):
            high_precision_optimal_policy([0.0, 1.0], LOG_HALF, beta=beta)

    def test_tv_has_no_reference(self):
        with pytest.raises(ValueError, match="no high-precision reference for divergence 'tv'.*linear program"):
            high_precision_optimal_policy([0.0, 1.0], LOG_HALF, divergence="tv")

    def test_unknown_divergence(self):
        with pytest.raises(ValueError, match="unknown divergence 'kl'"):
            high_precision_optimal_policy([0.0, 1.0], LOG_HALF, divergence="kl")

    @pytest.mark.parametrize("digits", [29, 10, 0, -3])
    def test_too_few_digits_is_an_error(self, digits):
        # digits = 10 used to return log π off in the 5th digit, digits = −3 nonsense.
        with pytest.raises(ValueError, match=f"digits must be at least 30 for a float64 answer, got {digits}"):
            high_precision_optimal_policy([0.0, 1.0], LOG_HALF, divergence="forward_kl", digits=digits)

    @pytest.mark.parametrize("digits", [2.5, "40", True])
    def test_digits_must_be_an_int(self, digits):
        with pytest.raises(TypeError, match="digits must be an int"):
            high_precision_optimal_policy([0.0, 1.0], LOG_HALF, digits=digits)
