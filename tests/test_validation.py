"""Tests of pmtheory._validation: each check's error type, and that its message names the
argument, what was expected, what was received and (where there is one) the fix; the corners
each check must accept (probabilities down to 1e-300 and subnormals, K = 1, float32 inputs
that are exact, ties, log-probabilities whose exponentials underflow, rows longer than one
summation block); and logsumexp against mpmath.

Shape letters: B = rows (prompts), K = responses.
"""

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from scipy.special import log_softmax

from pmtheory._validation import (
    _BLOCK,
    NORMALIZATION_TOLERANCE,
    as_float_array,
    check_finite,
    check_log_normalization,
    check_log_probabilities,
    check_positive_scalar,
    check_probabilities,
    check_same_shape,
    logsumexp,
)

EPS = np.finfo(float).eps


class TestAsFloatArray:
    def test_converts_to_float64(self):
        out = as_float_array([1, 2, 3], "rewards")
        assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]

    def test_float32_is_widened_exactly(self):
        values = np.array([0.1, 1e-30, 3.5], dtype=np.float32)
        out = as_float_array(values, "rewards")
        assert out.dtype == np.float64
        assert [Fraction(float(x)) for x in out] == [Fraction(float(x)) for x in values]  # no rounding

    def test_k_one_and_batches(self):
        assert as_float_array([[2.0]], "rewards").shape == (1, 1)
        assert as_float_array(np.zeros((3, 4)), "rewards", min_ndim=2).shape == (3, 4)

    @pytest.mark.parametrize("value, kind", [("0.5", "str"), (b"0.5", "bytes")])
    def test_text_is_a_type_error(self, value, kind):
        with pytest.raises(TypeError, match=f"^rewards must be an array of numbers, got a {kind}$"):
            as_float_array(value, "rewards")

    @pytest.mark.parametrize("value", [[[1.0, 2.0], [3.0]], {"a": 1.0}, [object()]])
    def test_non_numbers_are_a_type_error(self, value):
        with pytest.raises(TypeError, match=r"^rewards must be an array of real numbers \("):
            as_float_array(value, "rewards")

    @pytest.mark.parametrize("value", [np.array([1 + 2j, 3]), np.array([1 + 0j]), np.complex64(1.0)])
    def test_complex_is_a_type_error_not_a_dropped_imaginary_part(self, value):
        # numpy's own cast keeps the real part with only a warning: 1 + 2j became 1.0.
        with pytest.raises(TypeError, match="rewards must be an array of real numbers, got complex dtype "
                                            "complex.*pass .real"):
            as_float_array(value, "rewards")

    def test_python_complex_is_a_type_error(self):
        with pytest.raises(TypeError, match="rewards must be an array of real numbers"):
            as_float_array([1 + 2j], "rewards")

    def test_too_few_dimensions(self):
        with pytest.raises(ValueError, match=r"rewards must have at least 1 dimension\(s\) \(\.\.\., K\), "
                                             r"got shape \(\)"):
            as_float_array(3.0, "rewards")
        with pytest.raises(ValueError, match=r"log_reference must have at least 2 dimension\(s\).*got shape \(3,\)"):
            as_float_array([0.0, 1.0, 2.0], "log_reference", min_ndim=2)
        assert as_float_array(3.0, "beta", min_ndim=0).shape == ()

    @pytest.mark.parametrize("value, shape", [([], r"\(0,\)"), (np.zeros((2, 0)), r"\(2, 0\)")])
    def test_no_responses(self, value, shape):
        with pytest.raises(ValueError, match=rf"rewards must have at least one response \(K >= 1\), got shape {shape}"):
            as_float_array(value, "rewards")


class TestCheckFinite:
    @pytest.mark.parametrize("bad, shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
    def test_names_the_value_and_its_index(self, bad, shown):
        array = np.zeros((2, 3))
        array[1, 2] = bad
        with pytest.raises(ValueError, match=rf"^rewards must be finite, got {shown} at index \(1, 2\)$"):
            check_finite(array, "rewards")

    def test_reports_the_first_bad_entry_in_row_major_order(self):
        array = np.array([[0.0, np.inf], [np.nan, 0.0]])
        with pytest.raises(ValueError, match=r"got inf at index \(0, 1\)"):
            check_finite(array, "x")

    def test_extremes_of_float_range_are_finite(self):
        check_finite(np.array([np.finfo(float).max, -np.finfo(float).max, 5e-324, 0.0]), "x")


class TestCheckPositiveScalar:
    @pytest.mark.parametrize("value, expected", [
        (0.5, 0.5), (3, 3.0), (np.float32(0.5), 0.5), (np.int64(7), 7.0), (Fraction(1, 4), 0.25),
        (1e-300, 1e-300), (5e-324, 5e-324), (np.finfo(float).max, np.finfo(float).max),
    ])
    def test_accepts_positive_reals_and_returns_a_float(self, value, expected):
        out = check_positive_scalar(value, "beta")
        assert type(out) is float and out == expected

    @pytest.mark.parametrize("value", [True, np.True_, "1.0", b"1", [1.0], np.array([1.0]), np.array(1.0), None,
                                       1 + 0j, np.complex128(2.0)])
    def test_non_numbers_are_a_type_error(self, value):
        with pytest.raises(TypeError, match="^beta must be a positive real number, got "):
            check_positive_scalar(value, "beta")

    @pytest.mark.parametrize("value, shown", [(0.0, "0.0"), (-0.0, "-0.0"), (-1, "-1.0"), (np.inf, "inf"),
                                              (np.nan, "nan"), (-np.inf, "-inf")])
    def test_non_positive_or_non_finite_is_a_value_error(self, value, shown):
        with pytest.raises(ValueError, match=f"^beta must be a finite number > 0, got {shown}$"):
            check_positive_scalar(value, "beta")


class TestCheckProbabilities:
    @pytest.mark.parametrize("strictly_positive", [True, False])
    @pytest.mark.parametrize("array", [
        [1.0],  # K = 1
        [0.5, 0.5],  # a tie
        [1 / 3, 1 / 3, 1 / 3],  # a tie that is inexact in binary (sum off by ≤ 2 eps)
        [1e-300, 1.0 - 1e-300],  # near-zero probability (1 − 1e-300 rounds to 1)
        [5e-324, 1.0],  # the smallest subnormal
        [[0.25, 0.75], [0.9, 0.1]],  # rows of a batch
    ])
    def test_accepts(self, array, strictly_positive):
        check_probabilities(np.asarray(array, dtype=np.float64), "reference", strictly_positive=strictly_positive)

    def test_accepts_exact_float32(self):
        # Dyadic values are exact in float32, so their float64 sum is exactly 1.
        check_probabilities(as_float_array(np.array([0.5, 0.25, 0.125, 0.125], dtype=np.float32), "reference"),
                            "reference", strictly_positive=True)

    def test_float32_normalized_in_float32_is_rejected_with_the_fix(self):
        # float32(0.1) = 0.10000000149..., so ten of them sum to 1 + 1.5e-8 in float64: beyond
        # the 1e-8 tolerance (the module says such inputs must be renormalized by the caller).
        array = as_float_array(np.full(10, 0.1, dtype=np.float32), "reference")
        with pytest.raises(ValueError, match=r"reference must sum to 1 along its last axis \(within 1e-08\), got "
                                             r"sums off by up to 1\.49e-08; divide by the sum first"):
            check_probabilities(array, "reference", strictly_positive=False)

    def test_large_uniform(self):
        k = 100_000
        check_probabilities(np.full(k, 1.0 / k), "reference", strictly_positive=True)

    def test_zero_allowed_only_when_not_strict(self):
        check_probabilities(np.array([0.0, 1.0]), "policy", strictly_positive=False)
        with pytest.raises(ValueError, match=r"^reference must be strictly positive \(min 0\.0\); pass log_reference "
                                             r"for probabilities below float range, and drop responses whose "
                                             r"probability is exactly 0$"):
            check_probabilities(np.array([0.0, 1.0]), "reference", strictly_positive=True)

    def test_negative(self):
        with pytest.raises(ValueError, match=r"^policy must be non-negative, got min -0\.1$"):
            check_probabilities(np.array([-0.1, 1.1]), "policy", strictly_positive=False)
        with pytest.raises(ValueError, match="strictly positive"):
            check_probabilities(np.array([-0.1, 1.1]), "policy", strictly_positive=True)

    def test_not_finite(self):
        with pytest.raises(ValueError, match=r"policy must be finite, got nan at index \(0,\)"):
            check_probabilities(np.array([np.nan, 1.0]), "policy", strictly_positive=False)

    def test_tolerance_boundary(self):
        # Sums off by 0.9e-8 and 1.1e-8 (exact to ~1e-16, far from the boundary either way).
        inside = np.array([0.5, 0.5 + 0.9 * NORMALIZATION_TOLERANCE])
        outside = np.array([0.5, 0.5 + 1.1 * NORMALIZATION_TOLERANCE])
        check_probabilities(inside, "policy", strictly_positive=True)
        with pytest.raises(ValueError, match="got sums off by up to 1.1e-08"):
            check_probabilities(outside, "policy", strictly_positive=True)

    def test_sums_along_the_last_axis_and_reports_the_worst_row(self):
        # Columns sum to one, rows do not: the check is per row (last axis).
        with pytest.raises(ValueError, match="got sums off by up to 0.25"):
            check_probabilities(np.array([[0.5, 0.25], [0.5, 0.75]]), "policy", strictly_positive=False)
        # One bad row among good ones is found, with the largest miss.
        rows = np.tile([0.25, 0.75], (5, 1))
        rows[3] = [0.25, 0.25]
        with pytest.raises(ValueError, match="off by up to 0.5"):
            check_probabilities(rows, "policy", strictly_positive=False)


class TestLogsumexp:
    @staticmethod
    def _reference(row):
        with mpmath.workdps(50):
            return float(mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(x))) for x in row)))

    @pytest.mark.parametrize("row", [
        [0.0, -1.0, 2.5],
        [1000.0, 1000.0],  # e^1000 overflows float64: the shift must be applied
        [-1000.0, -1000.5, -2000.0],  # e^-1000 underflows
        [0.0, -800.0],  # a term below float range
        [7.0] * 5,  # ties: 7 + log 5
        [3.0],  # K = 1
    ])
    def test_matches_mpmath(self, row):
        out = logsumexp(np.array(row))
        expected = self._reference(row)
        # A shifted log-sum-exp is within a few ulp of the value: exp/sum/log each add ≲ 1 ulp.
        assert abs(out - expected) <= 4 * EPS * max(1.0, abs(expected))

    def test_axis_and_keepdims(self):
        values = np.array([[0.0, np.log(3.0)], [np.log(2.0), np.log(2.0)]])
        np.testing.assert_allclose(logsumexp(values), [np.log(4.0), np.log(4.0)], rtol=4 * EPS)
        np.testing.assert_allclose(logsumexp(values, axis=0), [np.log(3.0), np.log(5.0)], rtol=4 * EPS)
        assert logsumexp(values, keepdims=True).shape == (2, 1)
        assert logsumexp(values, axis=0, keepdims=True).shape == (1, 2)

    def test_infinite_rows(self):
        values = np.array([[-np.inf, -np.inf], [np.inf, 0.0], [-np.inf, 1.0], [np.inf, -np.inf]])
        with np.errstate(all="raise"):  # and no floating-point warning escapes
            out = logsumexp(values)
        assert out[0] == -np.inf and out[1] == np.inf and out[3] == np.inf
        assert out[2] == 1.0  # a zero probability adds nothing

    def test_nan_propagates(self):
        assert np.isnan(logsumexp(np.array([0.0, np.nan])))


class TestCheckLogProbabilities:
    @pytest.mark.parametrize("array", [
        [0.0],  # K = 1
        np.log([0.5, 0.5]),  # a tie
        [0.0, -745.0],  # e^-745 underflows to 0 in the sum; the row is still normalized
        [0.0, -1e4, -1e4],  # the strategies' floor
        log_softmax(np.array([[0.0, 1.0, -2.0], [5.0, 5.0, 5.0]]), axis=-1),  # rows
    ])
    def test_accepts(self, array):
        check_log_probabilities(np.asarray(array, dtype=np.float64), "log_reference")

    def test_zero_dimensional(self):
        check_log_probabilities(np.array(0.0), "log_reference")
        with pytest.raises(ValueError, match="log-sum-exp"):
            check_log_probabilities(np.array(-0.5), "log_reference")

    def test_rows_longer_than_one_block(self):
        # K > 2 summation blocks: uniform log(1/K) is normalized only if every block is summed.
        k = 2 * _BLOCK + 123
        row = np.full((2, k), -math.log(k))
        check_log_probabilities(row, "log_reference")
        row[1, -1] += math.log(2.0)  # one more 1/K of mass, in the last (partial) block of row 1
        with pytest.raises(ValueError, match="log-sum-exp to 0"):
            check_log_probabilities(row, "log_reference")

    def test_unnormalized_names_the_fix(self):
        with pytest.raises(ValueError, match=r"^log_reference must log-sum-exp to 0 along its last axis "
                                             r"\(within 1e-08\), got up to 0\.693; subtract "
                                             r"scipy\.special\.logsumexp\(x, axis=-1, keepdims=True\)$"):
            check_log_probabilities(np.array([0.0, 0.0]), "log_reference")

    @pytest.mark.parametrize("row, miss", [([800.0, 0.0], "800"),  # Σe^x overflows
                                           ([-800.0, -800.0], "799")])  # Σe^x underflows to 0
    def test_reports_the_exact_miss_when_the_sum_leaves_float_range(self, row, miss):
        # The unshifted sum is inf or 0; the message gives |logsumexp| = 800 and 800 − log 2.
        with pytest.raises(ValueError, match=rf"got up to {miss};"):
            check_log_probabilities(np.array(row), "log_reference")

    @pytest.mark.parametrize("bad, shown", [(-np.inf, "-inf"), (np.nan, "nan"), (np.inf, "inf")])
    def test_non_finite(self, bad, shown):
        with pytest.raises(ValueError, match=rf"^log_reference must be finite, got {shown} at index \(1,\)$"):
            check_log_probabilities(np.array([0.0, bad]), "log_reference")

    def test_tolerance_boundary(self):
        base = log_softmax(np.array([0.0, 1.0, -2.0]))
        check_log_probabilities(base + 0.9 * NORMALIZATION_TOLERANCE, "log_reference")
        with pytest.raises(ValueError, match="got up to 1.1e-08"):
            check_log_probabilities(base + 1.1 * NORMALIZATION_TOLERANCE, "log_reference")

    def test_per_row(self):
        # Columns log-sum-exp to 0, rows do not.
        array = np.log(np.array([[0.5, 0.25], [0.5, 0.75]]))
        with pytest.raises(ValueError, match="log-sum-exp to 0 along its last axis"):
            check_log_probabilities(array, "log_reference")

    def test_float32_log_probabilities(self):
        # float32(log ½) is log ½ − 1.9e-9: the pair log-sum-exps to −1.9e-9, inside 1e-8, and
        # is accepted. float32(log ⅓) is log ⅓ − 2.0e-8: three of them miss by 2.0e-8 and are
        # rejected, with the fix.
        check_log_probabilities(as_float_array(np.log(np.full(2, 0.5, dtype=np.float32)), "x"), "log_reference")
        array = as_float_array(np.log(np.full(3, 1 / 3, dtype=np.float32)), "log_reference")
        with pytest.raises(ValueError, match=r"got up to 1\.98e-08; subtract scipy\.special\.logsumexp"):
            check_log_probabilities(array, "log_reference")


class TestCheckLogNormalization:
    def test_totals_are_a_fast_path_and_the_array_has_the_last_word(self):
        fine, off = np.log(np.array([[0.25, 0.75]])), np.log(np.array([[0.25, 0.25]]))
        # Totals that say "normalized" are trusted (the caller summed e^x in its own pass).
        check_log_normalization(off, "log_policy", np.array([1.0]), float(off.min()))
        # Totals that say "off" are re-measured on the array: a fine array passes ...
        check_log_normalization(fine, "log_policy", np.array([1.0 + 2e-8]), float(fine.min()))
        # ... and an array that is off fails with its own miss, |log ½| = 0.693, not the totals'.
        with pytest.raises(ValueError, match=r"log_policy must log-sum-exp to 0.*got up to 0\.693;"):
            check_log_normalization(off, "log_policy", np.array([1.0 + 2e-8]), float(off.min()))

    def test_minus_inf_is_the_callers_business_when_smallest_is_none(self):
        array = np.array([[0.0, -np.inf]])
        check_log_normalization(array, "log_policy", np.array([1.0]), None)
        with pytest.raises(ValueError, match=r"log_policy must be finite, got -inf at index \(0, 1\)"):
            check_log_normalization(array, "log_policy", np.array([1.0]), -np.inf)

    def test_non_finite_total_reports_the_bad_entry(self):
        array = np.array([[0.0, np.nan]])
        with pytest.raises(ValueError, match=r"log_policy must be finite, got nan at index \(0, 1\)"):
            check_log_normalization(array, "log_policy", np.array([np.nan]), None)


class TestCheckSameShape:
    def test_equal_shapes_pass(self):
        check_same_shape(np.zeros((2, 3)), "rewards", np.ones((2, 3)), "log_reference")

    @pytest.mark.parametrize("b_shape, shown", [((3,), r"\(3,\)"), ((2, 1), r"\(2, 1\)"), ((1, 2), r"\(1, 2\)")])
    def test_no_broadcasting(self, b_shape, shown):
        with pytest.raises(ValueError, match=rf"^rewards and log_reference must have the same shape \(\.\.\., K\), "
                                             rf"got \(2,\) and {shown}$"):
            check_same_shape(np.zeros(2), "rewards", np.zeros(b_shape), "log_reference")
