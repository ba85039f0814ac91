"""The ``pmtheory`` command line.

Subcommands:

- ``pmtheory verify [ID ...] [--paper MODULE:ATTR] [--json FILE] [--markdown FILE] [--html FILE
  [--no-figures]] [--quick] [--mutants] [--model PATH ...]``: run the claim checks of every
  installed paper (entry points ``pmtheory.papers``) and of each ``--paper`` (every claim when no
  ID is given; IDs may be globs such as ``'PMR-*'``), print a progress line per claim on stderr and
  the verdict table on stdout, and write the JSON, markdown and HTML reports when asked
  (``--html`` also makes the figures that illustrate the selected claims and embeds them, unless
  ``--no-figures``). ``--mutants`` also reruns each check on its registered mutants (which must
  come out ``refuted``) and repairs (which must ``hold``). ``--list`` prints the selected claims'
  IDs, kinds and statements and runs no check.
- ``pmtheory show ID [--paper MODULE:ATTR] [--quick]``: run one claim's check and print its full
  record (:func:`pmtheory.report.claim_record_text`): the paper's title and citation, where,
  kind, statement, the verdict with its condition or answer, proof gaps, readings, conventions,
  and the evidence and counterexample as JSON, nothing cut. An unknown ID exits 2.
- ``pmtheory bench ...``: the solver benchmark; every argument after ``bench`` goes to
  :func:`pmtheory.bench.main` unparsed.
- ``pmtheory figures [NAME ...] [--paper MODULE:ATTR] [--out DIR] [--quick] [--list]``: make the
  papers' figures (:mod:`pmtheory.figures`) as PNG and PDF.
- ``pmtheory bridge ...``: the causal-LM bridge; arguments go to ``pmtheory.bridge.cli.main``.

Exit status: 0 when no check errored (a refuted claim is a finding, not a failure), 1 when a
check errored, a mutant survived under ``--mutants`` (a check that cannot fail earns
nothing), or a report could not be written, 2 for usage errors (an unknown option, an ID
that matches no claim, a paper that does not load or whose prefix clashes), 130 when interrupted
(``verify`` still writes what it finished, marked
``"complete": false``).

Adding a subcommand: write ``_setup_<name>(parser)``, which
adds the options and sets ``run`` to a function of the parsed arguments returning the exit
status, and add one entry to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pmtheory import claims
from pmtheory.report import (
    claim_record_text,
    report_to_html,
    report_to_json_text,
    report_to_markdown,
    report_to_table,
)

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main", "output_path_problem", "write_text_atomically"]

# Exit statuses.
_EXIT_OK = 0
_EXIT_CHECK_ERROR = 1
_EXIT_USAGE = 2
_EXIT_INTERRUPTED = 130

# The table width when stdout is not a terminal (CI logs, files): wide enough for most
# backings, narrow enough to read; the JSON and markdown reports carry the full text.
_PIPED_TABLE_WIDTH = 120

# ANSI "erase to the end of the line", used only when stderr is a terminal.
_CLEAR_TO_END = "\x1b[K"


@dataclass(frozen=True)
class Subcommand:
    """One ``pmtheory <name>`` subcommand."""

    help: str  # one line for ``pmtheory --help``
    setup: Callable[[argparse.ArgumentParser], None]  # adds the options and sets the ``run`` default
    passthrough: Callable[[list[str]], int] | None = None  # if set, receives all later arguments unparsed


# ---------------------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------------------


class _ProgressLine:
    """Progress of ``verify`` on a stream: one line per claim, or one line rewritten in place
    when the stream is a terminal (refuted and errored claims keep their line)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        try:
            self._in_place = bool(stream.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            self._in_place = False
        self._line_open = False

    def __call__(self, index: int, total: int, claim_id: str, outcome: claims.ClaimOutcome | None) -> None:
        prefix = f"[{index:>{len(str(total))}}/{total}] {claim_id} ..."
        if outcome is None:
            if self._in_place:
                self._write(f"\r{prefix}{_CLEAR_TO_END}")
                self._line_open = True
            return
        line = f"{prefix} {outcome.verdict} ({outcome.seconds:.2f} s)"
        if outcome.mutants:
            killed = sum(variant.killed for variant in outcome.mutants)
            line += f"; mutants {killed}/{len(outcome.mutants)} killed"
        if not self._in_place:
            self._write(line + "\n")
            return
        keep = outcome.verdict in (claims.REFUTED, claims.ERROR) or not all(v.killed for v in outcome.mutants)
        self._write(f"\r{line}{_CLEAR_TO_END}" + ("\n" if keep else ""))
        self._line_open = not keep

    def finish(self) -> None:
        """Erase a line left open in place."""
        if self._line_open:
            self._write(f"\r{_CLEAR_TO_END}")
            self._line_open = False

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


def output_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot receive an output file, or None when it can: checked before a long
    run, so that a bad path fails in a second rather than losing the results at the end.

    Creates the missing folders, then creates and removes a temporary file next to ``path``
    (the way :func:`write_text_atomically` writes), so a read-only or virtual folder such as
    ``/proc`` is caught too.
    """
    path = Path(path)
    if path.is_dir():
        return "is a folder; give a file name"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        return f"cannot write there ({error.strerror or error}); choose another file"
    return None


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder and
    ``os.replace``, so that ``path`` is either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _registry(paper_specs: list[str] | None, command: str) -> claims.Registry | None:
    """The installed papers plus those named by ``--paper MODULE:ATTR``; None (after printing
    why) when one of them cannot be loaded or two clash."""
    from pmtheory.papers import PaperError, load_paper

    try:
        registry = claims.Registry(claims.default_registry().papers)
        for spec in paper_specs or ():
            registry.add(load_paper(spec))
    except PaperError as error:
        print(f"pmtheory {command}: {error}", file=sys.stderr)
        return None
    return registry


def _table_width() -> int:
    if sys.stdout.isatty():
        return max(shutil.get_terminal_size().columns, 65)
    return _PIPED_TABLE_WIDTH


def _list_claims(arguments: argparse.Namespace) -> int:
    """``verify --list``: each selected claim's ID, kind, where and statement, one per line; no check runs."""
    for option in ("json", "markdown", "html", "mutants"):
        if getattr(arguments, option):
            print(f"pmtheory verify: --list runs no check, so --{option} has nothing to do; drop one of them",
                  file=sys.stderr)
            return _EXIT_USAGE
    registry = _registry(arguments.papers, "verify")
    if registry is None:
        return _EXIT_USAGE
    try:
        selected = claims.select_claim_ids(arguments.ids, registry.ids)
    except claims.UnknownClaimError as error:
        print(f"pmtheory verify: {error}", file=sys.stderr)
        return _EXIT_USAGE
    try:
        for claim_id in selected:
            info = registry.claim_info(claim_id)
            where = f", {info.where}" if info.where else ""
            print(f"{info.id} [{info.kind}{where}]: {info.statement}", flush=True)
    except BrokenPipeError:  # `pmtheory verify --list | head`: the reader has what it wanted
        # Python's recipe (docs of signal, "Note on SIGPIPE"): point stdout at devnull so the
        # interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return _EXIT_OK


def _report_figures(registry: claims.Registry, report: claims.Report, *, quick: bool):
    """Make the figures that illustrate the report's claims (or belong to their papers and name no
    claim) in a temporary folder, for ``--html``; return (figures, note, all made). Ctrl-C stops it,
    and the KeyboardInterrupt carries the figures made so far as ``figures``."""
    from pmtheory.report import ReportFigure

    ids = {outcome.id for outcome in report.claims}
    prefixes = {claim_id.split("-", 1)[0] for claim_id in ids}
    specs = [spec for _, spec in sorted(registry.figures().items())
             if ids.intersection(spec.claims) or (not spec.claims and spec.paper in prefixes)]
    made: list[ReportFigure] = []
    all_made = True
    with tempfile.TemporaryDirectory(prefix="pmtheory-figures-") as folder:
        for index, spec in enumerate(specs, 1):
            print(f"pmtheory verify: figure [{index}/{len(specs)}] {spec.name} ...", file=sys.stderr, flush=True)
            fields = {"name": spec.name, "title": spec.title, "claims": spec.claims, "paper": spec.paper}
            try:
                paths = [Path(path) for path in spec.make(Path(folder), quick=quick)]
                pngs = [path for path in paths if path.suffix == ".png"]
                if not pngs:
                    raise ValueError(f"the figure function wrote no PNG file (it wrote {[str(p) for p in paths]})")
                made += [ReportFigure(**{**fields, "name": path.stem}, png=path.read_bytes()) for path in pngs]
            except KeyboardInterrupt as interrupt:
                interrupt.figures = made
                raise
            except Exception as error:  # shown in the report in the figure's place; exit 1
                all_made = False
                print(f"pmtheory verify: figure {spec.name} failed: {type(error).__name__}: {error}", file=sys.stderr)
                made.append(ReportFigure(**fields, error=f"{type(error).__name__}: {error}"))
    mode = "quick" if quick else "full"
    note = (f"The {len(specs)} figures that illustrate the claims above, made by this run ({mode} mode) "
            "with the same library code as the checks." if specs else "No figure illustrates the claims above.")
    return made, note, all_made


def _run_verify(arguments: argparse.Namespace) -> int:
    if arguments.list:
        return _list_claims(arguments)
    outputs = [(option, path) for option, path in (("--json", arguments.json), ("--markdown", arguments.markdown),
                                                   ("--html", arguments.html)) if path is not None]
    for option, path in outputs:  # fail before the run, not after it
        problem = output_path_problem(path)
        if problem is not None:
            print(f"pmtheory verify: {option} {path}: {problem}", file=sys.stderr)
            return _EXIT_USAGE
    if arguments.no_figures and arguments.html is None:
        print("pmtheory verify: --no-figures applies to --html only; add --html FILE or drop it", file=sys.stderr)
        return _EXIT_USAGE

    # The BRG checks read their models from these variables (pmtheory.bridge.studies).
    for option, variable in (("model", "PMTHEORY_BRIDGE_MODEL"), ("reward_model", "PMTHEORY_BRIDGE_REWARD_MODEL"),
                             ("device", "PMTHEORY_BRIDGE_DEVICE"), ("dtype", "PMTHEORY_BRIDGE_DTYPE")):
        if getattr(arguments, option) is not None:
            os.environ[variable] = getattr(arguments, option)

    registry = _registry(arguments.papers, "verify")
    if registry is None:
        return _EXIT_USAGE
    progress = _ProgressLine(sys.stderr)

    def renderers(figures=(), note: str = "") -> dict:
        def html(report: claims.Report) -> str:
            return report_to_html(report, figures=figures, papers=registry.papers, figures_note=note)

        return {"--json": report_to_json_text, "--markdown": report_to_markdown, "--html": html}

    try:
        report = registry.run(arguments.ids, quick=arguments.quick, progress=progress, mutants=arguments.mutants)
    except claims.UnknownClaimError as error:
        print(f"pmtheory verify: {error}", file=sys.stderr)
        return _EXIT_USAGE
    except KeyboardInterrupt as interrupt:
        progress.finish()
        partial = getattr(interrupt, "partial_report", None)
        written = (_write_reports(partial, outputs, renderers(note="The run was interrupted; no figures were made."),
                                  quiet=True) if partial is not None else [])
        done = f"; wrote the {len(partial.claims)} finished claims to {', '.join(map(str, written))}" if written else ""
        print(f"pmtheory verify: interrupted{done}", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except Exception:  # a check module that fails to import: show why, count it as an error
        progress.finish()
        print("pmtheory verify: loading the claim checks failed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return _EXIT_CHECK_ERROR
    progress.finish()

    sys.stdout.write(report_to_table(report, width=_table_width()))
    sys.stdout.flush()
    status = _EXIT_CHECK_ERROR if report.has_errors else _EXIT_OK
    mutation = report.mutation()
    if mutation is not None:
        if mutation["survivors"]:
            print("pmtheory verify: these mutants or repairs were not killed (their checks cannot tell the "
                  f"statement from a wrong one): {'; '.join(mutation['survivors'])}", file=sys.stderr)
            status = _EXIT_CHECK_ERROR
        if mutation["claims_without"]:
            print(f"pmtheory verify: note: no mutant or repair registered for {', '.join(mutation['claims_without'])}",
                  file=sys.stderr)
    figures, note = [], "Figures were not made (--no-figures)."
    if arguments.html is not None and not arguments.no_figures:
        try:
            figures, note, all_made = _report_figures(registry, report, quick=arguments.quick)
        except KeyboardInterrupt as interrupt:
            made = getattr(interrupt, "figures", [])
            note = f"The run was interrupted while making the figures; {len(made)} were made."
            written = _write_reports(report, outputs, renderers(made, note), quiet=True)
            print(f"pmtheory verify: interrupted while making the figures; wrote {', '.join(map(str, written))}"
                  if written else "pmtheory verify: interrupted", file=sys.stderr)
            return _EXIT_INTERRUPTED
        if not all_made:
            status = _EXIT_CHECK_ERROR
    if len(_write_reports(report, outputs, renderers(figures, note))) < len(outputs):
        status = _EXIT_CHECK_ERROR
    return status


def _write_reports(report: claims.Report, outputs, renderers, *, quiet: bool = False) -> list[Path]:
    """Write ``report`` to each (option, path); the paths written (a failure is printed)."""
    written = []
    for option, path in outputs:
        try:
            write_text_atomically(path, renderers[option](report))
        except OSError as error:
            print(f"pmtheory verify: cannot write {option} {path}: {error}", file=sys.stderr)
        else:
            written.append(path)
            if not quiet:
                print(f"pmtheory verify: wrote {path}", file=sys.stderr)
    return written


def _add_paper_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--paper",
        action="append",
        dest="papers",
        metavar="MODULE:ATTR",
        help="also load the paper ATTR of the importable module MODULE (the current folder is on the path), "
             "e.g. toy_paper:PAPER; repeatable. Installed papers (entry points 'pmtheory.papers') are always loaded",
    )


def _setup_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ids",
        nargs="*",
        metavar="ID",
        help="claim IDs or globs such as 'PMR-*' (case-sensitive; quote globs); default: every claim",
    )
    _add_paper_option(parser)
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report to FILE")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the markdown report to FILE")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="write one self-contained HTML page to FILE: provenance, the verdict table (filterable by "
                             "paper and verdict), every claim's full record, and the figures that illustrate the "
                             "claims, made by this run and embedded")
    parser.add_argument("--no-figures", action="store_true", help="with --html: make and embed no figure")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer random instances per check (the same kinds of check)",
    )
    parser.add_argument(
        "--mutants",
        action="store_true",
        help="also rerun each check on its mutants (nearby false statements, which must come out refuted) "
             "and repairs (corrected statements of refuted claims, which must hold); a survivor exits 1",
    )
    parser.add_argument("--list", action="store_true",
                        help="list the selected claims (ID, kind, where, statement) and exit; no check runs")
    bridge = parser.add_argument_group("bridge (BRG-*) options; default: tiny OPT and Llama built locally, on cpu")
    bridge.add_argument("--model", metavar="PATH", help="run the BRG checks on this causal LM (directory or hub id)")
    bridge.add_argument("--reward-model", metavar="PATH", help="sequence-classification reward model for --model")
    bridge.add_argument("--device", help="cpu, cuda, cuda:N, mps or auto for --model")
    bridge.add_argument("--dtype", help="float32, float64, bfloat16, float16 or auto for --model")
    parser.set_defaults(run=_run_verify)


# ---------------------------------------------------------------------------------------
# show
# ---------------------------------------------------------------------------------------


def _run_show(arguments: argparse.Namespace) -> int:
    registry = _registry(arguments.papers, "show")
    if registry is None:
        return _EXIT_USAGE
    try:
        paper = registry.paper_of(arguments.id)
    except ValueError as error:  # the message suggests the nearest IDs
        print(f"pmtheory show: {error}; 'pmtheory verify --list' lists every ID", file=sys.stderr)
        return _EXIT_USAGE
    try:
        report = registry.run([arguments.id], quick=arguments.quick)
    except KeyboardInterrupt:
        print("pmtheory show: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except Exception:  # a check module that fails to import: show why, count it as an error
        print("pmtheory show: loading the claim checks failed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return _EXIT_CHECK_ERROR
    outcome = report.outcome(arguments.id)
    sys.stdout.write(claim_record_text(outcome, title=paper.title, citation=paper.citation))
    sys.stdout.flush()
    return _EXIT_CHECK_ERROR if report.has_errors else _EXIT_OK


def _setup_show(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="one claim ID, e.g. PMR-T3 (pmtheory verify --list lists them)")
    _add_paper_option(parser)
    parser.add_argument("--quick", action="store_true", help="fewer random instances (the same kind of check)")
    parser.set_defaults(run=_run_show)


# ---------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------


def _run_bench(bench_arguments: list[str]) -> int:
    try:
        from pmtheory import bench
    except ModuleNotFoundError as error:
        if error.name != "pmtheory.bench":
            raise
        print("pmtheory bench: pmtheory.bench is not available in this installation", file=sys.stderr)
        return _EXIT_CHECK_ERROR
    try:
        return int(bench.main(list(bench_arguments)))
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback (the report is written only at the end)
        print("pmtheory bench: interrupted; no report written", file=sys.stderr)
        return _EXIT_INTERRUPTED


def _setup_bench(parser: argparse.ArgumentParser) -> None:
    # Only for the listing in ``pmtheory --help``: main() hands everything after ``bench`` to
    # pmtheory.bench.main before argparse sees it (``pmtheory bench --help`` shows bench's help).
    parser.add_argument("bench_arguments", nargs=argparse.REMAINDER, help="options of pmtheory.bench")
    parser.set_defaults(run=lambda arguments: _run_bench(arguments.bench_arguments))


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------


def _run_figures(arguments: argparse.Namespace) -> int:
    from pmtheory import figures
    from pmtheory.papers import PaperError

    registry = _registry(arguments.papers, "figures")
    if registry is None:
        return _EXIT_USAGE
    if arguments.list:
        for name in figures.figure_names(registry):
            spec = figures.figure_spec(name, registry)
            claims_text = f" [{', '.join(spec.claims)}]" if spec.claims else ""
            print(f"{name}: {spec.title}{claims_text}")
        return _EXIT_OK
    try:
        chosen = figures.select_figures(arguments.names, registry)
    except PaperError as error:
        print(f"pmtheory figures: {error}", file=sys.stderr)
        return _EXIT_CHECK_ERROR
    except ValueError as error:
        print(f"pmtheory figures: {error}", file=sys.stderr)
        return _EXIT_USAGE
    if not chosen:
        print("pmtheory figures: no figures are registered", file=sys.stderr)
        return _EXIT_CHECK_ERROR

    started = [0]

    def progress(index: int, total: int, name: str) -> None:
        started[0] = index
        print(f"[{index:>{len(str(total))}}/{total}] {name} ...", file=sys.stderr, flush=True)

    try:
        written = figures.make_figures(arguments.out, chosen, quick=arguments.quick, progress=progress,
                                       registry=registry)
    except OSError as error:
        print(f"pmtheory figures: cannot write under {arguments.out}: {error}", file=sys.stderr)
        return _EXIT_CHECK_ERROR
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback; the finished figures stay on disk
        finished = max(started[0] - 1, 0)
        print(f"pmtheory figures: interrupted; {finished} of {len(chosen)} figures finished under {arguments.out}",
              file=sys.stderr)
        return _EXIT_INTERRUPTED
    for paths in written.values():
        for path in paths:
            print(path)
    return _EXIT_OK


def _setup_figures(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="figure names or globs (default: every figure)")
    _add_paper_option(parser)
    parser.add_argument("--out", type=Path, default=Path("figures/out"), metavar="DIR",
                        help="directory for the PNG and PDF files (default: figures/out)")
    parser.add_argument("--quick", action="store_true", help="fewer points and seeds (the same computation)")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.set_defaults(run=_run_figures)


# ---------------------------------------------------------------------------------------
# bridge
# ---------------------------------------------------------------------------------------


def _run_bridge(bridge_arguments: list[str]) -> int:
    try:
        from pmtheory.bridge import cli as bridge_cli
    except ModuleNotFoundError as error:
        if error.name not in ("torch", "transformers"):
            raise
        print(f"pmtheory bridge: needs the bridge extra ({error.name} is missing): "
              "python -m pip install -e \".[bridge]\"", file=sys.stderr)
        return _EXIT_CHECK_ERROR
    return int(bridge_cli.main(list(bridge_arguments)))


def _setup_bridge(parser: argparse.ArgumentParser) -> None:
    # Listing only: main() hands everything after ``bridge`` to pmtheory.bridge.cli.main.
    parser.add_argument("bridge_arguments", nargs=argparse.REMAINDER, help="options of pmtheory bridge")
    parser.set_defaults(run=lambda arguments: _run_bridge(arguments.bridge_arguments))


# ---------------------------------------------------------------------------------------
# The subcommand table and the entry point
# ---------------------------------------------------------------------------------------

# name -> subcommand.
SUBCOMMANDS: dict[str, Subcommand] = {
    "verify": Subcommand(help="run the claim checks and report a verdict per claim", setup=_setup_verify),
    "show": Subcommand(help="run one claim's check and print its full record: paper, statement, verdict, evidence",
                       setup=_setup_show),
    "bench": Subcommand(
        help="benchmark the exact solvers (options: pmtheory bench --help)",
        setup=_setup_bench,
        passthrough=_run_bench,
    ),
    "figures": Subcommand(help="make the papers' figures (PNG and PDF) from the checks' code", setup=_setup_figures),
    "bridge": Subcommand(
        help="run the checks on a causal LM's logits (options: pmtheory bridge --help)",
        setup=_setup_bridge,
        passthrough=_run_bridge,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pmtheory``, with one subparser per entry of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="pmtheory",
        description="Check the theory of RLHF papers by computation and print a verdict per claim.",
    )
    parser.add_argument("--version", action="version", version=f"pmtheory {claims.pmtheory_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, subcommand in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(
            name,
            help=subcommand.help,
            description=subcommand.help,
            add_help=subcommand.passthrough is None,  # a passthrough command's --help is its own
        )
        subcommand.setup(subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``pmtheory`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Returns:
      0: no check errored; 1: a check errored or a report could not be written; 2: usage
      error (argparse's status for bad options, or a claim pattern that matches nothing).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS and SUBCOMMANDS[argv[0]].passthrough is not None:
        return SUBCOMMANDS[argv[0]].passthrough(argv[1:])
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, --version, or a usage error argparse printed
        code = exit_request.code
        return code if isinstance(code, int) else (_EXIT_OK if code is None else _EXIT_USAGE)
    return int(arguments.run(arguments))
