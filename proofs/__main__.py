"""``python -m proofs [NAME ...]``: run the symbolic derivations and print a table of their results.

One row per derivation of :data:`proofs.DERIVATIONS` (or those whose names match the NAME
globs, e.g. ``'pmr.remark_*'``): its name, whether it verified (the ``verified`` flag the
derivation computes), the seconds it took, and what it derives (the first line of its
docstring). A derivation that raises gets ``error`` and its exception in place of the
description; the others still run.

Exit status: 0 when every derivation run verified, 1 when one did not or raised, 2 when a
NAME matches no derivation, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from dataclasses import dataclass

from proofs import DERIVATIONS

__all__ = ["DerivationRow", "derivation_table", "main", "run_derivations"]

VERIFIED, FAILED, ERROR = "yes", "NO", "error"


@dataclass(frozen=True)
class DerivationRow:
    """One derivation's outcome, as the table prints it."""

    name: str  # its key in DERIVATIONS
    status: str  # "yes" (verified), "NO" (ran, not verified) or "error" (raised)
    seconds: float  # wall-clock time it took
    what: str  # the first line of its docstring, or "ExceptionType: message" for an error


def _first_line(function) -> str:
    lines = (function.__doc__ or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def run_derivations(names: list[str] | None = None) -> list[DerivationRow]:
    """Run the derivations named by ``names`` (globs; None or empty: all), in DERIVATIONS order.

    Raises:
      ValueError: a name matches no derivation (checked before any runs); the message names it.
    """
    patterns = list(names or ["*"])
    unmatched = [pattern for pattern in patterns if not fnmatch.filter(DERIVATIONS, pattern)]
    if unmatched:
        raise ValueError(f"no derivation matches {', '.join(map(repr, unmatched))}; names look like "
                         f"'pmr.remark_3_4' and globs like 'pmr.remark_*' (python -m proofs --list)")
    rows = []
    for name, derive in DERIVATIONS.items():
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            continue
        start = time.perf_counter()
        try:
            result = derive()
        except Exception as error:  # one failing derivation is reported, the others still run
            rows.append(DerivationRow(name, ERROR, time.perf_counter() - start, f"{type(error).__name__}: {error}"))
            continue
        # Only a plain True verifies: a missing flag, False, or a sympy expression left unsimplified is "NO".
        status = VERIFIED if getattr(result, "verified", False) is True else FAILED
        rows.append(DerivationRow(name, status, time.perf_counter() - start, _first_line(derive)))
    return rows


def derivation_table(rows: list[DerivationRow]) -> str:
    """The rows as a fixed-width table (nothing cut), then a summary line."""
    name_width = max([len("derivation")] + [len(row.name) for row in rows])
    lines = [f"{'derivation':<{name_width}}  verified  seconds  what it derives",
             f"{'-' * name_width}  --------  -------  ---------------"]
    for row in rows:
        lines.append(f"{row.name:<{name_width}}  {row.status:<8}  {row.seconds:>7.2f}  {row.what}".rstrip())
    verified = sum(row.status == VERIFIED for row in rows)
    noun = "derivation" if len(rows) == 1 else "derivations"
    lines += ["", f"{verified} of {len(rows)} {noun} verified in {sum(row.seconds for row in rows):.2f} s"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m proofs`` with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    parser = argparse.ArgumentParser(prog="python -m proofs", description="Run the symbolic derivations (sympy) "
                                     "and print a table of their results.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="derivation names or globs (default: all)")
    parser.add_argument("--list", action="store_true", help="list the derivation names and exit")
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else 2
    if arguments.list:
        for name, derive in DERIVATIONS.items():
            print(f"{name}: {_first_line(derive)}")
        return 0
    try:
        rows = run_derivations(arguments.names)
    except ValueError as error:
        print(f"python -m proofs: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m proofs: interrupted", file=sys.stderr)
        return 130
    sys.stdout.write(derivation_table(rows))
    return 0 if all(row.status == VERIFIED for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
