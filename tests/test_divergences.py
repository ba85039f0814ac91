"""Tests of pmtheory.divergences: each member's pieces agree with its sympy f, the
0-conventions, the computed properties, and validation."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from pmtheory.divergences import f_divergence, f_divergence_from_log, get_divergence
from pmtheory.testing import SOLVER_DIVERGENCES

POINTS = np.array([1e-6, 0.01, 0.3, 1.0, 2.5, 40.0, 1e5])
DISTANCE_FORM = ("forward_kl", "js", "alpha:0.3", "alpha:0.9", "hellinger")


def _lambdified(name, order):
    div = get_divergence(name)
    return sp.lambdify(div.symbol, sp.diff(div.expression, div.symbol, order), "numpy")


class TestAgainstSympy:
    @pytest.mark.parametrize("name", [n for n in SOLVER_DIVERGENCES if n != "tv"])
    def test_f_and_f_prime_match_the_expression(self, name):
        div = get_divergence(name)
        np.testing.assert_allclose(div.f(POINTS), _lambdified(name, 0)(POINTS), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(div.f_prime(POINTS), _lambdified(name, 1)(POINTS), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(div.f_prime_of_log(np.log(POINTS)), div.f_prime(POINTS), rtol=1e-12, atol=1e-15)

    @pytest.mark.parametrize("name", SOLVER_DIVERGENCES)
    def test_normalized_at_one(self, name):
        div = get_divergence(name)
        assert sp.simplify(div.expression.subs(div.symbol, 1)) == 0
        assert div.f(1.0) == pytest.approx(0.0, abs=1e-15)

    @pytest.mark.parametrize("name", [n for n in SOLVER_DIVERGENCES if n != "tv"])
    def test_inverse_derivative_inverts(self, name):
        div = get_divergence(name)
        np.testing.assert_allclose(div.f_prime_inverse(div.f_prime(POINTS)), POINTS, rtol=1e-9)
        assert div.f_prime(1.0) == pytest.approx(div.f_prime_at_one)

    @pytest.mark.parametrize("name", DISTANCE_FORM)
    def test_distance_form_is_consistent(self, name):
        # h(D) = (f')^{-1}(S − D), in linear and log space, its inverse, and its elasticity.
        div = get_divergence(name)
        distances = np.array([1e-3, 0.05, 0.5, 2.0, 9.0])
        h = div.f_prime_inverse(div.sup_f_prime - distances)
        np.testing.assert_allclose(div.ratio_at_distance(distances), h, rtol=1e-9)
        np.testing.assert_allclose(div.log_ratio_at_distance(np.log(distances)), np.log(h), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(div.log_distance_at_log_ratio(np.log(h)), np.log(distances), rtol=1e-9, atol=1e-12)
        step = 1e-6
        numeric = (div.log_ratio_at_distance(np.log(distances) + step)
                   - div.log_ratio_at_distance(np.log(distances) - step)) / (2 * step)
        np.testing.assert_allclose(div.distance_elasticity(distances) * np.ones_like(distances), numeric, rtol=1e-6)

    @pytest.mark.parametrize("name", DISTANCE_FORM)
    def test_inverse_ratio_and_log_derivative_basis(self, name):
        # D = S − f'(ρ) from σ = 1/ρ, and the basis y = s·x of h'/h = c1·x, h''/h = c2·x² + c3·x
        # against implicit differentiation of f'(h(D)) = S − D with sympy's second and third
        # derivatives of f: h' = −1/f2(h), h'' = −f3(h)·h'²/f2(h).
        div = get_divergence(name)
        distances = np.array([1e-3, 0.05, 0.5, 2.0, 9.0])
        h = div.ratio_at_distance(distances)
        np.testing.assert_allclose(div.distance_at_inverse_ratio(1.0 / h), distances, rtol=1e-12)
        f2, f3 = _lambdified(name, 2)(h), _lambdified(name, 3)(h)
        first = -1.0 / f2
        second = -f3 * first**2 / f2
        shift = 0.37
        y = div.log_derivative_basis(distances, h, shift)
        c1, c2, c3 = div.log_derivative_coefficients
        np.testing.assert_allclose(shift * first / h, c1 * y, rtol=1e-10)
        np.testing.assert_allclose(shift**2 * second / h, c2 * y**2 + c3 * shift * y, rtol=1e-10)

    @pytest.mark.parametrize("name", DISTANCE_FORM)
    def test_log_distance_form_below_float_range(self, name):
        # At D = e^-5000 only log D exists; log h must stay finite and follow the power law.
        div = get_divergence(name)
        value = div.log_ratio_at_distance(np.array([-5000.0]))
        assert np.isfinite(value).all() and value[0] > 4000


class TestProperties:
    @pytest.mark.parametrize(
        "name, barrier, strongly",
        [("reverse_kl", True, False), ("forward_kl", True, False), ("js", True, False),
         ("alpha:0.3", True, False), ("hellinger", True, False), ("chi2", False, True), ("tv", False, False)],
    )
    def test_computed_flags(self, name, barrier, strongly):
        # Hand-derived: f'' = 1/t, 1/t², 1/(t(t+1)), t^(−a−1), t^(−3/2)/2 all tend to 0 as
        # t → ∞ (not strongly convex on R+); chi2 has f'' = 2; tv is piecewise linear.
        div = get_divergence(name)
        assert div.barrier is barrier
        assert div.strongly_convex is strongly

    @pytest.mark.parametrize("name, sup", [("forward_kl", 0.0), ("js", np.log(2)), ("alpha:0.25", 4.0),
                                           ("hellinger", 1.0), ("reverse_kl", np.inf), ("chi2", np.inf)])
    def test_sup_f_prime(self, name, sup):
        assert get_divergence(name).sup_f_prime == pytest.approx(sup)

    @pytest.mark.parametrize("a", ["0.99999999", "0.9999999999999", "1e-7", "1e-300"])
    def test_alpha_near_the_ends_keeps_its_exact_parameter(self, a):
        # sympy's nsimplify rounded 0.99999999 to 1, and the expression's 1/(a(a − 1)) to nan.
        import sympy as sp

        div = get_divergence(f"alpha:{a}")
        value = sp.Rational(a)
        t = sp.Symbol("t", positive=True)
        assert sp.simplify(div.expression - (t ** (1 - value) - (1 - value) * t - value) / (value * (value - 1))) == 0
        assert div.sup_f_prime == pytest.approx(1.0 / float(a), rel=1e-15)
        assert div.f_prime_at_one == 0.0 and div.barrier and div.strictly_convex

    @given(st.sampled_from(SOLVER_DIVERGENCES), st.integers(1, 6), st.data())
    def test_nonnegative_and_zero_iff_equal(self, name, k, data):
        weights = st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k)
        p = np.asarray(data.draw(weights))
        q = np.asarray(data.draw(weights))
        p, q = p / p.sum(), q / q.sum()
        # Each of the K terms q·f(p/q) cancels O(q)-sized parts (divided by a(a − 1) ≥ 0.09 for
        # the α members here): rounding leaves a few ulps per term (fuzz: −1.06e-15 at K = 5,
        # alpha:0.3, p = q).
        tolerance = 32 * k * np.finfo(np.float64).eps
        assert f_divergence(p, q, name) >= -tolerance
        assert abs(f_divergence(q, q, name)) <= tolerance

    def test_hellinger_is_half_alpha_half(self):
        p, q = np.array([0.1, 0.6, 0.3]), np.array([0.3, 0.3, 0.4])
        assert f_divergence(p, q, "hellinger") == pytest.approx(f_divergence(p, q, "alpha:0.5") / 2, rel=1e-14)


class TestConventions:
    @pytest.mark.parametrize(
        "name, expected",
        [
            # p = (0, 1), q = (1/2, 1/2), hand-computed:
            ("reverse_kl", np.log(2.0)),  # 0·log 0 + 1·log 2
            ("forward_kl", np.inf),  # q·log(q/0)
            ("js", 0.5 * np.log(2.0) + np.log(4 / 3) + 0.5 * np.log(2 / 3)),
            ("hellinger", 2 - np.sqrt(2.0)),  # (0 − √½)² + (1 − √½)²
            ("chi2", 1.0),  # (½)²/½ + (½)²/½
            ("tv", 0.5),
        ],
    )
    def test_zero_in_p(self, name, expected):
        assert f_divergence([0.0, 1.0], [0.5, 0.5], name) == pytest.approx(expected, rel=1e-14)

    @pytest.mark.parametrize("name, expected", [("reverse_kl", np.inf), ("forward_kl", np.log(2.0)), ("chi2", np.inf)])
    def test_zero_in_q(self, name, expected):
        assert f_divergence([0.5, 0.5], [0.0, 1.0], name) == pytest.approx(expected, rel=1e-14)

    def test_log_inputs_below_float_range(self):
        # KL(p‖q) with log q = −1e4 on an entry where p has mass ½: ½(log ½ + 1e4) + ½ log(½ / 1).
        value = f_divergence_from_log(np.log([0.5, 0.5]), np.array([-1e4, 0.0]))
        assert value == pytest.approx(0.5 * (np.log(0.5) + 1e4) + 0.5 * np.log(0.5), rel=1e-14)


class TestValidation:
    def test_unknown_and_bad_alpha(self):
        with pytest.raises(ValueError, match="unknown divergence"):
            get_divergence("kl")
        with pytest.raises(ValueError, match="0 < a < 1"):
            get_divergence("alpha:0")
        with pytest.raises(TypeError, match="divergence"):
            get_divergence(None)

    def test_inputs(self):
        with pytest.raises(ValueError, match="same shape"):
            f_divergence([0.5, 0.5], [1.0])
        with pytest.raises(ValueError, match="p must sum to 1"):
            f_divergence([0.5, 0.6], [0.5, 0.5])
        with pytest.raises(ValueError, match="NaN"):
            f_divergence_from_log([0.0, np.nan], [0.0, 0.0])

    def test_f_prime_inverse_outside_range(self):
        with pytest.raises(ValueError, match="below sup f'"):
            get_divergence("forward_kl").f_prime_inverse(0.5)


def test_every_divergence_of_the_table_is_known_everywhere():
    """CONTRIBUTING.md: a divergence is one entry of ``divergences._FIXED`` (plus its builder); this
    test names each other place that must learn the new name: the public name list, the cvxpy
    forms (pmtheory.cvx), the mpmath reference (pmtheory.highprec, for every strictly convex f;
    tv is a linear program) and the property-test kit (pmtheory.testing)."""
    import cvxpy as cp

    from pmtheory import cvx, divergences, highprec

    q = np.array([0.2, 0.3, 0.5])
    for name in (*divergences._FIXED, "alpha:0.5"):
        where = f"divergence {name!r}"
        assert name in divergences.DIVERGENCE_NAMES, f"{where} is missing from DIVERGENCE_NAMES"
        family = "alpha:" if name.startswith("alpha:") else name
        assert any(n.startswith(family) for n in SOLVER_DIVERGENCES), (
            f"{where} is missing from testing.SOLVER_DIVERGENCES")
        try:
            cvx.f_divergence_expression(cp.Variable(3), q, name)
        except ValueError as error:
            pytest.fail(f"{where} has no cvxpy form in pmtheory.cvx: {error}")
        div = get_divergence(name)
        if div.strictly_convex:
            try:
                highprec._inverse_derivative(div.name, div.alpha)
            except ValueError as error:
                pytest.fail(f"{where} has no mpmath reference in pmtheory.highprec: {error}")


@pytest.mark.parametrize("name", ["hellinger", "alpha:0.5"])
def test_ratio_and_basis_from_one_reciprocal_agree_with_the_separate_forms(name):
    # The solvers' evaluations form h = c·D^-2 and y = s/D from one reciprocal (issue 17);
    # they must agree with ratio_at_distance and log_derivative_basis to rounding.
    div = get_divergence(name)
    distance = np.geomspace(1e-150, 1e150, 301)
    ratio, basis = np.empty_like(distance), np.empty_like(distance)
    div.ratio_and_basis(distance, 0.37, ratio, basis)
    np.testing.assert_allclose(ratio, div.ratio_at_distance(distance), rtol=4e-16, atol=0)
    np.testing.assert_allclose(basis, div.log_derivative_basis(distance, None, 0.37), rtol=4e-16, atol=0)


@pytest.mark.parametrize("name", ["forward_kl", "js", "alpha:0.3"])
def test_ratio_and_basis_is_only_for_inverse_squares(name):
    div = get_divergence(name)
    assert div.inverse_square is None
    with pytest.raises(ValueError, match="not of the form"):
        div.ratio_and_basis(np.ones(2), 1.0, np.empty(2), np.empty(2))
