"""Pieces shared by the checks of the BRG claims (the theory's checks on causal-LM logits, tiny OPT
and Llama by default): the normalization bars, the current bridge setup and the cache of studies
and trained policies. The checks are the ``claims_*`` modules of :mod:`pmtheory.bridge`.

The numbers come from :mod:`pmtheory.bridge.studies` (the same code the bridge figures and
``pmtheory bridge check`` use); the ``claims_*`` modules only decide verdicts. ``quick`` shrinks the
number of prompts, pairs and configurations, never the kind of check.

Each check reads the statement it tests from keyword arguments whose defaults are the
catalogue's statement; the registered mutants set them to nearby false statements
(``pmtheory verify --mutants``). The models, samples and trained policies do not depend on
those arguments, so they are computed once per process and setup and reused by the mutants
(:func:`clear_cache` forgets them; tests that patch the computation call it).

These modules import neither torch nor transformers at import time: ``pmtheory verify``
without them installed reports an ``error`` for the BRG-* claims only (the message says to
install the bridge extra), and every other claim runs as usual.

Bars (with their reason):

- Normalization (BRG-SEQ and BRG-MOD, one dict ``NORMALIZATION_BARS``): over an enumerable
  space W^L (|W| = 4 tokens, L = 3, 64 sequences, next-token distributions restricted to W),
  |log Σ_y π_W(y|x)| ≤ the bar of the dtype u in which the log-softmax and the sums over
  tokens are computed (the accumulation dtype: float64 for float32 and float64 models on CPU
  or CUDA, float32 for bfloat16/float16 models and on MPS). Normalization is a property of
  the log-softmax, whatever the rounding of the logits fed to it, so the model's own dtype
  does not enter. The rounding bound: each term ℓ_t = x − max − log Σ_W e^{x−max} is off by
  at most ~u·(6 + 2|ℓ_t|) (the subtraction, |W| = 4 exps and their sum, the log, the last
  subtraction), and the sum of L terms adds (L − 1)·u·|log π(y)|, so
  |δ log π(y)| ≤ u·(6L + (L + 1)·|log π(y)|); log Σ_y π(y)·e^{δ_y} ≈ Σ_y π(y)·δ_y is then
  at most u·(6L + (L + 1)·H(π)) ≤ u·(6L + (L + 1)·L·ln|W|) = u·(18 + 16.6) ≈ 35u, plus
  the float64 logsumexp of 64 numbers (≤ 64·eps64). float64 (eps64 = 1.1e-16): ≈ 1.1e-14;
  the bar 1e-12 leaves room ×90 (measured: ~1e-16). float32 (eps32 = 1.2e-7): ≈ 4.1e-6;
  the bar 1e-5 leaves room ×2.4 for the second-order terms of this first-order bound. (The
  float32 bar was 1e-6 without a stated reason, below this worst case; no default run
  computes in float32.) Above the bar the model's log-probabilities are wrong, which is an
  error of the computation (BRG-MOD raises), not a counterexample to a claim about MOD.
"""

from __future__ import annotations

# Normalization bars of BRG-SEQ and BRG-MOD, keyed by the accumulation dtype u (the dtype of
# the log-softmax and of the sums over tokens): the first-order rounding bound ≈ 35u on the
# 64-sequence spaces (module docstring), i.e. 1.1e-14 for float64 and 4.1e-6 for float32.
NORMALIZATION_BARS = {"float32": 1e-5, "float64": 1e-12}


def _normalization_bar(accumulate_dtype: str) -> float:
    if accumulate_dtype not in NORMALIZATION_BARS:
        raise ValueError(f"no normalization bar for accumulation dtype {accumulate_dtype!r} "
                         f"(bars: {NORMALIZATION_BARS})")
    return NORMALIZATION_BARS[accumulate_dtype]


def _setup():
    from pmtheory.bridge.studies import current_setup, require_bridge

    require_bridge()
    return current_setup()


# Studies and trained policies, per (what, setup, arguments): they do not depend on the
# statement a check tests, so a mutant reuses them (module docstring).
_CACHE: dict = {}


def clear_cache(setup=None) -> None:
    """Forget the cached studies and trained policies (after patching the computation): all
    of them, or those of one :class:`~pmtheory.bridge.studies.BridgeSetup`."""
    for key in [key for key in _CACHE if setup is None or key[1] == setup]:
        del _CACHE[key]


def _cached(key, compute):
    if key not in _CACHE:
        _CACHE[key] = compute()
    return _CACHE[key]


