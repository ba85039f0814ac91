"""Where a run's verdicts came from: the provenance recorded on every :class:`~pmtheory.claims.Report`.

A verdict is reproducible only with what produced it: quick or full run, the pmtheory version
and git commit, the versions of the numerical libraries, the platform, and when and for how
long it ran. :func:`run_provenance` collects these once per run; the registry's run stores
the result as ``Report.provenance`` and the JSON and markdown reports print it.

Nothing here fails a run: a library that is not installed is recorded as None, and the git
commit is left out when pmtheory is not run from a git checkout or git is not installed.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["LIBRARIES", "SEEDS", "git_commit", "library_versions", "run_provenance"]

# The libraries whose versions can change a verdict: the numerics (numpy, scipy, mpmath), the
# symbolic and convex solvers (sympy, cvxpy with clarabel and scs), the property search
# (hypothesis) and the bridge (torch, transformers; None when the bridge extra is not installed).
LIBRARIES = ("numpy", "scipy", "sympy", "mpmath", "cvxpy", "clarabel", "scs", "hypothesis", "torch", "transformers")

# How the checks are seeded: every random draw of a check uses a seed fixed in its code
# (numpy generators, and pmtheory.testing.property_search, which derandomizes hypothesis and
# uses no example database), so neither the time nor the hypothesis profile changes a verdict.
SEEDS = ("fixed in each check's code: numpy generators are seeded, and property searches "
         "(pmtheory.testing.property_search) are derandomized with an explicit seed and no example database")

# Seconds a git call may take before the commit is left out (a hung network file system,
# a huge repository): provenance must never stall a run.
_GIT_TIMEOUT_S = 5.0


def library_versions() -> dict[str, str | None]:
    """The installed version of each of :data:`LIBRARIES` and of Python, read from the package
    metadata (``importlib.metadata``), so torch is never imported for this; None when not installed."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(folder: Path, *arguments: str) -> str | None:
    try:
        done = subprocess.run(["git", *arguments], cwd=folder, capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):  # git not installed, folder gone, timeout
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(folder: Path | str | None = None) -> dict | None:
    """The git commit of the checkout pmtheory runs from, or None.

    Args:
      folder: the folder whose checkout to read (default: the pmtheory package's own folder).

    Returns:
      ``{"commit": 40-hex str, "dirty": bool}`` (dirty: tracked files differ from the commit)
      when ``folder`` is in a git work tree and its ``__init__.py`` (or, for another folder,
      the folder itself) is tracked there, so an install inside some unrelated repository
      (a virtual environment in a project's tree) is not given that repository's commit;
      None otherwise, and when git is missing or fails.
    """
    folder = Path(__file__).resolve().parent.parent if folder is None else Path(folder)
    if not folder.is_dir():
        return None
    tracked = "__init__.py" if (folder / "__init__.py").is_file() else "."
    if _git(folder, "ls-files", "--error-unmatch", "--", tracked) is None:
        return None
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def _hypothesis_profile() -> str | None:
    """The hypothesis profile loaded in this process (recorded only: property searches set their own settings)."""
    hypothesis = sys.modules.get("hypothesis")
    if hypothesis is None:
        return None
    return getattr(hypothesis.settings, "_current_profile", None)


def run_provenance(*, quick: bool, mutants: bool, started: datetime.datetime, seconds: float,
                   pmtheory_version: str) -> dict:
    """The provenance of one run, as JSON data.

    Args:
      quick: whether the run was quick (fewer random instances per check).
      mutants: whether mutants and repairs were run.
      started: when the run started (timezone-aware).
      seconds: the run's wall-clock time.
      pmtheory_version: the version that ran.

    Returns:
      ``{"mode": "quick" | "full", "mutants": bool, "pmtheory_version": str,
      "git": {"commit", "dirty"} (only when run from a checkout), "hypothesis_profile": str | None,
      "seeds": str, "versions": {"python", "numpy", ...: str | None}, "platform": str,
      "started_utc": ISO 8601 str, "seconds": float}``.
    """
    if started.tzinfo is None:
        raise ValueError(f"started must be timezone-aware (e.g. datetime.now(timezone.utc)), got {started!r}")
    provenance: dict = {"mode": "quick" if quick else "full", "mutants": bool(mutants),
                        "pmtheory_version": pmtheory_version}
    commit = git_commit()
    if commit is not None:
        provenance["git"] = commit
    provenance.update({
        "hypothesis_profile": _hypothesis_profile(),
        "seeds": SEEDS,
        "versions": library_versions(),
        "platform": platform.platform(),
        "started_utc": started.astimezone(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": float(seconds),
    })
    return provenance
