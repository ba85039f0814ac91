"""JSON-able values: every number a check result carries is converted by :func:`to_jsonable` so
that a report can be written as strict JSON.

NaN and infinities become the strings ``"nan"``, ``"inf"`` and ``"-inf"``; exact rationals
(``fractions.Fraction``, sympy ``Rational``) become strings such as ``"4/3"`` that sympy parses
back exactly.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

import numpy as np

__all__ = ["to_jsonable"]


def to_jsonable(value, name: str = "value"):
    """Return ``value`` as plain JSON data: dicts with string keys, lists, str, int, float, bool, None.

    Conversions: numpy scalars to Python numbers, numpy arrays and tuples to (nested) lists,
    sets to sorted lists, NaN / +inf / −inf to the strings "nan" / "inf" / "-inf" (strict JSON
    has no such numbers), ``Fraction`` and sympy ``Rational`` to exact strings "p/q" (an
    integer when the denominator is 1), ``Decimal`` to its exact string, sympy ``Float`` and
    mpmath ``mpf`` to float, other sympy expressions to their sympy-parsable string, sympy
    matrices to nested lists, named tuples and dataclass instances to dicts of their fields,
    path-likes to strings. Integer dict keys become strings, as JSON requires.

    Args:
      value: the value to convert.
      name: how error messages refer to ``value`` (the converted path is appended).

    Returns:
      A new structure; ``value`` is not modified.

    Raises:
      TypeError: a part of ``value`` has no JSON form (complex numbers, functions, objects;
        give functions as sympy-parsable strings), or a dict key is not a string or integer.

    >>> to_jsonable({"x": np.float32(0.5), "y": np.array([1, np.inf]), 3: (Fraction(4, 3),)})
    {'x': 0.5, 'y': [1.0, 'inf'], '3': ['4/3']}
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float_to_jsonable(float(value))
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else _float_to_jsonable(float(value))
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), name)
    if isinstance(value, Mapping):
        return {_jsonable_key(key, name): to_jsonable(item, f"{name}[{key!r}]") for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple: keep its field names
        return {field_name: to_jsonable(item, f"{name}.{field_name}") for field_name, item in zip(value._fields, value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, f"{name}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(item, f"{name} item") for item in value]
        try:
            return sorted(items)
        except TypeError:
            raise TypeError(f"{name} is a set of mixed kinds that cannot be sorted; pass a list instead") from None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), f"{name}.{f.name}") for f in dataclasses.fields(value)}
    module = type(value).__module__ or ""
    if module.startswith("sympy"):
        return _sympy_to_jsonable(value, name)
    if module.startswith("mpmath") and type(value).__name__ == "mpf":
        return _float_to_jsonable(float(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if callable(value):
        raise TypeError(f"{name} is a function ({value!r}); give functions as sympy-parsable strings, e.g. 'exp(x)'")
    raise TypeError(f"{name} has no JSON form: got a {type(value).__module__}.{type(value).__qualname__} ({value!r})")


def _float_to_jsonable(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _jsonable_key(key, name: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return str(int(key))
    raise TypeError(f"{name} has a key {key!r} of type {type(key).__name__}; JSON keys must be strings or integers")


def _sympy_to_jsonable(value, name: str):
    import sympy

    if isinstance(value, sympy.MatrixBase):
        return to_jsonable(value.tolist(), name)
    if value is sympy.true or value is sympy.false:
        return bool(value)
    if isinstance(value, sympy.Integer):
        return int(value)
    if isinstance(value, sympy.Rational):
        return f"{value.p}/{value.q}"
    if isinstance(value, sympy.Float):
        return _float_to_jsonable(float(value))
    if isinstance(value, sympy.Basic):
        return str(value)
    raise TypeError(f"{name} has no JSON form: got a sympy {type(value).__qualname__} ({value!r})")
