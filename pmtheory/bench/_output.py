"""The output of ``pmtheory bench``: the table a section fills in (:class:`_Column`,
:class:`_Section`), the speed bars, the allocator setting, the machine and the JSON report.

The output is organized in sections, each a function that returns its rows, its bars and its
table columns. "The module doc" below is that of :mod:`pmtheory.bench`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from typing import Callable, NamedTuple

import numpy as np

from pmtheory.bench._common import _Settings

# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


class _Column(NamedTuple):
    """One column of a section's table."""

    header: str
    width: int
    cell: Callable[[dict], str]  # the text of a row's cell


class _Section(NamedTuple):
    """A benchmark section: ``run(settings, progress)`` returns (rows, bars)."""

    name: str
    run: Callable[[_Settings, Callable[[str], None]], tuple[list[dict], list[dict]]]
    columns: tuple[_Column, ...]
    note: Callable[[_Settings], str]  # the line under the section's table


def _format_number(value, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


def _format_table(section: _Section, rows: list[dict], settings: _Settings) -> list[str]:
    header = "  ".join(column.header.rjust(column.width) if i >= 3 else column.header.ljust(column.width)
                       for i, column in enumerate(section.columns))
    lines = [f"== {section.name} ==", header, "-" * len(header)]
    for row in rows:
        cells = []
        for i, column in enumerate(section.columns):
            if row["status"] != "ok" and i == 3:
                cells.append(row["status"])
                break
            text = column.cell(row)
            cells.append(text.rjust(column.width) if i >= 3 else text.ljust(column.width))
        lines.append("  ".join(cells).rstrip())
    lines.append(section.note(settings))
    return lines


def _format_bars(bars: list[dict]) -> list[str]:
    lines = ["== speed bars (reported, not enforced) =="]
    for bar in bars:
        lines.append(f"{bar['status']:<4}  {bar['name']}: {bar['detail']}")
    return lines


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _keep_freed_memory() -> str:
    """Make glibc's malloc serve every block below 1 GiB from the heap and never return freed
    heap memory to the kernel, for the rest of this process (module doc, "Allocator").
    Returns what was done, for the report."""
    import ctypes
    import ctypes.util

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return f"system (not glibc: {platform.system()} {platform.libc_ver()[0] or 'unknown libc'})"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError) as error:
        return f"system (mallopt unavailable: {error})"
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    if mallopt(_M_MMAP_THRESHOLD, 1 << 30) != 1 or mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) != 1:
        return "system (mallopt refused the thresholds)"
    return "kept (glibc mallopt: mmap threshold 1 GiB, trim threshold 2 GiB)"


def _machine() -> dict:
    import scipy

    try:
        import cvxpy

        cvxpy_version = cvxpy.__version__
    except ImportError:  # pragma: no cover - cvxpy is a dependency
        cvxpy_version = None
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "cvxpy": cvxpy_version,
    }


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pmtheory")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _json_safe(value):
    """Non-finite floats become None (JSON has no inf/nan); rows say why in their note."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _write_json_atomically(path: str, report: dict) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".bench-", suffix=".json.tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(_json_safe(report), stream, indent=1, allow_nan=False, ensure_ascii=False)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
