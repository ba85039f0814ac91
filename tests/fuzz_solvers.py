"""Fuzz the exact solvers: random and adversarial inputs, every answer re-certified independently.

Issue 14, section 1 ("Fuzz bar"). Each input goes to :func:`pmtheory.optimal_policy` (which
enforces its certificate, ``check=True``) with RuntimeWarnings turned into errors. An input
passes when the call either

- returns a :class:`pmtheory.Solution` that passes the independent re-check of
  :func:`recheck`: every array free of NaN, π finite and non-negative, log π consistent with
  π, and the KKT residual *recomputed* by the public :func:`pmtheory.kkt_residual` from the
  returned log π (its multiplier implied by the most probable response, not the solver's)
  within the documented tolerance; or
- raises ``ValueError`` (``SolverError`` is one) with a non-empty message.

A batched input (a tenth of them: 2 to 4 rows of rewards of the same K, one reference
broadcast over them) passes when each row of the answer passes the re-check on its own, or
when the call raises and so does at least one of its rows solved alone, with the same type.

Anything else (another exception type, a warning, an empty message, a NaN, a return that fails
the re-check) is a violation.

Inputs (:func:`draw_case`): K in {1, 2, 3, 5, 17, 200}; rewards in five classes (a common
log-uniform scale 1e-300..1e300, per-entry log-uniform magnitudes, a near-tie at a huge offset,
exact integer ties, all equal), sometimes with an exact ±1e300 entry; β log-uniform in
[1e-300, 1e300] with the end points themselves; references in five classes (none = uniform,
log-uniform entries down to 1e-300, float32 normalized in float32, log-references with an
entry near e^-690, float64 log-references); some inputs as torch CPU tensors when torch is
installed; every divergence of ``pmtheory.testing.SOLVER_DIVERGENCES`` plus extreme alphas;
batches of rows drawn as above.

    python tests/fuzz_solvers.py --n 100000 --seed 0

prints the count of each (divergence, outcome) and each input class's outcomes, lists the
violations with reproducers, and exits 1 on any violation. ``tests/test_fuzz.py`` runs the
same generator (10^4 inputs by default, 10^5 in the ``fuzz`` hypothesis profile). Not named
``test_*.py``, so pytest does not collect it.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np

import pmtheory
from pmtheory.divergences import get_divergence
from pmtheory.testing import SOLVER_DIVERGENCES

# The divergences fuzzed: the kit's table plus alphas near both ends of (0, 1). alpha:1e-07
# has sup f' = 1e7 (the largest the certificate's documentation mentions); alpha:0.99999999
# is within 1e-8 of forward KL (its symbolic layer rounded it to 1 before 2026-12-03).
EXTREME_ALPHAS = ("alpha:1e-07", "alpha:0.001", "alpha:0.999", "alpha:0.9999999", "alpha:0.99999999")
DIVERGENCES = tuple(SOLVER_DIVERGENCES) + EXTREME_ALPHAS

KS = (1, 2, 3, 5, 17, 200)
REWARD_CLASSES = ("common_scale", "entry_scales", "near_tie_offset", "integer_ties", "all_equal")
REFERENCE_CLASSES = ("uniform", "loguniform_q", "float32_q", "log_ref_deep", "log_ref")
BATCH_FRACTION, BATCH_ROWS = 0.1, (2, 4)  # a tenth of the inputs are batches of 2 to 4 rows

# The certificate optimal_policy documents (its docstring, `check`): a row is accepted when its
# KKT residual (which includes |Σπ − 1|) is within 1e-9 + 64·eps·(max|log π_ref| + |sup f'|).
# The re-check holds returned answers to exactly that; it is not loosened here.
DOCUMENTED_KKT = 1e-9
DOCUMENTED_LOG_FLOOR_ULPS = 64.0
EPS = float(np.finfo(np.float64).eps)
# log π against π: the solvers form log π = log q + log(π/q), each term rounded to eps of its
# own size, and exp turns an absolute error δ in log π into a relative one δ in π; so
# 4·eps·(1 + |log π| + |log q|) allows a few roundings of each (measured: 5.7e-14 relative at
# log π = -661; 2.5e-14 at log π = -19 with log q = -437, chi2). Below the normal range,
# where π is subnormal, an absolute 1e-300 covers its lost digits.
LOG_CONSISTENCY_ULPS = 4.0
LOG_CONSISTENCY_ATOL = 1e-300

try:  # optional: torch CPU tensors as inputs
    import torch
except ImportError:  # pragma: no cover - torch is an optional extra
    torch = None


@dataclass
class Case:
    """One fuzz input: optimal_policy(rewards, divergence=..., beta=..., **reference)."""

    index: int
    divergence: str
    rewards: np.ndarray  # float64, shape (K,), or (B, K) for a batch
    beta: float
    reference_kind: str  # "reference", "log_reference" or "none"
    reference: np.ndarray | None  # float64 or float32 (float32_q), shape (K,)
    reward_class: str
    reference_class: str
    as_torch: bool = False  # pass rewards and reference as torch CPU tensors
    tags: tuple = field(default_factory=tuple)

    @property
    def input_class(self) -> str:
        return f"{self.reward_class}/{self.reference_class}"

    @property
    def batched(self) -> bool:
        return self.rewards.ndim == 2

    def row(self, index: int) -> Case:
        """Row ``index`` of a batch as an input of its own (the reference is shared)."""
        return Case(self.index, self.divergence, self.rewards[index], self.beta, self.reference_kind,
                    self.reference, self.reward_class, self.reference_class, self.as_torch, self.tags)

    def kwargs(self) -> dict:
        if self.reference_kind == "none":
            return {}
        value = self.reference
        if self.as_torch and torch is not None:
            value = torch.from_numpy(np.array(value))
        return {self.reference_kind: value}

    def call_rewards(self):
        if self.as_torch and torch is not None:
            return torch.from_numpy(self.rewards.copy())
        return self.rewards

    def reproducer(self) -> str:
        ref = "" if self.reference_kind == "none" else (
            f", {self.reference_kind}=np.array({self.reference.tolist()!r}, dtype=np.{self.reference.dtype})")
        return (f"optimal_policy(np.array({self.rewards.tolist()!r}){ref}, divergence={self.divergence!r}, "
                f"beta={self.beta!r})" + ("  # as torch tensors" if self.as_torch else ""))


def _log_uniform(rng, low, high, size=None):
    return 10.0 ** rng.uniform(low, high, size)


def _draw_rewards(rng, k):
    kind = REWARD_CLASSES[rng.integers(len(REWARD_CLASSES))]
    if kind == "common_scale":
        r = rng.standard_normal(k) * _log_uniform(rng, -300, 300)
    elif kind == "entry_scales":  # per-entry log-uniform magnitudes, random signs
        r = rng.choice([-1.0, 1.0], k) * _log_uniform(rng, -300, 300, k)
    elif kind == "near_tie_offset":  # a near-tie at a huge offset
        r = _log_uniform(rng, 0, 300) * rng.choice([-1.0, 1.0]) + rng.standard_normal(k) * _log_uniform(rng, -20, 5)
    elif kind == "integer_ties":  # exact ties at a common scale
        r = rng.integers(-3, 3, k).astype(float) * _log_uniform(rng, -300, 300)
    else:  # all equal
        r = np.full(k, rng.standard_normal() * _log_uniform(rng, -300, 300))
    if rng.random() < 0.05:  # an exact extreme entry (the spread can then overflow float64)
        r[rng.integers(k)] = rng.choice([-1e300, 1e300])
    return kind, np.asarray(r, dtype=np.float64)


def _draw_beta(rng):
    u = rng.random()
    if u < 0.03:
        return 1e-300
    if u < 0.06:
        return 1e300
    if u < 0.09:
        return 1.0
    return float(_log_uniform(rng, -300, 300))


def _draw_reference(rng, k):
    kind = REFERENCE_CLASSES[rng.integers(len(REFERENCE_CLASSES))]
    if kind == "uniform":
        return kind, "none", None
    if kind == "loguniform_q":  # entries down to 1e-300, normalized in float64
        q = _log_uniform(rng, -300, 0, k)
        if rng.random() < 0.2:
            q[rng.integers(k)] = 1e-300
        return kind, "reference", q / q.sum()
    if kind == "float32_q":  # normalized in float32 (as torch.softmax output is)
        q = _log_uniform(rng, -37, 0, k).astype(np.float32)
        q = q / q.sum(dtype=np.float32)
        return kind, "reference", q.astype(np.float32)
    logq = rng.standard_normal(k) * _log_uniform(rng, 0, 3)
    if kind == "log_ref_deep":  # one entry near e^-690 (and below) relative to the rest
        logq[rng.integers(k)] -= rng.uniform(680, 800)
    return kind, "log_reference", logq - np.logaddexp.reduce(logq)


def draw_case(rng, index: int) -> Case:
    """The next fuzz input from ``rng`` (a numpy Generator); the draws do not depend on
    whether torch is installed."""
    k = int(KS[rng.integers(len(KS))])
    reward_class, rewards = _draw_rewards(rng, k)
    beta = _draw_beta(rng)
    reference_class, reference_kind, reference = _draw_reference(rng, k)
    divergence = DIVERGENCES[rng.integers(len(DIVERGENCES))]
    as_torch = bool(rng.random() < 0.05)
    if rng.random() < BATCH_FRACTION:  # rows of independently drawn reward classes, one reference
        rows = int(rng.integers(BATCH_ROWS[0], BATCH_ROWS[1] + 1))
        rewards = np.stack([rewards] + [_draw_rewards(rng, k)[1] for _ in range(rows - 1)])
        reward_class, as_torch = "batch", False
    return Case(index, divergence, rewards, beta, reference_kind, reference, reward_class, reference_class,
                as_torch=as_torch)


def cases(n: int, seed: int):
    """The first ``n`` fuzz inputs of ``seed`` (a generator of :class:`Case`)."""
    rng = np.random.default_rng(seed)
    for index in range(n):
        yield draw_case(rng, index)


def log_reference_of(case: Case) -> np.ndarray:
    """log π_ref in float64, shape (K,), as the solvers form it (a float32 reference is
    renormalized in float64)."""
    k = case.rewards.shape[-1]
    if case.reference_kind == "none":
        return np.full(k, -np.log(k))
    if case.reference_kind == "reference":
        q = case.reference.astype(np.float64)
        return np.log(q / q.sum())
    return case.reference


def documented_tolerance(case: Case) -> float:
    """1e-9 + 64·eps·(max|log π_ref| + |sup f'|), from the input itself (module doc)."""
    log_q = log_reference_of(case)
    sup = get_divergence(case.divergence).sup_f_prime
    floor = float(np.max(np.abs(log_q))) + (abs(sup) if np.isfinite(sup) else 0.0)
    return DOCUMENTED_KKT + DOCUMENTED_LOG_FLOOR_ULPS * EPS * floor


def recheck(case: Case, solution) -> str | None:
    """None when ``solution`` (of a single-row ``case``) passes the independent re-check
    (module doc), else the reason."""
    policy = np.asarray(solution.policy)
    log_policy = np.asarray(solution.log_policy)
    k = case.rewards.shape[-1]
    if policy.shape != (k,) or log_policy.shape != (k,):
        return f"shape {policy.shape} / {log_policy.shape}, expected ({k},)"
    for name in ("policy", "log_policy", "multiplier", "kkt_residual"):
        if np.any(np.isnan(np.asarray(getattr(solution, name), dtype=np.float64))):
            return f"NaN in {name}"
    if not np.all(np.isfinite(policy)):
        return "non-finite policy"
    if np.any(policy < 0):
        return f"negative policy entry {policy.min()!r}"
    if np.any(log_policy == np.inf):
        return "log_policy = +inf"
    zero = np.isneginf(log_policy)  # log π = −inf is an exact zero
    if np.any(policy[zero] != 0.0):
        return "policy != exp(log_policy) (log_policy -inf where policy > 0)"
    finite_log = np.where(zero, 0.0, log_policy)
    size = 1.0 + np.abs(finite_log) + np.abs(log_reference_of(case))
    allowed = LOG_CONSISTENCY_ULPS * EPS * size * policy + LOG_CONSISTENCY_ATOL
    if not np.all(np.abs(policy - np.exp(log_policy)) <= allowed):
        return "policy != exp(log_policy)"
    tolerance = documented_tolerance(case)
    total = abs(float(policy.sum()) - 1.0)
    if not total <= tolerance:
        return f"|sum(policy) - 1| = {total:.3g} > {tolerance:.3g}"
    if not float(solution.kkt_residual) <= tolerance:
        return f"own kkt_residual {float(solution.kkt_residual):.3g} > {tolerance:.3g}"
    try:
        residual = float(pmtheory.kkt_residual(log_policy=log_policy, rewards=case.rewards,
                                               divergence=case.divergence, beta=case.beta, **case.kwargs()))
    except ValueError as error:
        return f"kkt_residual refused the returned policy: {error}"
    if not residual <= tolerance:
        return f"recomputed kkt_residual {residual:.3g} > {tolerance:.3g}"
    return None


def _solve(case: Case):
    """optimal_policy on ``case`` with RuntimeWarnings as errors: (solution, None) or (None,
    (outcome, violation)) when it raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return pmtheory.optimal_policy(case.call_rewards(), divergence=case.divergence, beta=case.beta,
                                           **case.kwargs()), None
        except pmtheory.SolverError as error:
            if not str(error).strip():
                return None, ("VIOLATION", "SolverError with empty message")
            return None, ("SolverError:spread" if "overflows float64" in str(error) else "SolverError:certificate",
                          None)
        except ValueError as error:
            return None, ("ValueError", None) if str(error).strip() else ("VIOLATION", "ValueError with empty message")
        except Exception as error:  # noqa: BLE001 - any other type is what the fuzz looks for
            return None, ("VIOLATION", f"{type(error).__name__}: {error}")


def _checked(case: Case, solution) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return recheck(case, solution)
        except Exception as error:  # noqa: BLE001 - the re-check itself must not fail either
            return f"re-check raised {type(error).__name__}: {error}"


def run_case(case: Case) -> tuple[str, str | None]:
    """(outcome, violation): outcome is "ok", "SolverError:spread" (r/β spreads beyond
    float64, the documented refusal), "SolverError:certificate" (any other certificate
    failure), "ValueError" or "VIOLATION"; the violation says what went wrong (None unless the
    outcome is "VIOLATION"). A batch is judged row by row (module doc)."""
    solution, raised = _solve(case)
    if raised is not None:
        outcome, violation = raised
        if case.batched and outcome != "VIOLATION":
            alone = [_solve(case.row(i))[1] for i in range(case.rewards.shape[0])]
            if not any(row is not None and row[0].split(":")[0] == outcome.split(":")[0] for row in alone):
                return "VIOLATION", f"the batch raised ({outcome}) but no row raises that alone"
        return outcome, violation
    if not case.batched:
        reason = _checked(case, solution)
        return ("ok", None) if reason is None else ("VIOLATION", reason)
    for i in range(case.rewards.shape[0]):
        row = dataclasses.replace(solution, policy=solution.policy[i], log_policy=solution.log_policy[i],
                                  multiplier=solution.multiplier[i], kkt_residual=solution.kkt_residual[i])
        reason = _checked(case.row(i), row)
        if reason is not None:
            return "VIOLATION", f"batch row {i}: {reason}"
    return "ok", None


OUTCOMES = ("ok", "SolverError:spread", "SolverError:certificate", "ValueError", "VIOLATION", "skipped")


@dataclass
class FuzzResult:
    counts: collections.Counter  # (divergence, outcome) -> count
    class_counts: collections.Counter  # (input class, outcome) -> count
    violations: list  # (case, reason)


def fuzz(n: int, seed: int, *, skip=None) -> FuzzResult:
    """Run the first ``n`` inputs of ``seed``; ``skip(case)`` true leaves a case out (counted as
    outcome "skipped")."""
    counts, class_counts, violations = collections.Counter(), collections.Counter(), []
    for case in cases(n, seed):
        if skip is not None and skip(case):
            outcome, reason = "skipped", None
        else:
            outcome, reason = run_case(case)
        counts[(case.divergence, outcome)] += 1
        class_counts[(case.input_class, outcome)] += 1
        if reason is not None:
            violations.append((case, reason))
    return FuzzResult(counts, class_counts, violations)


def report(result: FuzzResult, *, limit: int = 20) -> str:
    outcomes = OUTCOMES
    lines = [f"{'divergence':<18}" + "".join(f"{o:>{len(o) + 2}}" for o in outcomes)]
    for div in DIVERGENCES:
        lines.append(f"{div:<18}" + "".join(f"{result.counts[(div, o)]:>{len(o) + 2}}" for o in outcomes))
    lines.append(f"{'total':<18}" + "".join(
        f"{sum(v for (_, o), v in result.counts.items() if o == outcome):>{len(outcome) + 2}}" for outcome in outcomes))
    lines.append("")
    lines.append(f"{'input class':<32}" + "".join(f"{o:>{len(o) + 2}}" for o in outcomes))
    for cls in sorted({c for c, _ in result.class_counts}):
        lines.append(f"{cls:<32}" + "".join(f"{result.class_counts[(cls, o)]:>{len(o) + 2}}" for o in outcomes))
    if result.violations:
        lines.append("")
        lines.append(f"{len(result.violations)} violation(s); the first {min(limit, len(result.violations))}:")
        for case, reason in result.violations[:limit]:
            lines.append(f"  #{case.index} [{case.divergence}, {case.input_class}] {reason}")
            text = case.reproducer()
            lines.append(f"    {text if len(text) <= 600 else text[:600] + ' ...'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of inputs (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator (default 0)")
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("--n must be >= 0")
    result = fuzz(args.n, args.seed)
    print(f"fuzz_solvers: {args.n} inputs, seed {args.seed}, torch inputs {'on' if torch is not None else 'off'}")
    print(report(result))
    return 1 if result.violations else 0


if __name__ == "__main__":
    sys.exit(main())
