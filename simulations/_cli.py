"""The command-line pieces every simulation script shares: its parser, validated options, the
JSON output and a clean Ctrl-C.

A script here is a thin wrapper: it builds its parser with :func:`simulation_parser`, adds its
own options (with the argument types below, so that a bad value is a usage error before any
work), reads them with :func:`parse_args` (which adds ``--json`` and checks that its file can be
written), calls the library, prints one line per setting and returns its results through
:func:`write_results`. Its ``if __name__ == "__main__"`` block is ``sys.exit(run(main))``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from pmtheory.cli import output_path_problem, write_text_atomically

# The exit status of an interrupted script (128 + SIGINT), as `pmtheory` uses.
EXIT_INTERRUPTED = 130


def integer_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer ≥ ``low`` (e.g. ``--sizes 0`` is refuted before any work)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer ≥ {low}, got {value}")
        return value

    parse.__name__ = f"integer ≥ {low}"
    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def probability(text: str) -> float:
    """An argparse type: a probability strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text}")
    return value


def simulation_parser(doc: str, *, seeds: bool = True, setup: bool = False) -> argparse.ArgumentParser:
    """A parser described by the first line of ``doc`` (the script's docstring).

    Args:
      doc: the script's module docstring.
      seeds: add ``--seeds`` (simulated datasets per point, ≥ 1) and ``--seed`` (the base numpy
        seed, ≥ 0).
      setup: add ``--p-ref-m1`` and ``--p-star-1`` (probabilities in (0, 1)), defaulting to the
        §5.3 setup of seed 002.

    Returns:
      The parser, for the script to add its own options to.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if seeds:
        parser.add_argument("--seeds", type=integer_at_least(1), default=100)
        parser.add_argument("--seed", type=integer_at_least(0), default=0)
    if setup:
        parser.add_argument("--p-ref-m1", type=probability, default=0.8)
        parser.add_argument("--p-star-1", type=probability, default=0.6)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add ``--json`` (where to write the results) and parse ``argv`` (None: the command line).

    A ``--json`` file that cannot be written (a folder, a read-only place) is a usage error
    now, before the simulation runs; its missing folders are created.
    """
    parser.add_argument("--json", type=Path, help="write the results to this file (folders are created)")
    args = parser.parse_args(argv)
    if args.json is not None:
        problem = output_path_problem(args.json)
        if problem is not None:
            parser.error(f"--json {args.json}: {problem}")
    return args


def write_results(output: dict, path: Path | str | None) -> dict:
    """Write ``output`` as JSON to ``path`` (atomically: the file is the old one or the whole
    new one) when one was given; return ``output``."""
    if path:
        write_text_atomically(Path(path), json.dumps(output, indent=1))
    return output


def run(main: Callable[[], object]) -> int:
    """Run a script's ``main()``; Ctrl-C prints one line and exits 130, without a traceback."""
    try:
        main()
    except KeyboardInterrupt:
        print(f"{Path(sys.argv[0]).name}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
