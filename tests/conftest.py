"""Shared fixtures. The hypothesis profiles come from pmtheory's pytest plugin
(pmtheory/pytest_plugin.py, installed with the package): ``ci`` by default (derandomized, no
deadline); ``--pmtheory-profile fuzz`` or HYPOTHESIS_PROFILE=fuzz for many more examples with
random seeds."""

import pytest


@pytest.fixture
def isolated_registry():
    """A registry of fresh copies of the installed papers: their catalogues, no checks yet."""
    from pmtheory.claims import Registry, default_registry
    from pmtheory.papers import Paper

    return Registry([Paper(paper.prefix, paper.title, paper.citation, paper.claims)
                     for paper in default_registry().papers])


@pytest.fixture(scope="session")
def quick_outcomes():
    """``quick_outcomes(ids) -> {id: ClaimOutcome}``: each claim's ``--quick --mutants`` check,
    run once per test session however many test modules (verdict pins, the docs check, the
    mutation check) ask for it."""
    from pmtheory.claims import default_registry

    cache = {}

    def outcomes(ids):
        missing = [claim_id for claim_id in ids if claim_id not in cache]
        if missing:
            for outcome in default_registry().run(missing, quick=True, mutants=True).claims:
                cache[outcome.id] = outcome
        return {claim_id: cache[claim_id] for claim_id in ids}

    return outcomes


@pytest.fixture(scope="session")
def every_figure_quick(tmp_path_factory):
    """Every registered figure made once per test session at quick=True (about 45 s of CPU, the
    bridge's tiny torch models included): ``(paths by figure name, lint problems by file stem)``,
    each figure linted (pmtheory.figures.lint_figure) as save_figure writes it."""
    from pmtheory import figures

    problems: dict[str, list[str]] = {}
    with figures.inspect_saved_figures(lambda fig, stem: problems.setdefault(stem, figures.lint_figure(fig))):
        written = figures.make_figures(tmp_path_factory.mktemp("figures"), quick=True)
    return written, problems


@pytest.fixture(scope="module")
def single_torch_thread():
    """torch on one CPU thread for a bridge test module (the tiny models gain nothing from
    more, and tests running side by side on 2 cores lose a lot)."""
    from pmtheory.bridge.tiny import single_thread

    with single_thread():
        yield


@pytest.fixture(scope="session")
def tiny():
    """Paths of the tiny OPT, Llama and reward models (built once per process, no download)."""
    from pmtheory.bridge.tiny import tiny_model_paths

    return tiny_model_paths()
