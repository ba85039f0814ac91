"""The f-divergence family with pinned conventions.

An f-divergence of a policy ``p`` from a reference ``q`` on a finite response set is

.. math::  I_f(p \\| q) = \\sum_y q(y) f(p(y) / q(y)),

with ``f`` convex on ``[0, ∞)`` and ``f(1) = 0``. Source: seed 004 (MOD), App E.1 Def 1
(f-divergence) and Def 2 (barrier: ``0 ∉ dom ∇f``, i.e. ``f'(0+) = -∞``); seed 001 (PMR),
§5.2 (f-divergence RLHF).

Conventions, pinned here once for the whole package:

- ``0 · f(0/0) = 0``; ``q · f(0 / q) = q · f(0+)`` (``+∞`` for forward KL);
  ``0 · f(p / 0) = p · lim_{t→∞} f(t) / t`` (``+∞`` for reverse KL and χ²).
- ``reverse_kl`` is ``KL(p‖q)``: ``f(t) = t log t``.  ``forward_kl`` is ``KL(q‖p)``:
  ``f(t) = -log t``.

Names accepted by :func:`get_divergence` (the same strings the solvers take):

==============  =====================================================  ======================
name            f(t)                                                   f'(t)
==============  =====================================================  ======================
reverse_kl      t log t                                                log t + 1
forward_kl      -log t                                                 -1/t
js              t log t - (t+1) log((t+1)/2)                            log(2t/(t+1))
alpha:<a>       (t^(1-a) - (1-a) t - a) / (a(a-1)),  0 < a < 1          (1 - t^(-a)) / a
hellinger       (√t - 1)²                                              1 - 1/√t
chi2            (t - 1)²                                               2(t - 1)
tv              |t - 1| / 2                                            sign(t - 1)/2
==============  =====================================================  ======================

How ``alpha:<a>`` maps to other codebases. All three below use the derivative
``f'(u) = (1 - u^(-a)) / a`` of the table above, so ``a`` is the same number in each:

- f-DPO (Wang et al. 2024, cited as Wang et al. 2024a in seed 004): their α-divergence is
  exactly ``alpha:<a>``; α → 0 tends to reverse KL, α → 1 to forward KL.
- MOD's published decoding code (seed 004, App F): ``"<a> -divergence"`` scores a token by
  ``-logsumexp_i(-a·log π_i + log w_i)``.  The exact Prop 1 rule (dropping π_ref and Z as that
  code does) is ``-(1/a)·logsumexp_i(...)``: the code omits the ``1/a``, which keeps the argmax
  but is not a log-probability, so sampling from it is at the wrong temperature.
- TRL's ``DPOConfig(f_divergence_type="alpha_divergence", f_alpha_divergence_coef=a)``: same
  ``a``; its default ``a = 1.0`` is the forward-KL endpoint, which is outside ``0 < a < 1``
  here: use ``forward_kl`` for it.
- Amari's α-divergence (α_A ∈ (-1, 1)) is ``alpha:<(1 - α_A)/2>``.

``hellinger`` is half of ``alpha:0.5``.  Which members are barriers, strongly convex or
strictly convex is computed from ``f`` (see :class:`Divergence`), never asserted by hand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from pmtheory._validation import as_float_array, check_probabilities, check_same_shape

__all__ = [
    "DIVERGENCE_NAMES",
    "Divergence",
    "get_divergence",
    "f_divergence",
    "f_divergence_from_log",
]

# The names of the fixed members; ``alpha:<a>`` adds a one-parameter family.
DIVERGENCE_NAMES = ("reverse_kl", "forward_kl", "js", "alpha:0.5", "hellinger", "chi2", "tv")

_T = sp.Symbol("t", positive=True)
_LOG2 = float(np.log(2.0))


def _reciprocal(x: np.ndarray, out=None) -> np.ndarray:
    """1/x, elementwise: ``np.divide(1.0, x)``, the same IEEE division as ``np.reciprocal`` bit
    for bit, in half its time on float64 here (0.33 against 0.66 ns per entry, numpy 2.4 on
    the bench machine); the barrier solvers take one per entry per pass."""
    return np.divide(1.0, x, out=out)


def _log_expm1(x: np.ndarray) -> np.ndarray:
    """log(e^x - 1) for x > 0 without overflow or cancellation."""
    x = np.asarray(x, dtype=np.float64)
    small = x < 1.0
    with np.errstate(divide="ignore"):
        return np.where(small, np.log(np.expm1(np.where(small, x, 1.0))),
                        x + np.log1p(-np.exp(-np.where(small, 1.0, x))))


@dataclass(frozen=True)
class Divergence:
    """One member of the f-divergence family, with the pieces the solvers need.

    ``barrier`` means f'(0+) = -∞ (MOD Def 2).  ``strongly_convex`` means inf_{t>0} f''(t) > 0,
    i.e. strong convexity on all of R+ as MOD Def 2 asks of a "strong-barrier" f; it is
    computed from the sympy expression.  ``strictly_convex`` means f'' > 0 on (0, ∞), which is
    what uniqueness of the regularized optimum needs.  ``sup_f_prime`` is S = sup_{t>0} f'(t)
    (``inf`` when f' is unbounded); for a barrier with finite S the solvers work with the
    distance D = S - f'(t) > 0, through ``log_ratio_at_distance`` (log of (f')⁻¹(S - D)).
    """

    name: str  # the canonical name, e.g. "alpha:0.3"
    expression: sp.Expr  # f as a sympy expression in the positive symbol t
    barrier: bool  # f'(0+) = -inf
    strictly_convex: bool  # f'' > 0 on (0, inf)
    strongly_convex: bool  # inf f'' > 0 on (0, inf)
    f_prime_at_zero: float  # f'(0+), -inf for a barrier
    f_prime_at_one: float  # f'(1)
    sup_f_prime: float  # S = sup f' on (0, inf); inf when unbounded
    alpha: float | None  # the a of alpha:<a>, else None
    _f: Callable[[np.ndarray], np.ndarray]
    _f_prime: Callable[[np.ndarray], np.ndarray]
    _f_prime_inverse: Callable[[np.ndarray], np.ndarray]
    _f_prime_of_log: Callable[[np.ndarray], np.ndarray]
    _term: Callable[[np.ndarray, np.ndarray], np.ndarray]
    _log_ratio_at_distance: Callable[[np.ndarray], np.ndarray] | None
    _ratio_at_distance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    _distance_elasticity: Callable[[np.ndarray], np.ndarray] | float | None
    _log_distance_at_log_ratio: Callable[[np.ndarray], np.ndarray] | None
    _distance_at_inverse_ratio: Callable[[np.ndarray], np.ndarray] | None
    _log_derivative_basis: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None
    log_derivative_coefficients: tuple[float, float, float] | None  # (c1, c2, c3), see log_derivative_basis
    basis_offset: float | None  # c0 where the basis is x = c0 + h (forward KL: 0, js: 1), else None
    # (p, c) where h(D) = c·D^-2 (Hellinger: c = 1; alpha:0.5: c = 4), else None: the solvers then
    # form h and the basis s/D from one reciprocal (see ratio_and_basis)
    inverse_square: float | None = None

    @property
    def symbol(self) -> sp.Symbol:
        """The sympy symbol (positive real) that ``expression`` is written in."""
        return _T

    def f(self, t):
        """The generator f at t ≥ 0 (f(0) is its limit at 0+, +inf where it diverges)."""
        return self._f(np.asarray(t, dtype=np.float64))

    def f_prime(self, t):
        """f'(t) for t > 0 (t = 0 gives f'(0+))."""
        return self._f_prime(np.asarray(t, dtype=np.float64))

    def f_prime_of_log(self, log_t):
        """f'(e^{log_t}): f' of a ratio given in log space, so ratios beyond float range work."""
        return self._f_prime_of_log(np.asarray(log_t, dtype=np.float64))

    def f_prime_inverse(self, u):
        """(f')⁻¹(u) for u in the range of f' on (0, ∞); outside it a ``ValueError``.

        For a non-barrier f (chi2, tv) values below f'(0+) map to 0, the boundary of the
        domain (the convex conjugate's derivative), which is what the KKT conditions need.
        """
        u = np.asarray(u, dtype=np.float64)
        if np.any(u >= self.sup_f_prime):
            raise ValueError(
                f"u must be below sup f' = {self.sup_f_prime} for {self.name}, got max {u.max()}"
            )
        return self._f_prime_inverse(u)

    def term(self, log_p, log_q):
        """q·f(p/q) from log p and log q, elementwise, with the module's 0-conventions."""
        return self._term(np.asarray(log_p, dtype=np.float64), np.asarray(log_q, dtype=np.float64))

    def log_ratio_at_distance(self, log_distance):
        """log (f')⁻¹(S - D) given log D, for a barrier with finite S (see class doc)."""
        if self._log_ratio_at_distance is None:
            raise ValueError(f"{self.name} has no finite sup f'; the distance form does not apply")
        return self._log_ratio_at_distance(np.asarray(log_distance, dtype=np.float64))

    def log_distance_at_log_ratio(self, log_ratio):
        """Inverse of :meth:`log_ratio_at_distance`: log D such that (f')⁻¹(S - D) = e^{log_ratio}."""
        if self._log_distance_at_log_ratio is None:
            raise ValueError(f"{self.name} has no finite sup f'; the distance form does not apply")
        return self._log_distance_at_log_ratio(np.asarray(log_ratio, dtype=np.float64))

    def ratio_at_distance(self, distance, out=None):
        """h(D) = (f')⁻¹(S - D) for D > 0 (linear space; may overflow for tiny D). ``out``, a
        float64 array of D's shape (not D itself), receives the result without allocating."""
        if self._ratio_at_distance is None:
            raise ValueError(f"{self.name} has no finite sup f'; the distance form does not apply")
        distance = np.asarray(distance, dtype=np.float64)
        return self._ratio_at_distance(distance, np.empty_like(distance) if out is None else out)

    def distance_elasticity(self, distance, ratio=None):
        """d log h / d log D at D (negative); ``ratio`` = h(D) if already computed.

        A float for the power-law members (forward KL, α, Hellinger), an array for js.
        """
        if self._distance_elasticity is None:
            raise ValueError(f"{self.name} has no finite sup f'; the distance form does not apply")
        if isinstance(self._distance_elasticity, float):
            return self._distance_elasticity
        return self._distance_elasticity(np.asarray(distance, dtype=np.float64), ratio)

    def distance_at_inverse_ratio(self, inverse_ratio, *, overwrite=False):
        """D = S − f'(ρ) given σ = 1/ρ = q/π > 0: the inverse of :meth:`ratio_at_distance`
        (linear space). With ``overwrite`` a float64 array argument may be used as the output."""
        if self._distance_at_inverse_ratio is None:
            raise ValueError(f"{self.name} has no finite sup f'; the distance form does not apply")
        sigma = np.asarray(inverse_ratio, dtype=np.float64)
        return self._distance_at_inverse_ratio(sigma if overwrite else sigma.copy())

    def log_derivative_basis(self, distance, ratio, shift, out=None):
        """y = s·x(D) for a shift s > 0 (shape broadcastable to D), where h'/h = c1·x and
        h''/h = c2·x² + c3·x with (c1, c2, c3) = ``log_derivative_coefficients``, h =
        :meth:`ratio_at_distance` and ``ratio`` = h(D).

        x = 1/D for the power laws h ∝ D^-p (c = (−p, p(p+1), 0)); x = 1 + h for js
        (h = 1/(e^D − 1), c = (−1, 2, −1)). The solvers take s = d, the part of D = Δ + d they
        vary, so that y ≤ 1 + d stays in range where x alone would overflow; the first two
        derivatives in log d of Σ q·h(Δ + d) are then dot products with y (or, where
        x = c0 + h, ``basis_offset`` = c0: forward KL, where 1/D = h, and js, with h alone).
        ``out`` (not ``distance`` or ``ratio``) receives the result without allocating.
        """
        if self._log_derivative_basis is None:
            raise ValueError(f"{self.name} has no finite sup f'; the distance form does not apply")
        distance = np.asarray(distance, dtype=np.float64)
        return self._log_derivative_basis(distance, ratio, shift, np.empty_like(distance) if out is None else out)


    def ratio_and_basis(self, distance, shift, ratio_out, basis_out):
        """h(D) into ``ratio_out`` and the basis y = s/D of :meth:`log_derivative_basis` into
        ``basis_out`` (s = ``shift``, broadcastable to D), for a divergence with
        ``inverse_square`` = c (h = c·D^-2): from one reciprocal, where the two methods apart
        take two divisions. The solvers' evaluations use it; the final pass, whose certificate
        is held to the last bit, uses :meth:`ratio_at_distance`."""
        if self.inverse_square is None:
            raise ValueError(f"{self.name} is not of the form c·D^-2")
        inverse = _reciprocal(distance, out=basis_out)
        np.multiply(inverse, inverse, out=ratio_out)
        if self.inverse_square != 1.0:
            ratio_out *= self.inverse_square
        inverse *= shift
        return ratio_out, basis_out


def _convexity(expression: sp.Expr) -> tuple[bool, bool]:
    """(strictly convex, strongly convex) on (0, ∞), decided by sympy from f''."""
    second = sp.simplify(sp.diff(expression, _T, 2))
    if second == 0 or second.has(sp.Abs) or second.has(sp.DiracDelta) or second.has(sp.sign):
        return False, False
    positive = sp.ask(sp.Q.positive(second), sp.Q.positive(_T))
    if positive is not True:
        # sympy's assumptions may be too weak; fall back on the sign of a simplified form.
        positive = bool(sp.simplify(second).is_positive)
    if not positive:
        return False, False
    infimum = min(sp.limit(second, _T, 0, "+"), sp.limit(second, _T, sp.oo))
    return True, bool(infimum > 0)


def _sym_f_prime_limits(expression: sp.Expr) -> tuple[float, float, float]:
    derivative = sp.diff(expression, _T)
    at_zero = sp.limit(derivative, _T, 0, "+")
    at_inf = sp.limit(derivative, _T, sp.oo)
    at_one = derivative.subs(_T, 1)

    def to_float(value):
        if value in (sp.oo, -sp.oo):
            return float(value)
        return float(sp.N(value, 30))

    return to_float(at_zero), to_float(sp.nsimplify(at_one)), to_float(at_inf)


def _xlogy_exp(log_x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """e^{log_x} · y with 0 · anything-finite = 0."""
    x = np.exp(log_x)
    return np.where(x == 0.0, 0.0, x * np.where(x == 0.0, 0.0, y))


def _reverse_kl() -> dict:
    def term(lp, lq):
        # p (log p - log q); p = 0 gives 0; q = 0 < p gives +inf.
        with np.errstate(invalid="ignore"):
            return _xlogy_exp(lp, lp - lq)

    return dict(
        expression=_T * sp.log(_T),
        f=lambda t: np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0),
        f_prime=lambda t: np.log(t) + 1.0,
        f_prime_inverse=lambda u: np.exp(u - 1.0),
        f_prime_of_log=lambda lt: lt + 1.0,
        term=term,
        log_ratio_at_distance=None,
        distance_elasticity=None,
        log_distance_at_log_ratio=None,
    )


def _forward_kl() -> dict:
    def term(lp, lq):
        # q (log q - log p); q = 0 gives 0; p = 0 < q gives +inf.
        with np.errstate(invalid="ignore"):
            return _xlogy_exp(lq, lq - lp)

    return dict(
        expression=-sp.log(_T),
        f=lambda t: -np.log(t),
        f_prime=lambda t: -1.0 / t,
        f_prime_inverse=lambda u: -1.0 / u,
        f_prime_of_log=lambda lt: -np.exp(-lt),
        term=term,
        # S = 0: (f')^{-1}(-D) = 1/D.
        log_ratio_at_distance=lambda ld: -ld,
        ratio_at_distance=lambda d, out: _reciprocal(d, out=out),
        distance_elasticity=-1.0,
        log_distance_at_log_ratio=lambda lr: -lr,
        distance_at_inverse_ratio=lambda s: s,
        log_derivative_basis=lambda d, ratio, s, out: np.divide(s, d, out=out),
        log_derivative_coefficients=(-1.0, 2.0, 0.0),
        basis_offset=0.0,  # x = 1/D = h
    )


def _js() -> dict:
    def term(lp, lq):
        # p log(2p/(p+q)) + q log(2q/(p+q)), each part 0 where its weight is 0.
        lm = np.logaddexp(lp, lq)
        with np.errstate(invalid="ignore"):
            return _xlogy_exp(lp, _LOG2 + lp - lm) + _xlogy_exp(lq, _LOG2 + lq - lm)

    def f(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            tlogt = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0)
        return tlogt - (t + 1.0) * np.log((t + 1.0) / 2.0)

    def log_ratio_at_distance(ld):
        # S = log 2: (f')^{-1}(log 2 - D) = 1/(e^D - 1). For D < 1e-8 (or below float
        # range, where only log D is known) log(e^D - 1) = log D + D/2 + O(D^2).
        d = np.exp(ld)
        small = d < 1e-8
        return -np.where(small, ld + d / 2.0, _log_expm1(np.where(small, 1.0, d)))

    def ratio_at_distance(d, out):
        with np.errstate(divide="ignore", over="ignore"):
            np.expm1(d, out=out)
            return _reciprocal(out, out=out)

    def distance_elasticity(d, ratio=None):
        # d/dlogD of -log(e^D - 1) = -D e^D/(e^D - 1) = -D (1 + h(D)); -1 in the limit D -> 0.
        if ratio is None:
            ratio = ratio_at_distance(d, np.empty_like(d))
        with np.errstate(invalid="ignore"):
            value = np.add(ratio, 1.0)
            value *= d
            np.negative(value, out=value)
        small = d <= 1e-8  # series there, which also covers D = 0 (h = inf)
        if small.any():
            value = np.where(small, -1.0 - d / 2.0, value)
        return value

    def log_distance_at_log_ratio(lr):
        # D = log(1 + e^{-lr}); for e^{-lr} below 1e-13, log1p is the identity to float precision.
        tiny = lr > 30.0
        with np.errstate(divide="ignore"):
            return np.where(tiny, -lr, np.log(np.logaddexp(0.0, -np.where(tiny, 0.0, lr))))

    return dict(
        expression=_T * sp.log(_T) - (_T + 1) * sp.log((_T + 1) / 2),
        f=f,
        f_prime=lambda t: np.log(2.0 * t / (t + 1.0)),
        f_prime_inverse=lambda u: np.exp(u) / (2.0 - np.exp(u)),
        f_prime_of_log=lambda lt: _LOG2 - np.logaddexp(0.0, -lt),
        term=term,
        log_ratio_at_distance=log_ratio_at_distance,
        ratio_at_distance=ratio_at_distance,
        distance_elasticity=distance_elasticity,
        log_distance_at_log_ratio=log_distance_at_log_ratio,
        # S − f'(ρ) = log(2) − log(2ρ/(ρ + 1)) = log(1 + 1/ρ).
        distance_at_inverse_ratio=lambda s: np.log1p(s, out=s),
        # h' = −h(1 + h) and h'' = h(1 + h)(1 + 2h): with x = 1 + h, h'/h = −x, h''/h = 2x² − x.
        log_derivative_basis=lambda d, ratio, s, out: np.multiply(np.add(ratio, 1.0, out=out), s, out=out),
        log_derivative_coefficients=(-1.0, 2.0, -1.0),
        basis_offset=1.0,
    )


def _power(x, exponent: float, out=None):
    """x ** exponent, by reciprocals, products and square roots for the exponents −1, −2, ±1/2
    (α = 1, 1/2, 2) that numpy's pow would evaluate with the ~4× slower general routine;
    ``out`` (which may be x itself) receives it."""
    if exponent == 0.5:
        return np.sqrt(x, out=out)
    if exponent == -1.0:
        return _reciprocal(x, out=out)
    if exponent == -2.0:
        return _reciprocal(np.multiply(x, x, out=out), out=out)
    if exponent == -0.5:
        return _reciprocal(np.sqrt(x, out=out), out=out)
    return np.power(x, exponent, out=out)


def _alpha(a: float) -> dict:
    scale = a * (a - 1.0)

    def term(lp, lq):
        # (p^{1-a} q^a - (1-a) p - a q) / (a(a-1)); finite for all p, q >= 0.
        return (np.exp((1.0 - a) * lp + a * lq) - (1.0 - a) * np.exp(lp) - a * np.exp(lq)) / scale

    # The decimal the user wrote, exactly: nsimplify would round 0.99999999 to 1 (and a/(a(a − 1)) to nan).
    a_sym = sp.Rational(repr(a))
    return dict(
        expression=(_T ** (1 - a_sym) - (1 - a_sym) * _T - a_sym) / (a_sym * (a_sym - 1)),
        f=lambda t: (t ** (1.0 - a) - (1.0 - a) * t - a) / scale,
        f_prime=lambda t: (1.0 - _power(t, -a)) / a,
        f_prime_inverse=lambda u: (1.0 - a * u) ** (-1.0 / a),
        f_prime_of_log=lambda lt: -np.expm1(-a * lt) / a,
        term=term,
        # S = 1/a: 1 - a(S - D) = aD, so (f')^{-1}(S - D) = (aD)^{-1/a}.
        log_ratio_at_distance=lambda ld: -(np.log(a) + ld) / a,
        ratio_at_distance=lambda d, out: _power(np.multiply(d, a, out=out), -1.0 / a, out=out),
        distance_elasticity=-1.0 / a,
        log_distance_at_log_ratio=lambda lr: -a * lr - np.log(a),
        # S − f'(ρ) = ρ^{-a}/a.
        distance_at_inverse_ratio=lambda s: np.divide(_power(s, a, out=s), a, out=s),
        log_derivative_basis=lambda d, ratio, s, out: np.divide(s, d, out=out),
        log_derivative_coefficients=(-1.0 / a, (1.0 / a) * (1.0 / a + 1.0), 0.0),
        inverse_square=4.0 if a == 0.5 else None,  # h = (D/2)^-2 = 4·D^-2
    )


def _hellinger() -> dict:
    def term(lp, lq):
        # (sqrt p - sqrt q)^2
        return (np.exp(lp / 2.0) - np.exp(lq / 2.0)) ** 2

    return dict(
        expression=(sp.sqrt(_T) - 1) ** 2,
        f=lambda t: (np.sqrt(t) - 1.0) ** 2,
        f_prime=lambda t: 1.0 - 1.0 / np.sqrt(t),
        f_prime_inverse=lambda u: 1.0 / (1.0 - u) ** 2,
        f_prime_of_log=lambda lt: -np.expm1(-lt / 2.0),
        term=term,
        # S = 1: (f')^{-1}(1 - D) = D^{-2}.
        log_ratio_at_distance=lambda ld: -2.0 * ld,
        ratio_at_distance=lambda d, out: _reciprocal(np.multiply(d, d, out=out), out=out),
        distance_elasticity=-2.0,
        log_distance_at_log_ratio=lambda lr: -lr / 2.0,
        # S − f'(ρ) = 1/√ρ.
        distance_at_inverse_ratio=lambda s: np.sqrt(s, out=s),
        log_derivative_basis=lambda d, ratio, s, out: np.divide(s, d, out=out),
        log_derivative_coefficients=(-2.0, 6.0, 0.0),
        inverse_square=1.0,  # h = D^-2
    )


def _chi2() -> dict:
    def term(lp, lq):
        # (p - q)^2 / q; q = 0 < p gives +inf, p = q = 0 gives 0.
        p, q = np.exp(lp), np.exp(lq)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (p - q) ** 2 / q
        return np.where(q > 0, value, np.where(p > 0, np.inf, 0.0))

    return dict(
        expression=(_T - 1) ** 2,
        f=lambda t: (t - 1.0) ** 2,
        f_prime=lambda t: 2.0 * (t - 1.0),
        f_prime_inverse=lambda u: np.maximum(0.0, 1.0 + u / 2.0),
        f_prime_of_log=lambda lt: 2.0 * np.expm1(lt),
        term=term,
        log_ratio_at_distance=None,
        distance_elasticity=None,
        log_distance_at_log_ratio=None,
    )


def _tv() -> dict:
    def term(lp, lq):
        return np.abs(np.exp(lp) - np.exp(lq)) / 2.0

    return dict(
        expression=sp.Abs(_T - 1) / 2,
        f=lambda t: np.abs(t - 1.0) / 2.0,
        f_prime=lambda t: np.sign(t - 1.0) / 2.0,
        f_prime_inverse=lambda u: np.where(u > -0.5, 1.0, 0.0),
        f_prime_of_log=lambda lt: np.sign(lt) / 2.0,
        term=term,
        log_ratio_at_distance=None,
        distance_elasticity=None,
        log_distance_at_log_ratio=None,
    )


_FIXED = {
    "reverse_kl": _reverse_kl,
    "forward_kl": _forward_kl,
    "js": _js,
    "hellinger": _hellinger,
    "chi2": _chi2,
    "tv": _tv,
}


def _parse_alpha(name: str) -> float:
    text = name.split(":", 1)[1]
    try:
        a = float(text)
    except ValueError:
        raise ValueError(f"divergence 'alpha:<a>' needs a number a in (0, 1), got {name!r}") from None
    if not 0.0 < a < 1.0:
        raise ValueError(
            f"divergence alpha:<a> needs 0 < a < 1, got a = {a}; a -> 0 is reverse_kl and "
            "a -> 1 is forward_kl, use those names for the endpoints"
        )
    return a


@functools.lru_cache(maxsize=64)
def _build(name: str, a: float | None) -> Divergence:
    parts = _alpha(a) if a is not None else _FIXED[name]()
    expression = parts["expression"]
    if name == "tv":
        strictly, strongly = False, False
        at_zero, at_one, sup = -0.5, 0.0, 0.5
    else:
        strictly, strongly = _convexity(expression)
        at_zero, at_one, sup = _sym_f_prime_limits(expression)
    return Divergence(
        name=name,
        expression=expression,
        barrier=at_zero == -np.inf,
        strictly_convex=strictly,
        strongly_convex=strongly,
        f_prime_at_zero=at_zero,
        f_prime_at_one=at_one,
        sup_f_prime=sup,
        alpha=a,
        _f=parts["f"],
        _f_prime=parts["f_prime"],
        _f_prime_inverse=parts["f_prime_inverse"],
        _f_prime_of_log=parts["f_prime_of_log"],
        _term=parts["term"],
        _log_ratio_at_distance=parts["log_ratio_at_distance"],
        _ratio_at_distance=parts.get("ratio_at_distance"),
        _distance_elasticity=parts["distance_elasticity"],
        _log_distance_at_log_ratio=parts["log_distance_at_log_ratio"],
        _distance_at_inverse_ratio=parts.get("distance_at_inverse_ratio"),
        _log_derivative_basis=parts.get("log_derivative_basis"),
        log_derivative_coefficients=parts.get("log_derivative_coefficients"),
        basis_offset=parts.get("basis_offset"),
        inverse_square=parts.get("inverse_square"),
    )


def get_divergence(divergence: str | Divergence) -> Divergence:
    """The :class:`Divergence` named ``divergence`` (see the module table for names).

    >>> get_divergence("forward_kl").barrier
    True
    >>> get_divergence("alpha:0.5").sup_f_prime
    2.0
    """
    if isinstance(divergence, Divergence):
        return divergence
    if not isinstance(divergence, str):
        raise TypeError(f"divergence must be a name (str), got {type(divergence).__name__}")
    name = divergence.strip().lower()
    if name.startswith("alpha:"):
        a = _parse_alpha(name)
        return _build(f"alpha:{a!r}", a)
    if name not in _FIXED:
        raise ValueError(
            f"unknown divergence {divergence!r}; expected one of "
            f"{', '.join(sorted(_FIXED))} or 'alpha:<a>' with 0 < a < 1"
        )
    return _build(name, None)


def f_divergence_from_log(log_p, log_q, divergence: str | Divergence = "reverse_kl") -> np.ndarray:
    """I_f(p‖q) = Σ_y q f(p/q) from log-probabilities, shape (..., K) -> (...).

    Source: seed 004, App E.1 Def 1.  ``-inf`` entries are zero probabilities and follow the
    module's conventions; the result may be ``+inf`` (e.g. reverse KL with p > 0 = q).
    Inputs need not be normalized (the sum is taken as written).
    """
    div = get_divergence(divergence)
    log_p = as_float_array(log_p, "log_p")
    log_q = as_float_array(log_q, "log_q")
    check_same_shape(log_p, "log_p", log_q, "log_q")
    if np.any(np.isnan(log_p)) or np.any(np.isnan(log_q)) or np.any(log_p == np.inf) or np.any(log_q == np.inf):
        raise ValueError("log_p and log_q must be finite or -inf (a zero probability), not NaN or +inf")
    return np.sum(div.term(log_p, log_q), axis=-1)


def f_divergence(p, q, divergence: str | Divergence = "reverse_kl") -> np.ndarray:
    """I_f(p‖q) = Σ_y q f(p/q) for probability vectors, shape (..., K) -> (...).

    Source: seed 004, App E.1 Def 1.  Zero entries follow the module's conventions.

    >>> float(f_divergence([0.5, 0.5], [0.25, 0.75], "tv"))
    0.25
    """
    p = as_float_array(p, "p")
    q = as_float_array(q, "q")
    check_same_shape(p, "p", q, "q")
    check_probabilities(p, "p", strictly_positive=False)
    check_probabilities(q, "q", strictly_positive=False)
    with np.errstate(divide="ignore"):
        return f_divergence_from_log(np.log(p), np.log(q), divergence)
