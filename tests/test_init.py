"""The package's public names (pmtheory/__init__.py): every one resolves, and importing the
package stays light (names load on first use)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pmtheory


def test_every_public_name_resolves_to_its_module():
    for name in pmtheory.__all__:
        value = getattr(pmtheory, name)
        assert getattr(value, "__name__", name) == name or name.isupper(), name
    assert set(pmtheory.__all__) == set(pmtheory._EXPORTS)
    assert set(pmtheory.__all__) <= set(dir(pmtheory))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'pmtheory' has no attribute 'optimal_polciy'"):
        pmtheory.optimal_polciy  # noqa: B018


def test_importing_the_package_and_the_plugin_contract_is_light():
    code = ("import sys, pmtheory, pmtheory.papers, pmtheory.pytest_plugin; "
            "print(sorted(m for m in ('sympy', 'scipy', 'cvxpy', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_public_import_paths_of_issue_13_keep_working():
    from pmtheory import optimal_policy
    from pmtheory.bridge import sequence_log_probs
    from pmtheory.iia import population_reward_gap
    from pmtheory.mod import optimal_policy as mod_optimal_policy

    assert optimal_policy.__module__ == "pmtheory.solvers"
    assert mod_optimal_policy.__module__ == "pmtheory.mod.policy"
    assert population_reward_gap.__module__ == "pmtheory.iia.population"
    assert sequence_log_probs.__module__ == "pmtheory.bridge.logprobs"
