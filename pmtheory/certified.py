"""Certified maximizers of pointwise-regularized reward over the probability simplex.

For rewards ``r`` on K responses and a regularizer R_i applied to each response's own
probability, the problem is

.. math::  \\max_π Σ_i h_i(π_i),   h_i(π) = π·(r_i + R_i(π)),   π ≥ 0,  Σ_i π_i = 1.

This is eq 3.5 of the PMR seed (eq 3.12 with a response-dependent R_i, the form of eq 3.11).
The regularizer is given symbolically (sympy), so the module can decide, per response,
whether h_i is concave on (0, 1], and pick a solve it can stand behind:

- ``"cvxpy-clarabel"`` / ``"cvxpy-scs"``: every h_i is concave and π·R(π) translates to a DCP
  expression; cvxpy solves it (Clarabel, SCS as the fallback).
- ``"monotone-root"``: every h_i is concave; ψ_i = h_i' is non-increasing, so the
  maximizer of h_i(π) − λπ on [0, 1] is a root or a boundary, Σ_i π_i(λ) is non-increasing
  in λ, and a bisection on λ inside a bracket taken from the math finds Σπ = 1.
- ``"dual-global"``: some h_i is not concave; the Lagrangian dual g(λ) (below), an upper
  bound on the optimum for every λ, is minimized with globally computed inner maxima, and a
  primal point is built from the inner maximizers and polished.

Every answer carries a certificate computed here from the returned π, independently of the
path that produced it:

.. math::  g(λ) = λ + Σ_i \\max_{π∈[0,1]} (h_i(π) − λπ)  ≥  \\max_{π ∈ Δ} Σ_i h_i(π_i)

(weak duality: for π on the simplex, Σ_i h_i(π_i) = λ + Σ_i (h_i(π_i) − λπ_i) ≤ g(λ)), so
``dual_bound − objective`` bounds how far the returned π is from optimal, whatever solver
found it.

Shape letters: ``K`` is the number of responses.
Source: seed 001 (shared/seeds/001_c8a06c444314e79a.txt) (Xiao et al., PMR), §3: eq 3.1 (the
regularized objective), eq 3.5 / 3.12 (its finite form), eq 3.11 (response-dependent R),
eq 3.8 and Theorem 1 (the PM regularizer −log π + C1 + C2/π, whose optimum is softmax(r)).

Tolerances, and why:

- Bisections (on log π for the inner maximizers, on λ for the multiplier) run to the float64
  resolution: log π to an absolute eps (a relative eps in π), λ to adjacent floats (halving
  the number of floats in its bracket, ≤ 64 steps); the last step interpolates between the
  two bracket ends so that Σπ = 1 holds to rounding.
- cvxpy's interior-point solvers stop at their own gap/feasibility tolerances (1e-8 by
  default, tightened to 1e-12 for Clarabel here). π is then off by about the square root of
  the tolerance, since the objective is flat at the optimum; Clarabel often stops
  "inaccurate" before that, so three settings are tried and the best π kept; and entries
  far below the tolerances come back as noise (tiny positive values where the optimum has
  0, or the reverse). That is why a cvxpy answer is re-certified: π is clipped at 0 and
  renormalized, and λ (the π-weighted mean of ψ_i(π_i)), the objective, the dual bound and
  the KKT residual are all recomputed here from that π.
- The global path is global up to its grid of (0, 1] (below): the inner maxima take the
  best of the grid nodes, the endpoints and every local maximum bracketed between two
  nodes (refined by bisection), so two stationary points inside one grid cell can be
  missed. Its primal point is the best of several starts, each improved by Newton on the
  KKT system of its support and by the best two-response mass transfers; a positive
  ``duality_gap`` after that is reported as it is.
- Concavity on (0, 1] is decided by sympy where it can (the sign of h'' for every π > 0, for
  π = 1/(1 + u) with u ≥ 0, or ``solveset`` of h'' > 0 on (0, 1]); otherwise by the sign of
  h'' on a dense grid of (0, 1] (log-spaced down to the smallest normal float, plus
  uniform), where h'' counts as positive only above 64·eps times the sum of the absolute
  values of its terms (the rounding error of evaluating that sum). A grid point with
  h'' > 0 that sympy confirms exactly at that rational point proves non-concavity
  ("symbolic"). Regularizers with kinks (Abs, Piecewise, Max, ...) are judged by ψ being
  non-increasing on the grid, since h'' misses a kink.
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

__all__ = ["CertifiedSolution", "solve_pointwise_regularized"]

# Float64 resolution; every tolerance below is a stated multiple of it.
_EPS = float(np.finfo(np.float64).eps)
# The boundary π = 0 is probed at the smallest normal float (ψ(0+) may be +∞ for barriers).
_TINY = float(np.finfo(np.float64).tiny)
_LOG_TINY = math.log(_TINY)
# Halvings that shrink a bracket of width |log tiny| ≈ 708 in log π below eps.
_LOG_BISECTIONS = math.ceil(math.log2(-_LOG_TINY / _EPS)) + 1
# Clarabel tightened from its 1e-8 defaults: near the optimum the objective is flat, so a
# gap tolerance τ leaves π off by about √τ (1e-5 at the defaults). Even at 1e-12 Clarabel
# often stops "inaccurate" with π off by up to ~1e-6, and which settings do best varies from
# input to input, so it is run with three settings (plain, long iterative refinement, and
# that with a smaller static regularization) and the π with the best objective is kept.
# SCS (first-order, asked for 1e-9) is the fallback when every Clarabel run fails.
_CLARABEL_TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "max_iter": 500}
_CLARABEL_REFINED = {**_CLARABEL_TIGHT, "iterative_refinement_reltol": 1e-16,
                     "iterative_refinement_abstol": 1e-16, "iterative_refinement_max_iter": 50}
_CVXPY_SOLVERS = (
    ("CLARABEL", _CLARABEL_TIGHT),
    ("CLARABEL", _CLARABEL_REFINED),
    ("CLARABEL", {**_CLARABEL_REFINED, "static_regularization_constant": 1e-10}),
    ("SCS", {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 100_000}),
)
_METHODS = ("auto", "cvxpy", "monotone", "dual-global")


@dataclass(frozen=True)
class CertifiedSolution:
    """A maximizer of Σ_i π_i (r_i + R_i(π_i)) over the simplex, with its certificate."""

    policy: np.ndarray  # π, shape (K,); π ≥ 0 and Σπ = 1 to rounding
    multiplier: float  # λ of Σπ = 1 (reward units): ψ_i(π_i) = λ where 0 < π_i < 1
    objective: float  # Σ_i h_i(π_i) at the returned π: the primal value, ≤ the optimum
    dual_bound: float  # g(λ) at λ = multiplier: an upper bound on the optimum
    duality_gap: float  # dual_bound − objective ≥ optimum − objective; ≥ −(rounding)
    kkt_residual: float  # scaled first-order violation of π at λ (see the function doc)
    method: str  # "cvxpy-clarabel", "cvxpy-scs", "monotone-root" or "dual-global"
    concave: bool  # True when every h_i(π) = π(r_i + R_i(π)) is concave on (0, 1]
    concavity_proof: str  # how `concave` was decided: "symbolic" or "numeric grid"


def solve_pointwise_regularized(rewards, regularizer, *, variable: str = "pi", parameters=None,
                                method: str = "auto") -> CertifiedSolution:
    """Certified maximizer of Σ_i π_i (r_i + R_i(π_i)) over the probability simplex.

    .. math::  \\max_{π ∈ Δ_K} Σ_i h_i(π_i),  h_i(π) = π (r_i + R_i(π));
               ψ_i(π) = h_i'(π);  g(λ) = λ + Σ_i \\max_{[0,1]} (h_i(π) − λπ).

    Source: seed 001 (PMR), §3, eq 3.1 and 3.5 (objective), eq 3.11 / 3.12 (R depending on
    the response through ``parameters``), eq 3.8 (PM regularizer: optimum softmax(r)).

    Args:
      rewards: r, shape (K,), finite, K ≥ 1.
      regularizer: R as a sympy expression or a string sympy can parse, in ``variable``,
        e.g. ``"-log(pi) + C1 + C2/pi"`` or ``"-beta*log(pi/q)"``. In a string, a bare name
        not followed by ``(`` is a symbol (``E``, and ``pi`` when it is not the variable or
        a parameter, are the constants e and π); ``^`` means power. Strings are parsed with
        sympy's ``parse_expr``, which evaluates Python: pass only trusted text.
      variable: the name of the probability variable in ``regularizer``.
      parameters: dict name -> scalar or array of shape (K,) (one value per response, the
        response dependence of eq 3.11), for every other free symbol of ``regularizer``.
      method: "auto" (cvxpy if every h_i is concave and π·R translates to DCP, else the
        monotone root solve if concave, else the dual-global solve; a cvxpy failure falls
        back to the monotone solve), or one of "cvxpy", "monotone", "dual-global" to force
        a path ("cvxpy" and "monotone" need every h_i concave).

    Returns:
      :class:`CertifiedSolution`. ``kkt_residual`` is computed from the returned π and λ:
      the largest of |Σπ − 1| and, divided by 1 + max|r| (the size of the reward terms that
      ψ_i − λ cancels), max over i of |ψ_i(π_i) − λ| for 0 < π_i < 1, max(0, ψ_i(0+) − λ)
      for π_i = 0 (ψ probed at the smallest normal float, 2.2e-308) and max(0, λ − ψ_i(1))
      for π_i = 1. Its floor is eps times the size of the terms in ψ, so when the
      regularizer's terms dwarf the rewards (β·|log q| ≫ |r| in KL) an exact solve can show
      more than eps. ``dual_bound`` is g at the returned λ with inner maxima computed here
      (exact roots for concave h_i, a global grid-and-refine search otherwise), so it is an
      upper bound on the optimum up to float rounding; ``duality_gap`` is reported as
      computed, positive gaps included (a nonconvex problem may have one). For
      "dual-global" a positive gap also shows in ``kkt_residual``, since the returned λ
      is the dual minimizer rather than the primal point's own multiplier.

    Raises:
      ValueError: bad ``rewards``, ``regularizer``, ``variable``, ``parameters`` or
        ``method``; a forced method that does not apply; a regularizer whose objective is
        unbounded or not finite on (0, 1].
      RuntimeError: cvxpy failed with every solver under ``method="cvxpy"``.

    >>> import numpy as np
    >>> sol = solve_pointwise_regularized(np.array([0.0, np.log(3.0)]), "-log(pi)", method="monotone")
    >>> np.round(sol.policy, 12).tolist(), sol.method, sol.concavity_proof
    ([0.25, 0.75], 'monotone-root', 'symbolic')
    """
    rewards = as_float_array(rewards, "rewards")
    if rewards.ndim != 1:
        raise ValueError(f"rewards must have shape (K,) for one prompt, got shape {rewards.shape}")
    check_finite(rewards, "rewards")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    k = rewards.size
    names, values = _check_parameters(parameters, variable, k)
    expr, x, symbols = _parse_regularizer(regularizer, variable, names, values)
    symbolic = _analyse(expr, x, symbols)
    problem = _Instance(symbolic, rewards, tuple(values[s.name] for s in symbols))
    concave, proof = _decide_concavity(symbolic, problem)

    if method in ("cvxpy", "monotone") and not concave:
        raise ValueError(
            f"method={method!r} needs every h_i(π) = π(r_i + R_i(π)) concave on (0, 1], but "
            f"regularizer {_short(expr)} is not ({proof}); use method='dual-global' or 'auto'"
        )
    if method == "dual-global" or not concave:
        return _solve_dual_global(problem, concave, proof)
    if method in ("auto", "cvxpy"):
        built = _build_cvxpy(symbolic, problem)
        if built is None and method == "cvxpy":
            raise ValueError(
                f"method='cvxpy' needs π·R(π) to translate to a DCP expression, but regularizer "
                f"{_short(expr)} does not (supported: constants, c·π, c·π·log π with c ≤ 0, "
                "c·log π with c ≥ 0, c·π^p with the DCP sign, c·exp(a·π) with c ≤ 0); "
                "use method='monotone' or 'auto'"
            )
        if built is not None:
            solved = _solve_cvxpy(*built, problem)
            if solved is not None:
                policy, solver = solved
                return _certify_concave(problem, policy, None, f"cvxpy-{solver.lower()}", proof)
            if method == "cvxpy":
                raise RuntimeError(
                    f"cvxpy failed with every solver ({', '.join(sorted({s for s, _ in _CVXPY_SOLVERS}))}) "
                    "on this input; use method='monotone'"
                )
    policy, lam = _solve_monotone(problem)
    return _certify_concave(problem, policy, lam, "monotone-root", proof)


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


# ---------------------------------------------------------------------------------------
# The concave paths: cvxpy and the monotone root solve.


def _build_cvxpy(symbolic: _Symbolic, problem: _Instance):
    """A DCP cvxpy problem for the instance, or None when it does not translate."""
    if symbolic.cvx_plan is None:
        return None
    import cvxpy as cp

    k = problem.k
    policy = cp.Variable(k, nonneg=True)
    parts = [problem.rewards @ policy]
    constant = 0.0
    for kind, coefficient_fn, extra in symbolic.cvx_plan:
        with np.errstate(all="ignore"):
            coefficient = np.broadcast_to(np.asarray(coefficient_fn(*problem.values), dtype=np.float64), (k,))
        if not np.all(np.isfinite(coefficient)):
            return None
        if not np.any(coefficient):
            continue
        if kind == "constant":
            constant += math.fsum(coefficient.tolist())
            continue
        if kind == "linear":
            parts.append(coefficient @ policy)
            continue
        if kind == "x_log_x":  # c·π log π = (−c)·entr(π)
            atom, coefficient = cp.entr(policy), -coefficient
        elif kind == "log":
            atom = cp.log(policy)
        elif kind == "power":
            atom = cp.inv_pos(policy) if extra == -1.0 else cp.sqrt(policy) if extra == 0.5 else cp.power(policy, extra)
        else:  # exp(a·π)
            rate = np.broadcast_to(np.asarray(extra(*problem.values), dtype=np.float64), (k,))
            if not np.all(np.isfinite(rate)):
                return None
            atom = cp.exp(cp.multiply(rate, policy))
        parts.append(cp.sum(cp.multiply(coefficient, atom)))
    objective = parts[0]
    for part in parts[1:]:
        objective = objective + part
    cvx_problem = cp.Problem(cp.Maximize(objective + constant), [cp.sum(policy) == 1])
    if not cvx_problem.is_dcp():
        return None
    return cvx_problem, policy


def _solve_cvxpy(cvx_problem, policy, problem: _Instance):
    """(π clipped at 0 and renormalized, solver name) with the best objective among the runs
    of the first solver in :data:`_CVXPY_SOLVERS` that succeeds, or None if all failed."""
    import cvxpy as cp

    best, best_value, best_solver = None, -np.inf, None
    for solver, options in _CVXPY_SOLVERS:
        if best is not None and solver != best_solver:
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "solution may be inaccurate": re-certified
                cvx_problem.solve(solver=solver, **options)
        except (cp.error.SolverError, ValueError, ArithmeticError):
            continue
        if cvx_problem.status not in ("optimal", "optimal_inaccurate") or policy.value is None:
            continue
        value = np.clip(np.asarray(policy.value, dtype=np.float64), 0.0, None)
        if not np.all(np.isfinite(value)) or value.sum() <= 0:
            continue
        value = value / value.sum()
        objective = problem.h(value)
        if np.all(np.isfinite(objective)) and math.fsum(objective.tolist()) > best_value:
            best, best_value, best_solver = value, math.fsum(objective.tolist()), solver
    return None if best is None else (best, best_solver)


def _concave_argmax(problem: _Instance, lam: float) -> np.ndarray:
    """argmax_{π∈[0,1]} h_i(π) − λπ for concave h_i, shape (K,): bisection of ψ_i = λ in log π."""
    k = problem.k
    at_one = problem.psi(np.ones(k)) >= lam
    near_zero = problem.psi(np.full(k, _TINY))
    if np.any(np.isnan(near_zero)):
        bad = int(np.argmax(np.isnan(near_zero)))
        raise ValueError(
            f"ψ_{bad}(π) = r + (π·R)'(π) is not a number at π = {_TINY:.3g} (the boundary probe); "
            "rewrite the regularizer so that it evaluates near 0 without 0/0 or ∞ − ∞"
        )
    at_zero = ~at_one & ~(near_zero > lam)
    lo = np.full(k, _LOG_TINY)  # ψ(e^lo) > λ for the interior responses
    hi = np.zeros(k)  # ψ(e^hi) < λ
    for _ in range(_LOG_BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = problem.psi(np.exp(mid)) > lam
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(at_one, 1.0, np.where(at_zero, 0.0, np.exp(0.5 * (lo + hi))))


def _solve_monotone(problem: _Instance):
    """Bisection on λ for Σ_i π_i(λ) = 1, with π_i(λ) from :func:`_concave_argmax`.

    Bracket (ψ_i non-increasing): at λ = max_i ψ_i(1) the top response has π_i = 1, and at
    λ = min_i ψ_i(1/K) every π_i ≥ 1/K, so Σπ ≥ 1 at the larger of the two; at
    λ = max_i ψ_i(1/K) every π_i ≤ 1/K, so Σπ ≤ 1.
    """
    k = problem.k
    psi_share = problem.psi(np.full(k, 1.0 / k))
    if not np.all(np.isfinite(psi_share)):
        bad = int(np.argmin(np.isfinite(psi_share)))
        raise ValueError(
            f"ψ_{bad}(1/K) = {psi_share[bad]!r} is not finite: the regularizer must be differentiable on (0, 1)"
        )
    psi_one = problem.psi(np.ones(k))
    lower = [float(np.min(psi_share))]
    if np.any(np.isfinite(psi_one)):
        lower.append(float(np.max(psi_one[np.isfinite(psi_one)])))
    lo, hi = max(lower), float(np.max(psi_share))
    lo = min(lo, hi)
    pi_lo, pi_hi = _concave_argmax(problem, lo), _concave_argmax(problem, hi)
    while True:
        mid = _float_midpoint(lo, hi)
        if not lo < mid < hi:
            break
        pi_mid = _concave_argmax(problem, mid)
        if pi_mid.sum() >= 1.0:
            lo, pi_lo = mid, pi_mid
        else:
            hi, pi_hi = mid, pi_mid
    return _interpolate(pi_lo, lo, pi_hi, hi)


def _float_midpoint(lo: float, hi: float) -> float:
    """The middle float of [lo, hi] in the order of float64 values.

    Halving the count of floats in the bracket (not its width) reaches adjacent floats in at
    most 64 steps whatever the bracket, e.g. [-1e137, 3] as well as [1.7, 3.1].
    """

    def ordinal(value):
        bits = int(np.float64(value).view(np.int64))
        return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)

    middle = (ordinal(lo) + ordinal(hi)) // 2
    if middle >= 0:
        return float(np.int64(middle).view(np.float64))
    return -float(np.int64(-middle).view(np.float64))


def _interpolate(pi_lo, lam_lo, pi_hi, lam_hi):
    """The point on the segment between the bracket ends' maximizers with Σπ = 1."""
    s_lo, s_hi = pi_lo.sum(), pi_hi.sum()
    theta = 1.0 if s_lo <= s_hi else float(np.clip((1.0 - s_hi) / (s_lo - s_hi), 0.0, 1.0))
    policy = theta * pi_lo + (1.0 - theta) * pi_hi
    total = policy.sum()
    if not total > 0:
        raise ValueError("the maximizers of the Lagrangian carry no mass; the regularizer is degenerate")
    return policy / total, theta * lam_lo + (1.0 - theta) * lam_hi


def _kkt_residual(problem: _Instance, policy, lam) -> float:
    psi = problem.psi(np.where(policy > 0, policy, _TINY))
    with np.errstate(invalid="ignore"):
        violation = np.where(policy == 0, np.maximum(psi - lam, 0.0),
                             np.where(policy >= 1, np.maximum(lam - psi, 0.0), np.abs(psi - lam)))
    if np.any(np.isnan(violation)):
        bad = int(np.argmax(np.isnan(violation)))
        raise ValueError(f"ψ_{bad}(π_{bad} = {policy[bad]!r}) is not a number; the regularizer is singular there")
    return max(float(np.max(violation)) / problem.scale, abs(math.fsum(policy.tolist()) - 1.0))


def _mass_weighted_multiplier(problem: _Instance, policy) -> float:
    """λ estimated from π alone: Σ_i π_i ψ_i(π_i) over the support (exact at an interior optimum)."""
    support = policy > 0
    psi = problem.psi(np.where(support, policy, 1.0))
    weights = np.where(support, policy, 0.0)
    usable = support & np.isfinite(psi)
    if not usable.any():
        raise ValueError("ψ is not finite anywhere on the support of the solution; λ cannot be estimated")
    return float(np.sum(weights[usable] * psi[usable]) / np.sum(weights[usable]))


def _certify_concave(problem: _Instance, policy, lam, method, proof) -> CertifiedSolution:
    if lam is None:
        lam = _mass_weighted_multiplier(problem, policy)
    inner = _concave_argmax(problem, lam)
    dual = _dual_value(problem, lam, inner)
    return _assemble(problem, policy, lam, dual, method, True, proof)


def _dual_value(problem: _Instance, lam, inner) -> float:
    values = problem.h(inner) - lam * inner
    if not np.all(np.isfinite(values)):
        raise ValueError(f"the Lagrangian dual is not finite at λ = {lam!r}; the regularizer is singular on [0, 1]")
    return math.fsum([lam, *values.tolist()])


def _assemble(problem, policy, lam, dual, method, concave, proof) -> CertifiedSolution:
    objective = problem.objective(policy)
    residual = _kkt_residual(problem, policy, lam)
    if not (math.isfinite(lam) and math.isfinite(dual)):
        raise ValueError(f"the certificate is not finite (λ = {lam!r}, g(λ) = {dual!r}); the regularizer is singular")
    return CertifiedSolution(
        policy=policy,
        multiplier=float(lam),
        objective=objective,
        dual_bound=dual,
        duality_gap=dual - objective,
        kkt_residual=residual,
        method=method,
        concave=bool(concave),
        concavity_proof=proof,
    )


# ---------------------------------------------------------------------------------------
# The nonconvex path: global inner maxima, dual minimization, primal repair and polish.


class _GlobalInner:
    """argmax and max over [0, 1] of h_i(π) − λπ for any h_i, by grid, sign changes of
    ψ_i − λ between grid nodes (each refined by bisection in log π) and the endpoints.

    Global up to the grid: two stationary points inside one grid cell can be missed, and
    then the best grid node stands in for them (the module doc gives the grid).
    """

    def __init__(self, problem: _Instance):
        self.problem = problem
        self.grid = _grid()
        column = self.grid[:, None]
        self.h_grid = np.asarray(problem.h(column))
        self.psi_grid = np.asarray(problem.psi(column))
        if np.any(np.isnan(self.h_grid)) or np.any(self.h_grid == np.inf):
            row, col = np.argwhere(np.isnan(self.h_grid) | (self.h_grid == np.inf))[0]
            raise ValueError(
                f"h_{col}(π) = π(r + R(π)) is {self.h_grid[row, col]!r} at π = {self.grid[row]!r}; the "
                "regularizer must be finite on (0, 1] for a global solve"
            )
        if np.any(np.isnan(self.psi_grid)):
            row, col = np.argwhere(np.isnan(self.psi_grid))[0]
            raise ValueError(f"ψ_{col}(π) is not a number at π = {self.grid[row]!r}; the regularizer must be "
                             "differentiable on (0, 1]")

    def __call__(self, lam: float):
        problem, grid = self.problem, self.grid
        k = problem.k
        values = self.h_grid - lam * grid[:, None]
        best_row = np.argmax(values, axis=0)
        columns = np.arange(k)
        best_pi = grid[best_row].copy()
        best_value = values[best_row, columns].copy()
        # The endpoint 0 (the grid starts at the smallest normal float).
        zero_wins = problem.at_zero > best_value
        best_pi = np.where(zero_wins, 0.0, best_pi)
        best_value = np.where(zero_wins, problem.at_zero, best_value)
        # Local maxima of h − λπ: ψ − λ changes from > 0 to ≤ 0 between grid nodes j, j+1.
        phi = self.psi_grid - lam
        rows, cols = np.nonzero((phi[:-1] > 0) & (phi[1:] <= 0))
        if rows.size:
            lo, hi = np.log(grid[rows]), np.log(grid[rows + 1])
            for _ in range(_LOG_BISECTIONS):
                mid = 0.5 * (lo + hi)
                above = problem.psi(np.exp(mid), cols) > lam
                lo = np.where(above, mid, lo)
                hi = np.where(above, hi, mid)
            roots = np.exp(0.5 * (lo + hi))
            root_values = problem.h(roots, cols) - lam * roots
            for root, value, col in zip(roots, root_values, cols):
                if value > best_value[col]:
                    best_pi[col], best_value[col] = root, value
        return best_pi, best_value


def _solve_dual_global(problem: _Instance, concave, proof) -> CertifiedSolution:
    inner = _GlobalInner(problem)
    k = problem.k

    def evaluate(lam):
        pi, value = inner(lam)
        return pi, math.fsum([lam, *value.tolist()])

    # Bracket from the math, then verified (the grid stands in for sup/inf): for
    # λ ≥ sup_{[1/K, 1]} ψ_i every h_i − λπ is non-increasing on [1/K, 1], so π_i(λ) ≤ 1/K;
    # for λ ≤ inf_{(0, 1]} ψ_i (one i) that h_i − λπ is non-decreasing, so π_i(λ) = 1, and
    # for λ ≤ inf_{(0, 1/K]} ψ_i (all i) every π_i(λ) ≥ 1/K.
    share = inner.grid >= 1.0 / k
    finite_psi = np.where(np.isfinite(inner.psi_grid), inner.psi_grid, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        hi = float(np.nanmax(finite_psi[share]))
        lows = [np.nanmax(np.nanmin(finite_psi, axis=0)), np.nanmin(finite_psi[~share]) if (~share).any() else np.nan]
    lows = [float(v) for v in lows if np.isfinite(v)]
    if not np.isfinite(hi):
        raise ValueError("ψ is not finite anywhere on [1/K, 1]; the dual cannot be bracketed")
    lo = min(max(lows), hi) if lows else hi - 1.0
    pi_lo, g_lo = evaluate(lo)
    pi_hi, g_hi = evaluate(hi)
    step = max(1.0, abs(lo), abs(hi))
    for _ in range(200):
        if pi_lo.sum() >= 1.0:
            break
        lo, step = lo - step, 2.0 * step
        pi_lo, g_lo = evaluate(lo)
    step = max(1.0, abs(lo), abs(hi))
    for _ in range(200):
        if pi_hi.sum() <= 1.0:
            break
        hi, step = hi + step, 2.0 * step
        pi_hi, g_hi = evaluate(hi)
    if pi_lo.sum() < 1.0 or pi_hi.sum() > 1.0:
        raise RuntimeError("the dual minimizer could not be bracketed; please report this regularizer")
    # g is convex with subgradient 1 − Σπ(λ); bisect its sign to the float resolution of λ.
    while True:
        mid = _float_midpoint(lo, hi)
        if not lo < mid < hi:
            break
        pi_mid, g_mid = evaluate(mid)
        if pi_mid.sum() >= 1.0:
            lo, pi_lo, g_lo = mid, pi_mid, g_mid
        else:
            hi, pi_hi, g_hi = mid, pi_mid, g_mid
    lam, dual = (lo, g_lo) if g_lo <= g_hi else (hi, g_hi)

    policy = _best_primal(problem, pi_lo, lo, pi_hi, hi, dual)
    # g is flat between its kinks, and a minimizer inside the flat piece may match the
    # primal's own multiplier (ψ_i(π_i) averaged over the support) where the bisection's end
    # does not; prefer it when g there is as low, up to the rounding of the two sums.
    try:
        own = _mass_weighted_multiplier(problem, policy)
    except ValueError:
        own = None
    if own is not None and math.isfinite(own):
        g_own = evaluate(own)[1]
        if g_own <= dual + 8.0 * _EPS * (k + 1) * (1.0 + abs(dual) + abs(own)):
            lam, dual = own, g_own
    return _assemble(problem, policy, lam, dual, "dual-global", concave, proof)


def _best_primal(problem: _Instance, pi_lo, lam_lo, pi_hi, lam_hi, dual):
    """The best feasible point found from several starts: the repaired inner maximizers at
    the two ends of the final λ bracket, the best vertex and the uniform policy, each
    improved by :func:`_pairwise_ascent` and :func:`_newton_polish`.

    When the repaired maximizers already reach the dual bound (to rounding), they are optimal
    and returned as they are.
    """
    k = problem.k
    mix = _interpolate(pi_lo, lam_lo, pi_hi, lam_hi)[0]
    values = problem.h(mix)
    closed = 16.0 * _EPS * (k + 1) * (1.0 + abs(dual) + math.fsum(np.abs(values).tolist()))
    if np.all(np.isfinite(values)) and dual - math.fsum(values.tolist()) <= closed:
        return mix
    starts = [mix]
    for pi in (pi_lo, pi_hi):
        if pi.sum() > 0:
            starts.append(pi / pi.sum())
    # Vertex e_j has value h_j(1) + Σ_{i≠j} h_i(0).
    vertex_values = problem.h(np.ones(k)) - problem.at_zero
    vertex = np.zeros(k)
    vertex[int(np.argmax(vertex_values))] = 1.0
    starts += [vertex, np.full(k, 1.0 / k)]
    best, best_value = None, -np.inf
    for start in starts:
        for candidate in (start, _pairwise_ascent(problem, start)):
            if candidate is None:
                continue
            values = problem.h(candidate)
            if np.all(np.isfinite(values)):
                value = math.fsum(values.tolist())
                if value > best_value:
                    best, best_value = candidate, value
    if best is None:
        raise ValueError("no feasible point with a finite objective was found; the regularizer is singular on [0, 1]")
    return best


def _transfer_grid() -> np.ndarray:
    """Fractions s ∈ [0, 1] of the largest possible transfer: uniform, plus geometric toward
    both ends (a transfer that leaves a response with 1e-16 of its mass, or moves 1e-16)."""
    geometric = 10.0 ** -np.arange(1.0, 17.0)
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, 97), geometric, 1.0 - geometric]))


def _pairwise_ascent(problem: _Instance, policy, rounds: int = 30):
    """Alternates :func:`_newton_polish` (fast convergence to the KKT point of the current
    support) with the best move of mass between two responses: the best over all pairs (of
    the 24 most promising responses) and over each pair's whole feasible segment (the grid
    of :func:`_transfer_grid`, then the sign change of the slope around the best node
    bisected), so that a move may jump between the branches of a nonconcave h_i.

    Stops when no move improves the objective by more than its rounding (the point is then
    optimal against every two-response transfer on the grid, among those responses), or
    after ``rounds`` moves.
    """
    k = problem.k
    if k == 1:
        return policy
    policy = policy.copy()
    fractions = _transfer_grid()
    for _ in range(rounds):
        policy = _newton_polish(problem, policy)
        values = problem.h(policy)
        tolerance = 16.0 * _EPS * (1.0 + math.fsum(np.abs(values).tolist()))
        psi = problem.psi(np.where(policy > 0, policy, _TINY))
        candidates = _promising(psi, policy)
        first, second = np.triu_indices(candidates.size, 1)
        i, j = candidates[first], candidates[second]
        # t > 0 moves mass from j to i, t < 0 from i to j.
        up = np.minimum(policy[j], 1.0 - policy[i])
        down = np.minimum(policy[i], 1.0 - policy[j])
        t = np.concatenate([up[:, None] * fractions, -down[:, None] * fractions[1:]], axis=1)
        ii, jj = np.broadcast_to(i[:, None], t.shape), np.broadcast_to(j[:, None], t.shape)
        gain = _pair_gain(problem, policy, values, ii, jj, t)
        gain = np.where(np.isfinite(gain), gain, -np.inf)
        pair, node = np.unravel_index(np.argmax(gain), gain.shape)
        if not gain[pair, node] > tolerance:
            break
        step = _refine_transfer(problem, policy, i[pair], j[pair], t[pair], node, gain[pair, node], values)
        policy[i[pair]] = min(max(policy[i[pair]] + step, 0.0), 1.0)
        policy[j[pair]] = min(max(policy[j[pair]] - step, 0.0), 1.0)
        policy /= policy.sum()
    return policy


def _promising(psi, policy, size: int = 12):
    """Up to 2·size responses: the highest ψ among π < 1 and the lowest ψ among π > 0."""
    k = policy.size
    if k <= 2 * size:
        return np.arange(k)
    order = np.argsort(psi)
    receivers = [int(i) for i in order[::-1] if policy[i] < 1.0][:size]
    givers = [int(i) for i in order if policy[i] > 0.0][:size]
    return np.unique(np.array(receivers + givers, dtype=np.int64))


def _pair_gain(problem, policy, values, i, j, t):
    new_i = np.clip(policy[i] + t, 0.0, 1.0)
    new_j = np.clip(policy[j] - t, 0.0, 1.0)
    return (problem.h(new_i, i) - values[i]) + (problem.h(new_j, j) - values[j])


def _refine_transfer(problem, policy, i, j, t, node, gain, values):
    """Bisect the slope ψ_i(π_i + t) − ψ_j(π_j − t) between the best node's neighbours."""
    best = t[node]
    order = np.argsort(t)
    position = int(np.nonzero(order == node)[0][0])
    lo = t[order[max(position - 1, 0)]]
    hi = t[order[min(position + 1, t.size - 1)]]

    def slope(step):
        a = np.clip(policy[i] + step, _TINY, 1.0)
        b = np.clip(policy[j] - step, _TINY, 1.0)
        return float(problem.psi(np.array([a]), np.array([i]))[0] - problem.psi(np.array([b]), np.array([j]))[0])

    if not (slope(lo) > 0 > slope(hi)):
        return best
    for _ in range(_LOG_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if slope(mid) > 0:
            lo = mid
        else:
            hi = mid
    root = 0.5 * (lo + hi)
    root_gain = _pair_gain(problem, policy, values, np.array([i]), np.array([j]), np.array([root]))[0]
    return root if root_gain >= gain else best


def _newton_polish(problem: _Instance, policy, steps: int = 30):
    """Newton's method on the KKT system of the support, ψ_i(π_i) = μ and Σπ = 1, in u = log π.

    With d_i = h_i''(π_i)·π_i (the derivative of ψ_i in u_i) and F_i = ψ_i − μ, the Newton
    step is δμ = (Σ π_i F_i/d_i − (Σπ − 1)) / Σ π_i/d_i and δu_i = (δμ − F_i)/d_i. A step is
    kept only if it lowers the stationarity error without lowering the objective (beyond
    rounding), so the polish never makes the point worse.
    """
    support = (policy > 0) & (policy < 1)
    if support.sum() < 2:
        return policy
    second_fn = problem.symbolic.second_fn
    if second_fn is None:
        return policy
    index = np.nonzero(support)[0]
    fixed = math.fsum(policy[~support].tolist())
    pi = policy[index].copy()

    def state(pi):
        psi = problem.psi(pi, index)
        weights = pi / pi.sum()
        mu = float(np.sum(weights * psi))
        error = max(float(np.max(np.abs(psi - mu))), abs(math.fsum(pi.tolist()) + fixed - 1.0))
        return psi, mu, error

    def total(pi):
        trial = policy.copy()
        trial[index] = pi
        return math.fsum(problem.h(trial).tolist())

    psi, mu, error = state(pi)
    value = total(pi)
    for _ in range(steps):
        d = problem._call(second_fn, pi, index) * pi
        if not np.all(np.isfinite(d)) or np.any(d == 0) or not np.all(np.isfinite(psi)):
            break
        f = psi - mu
        g = math.fsum(pi.tolist()) + fixed - 1.0
        denominator = float(np.sum(pi / d))
        if denominator == 0 or not math.isfinite(denominator):
            break
        d_mu = (float(np.sum(pi * f / d)) - g) / denominator
        with np.errstate(all="ignore"):
            trial = pi * np.exp(np.clip((d_mu - f) / d, -50.0, 50.0))
        if not np.all(np.isfinite(trial)) or np.any(trial >= 1.0) or np.any(trial <= 0):
            break
        trial_psi, trial_mu, trial_error = state(trial)
        trial_value = total(trial)
        tolerance = 16.0 * _EPS * (1.0 + abs(value))
        if not (trial_error < error and trial_value >= value - tolerance):
            break
        pi, psi, mu, error, value = trial, trial_psi, trial_mu, trial_error, trial_value
    result = policy.copy()
    result[index] = pi
    return result / result.sum()
