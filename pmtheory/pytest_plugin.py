"""pmtheory's pytest plugin: the ``ci`` and ``fuzz`` hypothesis profiles, and the option that picks one.

Installing pmtheory registers this module with pytest (entry point group ``pytest11``, name
``pmtheory``), so every pytest session in that environment gets:

==========  ========================================================================
profile     settings
==========  ========================================================================
``ci``      derandomize=True (the same examples on every run), deadline=None,
            max_examples=60, print_blob=True, HealthCheck.too_slow suppressed
``fuzz``    derandomize=False, deadline=None, max_examples=2000 (random seeds: new examples
            each run, also on a CI service),
            print_blob=True, HealthCheck.too_slow suppressed
==========  ========================================================================

Which profile is loaded (the first of these that is set wins):

1. ``pytest --pmtheory-profile NAME``;
2. ``pmtheory_profile = NAME`` in the ini file (``[pytest]`` in pytest.ini, or
   ``[tool.pytest.ini_options]`` in pyproject.toml);
3. the environment variable ``HYPOTHESIS_PROFILE=NAME``;
4. ``ci``.

``NAME`` may be any registered hypothesis profile: ``ci``, ``fuzz``, hypothesis's own
``default``, or one your conftest.py registers. An unknown name is a usage error (exit
code 4) that names where it came from and the profiles there are. The pytest header shows
the active profile and why (``pmtheory: hypothesis profile 'ci' (default of pmtheory's
plugin) ...``).

Decision: a profile that something else loaded is kept unless you ask. The fallback 4
applies only while hypothesis's own ``default`` profile (or ``ci``) is active when pytest
configures, so a conftest.py that calls ``settings.load_profile("mine")`` at import keeps
"mine". Choices 1 to 3 are requests and are loaded whatever was active. Hypothesis's own
``--hypothesis-profile`` is applied by hypothesis's plugin after this one, so it wins over
all four.

Your own definitions win too: the two profiles are registered when pytest imports this
plugin, before any conftest.py, so a conftest that registers its own ``ci`` or ``fuzz``
replaces them. Note that registering ``ci`` replaces hypothesis's built-in ``ci`` profile
(the one hypothesis loads by itself on CI services) in every session of the environment.
To keep hypothesis's behaviour in a suite, set ``pmtheory_profile = default`` in its ini
file, or disable the plugin with ``-p no:pmtheory``.

The module imports only pytest and hypothesis, so it adds nothing heavy to a session.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

__all__ = ["DEFAULT_PROFILE", "PROFILE_ENV_VAR", "register_profiles"]

# The profile loaded when nothing chooses one (see the module doc, choice 4).
DEFAULT_PROFILE = "ci"
# The environment variable read as choice 3 (CI jobs and the docs use HYPOTHESIS_PROFILE=fuzz).
PROFILE_ENV_VAR = "HYPOTHESIS_PROFILE"

_CHOICE = pytest.StashKey[tuple[str, str]]()  # (profile loaded by the plugin, why)


def register_profiles() -> None:
    """Register the ``ci`` and ``fuzz`` hypothesis profiles (module doc), replacing any of
    those names registered before. For a suite that runs with the plugin disabled
    (``-p no:pmtheory``) but wants the profiles: call it from conftest.py, then
    ``settings.load_profile(...)``."""
    settings.register_profile(
        "ci",
        derandomize=True,
        deadline=None,
        max_examples=60,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "fuzz",
        # Explicit: under a CI=... environment hypothesis's own defaults derandomize, and fuzz must
        # draw new examples on every run wherever it runs.
        derandomize=False,
        deadline=None,
        max_examples=2000,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


# At import, which pytest does before it imports any conftest.py (see the module doc).
register_profiles()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pmtheory", "pmtheory property tests")
    group.addoption(
        "--pmtheory-profile",
        action="store",
        dest="pmtheory_profile",
        default=None,
        metavar="NAME",
        help=f"hypothesis profile to load: ci (default; derandomized, 60 examples), fuzz (2000 random "
        f"examples), or any registered profile. Overrides the pmtheory_profile ini option and "
        f"{PROFILE_ENV_VAR}.",
    )
    parser.addini(
        "pmtheory_profile",
        help=f"hypothesis profile to load (ci, fuzz, ...); --pmtheory-profile overrides it, it overrides "
        f"{PROFILE_ENV_VAR}",
        type="string",
        default="",
    )


def _current_profile_name() -> str | None:
    """The name of hypothesis's active profile (None if this hypothesis cannot tell)."""
    try:
        return settings.get_current_profile_name()
    except AttributeError:  # pragma: no cover - hypothesis older than get_current_profile_name
        return getattr(settings, "_current_profile", None)


def _registered_profiles() -> list[str]:
    return sorted(getattr(settings, "_profiles", {"ci": None, "fuzz": None, "default": None}))


def _requested_profile(config: pytest.Config) -> tuple[str, str] | None:
    """(name, where it came from) of an explicit choice (module doc, 1 to 3), or None."""
    option = config.getoption("pmtheory_profile")
    if option:
        return option.strip(), "--pmtheory-profile"
    ini = str(config.getini("pmtheory_profile") or "").strip()
    if ini:
        return ini, "the pmtheory_profile ini option"
    env = os.environ.get(PROFILE_ENV_VAR, "").strip()
    if env:
        return env, f"the {PROFILE_ENV_VAR} environment variable"
    return None


@pytest.hookimpl(tryfirst=True)  # before hypothesis's plugin applies --hypothesis-profile on top
def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "help", False):
        return  # `pytest --help` must work whatever the environment says
    requested = _requested_profile(config)
    if requested is None:
        active = _current_profile_name()
        if active not in (None, "default", "ci"):
            config.stash[_CHOICE] = (active, "loaded before pytest configured, e.g. by a conftest.py; kept")
            return
        name, why = DEFAULT_PROFILE, "the default of pmtheory's plugin"
    else:
        name, source = requested
        why = f"from {source}"
        try:
            settings.get_profile(name)
        except InvalidArgument:  # not registered
            raise pytest.UsageError(
                f"{source} asks for the hypothesis profile {name!r}, which is not registered; registered "
                f"profiles: {', '.join(_registered_profiles())} (register your own with "
                f"hypothesis.settings.register_profile in conftest.py)"
            ) from None
    settings.load_profile(name)
    config.stash[_CHOICE] = (name, why)


def pytest_report_header(config: pytest.Config) -> str | None:
    choice = config.stash.get(_CHOICE, None)
    if choice is None:
        return None
    chosen, why = choice
    active = _current_profile_name()
    if active != chosen:
        why = f"pmtheory's plugin loaded {chosen!r} ({why}), then hypothesis's own options replaced it"
    current = settings.default
    return (f"pmtheory: hypothesis profile {active!r} ({why}); max_examples={current.max_examples}, "
            f"derandomize={current.derandomize}")
