"""The problem of :mod:`pmtheory.certified` as its solve paths see it: input handling, the
symbolic analysis, numeric evaluation for one instance, and the concavity decision.

The regularizer is given symbolically (sympy), so the module can decide, per response,
whether h_i(π) = π·(r_i + R_i(π)) is concave on (0, 1], and pick a solve it can stand behind.

Concavity on (0, 1] is decided by sympy where it can (the sign of h'' for every π > 0, for
π = 1/(1 + u) with u ≥ 0, or ``solveset`` of h'' > 0 on (0, 1]); otherwise by the sign of
h'' on a dense grid of (0, 1] (log-spaced down to the smallest normal float, plus uniform),
where h'' counts as positive only above 64·eps times the sum of the absolute values of its
terms (the rounding error of evaluating that sum). A grid point with h'' > 0 that sympy
confirms exactly at that rational point proves non-concavity ("symbolic"). Regularizers
with kinks (Abs, Piecewise, Max, ...) are judged by ψ being non-increasing on the grid,
since h'' misses a kink.

Shape letters: ``K`` is the number of responses; "the module doc" below is that of
:mod:`pmtheory.certified`.
Source: seed 001 (shared/seeds/001_c8a06c444314e79a.txt) (Xiao et al., PMR), §3: eq 3.5 /
3.12 (the finite form of the regularized objective), eq 3.11 (response-dependent R).
"""

from __future__ import annotations

import functools
import io
import keyword
import math
import tokenize
import warnings
from dataclasses import dataclass

import numpy as np
import sympy as sp

from pmtheory._validation import as_float_array, check_finite

# Float64 resolution; every tolerance below is a stated multiple of it.
_EPS = float(np.finfo(np.float64).eps)
# The boundary π = 0 is probed at the smallest normal float (ψ(0+) may be +∞ for barriers).
_TINY = float(np.finfo(np.float64).tiny)
_LOG_TINY = math.log(_TINY)
# Halvings that shrink a bracket of width |log tiny| ≈ 708 in log π below eps.
_LOG_BISECTIONS = math.ceil(math.log2(-_LOG_TINY / _EPS)) + 1


# ---------------------------------------------------------------------------------------
# Input handling.


def _short(expr) -> str:
    text = str(expr)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _check_parameters(parameters, variable, k):
    if not isinstance(variable, str) or not variable.isidentifier() or keyword.iskeyword(variable):
        raise ValueError(f"variable must be a Python identifier naming the probability, got {variable!r}")
    if parameters is None:
        return (), {}
    if not isinstance(parameters, dict):
        raise TypeError("parameters must be a dict name -> scalar or array of shape (K,), "
                        f"got {type(parameters).__name__}")
    values = {}
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameters keys must be identifiers used in the regularizer, got {name!r}")
        if name == variable:
            raise ValueError(f"parameters must not contain the variable {variable!r}; it is what is optimized")
        array = as_float_array(value, f"parameters[{name!r}]", min_ndim=0)
        if array.shape not in ((), (k,)):
            raise ValueError(
                f"parameters[{name!r}] must be a scalar or have shape (K,) = ({k},) like rewards, "
                f"got shape {array.shape}"
            )
        check_finite(array, f"parameters[{name!r}]")
        values[name] = np.broadcast_to(array, (k,)).astype(np.float64)
    return tuple(values), values


def _parse_regularizer(regularizer, variable, names, values):
    """Return (expr, x, parameter symbols) with x positive and parameters signed by their values."""
    if isinstance(regularizer, str):
        expr = _parse_string(regularizer, variable, names)
    elif isinstance(regularizer, sp.Basic):
        expr = regularizer
        has_variable = any(s.name == variable for s in expr.free_symbols)
        if variable == "pi" and not has_variable and expr.has(sp.pi):
            raise ValueError(
                "regularizer contains the constant π (sympy.pi) but no symbol named 'pi'; build it "
                "from sympy.Symbol('pi') or pass the string form, e.g. '-log(pi)'"
            )
    elif isinstance(regularizer, (int, float)) and not isinstance(regularizer, bool):
        expr = sp.Float(regularizer)
    else:
        raise TypeError(f"regularizer must be a sympy expression or a string, got {type(regularizer).__name__}")
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"regularizer must be an expression in {variable!r}, got {type(expr).__name__} {_short(expr)}")
    undefined = sorted(str(f.func) for f in expr.atoms(sp.core.function.AppliedUndef))
    if undefined:
        raise ValueError(f"regularizer uses functions sympy does not know: {undefined}; "
                         "write them with sympy's functions")
    if expr.has(sp.I) or expr.has(sp.zoo) or expr.has(sp.nan):
        raise ValueError(f"regularizer must be real-valued, got {_short(expr)}")
    x = sp.Symbol(variable, positive=True)
    symbols = tuple(_signed_symbol(name, values[name]) for name in names)
    by_name = {variable: x, **{s.name: s for s in symbols}}
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in by_name)
    if unknown:
        raise ValueError(
            f"regularizer has free symbol(s) {unknown} that are neither the variable {variable!r} nor "
            f"keys of parameters; write it in {variable!r} (or pass variable=...) and give the other "
            "symbols' values in parameters"
        )
    expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols})
    unused = sorted(set(names) - {s.name for s in expr.free_symbols})
    if unused:
        raise ValueError(f"parameters has name(s) {unused} that do not appear in the regularizer; remove them")
    return expr, x, symbols


def _parse_string(text, variable, names):
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.COMMENT)]
    except (tokenize.TokenError, SyntaxError) as error:
        raise ValueError(f"regularizer {text!r} cannot be parsed: {error}") from None
    local = {}
    for position, token in enumerate(tokens):
        if token.type != tokenize.NAME or keyword.iskeyword(token.string):
            continue
        called = position + 1 < len(tokens) and tokens[position + 1].string == "("
        if not called:
            local[token.string] = sp.Symbol(token.string)
    for name, constant in (("E", sp.E), ("pi", sp.pi)):
        if name in local and name != variable and name not in names:
            local[name] = constant
    try:
        expr = parse_expr(text, local_dict=local, transformations=standard_transformations + (convert_xor,))
    except Exception as error:  # parse_expr raises many kinds (SyntaxError, TypeError, ...)
        raise ValueError(f"regularizer {text!r} cannot be parsed by sympy: {type(error).__name__}: {error}") from None
    if not isinstance(expr, sp.Basic):
        try:
            expr = sp.sympify(expr)
        except (sp.SympifyError, TypeError):
            raise ValueError(f"regularizer {text!r} is not a sympy expression") from None
    return expr


def _signed_symbol(name, values):
    """A real symbol carrying the sign that all of ``values`` share (helps the concavity proof)."""
    if np.all(values > 0):
        return sp.Symbol(name, positive=True)
    if np.all(values < 0):
        return sp.Symbol(name, negative=True)
    if np.all(values >= 0):
        return sp.Symbol(name, nonnegative=True)
    if np.all(values <= 0):
        return sp.Symbol(name, nonpositive=True)
    return sp.Symbol(name, real=True)


# ---------------------------------------------------------------------------------------
# Symbolic analysis (cached per expression; the numbers enter through _Instance).


@dataclass(frozen=True)
class _Symbolic:
    x: sp.Symbol  # the probability variable (positive)
    symbols: tuple  # parameter symbols, in the order their values are passed
    term: sp.Expr  # π·R(π)
    second: sp.Expr | None  # (π·R)'' = h''; None for non-smooth regularizers (_NONSMOOTH)
    verdict: bool | None  # concave on (0, 1] for all parameter values of these signs; None: undecided
    term_fn: object  # (π, *params) -> π·R(π)
    slope_fn: object  # (π, *params) -> (π·R)'(π), so ψ = r + slope
    second_fn: object | None  # (π, *params) -> h''(π); None when `second` is
    second_scale_fn: object | None  # (π, *params) -> Σ |terms of h''|, the rounding scale of h''
    at_zero_fn: object | None  # (*params) -> lim_{π→0+} π·R(π), or None if sympy cannot say
    cvx_plan: tuple | None  # ((kind, coefficient fn, exponent), ...) or None: not translatable


# Functions whose derivatives hide kinks or jumps (sympy differentiates Piecewise branch by
# branch): for these the h'' tests do not apply and concavity is read from ψ on the grid.
_NONSMOOTH = (sp.Piecewise, sp.Abs, sp.Heaviside, sp.sign, sp.Max, sp.Min, sp.floor, sp.ceiling,
              sp.DiracDelta, sp.frac)


@functools.lru_cache(maxsize=128)
def _analyse(expr, x, symbols) -> _Symbolic:
    args = (x, *symbols)
    term = _tidy(expr * x)
    slope = _tidy(sp.diff(term, x))
    smooth = not term.has(*_NONSMOOTH)
    second = _tidy(sp.diff(term, x, 2)) if smooth else None
    try:
        at_zero = sp.limit(term, x, 0, "+")
        if at_zero.has(sp.Limit, sp.AccumBounds, sp.nan, sp.zoo) or at_zero.has(x):
            at_zero = None
    except (NotImplementedError, ValueError, TypeError, RecursionError):
        at_zero = None
    if smooth:
        scale = sp.Add(*[sp.Abs(t) for t in sp.Add.make_args(sp.expand(second))])
    return _Symbolic(
        x=x,
        symbols=symbols,
        term=term,
        second=second,
        verdict=_concavity_verdict(second, x) if smooth else None,
        term_fn=_numpy_function(args, term),
        slope_fn=_numpy_function(args, slope),
        second_fn=_numpy_function(args, second) if smooth else None,
        second_scale_fn=_numpy_function(args, scale) if smooth else None,
        at_zero_fn=None if at_zero is None else _numpy_function(symbols, at_zero),
        cvx_plan=_cvx_plan(term, x, symbols),
    )


def _numpy_function(args, expr):
    try:
        return sp.lambdify(args, expr, modules="numpy")
    except Exception as error:  # lambdify's printers raise many kinds
        raise ValueError(
            f"regularizer: {_short(expr)} cannot be turned into a numpy function "
            f"({type(error).__name__}: {error}); write it with elementary functions"
        ) from None


def _tidy(expr):
    """The shorter of expand(expr) and simplify(expr), for evaluation in floats.

    Unsimplified derivatives cancel large terms numerically (π·C/π² − C/π overflows to
    inf − inf near π = 0). simplify's answer is not taken when it raises something to a
    symbolic power (it turns π·log(π/q)^β into log((π/q)^{βπ}), which overflows).
    """
    expanded = sp.expand(expr)
    try:
        simplified = sp.simplify(expr)
    except (NotImplementedError, TypeError, ValueError, RecursionError):
        return expanded
    if any(power.exp.free_symbols for power in simplified.atoms(sp.Pow)):
        return expanded
    return min((expanded, simplified), key=sp.count_ops)


@functools.lru_cache(maxsize=256)
def _concavity_verdict(second, x) -> bool | None:
    """Decide h'' ≤ 0 on (0, 1] with sympy: True, False (h'' > 0 somewhere), or None."""
    u = sp.Symbol("u", nonnegative=True)
    try:
        candidates = (sp.simplify(second), sp.simplify(second.subs(x, 1 / (1 + u))))
    except (NotImplementedError, TypeError, ValueError, RecursionError):
        return None
    for candidate in candidates:
        if candidate.is_nonpositive:
            return True
        if candidate.is_positive:
            return False  # positive for every π in (0, ∞) ⊇ (0, 1]
    if second.free_symbols != {x}:
        return None  # solveset needs a univariate inequality
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            region = sp.solveset(second > 0, x, sp.Interval.Lopen(0, 1))
    except (NotImplementedError, TypeError, ValueError, RecursionError):
        return None
    if region is sp.S.EmptySet:
        return True
    if isinstance(region, sp.ConditionSet) or region.has(sp.ConditionSet):
        return None
    return False  # a point with h'' > 0: h is strictly convex near it


def _cvx_plan(term, x, symbols):
    """Split expand(π·R) into coefficient × atom terms that cvxpy has atoms for, or None."""
    try:
        expanded = sp.expand(sp.expand_log(term, force=True))
    except (TypeError, ValueError, RecursionError):
        return None
    plan = []
    for part in sp.Add.make_args(expanded):
        coefficient, atom = part.as_independent(x, as_Add=False)
        if atom == 1:
            kind, extra = "constant", None
        elif atom == x:
            kind, extra = "linear", None
        elif atom == x * sp.log(x):
            kind, extra = "x_log_x", None
        elif atom == sp.log(x):
            kind, extra = "log", None
        elif atom.is_Pow and atom.base == x and atom.exp.is_number and atom.exp.is_real:
            kind, extra = "power", float(atom.exp)
        elif isinstance(atom, sp.exp):
            rate = sp.simplify(atom.args[0] / x)
            if rate.has(x):
                return None
            kind, extra = "exp", _numpy_function(symbols, rate)
        else:
            return None
        plan.append((kind, _numpy_function(symbols, coefficient), extra))
    return tuple(plan)


# ---------------------------------------------------------------------------------------
# Numeric evaluation for one instance (rewards and parameter values).


class _Instance:
    """h_i, ψ_i and h_i'' of one problem as numpy functions, vectorized over π.

    ``index`` selects responses: π of shape (..., K) with index None, or π and index of one
    common shape (one response per entry).
    """

    def __init__(self, symbolic: _Symbolic, rewards: np.ndarray, values: tuple):
        self.symbolic = symbolic
        self.rewards = rewards
        self.values = values
        self.k = rewards.size
        self.scale = 1.0 + float(np.max(np.abs(rewards)))
        self.at_zero = self._limit_at_zero()

    def _call(self, fn, pi, index):
        values = self.values if index is None else tuple(v[index] for v in self.values)
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(fn(pi, *values))
        except (NameError, TypeError, AttributeError, ZeroDivisionError) as error:
            raise ValueError(
                f"regularizer {_short(self.symbolic.term / self.symbolic.x)} cannot be evaluated "
                f"in numpy ({type(error).__name__}: {error}); write it with elementary functions"
            ) from None
        if np.iscomplexobj(out):
            raise ValueError(
                f"regularizer {_short(self.symbolic.term / self.symbolic.x)} takes complex values on "
                "(0, 1] for these parameters; it must be real there"
            )
        if (index is None and out is not pi and out.dtype == np.float64 and out.shape == np.shape(pi)
                and out.shape[-1:] == (self.k,)):
            return out  # the common case, without the cost of broadcasting (≈ 30% of a call)
        shape = np.broadcast_shapes(np.shape(pi), self.rewards.shape if index is None else np.shape(index))
        return np.broadcast_to(out.astype(np.float64), shape)

    def _limit_at_zero(self):
        """lim_{π→0+} π·R_i(π), shape (K,): sympy's limit, else π·R at the smallest normal float."""
        fn = self.symbolic.at_zero_fn
        if fn is not None:
            with np.errstate(all="ignore"):
                limit = np.broadcast_to(np.asarray(fn(*self.values), dtype=np.float64), (self.k,)).copy()
        else:
            limit = self._call(self.symbolic.term_fn, np.full(self.k, _TINY), None).copy()
        if np.any(np.isnan(limit)):
            raise ValueError(
                f"π·R(π) has no limit as π → 0+ for regularizer {_short(self.symbolic.term / self.symbolic.x)}; "
                "the objective is undefined at the boundary of the simplex"
            )
        if self.k >= 2 and np.any(limit == np.inf):
            raise ValueError(
                f"the objective is unbounded above: π·R(π) → +∞ as π → 0+ for regularizer "
                f"{_short(self.symbolic.term / self.symbolic.x)} (response {int(np.argmax(limit))})"
            )
        return limit

    def h(self, pi, index=None):
        rewards = self.rewards if index is None else self.rewards[index]
        zero = self.at_zero if index is None else self.at_zero[index]
        inside = rewards * pi + self._call(self.symbolic.term_fn, pi, index)
        return np.where(pi == 0, np.broadcast_to(zero, inside.shape), inside)

    def psi(self, pi, index=None):
        rewards = self.rewards if index is None else self.rewards[index]
        return rewards + self._call(self.symbolic.slope_fn, pi, index)

    def objective(self, policy) -> float:
        values = self.h(policy)
        if not np.all(np.isfinite(values)):
            bad = int(np.argmin(np.isfinite(values)))
            raise ValueError(
                f"the objective is not finite at the solution (h_{bad}(π_{bad} = {policy[bad]!r}) = "
                f"{values[bad]!r}); the regularizer may be singular on [0, 1]"
            )
        return math.fsum(values.tolist())


# ---------------------------------------------------------------------------------------
# Concavity.


def _grid() -> np.ndarray:
    """(0, 1]: log-spaced down to the smallest normal float, plus uniform; ~4000 points."""
    logs = np.exp(np.linspace(_LOG_TINY, 0.0, 2049))
    uniform = np.linspace(0.0, 1.0, 2049)[1:]
    return np.unique(np.concatenate([logs, uniform, [1.0]]))


def _decide_concavity(symbolic: _Symbolic, problem: _Instance):
    if symbolic.verdict is not None:
        return symbolic.verdict, "symbolic"
    if symbolic.second is None:
        return _psi_decreasing_on_grid(problem), "numeric grid"
    if symbolic.symbols:
        # Per distinct parameter combination, with exact rationals for the values.
        combos = np.unique(np.stack(problem.values, axis=-1), axis=0)
        if len(combos) <= 8:
            verdicts = []
            for combo in combos:
                subs = {s: sp.Rational(float(v)) for s, v in zip(symbolic.symbols, combo)}
                verdicts.append(_concavity_verdict(symbolic.second.xreplace(subs), symbolic.x))
            if any(v is False for v in verdicts):
                return False, "symbolic"
            if all(v is True for v in verdicts):
                return True, "symbolic"
    grid = _grid()[:, None]
    second = problem._call(symbolic.second_fn, grid, None)
    scale = problem._call(symbolic.second_scale_fn, grid, None)
    positive = second > 64.0 * _EPS * np.where(np.isfinite(scale), scale, np.inf)
    if not positive.any():
        if np.all(np.isnan(second), axis=0).any():
            raise ValueError(
                f"h''(π) cannot be evaluated anywhere on (0, 1] for regularizer "
                f"{_short(symbolic.term / symbolic.x)}; concavity cannot be decided"
            )
        return True, "numeric grid"
    # Confirm the worst grid witness exactly: h'' > 0 at a rational point proves non-concavity.
    row, col = np.unravel_index(np.argmax(np.where(positive, second / np.maximum(scale, _TINY), -np.inf)),
                                positive.shape)
    subs = {s: sp.Rational(float(v[col])) for s, v in zip(symbolic.symbols, problem.values)}
    subs[symbolic.x] = sp.Rational(float(grid[row, 0]))
    try:
        exact = symbolic.second.xreplace(subs).evalf(50)
        confirmed = bool(exact.is_positive)
    except (TypeError, ValueError, RecursionError):
        confirmed = False
    return False, "symbolic" if confirmed else "numeric grid"


def _psi_decreasing_on_grid(problem: _Instance) -> bool:
    """Concavity of a non-smooth h_i read from ψ_i = h_i' being non-increasing on the grid
    (a kink where ψ jumps up is a convex kink), up to 64·eps of the compared values."""
    psi = problem.psi(_grid()[:, None])
    with np.errstate(invalid="ignore"):
        rise = psi[1:] - psi[:-1]
        allowed = 64.0 * _EPS * (np.abs(psi[1:]) + np.abs(psi[:-1]))
    return not np.any(rise > allowed)
