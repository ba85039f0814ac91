"""pmtheory.pytest_plugin: the `ci` and `fuzz` profiles, how one is chosen, and the README example.

The inner pytest sessions load the plugin as a user's suite does, through the installed
``pytest11`` entry point. Most run in this process (a fresh process costs seconds, most of
it importing pmtheory): hypothesis's profiles are process-wide, so the fixture
``isolated_profiles`` puts them back afterwards. The tests that depend on a fresh process
(the plugin registering its profiles before any conftest.py is imported, the README example
as a user runs it) use ``runpytest_subprocess``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[1] / "README.md"
PLUGIN = Path(__file__).resolve().parents[1] / "pmtheory" / "pytest_plugin.py"

# An inner test that records the settings of the profile its session runs under.
PROBE = """
import json

from hypothesis import HealthCheck, settings


def test_probe():
    current = settings.default
    record = {{
        "name": settings.get_current_profile_name(),
        "max_examples": current.max_examples,
        "derandomize": current.derandomize,
        "deadline": None if current.deadline is None else current.deadline.total_seconds(),
        "print_blob": current.print_blob,
        "too_slow_suppressed": HealthCheck.too_slow in current.suppress_health_check,
    }}
    with open({out!r}, "w") as handle:
        json.dump(record, handle)
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """The inner sessions inherit os.environ: no profile chosen, plugins autoloaded."""
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)


@pytest.fixture(autouse=True)
def isolated_profiles():
    """Hypothesis's registered profiles and the active one as they were before the test (an
    inner session in this process loads `fuzz`, or registers its own `ci`). Uses hypothesis's
    private registry ``settings._profiles``; the in-process tests need it."""
    registered = dict(settings._profiles)
    active = settings.get_current_profile_name()
    settings.load_profile("default")  # an inner session starts as a fresh process does
    yield
    settings._profiles.clear()
    settings._profiles.update(registered)
    settings.load_profile(active)


def _probe(pytester, *args, conftest: str | None = None, ini: str | None = None, fresh_process: bool = False):
    """Run the probe in an inner pytest session; return (its record, the RunResult)."""
    out = pytester.path / "profile.json"
    pytester.makepyfile(test_probe=PROBE.format(out=str(out)))
    if conftest is not None:
        pytester.makeconftest(conftest)
    if ini is not None:
        pytester.makeini(f"[pytest]\npmtheory_profile = {ini}\n")
    run = pytester.runpytest_subprocess if fresh_process else pytester.runpytest_inprocess
    result = run("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    return json.loads(out.read_text()), result


def test_entry_point_is_installed():
    """Catches: the [project.entry-points.pytest11] section missing, or not reinstalled."""
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "pmtheory"]
    assert [ep.value for ep in found] == ["pmtheory.pytest_plugin"]


def test_plugin_module_imports_only_pytest_and_hypothesis():
    """The plugin loads in every pytest session of the environment: it must stay light.
    Loaded by file path, so pmtheory/__init__.py (which imports numpy, scipy, sympy, cvxpy) is
    not counted; catches a module-level import of pmtheory or of the numerics stack."""
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('_probe_plugin', {str(PLUGIN)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert {"pytest", "hypothesis"} <= loaded
    assert not loaded & {"pmtheory", "numpy", "scipy", "sympy", "cvxpy", "torch"}


def test_this_suite_runs_under_the_plugin(request):
    """tests/conftest.py no longer registers profiles: the plugin must be what gives this suite
    its `ci` profile (a stale install without the entry point would run hypothesis's default)."""
    assert request.config.pluginmanager.has_plugin("pmtheory")
    ci = settings.get_profile("ci")
    assert (ci.derandomize, ci.deadline, ci.max_examples, ci.print_blob) == (True, None, 60, True)
    assert HealthCheck.too_slow in ci.suppress_health_check


def test_ci_is_the_default_with_its_settings(pytester):
    record, result = _probe(pytester, fresh_process=True)  # end to end, as in a user's suite
    assert record == {"name": "ci", "max_examples": 60, "derandomize": True, "deadline": None,
                      "print_blob": True, "too_slow_suppressed": True}
    result.stdout.fnmatch_lines(["pmtheory: hypothesis profile 'ci' (the default of pmtheory's plugin);"
                                 " max_examples=60, derandomize=True"])


def test_fuzz_profile_settings_from_the_environment(pytester, monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "fuzz")  # the CI fuzz job and the docs use it
    record, result = _probe(pytester)
    assert record == {"name": "fuzz", "max_examples": 2000, "derandomize": False, "deadline": None,
                      "print_blob": True, "too_slow_suppressed": True}
    result.stdout.fnmatch_lines(["pmtheory: hypothesis profile 'fuzz' (from the HYPOTHESIS_PROFILE environment"
                                 " variable); max_examples=2000, derandomize=False"])


# (command line, ini, HYPOTHESIS_PROFILE) -> the profile loaded: command line > ini > env > ci.
# Three distinct names per row, so that the row fails whichever source a wrong order picks.
PRECEDENCE = [
    (None, "fuzz", "default", "fuzz", "the pmtheory_profile ini option"),
    ("default", "fuzz", None, "default", "--pmtheory-profile"),  # hypothesis's own profile, by name
    ("fuzz", None, "default", "fuzz", "--pmtheory-profile"),
    ("fuzz", "default", "ci", "fuzz", "--pmtheory-profile"),
]


@pytest.mark.parametrize(("cli", "ini", "env", "expected", "source"), PRECEDENCE)
def test_precedence(pytester, monkeypatch, cli, ini, env, expected, source):
    if env is not None:
        monkeypatch.setenv("HYPOTHESIS_PROFILE", env)
    args = ("--pmtheory-profile", cli) if cli is not None else ()
    record, result = _probe(pytester, *args, ini=ini)
    assert record["name"] == expected
    # The settings, not only the name: 2000 / 60 / hypothesis's default of 100.
    assert record["max_examples"] == {"fuzz": 2000, "ci": 60, "default": 100}[expected]
    result.stdout.fnmatch_lines([f"pmtheory: hypothesis profile '{expected}' (from {source});*"])


@pytest.mark.parametrize("where", ["cli", "ini", "env"])
def test_unknown_profile_is_a_usage_error(pytester, monkeypatch, where):
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    args = ["-p", "no:cacheprovider"]
    if where == "cli":
        args += ["--pmtheory-profile", "nope"]
        source = "--pmtheory-profile"
    elif where == "ini":
        pytester.makeini("[pytest]\npmtheory_profile = nope\n")
        source = "the pmtheory_profile ini option"
    else:
        monkeypatch.setenv("HYPOTHESIS_PROFILE", "nope")
        source = "the HYPOTHESIS_PROFILE environment variable"
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {source} asks for the hypothesis profile 'nope', which is not "
                                 "registered; registered profiles: ci, default, fuzz*"])


def test_help_works_whatever_the_environment_says(pytester, monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "nope")
    result = pytester.runpytest_inprocess("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*--pmtheory-profile=NAME*", "*pmtheory_profile (string)*"])


MINE = """
from hypothesis import settings

settings.register_profile("mine", max_examples=7)
"""


def test_a_profile_loaded_by_conftest_is_kept(pytester):
    record, result = _probe(pytester, conftest=MINE + 'settings.load_profile("mine")\n')
    assert (record["name"], record["max_examples"]) == ("mine", 7)
    result.stdout.fnmatch_lines(["pmtheory: hypothesis profile 'mine' (loaded before pytest configured,*kept)*"])


def test_an_explicit_choice_replaces_a_profile_loaded_by_conftest(pytester):
    record, _ = _probe(pytester, "--pmtheory-profile", "fuzz", conftest=MINE + 'settings.load_profile("mine")\n')
    assert (record["name"], record["max_examples"]) == ("fuzz", 2000)


def test_a_profile_registered_by_conftest_can_be_chosen(pytester):
    record, _ = _probe(pytester, "--pmtheory-profile", "mine", conftest=MINE)
    assert (record["name"], record["max_examples"]) == ("mine", 7)


def test_conftest_redefining_ci_wins(pytester):
    """The plugin registers at import, before conftest.py: a user's own `ci` replaces it (a
    fresh process, where the plugin module is imported anew)."""
    record, _ = _probe(pytester, fresh_process=True, conftest='from hypothesis import settings\n'
                                          'settings.register_profile("ci", max_examples=5)\n')
    assert (record["name"], record["max_examples"]) == ("ci", 5)


def test_hypothesis_profile_option_is_applied_after_the_plugin(pytester):
    record, result = _probe(pytester, "--hypothesis-profile", "mine", conftest=MINE)
    assert (record["name"], record["max_examples"]) == ("mine", 7)
    result.stdout.fnmatch_lines(["pmtheory: hypothesis profile 'mine' (pmtheory's plugin loaded 'ci'*"
                                 "then hypothesis's own options replaced it)*"])


def test_disabled_plugin_leaves_hypothesis_alone(pytester):
    """With -p no:pmtheory hypothesis's own settings apply (100 examples; its "default"
    profile, or its built-in "ci" on a CI service): the profiles come from the plugin alone."""
    record, result = _probe(pytester, "-p", "no:pmtheory", fresh_process=True)
    assert record["max_examples"] == 100 and record["name"] in ("default", "ci")
    assert "pmtheory: hypothesis profile" not in result.stdout.str()


# ---------------------------------------------------------------------------------------------
# The README's example, run as the user would run it.

HEADING = "## Write your own property test"


def _readme_example() -> str:
    """The first ```python block of the section under HEADING (up to the next heading of
    level 1 or 2 outside a code block: a `# comment` inside the block is not a heading)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    if HEADING not in lines:
        pytest.fail(f"README.md has no {HEADING!r} section (a line of its own)", pytrace=False)
    block, fence = None, None  # the python block's lines; the fence of the block we are in
    for line in lines[lines.index(HEADING) + 1:]:
        if fence is None and re.match(r"#{1,2} ", line):
            break
        if fence is None and line.startswith("```"):
            fence = line.strip()
            if fence == "```python" and block is None:
                block = []
            continue
        if fence is not None and line.strip() == "```":
            if fence == "```python" and block is not None:
                break
            fence = None
            continue
        if fence == "```python" and block is not None:
            block.append(line)
    assert block, f"the {HEADING!r} section of README.md has no ```python block"
    return "\n".join(block) + "\n"


def test_readme_example_passes(pytester):
    pytester.makepyfile(test_my_regularizer=_readme_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def test_readme_example_catches_a_wrong_regularizer(pytester):
    """The example's check has teeth: with β halved in the hand-written regularizer (the
    optimum of Σπr − (β/2)·KL, not of Σπr − β·KL) it must fail."""
    source = _readme_example()
    assert source.count('"-beta*log(pi/q)"') == 1, "the example no longer writes R as \"-beta*log(pi/q)\""
    pytester.makepyfile(test_my_regularizer=source.replace('"-beta*log(pi/q)"', '"-beta*log(pi/q)/2"'))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Not equal to tolerance rtol=0, atol=1e-10*"])
