"""The claims catalogue, the verdict a check returns, and the registry that runs the checks.

Every formal statement of the papers pmtheory checks has a stable ID (``PMR-P3.1``,
``IIA-E12``, ``MOD-T4``, ``BRG-SEQ``, ...). The catalogue below is a transcription of the
project's ``shared/CLAIMS.md`` (``tests/test_claims.py`` keeps the two in step); it is a
literal, never parsed from the markdown at run time. Each row has a *kind*: a ``claim`` the
paper asserts, or a ``question`` it raises without asserting an answer.

A check is a function ``check(*, quick: bool, **statement) -> CheckResult`` registered for one
ID with :func:`register`. Its verdict must come out of its computation. For a claim:

- ``holds``: true as the paper states it, under the paper's own hypotheses; ``backing`` says
  what backs a "for all" claim (a symbolic proof, N property examples, an enumeration).
- ``holds-with-condition``: true only under a condition the paper's hypotheses do not give
  (a substantive one, not a well-definedness the notation presumes); ``condition`` writes it.
- ``refuted``: false as stated: a concrete counterexample inside the paper's hypotheses,
  confirmed by an independent method (a second solver, exact arithmetic, a certificate).
- ``vacuous``: true only because its hypothesis can never be met; ``condition`` says why.

For a question, the only verdict is ``answered``, with a one-sentence ``answer``. Beside any
verdict, never folded into it: ``proof_gaps`` (:class:`ProofGap`, a step of the paper's proof
that fails even where the statement holds), ``readings`` (:class:`Reading`, the verdict under
each reading of ambiguous notation) and ``conventions`` (:class:`Convention`, a boundary
convention the verdict turns on, and the verdict under the other one).

The runner adds two verdicts of its own: ``error`` (the check raised, returned something
other than a :class:`CheckResult`, or a verdict its row's kind does not admit) and
``not-checked`` (no check is registered for the ID).

A check earns nothing if it would say ``holds`` of a false statement. So each check reads the
statement it tests through keyword arguments whose defaults are the paper's, and registers
*mutants* (nearby false statements: the same check must return ``refuted``) and, for a
refuted claim, *repairs* (the corrected statement: it must return ``holds``); see
:class:`Variant` and ``run_claims(..., mutants=True)``.

Every number a result carries is converted by :func:`to_jsonable` so that a report can be
written as strict JSON: numpy scalars and arrays become Python numbers and lists, NaN and
infinities become the strings ``"nan"``, ``"inf"`` and ``"-inf"``, and exact rationals
(``fractions.Fraction``, sympy ``Rational``) become strings such as ``"4/3"`` that sympy
parses back exactly.

Sources: the catalogue and the verdict rules are the project's ``shared/CLAIMS.md``; the
claims themselves are in seeds 001 (PMR), 002 (IIA) and 004 (MOD).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
import importlib.metadata
import inspect
import json
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

__all__ = [
    "ANSWERED",
    "CATALOGUE",
    "CLAIM",
    "CHECK_MODULES",
    "CLAIM_IDS",
    "ERROR",
    "HOLDS",
    "HOLDS_WITH_CONDITION",
    "KINDS",
    "METHOD_WORDS",
    "NOT_CHECKED",
    "PAPERS",
    "ProofGap",
    "QUESTION",
    "REPORT_SCHEMA",
    "Reading",
    "REFUTED",
    "VACUOUS",
    "VERDICTS",
    "VERDICTS_FOR_KIND",
    "Variant",
    "VariantOutcome",
    "answered",
    "CheckResult",
    "Convention",
    "ClaimInfo",
    "ClaimOutcome",
    "Registry",
    "Report",
    "UnknownClaimError",
    "claim_info",
    "default_registry",
    "holds",
    "holds_with_condition",
    "mutant",
    "pmtheory_version",
    "refuted",
    "register",
    "registered_ids",
    "repair",
    "run_claims",
    "select_claim_ids",
    "to_jsonable",
    "vacuous",
]

# ---------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------

HOLDS = "holds"
HOLDS_WITH_CONDITION = "holds-with-condition"
REFUTED = "refuted"
VACUOUS = "vacuous"
ANSWERED = "answered"
ERROR = "error"
NOT_CHECKED = "not-checked"
# Every verdict word, in the order reports list them.
VERDICTS = (HOLDS, HOLDS_WITH_CONDITION, REFUTED, VACUOUS, ANSWERED, ERROR, NOT_CHECKED)
# The verdicts a check may return; the other two are the runner's.
_CHECK_VERDICTS = (HOLDS, HOLDS_WITH_CONDITION, REFUTED, VACUOUS, ANSWERED)

# The kinds of catalogue row (CLAIMS.md "Kinds"), and the verdicts each admits: a claim the
# paper asserts is judged; a question it only raises is answered, never refuted.
CLAIM = "claim"
QUESTION = "question"
KINDS = (CLAIM, QUESTION)
VERDICTS_FOR_KIND = {CLAIM: (HOLDS, HOLDS_WITH_CONDITION, REFUTED, VACUOUS), QUESTION: (ANSWERED,)}

# The version of the JSON report's layout (``report_to_json``); 2 added kinds, answers,
# proof gaps, readings, conventions and mutants.
REPORT_SCHEMA = 2

# The papers, by the prefix of their claim IDs (BRG: the bridge to causal-LM logits).
PAPERS = ("PMR", "IIA", "MOD", "BRG")
# The method words of CLAIMS.md's method column (its parenthesised notes are dropped).
METHOD_WORDS = ("symbolic", "exact", "property", "simulation", "population", "bridge", "figure")

# The modules holding the registered checks, imported on the registry's first use.
CHECK_MODULES = (
    "pmtheory.pmr_claims",
    "pmtheory.pmr_general_claims",
    "pmtheory.pmr_bias_claims",
    "pmtheory.iia_claims",
    "pmtheory.iia_failure_claims",
    "pmtheory.mod_claims",
    "pmtheory.mod_extended_claims",
    "pmtheory.bridge.claims",
)

# How many of the innermost traceback entries an ``error`` outcome keeps: enough to show
# the failing line of the check and the library call under it, short enough for a report.
_TRACEBACK_ENTRIES = 8

# The version reported when pmtheory runs from a source tree that was never installed.
_FALLBACK_VERSION = "0.1.0"


def pmtheory_version() -> str:
    """The installed pmtheory version (``importlib.metadata``), or "0.1.0" when not installed."""
    try:
        return importlib.metadata.version("pmtheory")
    except importlib.metadata.PackageNotFoundError:
        return _FALLBACK_VERSION


# ---------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimInfo:
    """One row of the claims catalogue (``shared/CLAIMS.md``)."""

    id: str  # the stable claim ID, e.g. "PMR-P3.1"
    paper: str  # the ID's prefix: "PMR", "IIA", "MOD" or "BRG"
    where: str  # where the paper states it, e.g. "Prop 3.1"; "" for BRG rows
    statement: str  # the claim, as CLAIMS.md words it
    methods: tuple[str, ...]  # the method words that should check it, e.g. ("exact", "property")
    kind: str = CLAIM  # "claim" (the paper asserts it) or "question" (the toolkit answers it)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind of {self.id} must be one of {', '.join(KINDS)}, got {self.kind!r}")


# Transcribed from shared/CLAIMS.md by a one-off script; tests/test_claims.py compares the two.
CATALOGUE: tuple[ClaimInfo, ...] = (
    ClaimInfo(
        id="PMR-P3.1",
        paper="PMR",
        where="Prop 3.1",
        statement=(
            "Unregularized reward maximization puts all mass on the highest-reward responses "
            "(preference collapse without regularization)."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-E3.7",
        paper="PMR",
        where="eq 3.6-3.7",
        statement="At a PM optimum the first-order condition gives R(π)+πR'(π) = -log π + c'.",
        methods=("symbolic",),
    ),
    ClaimInfo(
        id="PMR-ODE",
        paper="PMR",
        where="§3.1",
        statement="Differentiating (3.7) gives the PM ODE πR''+2R'+1/π = 0.",
        methods=("symbolic",),
    ),
    ClaimInfo(
        id="PMR-E3.8",
        paper="PMR",
        where="eq 3.8",
        statement="The ODE's general solution is R(π) = -log π + C1 + C2/π.",
        methods=("symbolic",),
    ),
    ClaimInfo(
        id="PMR-T1",
        paper="PMR",
        where="Thm 1",
        statement=(
            "Solving max E[r + R(π)] yields the PL/softmax policy if and only if R has the "
            "form of (3.8), with C1, C2 depending on x only. Both directions."
        ),
        methods=("exact", "property", "symbolic"),
    ),
    ClaimInfo(
        id="PMR-R3.4",
        paper="PMR",
        where="Remark 3.4",
        statement="The C2/π term contributes k·C2, independent of π.",
        methods=("symbolic", "property"),
    ),
    ClaimInfo(
        id="PMR-EX1",
        paper="PMR",
        where="Example 1, §3.2",
        statement=(
            "With C1=C2=0, PM RLHF is max-entropy RL at temperature 1, and (3.10) is dual to "
            "the robust program max_φ min_{r'} E_{π_φ} r' s.t. logsumexp(r − r') ≤ ε for some"
            " ε, via max over Δr of E_π Δr − logsumexp(Δr) = Σ π log π."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-EX2",
        paper="PMR",
        where="Example 2",
        statement="Adding a prompt-only constant C1,x leaves the optimum unchanged.",
        methods=("property",),
    ),
    ClaimInfo(
        id="PMR-EX3",
        paper="PMR",
        where="Example 3",
        statement=(
            "With C1 = log(1/k): objective = E r − KL(π‖Unif); uniform-penalty RLHF is KL "
            "RLHF with β=1 and uniform reference."
        ),
        methods=("symbolic", "property"),
    ),
    ClaimInfo(
        id="PMR-T2",
        paper="PMR",
        where="Thm 2",
        statement=(
            "Response-dependent regularizers R_{x,y}(π) = −log π + C1,x + C2,x,y/π are "
            "exactly the PM ones."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-R3.6",
        paper="PMR",
        where="Remark 3.6",
        statement="Σ_y C2,x,y is independent of π.",
        methods=("symbolic",),
    ),
    ClaimInfo(
        id="PMR-P3.7",
        paper="PMR",
        where="Prop 3.7",
        statement="Standard KL RLHF (2.3) does not yield the PM policy. State exactly when it does.",
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-GODE",
        paper="PMR",
        where="§3.4, App B.1",
        statement=(
            "The generalized-PL PM ODE is πR''+2R'+1/g'(g⁻¹(π)) = 0, with general solution "
            "(3.14)."
        ),
        methods=("symbolic",),
    ),
    ClaimInfo(
        id="PMR-T3",
        paper="PMR",
        where="Thm 3",
        statement=(
            "Under the generalized PL model with increasing positive g, R(π) = −g⁻¹(π) + C1 +"
            " (G(g⁻¹(π))+C2)/π is a PM regularizer (the optimum is g(r)/Σg(r)), and only it. "
            "Check several g, not only exp."
        ),
        methods=("exact", "symbolic", "property"),
    ),
    ClaimInfo(
        id="PMR-R3.8",
        paper="PMR",
        where="Remark 3.8",
        statement="For g = exp, (3.14) reduces to Theorem 1.",
        methods=("symbolic",),
    ),
    ClaimInfo(
        id="PMR-PF1",
        paper="PMR",
        where="§3.5",
        statement="E_π[r − log π + C1 + C2/π] = −KL(π‖π*) + log Z + C1 + kC2.",
        methods=("symbolic", "property"),
    ),
    ClaimInfo(
        id="PMR-T4",
        paper="PMR",
        where="Thm 4, eq 4.1",
        statement=(
            "The optimum of (4.1), conditioned on M(x), is softmax of r over M(x), for any M "
            "and ε>0; as ε→0 the mass on M tends to 1."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-D4.1",
        paper="PMR",
        where="Def 4.1, §4.2",
        statement=(
            "With M = {π_ref ≥ α} and ε = π_ref, the optimum is ∝ e^r on M and ∝ π_ref·e^r "
            "off M; α above max π_ref gives KL RLHF with β=1."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-TAB1",
        paper="PMR",
        where="Table 1",
        statement=(
            "Max-entropy RLHF with entropy weight τ is PM only at τ=1; KL and f-divergence "
            "RLHF are not PM."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-P5.1",
        paper="PMR",
        where="Prop 5.1",
        statement="KL RLHF optimum is π_ref·e^{r/β}/Z.",
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-E5.2",
        paper="PMR",
        where="eq 5.2",
        statement=(
            "Binary preference of the KL-RLHF policy is p_ref·p_reward renormalized; it "
            "equals p_reward iff β=1 and p_ref=1/2."
        ),
        methods=("symbolic", "property"),
    ),
    ClaimInfo(
        id="PMR-FIG2",
        paper="PMR",
        where="Fig 2",
        statement="Curves of p_rlhf(y1) against p_reward(y1) for several p_ref, β=1.",
        methods=("figure",),
    ),
    ClaimInfo(
        id="PMR-E5.3",
        paper="PMR",
        where="eq 5.3",
        statement=(
            "For f-divergence RLHF, the binary preference is p_ref·p^f_reward renormalized "
            "with p^f_reward ∝ (f')⁻¹(r/β). Check reverse KL, forward KL, JS, α-divergences, "
            "χ², total variation."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-COL",
        paper="PMR",
        where="§5.2",
        statement=(
            "Preference collapse: as p_ref(y1)→0 (→1), p_rlhf(y1)→0 (→1), and this persists "
            "when KL is replaced by any f-divergence. Check every f-divergence family the "
            "toolkit has."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="PMR-F5.1",
        paper="PMR",
        where="§5.1, after eq 5.3",
        statement=(
            "For f-divergence RLHF the bias remains even at β = 1 with a uniform p_ref, "
            "unless (f')⁻¹(u) = exp(u + c); and (f')⁻¹(u) = exp(u + c) iff f(u) = u log u + "
            "c'u (KL)."
        ),
        methods=("exact", "symbolic", "property"),
    ),
    ClaimInfo(
        id="PMR-A3",
        paper="PMR",
        where="App A.3, Fig 9",
        statement=(
            "As illustrated in Figure 9, β≠1 biases the aligned model (smaller β, more severe"
            " bias); for β<1 it amplifies the dominant response; β=0.1 and p_reward(y)>0.7 "
            "give p_rlhf(y)>0.99."
        ),
        methods=("exact", "figure"),
    ),
    ClaimInfo(
        id="PMR-PA2",
        paper="PMR",
        where="Prop A.2",
        statement=(
            "Under the BTL model with P_comp the true comparison distribution, the global "
            "solution of the population BTL negative log-likelihood is the true reward r*(x, "
            "y)."
        ),
        methods=("exact",),
    ),
    ClaimInfo(
        id="PMR-A1",
        paper="PMR",
        where="App A.1",
        statement=(
            "The PL model (A.1) implies the same choice rule on every subset (it satisfies "
            "IIA)."
        ),
        methods=("symbolic", "property"),
    ),
    ClaimInfo(
        id="PMR-MET",
        paper="PMR",
        where="§6.1",
        statement=(
            "PM divergence (instance and aggregate), perplexity, entropy and KL metrics as "
            "defined; PM divergence is 0 iff the model's binary preferences equal the reward "
            "model's."
        ),
        methods=("property", "bridge"),
    ),
    ClaimInfo(
        id="IIA-E3",
        paper="IIA",
        where="§3.4, eq 3",
        statement=(
            "Hard choice with i.i.d. standard Gumbel perturbations gives logit (softmax) "
            "choice probabilities."
        ),
        methods=("exact", "simulation"),
    ),
    ClaimInfo(
        id="IIA-S3.5",
        paper="IIA",
        where="§3.5",
        statement=(
            "A soft choice model equals a hard choice model with added Gumbel noise; a logit "
            "model is a soft choice model."
        ),
        methods=("exact", "simulation"),
    ),
    ClaimInfo(
        id="IIA-E5",
        paper="IIA",
        where="eq 5",
        statement="Dichotomy-model choice probabilities are E[1_{M_Z}(y)/|Y∩M_Z|].",
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="IIA-PET",
        paper="IIA",
        where="§3.7",
        statement=(
            "Dog/cat/feline: logit gives 1/3 each with three options; dichotomy with "
            "p=(1/2,1/2) gives 1/2, 1/4, 1/4; logit satisfies IIA (eq 6), dichotomy violates "
            "it."
        ),
        methods=("exact",),
    ),
    ClaimInfo(
        id="IIA-E9",
        paper="IIA",
        where="eq 9",
        statement="The minimizer of L_policy is P_ref·e^{r|D|/β}/Z.",
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="IIA-L13",
        paper="IIA",
        where="Lemma 13, eq 10-11",
        statement="If L_reward has a minimizer, DPO and RLPO yield the same policy.",
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="IIA-E12",
        paper="IIA",
        where="eq 12",
        statement="Triple {y1,y2∈M1, y3∈M2} with p*=(0.6,0.4): fitted ψ2−ψ1 = ln(4/3).",
        methods=("exact",),
    ),
    ClaimInfo(
        id="IIA-E13",
        paper="IIA",
        where="eq 13",
        statement="Pair {y2,y3}: fitted ψ2−ψ1 = ln(2/3).",
        methods=("exact",),
    ),
    ClaimInfo(
        id="IIA-L8",
        paper="IIA",
        where="Lemma 8",
        statement="Strictly convex f with f'(1)<0 and a root ζ has ζ > 1 − f(1)/f'(1).",
        methods=("property",),
    ),
    ClaimInfo(
        id="IIA-L9",
        paper="IIA",
        where="Lemma 9",
        statement=(
            "If ρ_data > ρ_chosen > 0, the reward minimizer exists and ψ2−ψ1 > "
            "(ρ_data−ρ_chosen)/(1+ρ_data−ρ_chosen)."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="IIA-L11",
        paper="IIA",
        where="Lemma 11",
        statement="Chernoff-type bound on the number of mixed-category queries.",
        methods=("simulation",),
    ),
    ClaimInfo(
        id="IIA-L12",
        paper="IIA",
        where="Lemma 12",
        statement="If p*(1) < F(P_ref(M1)) then ρ_data−ρ_chosen > η with probability → 1.",
        methods=("population", "simulation"),
    ),
    ClaimInfo(
        id="IIA-P4",
        paper="IIA",
        where="Prop 4",
        statement=(
            "RLPO failure: for |Y|≥3 and p*(1) < F(ζ), P(M1) → 0 as |D|→∞. Also establish "
            "what happens at and above the threshold."
        ),
        methods=("population", "simulation"),
    ),
    ClaimInfo(
        id="IIA-P5",
        paper="IIA",
        where="Prop 5",
        statement="DPO failure under the same condition.",
        methods=("population", "simulation"),
    ),
    ClaimInfo(
        id="IIA-FIG2",
        paper="IIA",
        where="§5.4, Fig 2",
        statement=(
            "Under the §5.3 setup, RLPO and DPO go to M1 for |Y|=2 and to M2 for larger |Y| "
            "as |D| grows (100 simulations per point). Report each |Y| separately."
        ),
        methods=("simulation", "figure"),
    ),
    ClaimInfo(
        id="IIA-E16",
        paper="IIA",
        where="eq 15-16",
        statement="IL thought experiment: P(M1) = 15/(15+|M2|).",
        methods=("exact",),
    ),
    ClaimInfo(
        id="IIA-L14",
        paper="IIA",
        where="Lemma 14",
        statement="Convex losses with negative derivative for large m have minimizers tending to 1.",
        methods=("property",),
    ),
    ClaimInfo(
        id="IIA-P6",
        paper="IIA",
        where="Prop 6, Lemmas 15-16",
        statement="IL failure: P(M1) → 0 as |M2| → ∞ (|D|→∞ first).",
        methods=("population", "simulation"),
    ),
    ClaimInfo(
        id="IIA-L16",
        paper="IIA",
        where="Lemma 16",
        statement="Under Assumption 1 with |Y| ≥ 2, for fixed M1, P(E(D)) → 1 as |M2| → ∞.",
        methods=("population", "property"),
    ),
    ClaimInfo(
        id="IIA-FIG3",
        paper="IIA",
        where="Fig 3",
        statement="IL's P(M1) falls as |M2| grows.",
        methods=("simulation", "figure"),
    ),
    ClaimInfo(
        id="IIA-P7",
        paper="IIA",
        where="Prop 7, Lemma 17",
        statement="SLiC failure for |Y|=2 as |M2| grows.",
        methods=("population", "simulation"),
    ),
    ClaimInfo(
        id="IIA-SEC6",
        paper="IIA",
        where="§6",
        statement=(
            "Analogue of the GPT-3.5/GPT-4 study: annotators 0.3 concise / 0.7 informative; "
            "training queries of 1 concise + 3 informative make a standard reward model "
            "prefer the concise response and fall below 50% pairwise test accuracy; 1+1 "
            "queries do not."
        ),
        methods=("population", "simulation"),
    ),
    ClaimInfo(
        id="IIA-S6IIA",
        paper="IIA",
        where="§6, discussion of the study",
        statement=(
            "An annotator who picks concise over one informative response with probability "
            "2/5: under the IIA assumption, going from one to three informative alternatives "
            "would increase the probability of choosing the concise response to 2/3."
        ),
        methods=("exact",),
    ),
    ClaimInfo(
        id="IIA-SEC7",
        paper="IIA",
        where="§7",
        statement=(
            "Converting each k-way choice into pairwise comparisons: does RLPO then recover "
            "M1?"
        ),
        methods=("population", "simulation"),
        kind="question",
    ),
    ClaimInfo(
        id="MOD-L1",
        paper="MOD",
        where="Lemma 1, eq 3",
        statement=(
            "For a strong-barrier f, the f-regularized optimum is π_ref·(∇f)⁻¹(R/β − Z), and "
            "R is recovered from π up to Z."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="MOD-P1",
        paper="MOD",
        where="Prop 1",
        statement=(
            "The optimum for Σ w_i R_i is π_ref·(∇f)⁻¹(−Z + Σ w_i ∇f(π_i/π_ref)); Z lies in "
            "the stated bracket [t1,t2] and bisection finds it."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="MOD-P2",
        paper="MOD",
        where="Prop 2",
        statement="Ordering of Σ w_i R_i equals ordering of Σ w_i ∇f(π_i/π_ref).",
        methods=("property",),
    ),
    ClaimInfo(
        id="MOD-T5",
        paper="MOD",
        where="Thm 5 (Thm 1)",
        statement=(
            "argmax_y π_ref·(∇f)⁻¹(Σ w_i ∇f(π_i/π_ref)) solves max π_ref(y) s.t. Σ w_i R_i(y)"
            " ≥ C for some C."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="MOD-E7",
        paper="MOD",
        where="eq 7",
        statement="For reverse KL the rule is argmax Π π_i^{w_i}: a linear combination of logits.",
        methods=("symbolic", "property"),
    ),
    ClaimInfo(
        id="MOD-T2",
        paper="MOD",
        where="Thm 2",
        statement=(
            "Parameter merging (rewarded soups) violates Hypothesis 1: (i) non-barrier f, "
            "(ii) reverse KL with the 2-layer ReLU construction, (iii) strong-barrier f with "
            "finitely many roots of the stated function."
        ),
        methods=("exact", "symbolic"),
    ),
    ClaimInfo(
        id="MOD-T3",
        paper="MOD",
        where="Thm 3, Remark 2",
        statement=(
            "For non-barrier f, every decoding or merging algorithm can be made arbitrarily "
            "worse than some policy; the construction with p,q,r,s works."
        ),
        methods=("exact",),
    ),
    ClaimInfo(
        id="MOD-T4",
        paper="MOD",
        where="Thm 4",
        statement=(
            "If max|log p_i − log π_i| ≤ L and KL(π_ref‖π_i), KL(π_ref‖p_i) ≤ C, then V* − V "
            "≤ 2·e^C·L for π_w ∝ Π π_i^{w_i}."
        ),
        methods=("property",),
    ),
    ClaimInfo(
        id="MOD-L2",
        paper="MOD",
        where="Lemma 2",
        statement="Σ x_i e^{−y_i} ≥ e^{−C} when Σ x_i y_i ≤ C.",
        methods=("property",),
    ),
    ClaimInfo(
        id="MOD-P3",
        paper="MOD",
        where="Prop 3",
        statement="(1/β)E r − KL(π‖π_ref) = −KL(π‖π_opt) + const.",
        methods=("symbolic", "property"),
    ),
    ClaimInfo(
        id="MOD-L3",
        paper="MOD",
        where="Lemma 3",
        statement="ECE(π1) − ECE(π2) ≤ E 2√(2 KL(π1‖π2)).",
        methods=("property",),
    ),
    ClaimInfo(
        id="MOD-P4",
        paper="MOD",
        where="Prop 4",
        statement="ECE(π_w) ≤ ECE(π_opt) + 4√(e^C L).",
        methods=("property",),
    ),
    ClaimInfo(
        id="MOD-D2",
        paper="MOD",
        where="App D.2, App F code",
        statement=(
            "Closed-form decoding rules for reverse KL, forward KL, JSD and α-divergences "
            "(including the published inference code's formulas and its JSD-as-reverse-KL "
            "shortcut) agree with Prop 1 / Thm 5. Quantify any gap."
        ),
        methods=("exact", "property"),
        kind="question",
    ),
    ClaimInfo(
        id="MOD-D3",
        paper="MOD",
        where="App D.3",
        statement=(
            "Proxy-tuning, jail-breaking, DeRa (β re-alignment) and MODPO identities hold in "
            "the tabular setting."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="MOD-NEG",
        paper="MOD",
        where="§G.2",
        statement=(
            "Weights with negative entries summing to 1 still give the optimum for Σ w_i R_i "
            "(reverse KL); say for which f the formula stays defined."
        ),
        methods=("exact", "property"),
    ),
    ClaimInfo(
        id="MOD-PAR",
        paper="MOD",
        where="§G",
        statement=(
            "In a tabular setting, MOD's Pareto front equals the retrained (MORLHF) optimum "
            "and lies on or above rewarded soups."
        ),
        methods=("exact", "figure"),
        kind="question",
    ),
    ClaimInfo(
        id="MOD-TOK",
        paper="MOD",
        where="§3.2-3.3",
        statement=(
            "Token-level greedy MOD versus the exact sequence-level optimum on an enumerable "
            "sequence space: measure the gap."
        ),
        methods=("exact", "bridge"),
        kind="question",
    ),
    ClaimInfo(
        id="BRG-SEQ",
        paper="BRG",
        where="",
        statement=(
            "Sequence log-probabilities from a causal LM (OPT, Llama) equal the sum of token "
            "log-probabilities; batched and padded computation equals the per-sequence loop."
        ),
        methods=("bridge",),
    ),
    ClaimInfo(
        id="BRG-LEN",
        paper="BRG",
        where="",
        statement=(
            "On a model's own samples, binary reference preferences p_ref(y1) pile up near 0 "
            "and 1 when lengths differ (PMR Fig 3(a)/4(a))."
        ),
        methods=("bridge", "figure"),
    ),
    ClaimInfo(
        id="BRG-KL",
        paper="BRG",
        where="",
        statement=(
            "Training a causal LM with the KL-RLHF objective over a finite response set "
            "converges to π_ref·e^{r/β}/Z on that set."
        ),
        methods=("bridge",),
    ),
    ClaimInfo(
        id="BRG-CPM",
        paper="BRG",
        where="",
        statement=(
            "Conditional PM RLHF training (Def 4.1) converges to the closed form of PMR-D4.1 "
            "on the set; its PM divergence is below KL RLHF's."
        ),
        methods=("bridge",),
    ),
    ClaimInfo(
        id="BRG-MOD",
        paper="BRG",
        where="",
        statement=(
            "MOD decoding from several fine-tuned causal LMs matches the exact optimum where "
            "the sequence space can be enumerated."
        ),
        methods=("bridge",),
    ),
)

# The catalogue IDs, in catalogue order.
CLAIM_IDS: tuple[str, ...] = tuple(info.id for info in CATALOGUE)
_CATALOGUE_BY_ID: dict[str, ClaimInfo] = {info.id: info for info in CATALOGUE}


def claim_info(claim_id: str) -> ClaimInfo:
    """The catalogue row of ``claim_id``.

    Raises:
      TypeError: ``claim_id`` is not a string.
      ValueError: no claim in the catalogue has that ID.
    """
    if not isinstance(claim_id, str):
        raise TypeError(f"claim_id must be a claim ID string such as 'PMR-P3.1', got {claim_id!r}")
    try:
        return _CATALOGUE_BY_ID[claim_id]
    except KeyError:
        raise ValueError(f"claim_id {claim_id!r} is not in the catalogue{_suggestion(claim_id, CLAIM_IDS)}") from None


def _suggestion(name: str, candidates: Iterable[str]) -> str:
    candidates = list(candidates)
    # IDs are case-sensitive; a pattern that matches only when case is ignored gets those first.
    close = [c for c in candidates if fnmatch.fnmatchcase(c.upper(), name.upper())][:3]
    close = close or difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# ---------------------------------------------------------------------------------------
# JSON-able values
# ---------------------------------------------------------------------------------------


def to_jsonable(value, name: str = "value"):
    """Return ``value`` as plain JSON data: dicts with string keys, lists, str, int, float, bool, None.

    Conversions: numpy scalars to Python numbers, numpy arrays and tuples to (nested) lists,
    sets to sorted lists, NaN / +inf / −inf to the strings "nan" / "inf" / "-inf" (strict JSON
    has no such numbers), ``Fraction`` and sympy ``Rational`` to exact strings "p/q" (an
    integer when the denominator is 1), ``Decimal`` to its exact string, sympy ``Float`` and
    mpmath ``mpf`` to float, other sympy expressions to their sympy-parsable string, sympy
    matrices to nested lists, named tuples and dataclass instances to dicts of their fields,
    path-likes to strings. Integer dict keys become strings, as JSON requires.

    Args:
      value: the value to convert.
      name: how error messages refer to ``value`` (the converted path is appended).

    Returns:
      A new structure; ``value`` is not modified.

    Raises:
      TypeError: a part of ``value`` has no JSON form (complex numbers, functions, objects;
        give functions as sympy-parsable strings), or a dict key is not a string or integer.

    >>> to_jsonable({"x": np.float32(0.5), "y": np.array([1, np.inf]), 3: (Fraction(4, 3),)})
    {'x': 0.5, 'y': [1.0, 'inf'], '3': ['4/3']}
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float_to_jsonable(float(value))
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else _float_to_jsonable(float(value))
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), name)
    if isinstance(value, Mapping):
        return {_jsonable_key(key, name): to_jsonable(item, f"{name}[{key!r}]") for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple: keep its field names
        return {field_name: to_jsonable(item, f"{name}.{field_name}") for field_name, item in zip(value._fields, value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, f"{name}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(item, f"{name} item") for item in value]
        try:
            return sorted(items)
        except TypeError:
            raise TypeError(f"{name} is a set of mixed kinds that cannot be sorted; pass a list instead") from None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), f"{name}.{f.name}") for f in dataclasses.fields(value)}
    module = type(value).__module__ or ""
    if module.startswith("sympy"):
        return _sympy_to_jsonable(value, name)
    if module.startswith("mpmath") and type(value).__name__ == "mpf":
        return _float_to_jsonable(float(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if callable(value):
        raise TypeError(f"{name} is a function ({value!r}); give functions as sympy-parsable strings, e.g. 'exp(x)'")
    raise TypeError(f"{name} has no JSON form: got a {type(value).__module__}.{type(value).__qualname__} ({value!r})")


def _float_to_jsonable(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _jsonable_key(key, name: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return str(int(key))
    raise TypeError(f"{name} has a key {key!r} of type {type(key).__name__}; JSON keys must be strings or integers")


def _sympy_to_jsonable(value, name: str):
    import sympy

    if isinstance(value, sympy.MatrixBase):
        return to_jsonable(value.tolist(), name)
    if value is sympy.true or value is sympy.false:
        return bool(value)
    if isinstance(value, sympy.Integer):
        return int(value)
    if isinstance(value, sympy.Rational):
        return f"{value.p}/{value.q}"
    if isinstance(value, sympy.Float):
        return _float_to_jsonable(float(value))
    if isinstance(value, sympy.Basic):
        return str(value)
    raise TypeError(f"{name} has no JSON form: got a sympy {type(value).__qualname__} ({value!r})")


# ---------------------------------------------------------------------------------------
# What a check returns
# ---------------------------------------------------------------------------------------

# The keys a counterexample must have, and those of its recheck.
_COUNTEREXAMPLE_KEYS = ("inputs", "predicted", "computed", "recheck")
_RECHECK_KEYS = ("method", "computed", "agrees")


@dataclass(frozen=True)
class ProofGap:
    """A step of the paper's proof that fails, recorded beside the verdict (CLAIMS.md:
    ``proof_gaps``). A false step does not make a true statement false."""

    step: str  # where the step is, e.g. "App B.1, the step r_i = g⁻¹(π_i) + c"
    finding: str  # what fails there
    witness: dict | str  # a concrete instance or derivation showing it (JSON-able)

    def __post_init__(self) -> None:
        _require_text(self.step, "ProofGap.step")
        _require_text(self.finding, "ProofGap.finding")
        if isinstance(self.witness, str):
            _require_text(self.witness, "ProofGap.witness")
        elif isinstance(self.witness, Mapping) and self.witness:
            object.__setattr__(self, "witness", to_jsonable(self.witness, "ProofGap.witness"))
        else:
            raise TypeError(f"ProofGap.witness must be a non-empty dict or string, got {self.witness!r}")


@dataclass(frozen=True)
class Reading:
    """One reading of a sentence whose notation admits two, with its own verdict (CLAIMS.md:
    ``readings``); the headline verdict uses the reading the paper's own text supports."""

    reading: str  # the reading, in words
    verdict: str  # the verdict under it: one of holds, holds-with-condition, refuted, vacuous
    condition: str | None = None  # the condition, when verdict is holds-with-condition

    def __post_init__(self) -> None:
        _require_text(self.reading, "Reading.reading")
        if self.verdict not in VERDICTS_FOR_KIND[CLAIM]:
            raise ValueError(
                f"Reading.verdict must be one of {', '.join(VERDICTS_FOR_KIND[CLAIM])}, got {self.verdict!r}")
        if self.verdict == HOLDS_WITH_CONDITION:
            _require_text(self.condition, "Reading.condition (for holds-with-condition)")
        elif self.condition is not None:
            raise ValueError(f"Reading.condition must be None for verdict {self.verdict!r}, got {self.condition!r}")


@dataclass(frozen=True)
class Convention:
    """A boundary convention the verdict turns on (CLAIMS.md: ``conventions``), and the
    verdict the claim would get under the other convention."""

    convention: str  # the convention used, e.g. "π·(C2/π) = 0 at π = 0 (y ∼ π never draws y)"
    verdict_otherwise: str  # the verdict under the other convention (a claim verdict)
    otherwise: str = ""  # the other convention, in words (optional)

    def __post_init__(self) -> None:
        _require_text(self.convention, "Convention.convention")
        if self.verdict_otherwise not in VERDICTS_FOR_KIND[CLAIM]:
            raise ValueError(f"Convention.verdict_otherwise must be one of {', '.join(VERDICTS_FOR_KIND[CLAIM])}, "
                             f"got {self.verdict_otherwise!r}")
        if not isinstance(self.otherwise, str):
            raise TypeError(f"Convention.otherwise must be a string, got {self.otherwise!r}")


def _require_text(value, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def _as_tuple(items, cls, name: str) -> tuple:
    if items is None:
        return ()
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise TypeError(f"{name} must be a list of {cls.__name__}, got {items!r}")
    items = tuple(items)
    for item in items:
        if not isinstance(item, cls):
            raise TypeError(f"{name} must hold {cls.__name__} instances, got {item!r}")
    return items


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check, with the numbers that earned it.

    Build it with :func:`holds`, :func:`holds_with_condition`, :func:`refuted`,
    :func:`vacuous` or :func:`answered`; direct construction runs the same validation.
    ``evidence`` and ``counterexample`` are stored converted by :func:`to_jsonable`. Whether
    the verdict suits the row's kind (``answered`` only for a question, the others only for
    a claim) is checked by :meth:`validate_for` when the runner meets the catalogue row.
    """

    verdict: str  # "holds", "holds-with-condition", "refuted", "vacuous" or "answered"
    evidence: dict  # JSON-able numbers, strings and lists the check computed (worst errors, counts, ...)
    # holds-with-condition: the condition written out; vacuous: why the hypothesis is never
    # met (or the conclusion empty); None for the others.
    condition: str | None = None
    counterexample: dict | None = None  # inputs/predicted/computed/recheck; only (and always) for refuted
    backing: str = ""  # what backs the verdict, e.g. "symbolic proof", "500 property examples"
    answer: str | None = None  # the one-sentence answer of a question; only (and always) for answered
    proof_gaps: tuple[ProofGap, ...] = ()  # failing steps of the paper's proof, beside the verdict
    readings: tuple[Reading, ...] = ()  # the verdict under each reading of ambiguous notation
    conventions: tuple[Convention, ...] = ()  # boundary conventions the verdict turns on

    def __post_init__(self) -> None:
        if self.verdict not in _CHECK_VERDICTS:
            raise ValueError(
                f"verdict must be one of {', '.join(_CHECK_VERDICTS)}, got {self.verdict!r}"
                + ("; 'error' and 'not-checked' are the runner's: raise instead" if self.verdict in VERDICTS else "")
            )
        if not isinstance(self.evidence, Mapping):
            raise TypeError(f"evidence must be a dict of JSON-able values, got a {type(self.evidence).__name__}")
        object.__setattr__(self, "evidence", to_jsonable(self.evidence, "evidence"))
        if not isinstance(self.backing, str):
            raise TypeError(f"backing must be a string, got a {type(self.backing).__name__}")
        object.__setattr__(self, "proof_gaps", _as_tuple(self.proof_gaps, ProofGap, "proof_gaps"))
        object.__setattr__(self, "readings", _as_tuple(self.readings, Reading, "readings"))
        object.__setattr__(self, "conventions", _as_tuple(self.conventions, Convention, "conventions"))
        if self.verdict in (HOLDS_WITH_CONDITION, VACUOUS):
            if not isinstance(self.condition, str) or not self.condition.strip():
                what = "the condition" if self.verdict == HOLDS_WITH_CONDITION else "why the hypothesis is never met"
                raise ValueError(f"condition must be a non-empty string ({what}) for {self.verdict}, "
                                 f"got {self.condition!r}")
        elif self.condition is not None:
            raise ValueError(f"condition must be None for verdict {self.verdict!r}, got {self.condition!r}")
        if self.verdict == ANSWERED:
            if not isinstance(self.answer, str) or not self.answer.strip():
                raise ValueError(f"answer must be a non-empty sentence for {ANSWERED}, got {self.answer!r}")
        elif self.answer is not None:
            raise ValueError(f"answer must be None for verdict {self.verdict!r} (only a question is answered)")
        if self.verdict != REFUTED and not self.backing.strip():
            raise ValueError(
                f"backing must say what backs a {self.verdict} verdict (e.g. 'symbolic proof', "
                f"'500 property examples'), got {self.backing!r}"
            )
        if self.verdict == REFUTED:
            object.__setattr__(self, "counterexample", _validated_counterexample(self.counterexample))
        elif self.counterexample is not None:
            raise ValueError(f"counterexample must be None for verdict {self.verdict!r}")

    def validate_for(self, kind: str) -> None:
        """Raise ValueError unless this verdict suits a catalogue row of ``kind``: a question
        is ``answered`` (never refuted), a claim gets one of the four claim verdicts."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if self.verdict not in VERDICTS_FOR_KIND[kind]:
            hint = ("a question is answered, never refuted: return answered(...)" if kind == QUESTION
                    else "only a question is answered: return holds, holds_with_condition, refuted or vacuous")
            raise ValueError(f"verdict {self.verdict!r} is not allowed for a {kind}; {hint}")


def _validated_counterexample(counterexample) -> dict:
    """Check the shape of a refutation's counterexample and return its JSON-able copy."""
    if not isinstance(counterexample, Mapping):
        raise TypeError(
            f"counterexample must be a dict with keys {', '.join(_COUNTEREXAMPLE_KEYS)}, "
            f"got {type(counterexample).__name__}"
        )
    missing = [key for key in _COUNTEREXAMPLE_KEYS if key not in counterexample]
    if "recheck" in missing:
        raise ValueError(
            "counterexample must have a 'recheck' {'method', 'computed', 'agrees'}: a refutation "
            "must be confirmed by an independent method (a second solver, exact arithmetic, a certificate)"
        )
    if missing:
        raise ValueError(
            f"counterexample is missing key(s) {', '.join(missing)}; it needs {', '.join(_COUNTEREXAMPLE_KEYS)}"
        )
    converted = to_jsonable(counterexample, "counterexample")
    inputs = converted["inputs"]
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(
            "counterexample['inputs'] must be a non-empty dict of the concrete inputs (numbers; "
            f"functions as sympy-parsable strings), got {inputs!r}"
        )
    recheck = converted["recheck"]
    if not isinstance(recheck, dict):
        raise TypeError(
            f"counterexample['recheck'] must be a dict with keys {', '.join(_RECHECK_KEYS)}, got {recheck!r}"
        )
    missing = [key for key in _RECHECK_KEYS if key not in recheck]
    if missing:
        raise ValueError(
            f"counterexample['recheck'] is missing key(s) {', '.join(missing)}; it needs {', '.join(_RECHECK_KEYS)}"
        )
    if not isinstance(recheck["method"], str) or not recheck["method"].strip():
        raise ValueError(
            f"counterexample['recheck']['method'] must name the independent method, got {recheck['method']!r}"
        )
    if recheck["agrees"] is not True:
        raise ValueError(
            "counterexample['recheck']['agrees'] must be True: the independent recheck did not "
            f"confirm the counterexample (got {recheck['agrees']!r}), so the claim is not refuted"
        )
    return converted


def holds(evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``holds``: the claim holds as stated.

    Args:
      evidence: JSON-able numbers the check computed (worst errors, instance counts, ...).
      backing: what backs it for every case the claim covers, e.g. "symbolic proof",
        "500 property examples", "exhaustive enumeration of 64 cases".
      **beside: ``proof_gaps``, ``readings``, ``conventions`` (lists of :class:`ProofGap`,
        :class:`Reading`, :class:`Convention`), reported beside the verdict.
    """
    return CheckResult(HOLDS, evidence, backing=backing, **beside)


def holds_with_condition(condition: str, evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``holds-with-condition``: the claim holds under ``condition``, which the paper's
    hypotheses do not give; ``condition`` writes it out (a substantive one: not a
    non-emptiness or well-definedness the notation already presumes). Args as :func:`holds`."""
    return CheckResult(HOLDS_WITH_CONDITION, evidence, condition=condition, backing=backing, **beside)


def refuted(counterexample: Mapping, evidence: Mapping | None = None, **beside) -> CheckResult:
    """Verdict ``refuted``, with a counterexample confirmed by an independent method.

    Args:
      counterexample: ``{"inputs": {...concrete numbers; functions as sympy-parsable
        strings...}, "predicted": what the claim says, "computed": what was computed,
        "recheck": {"method": the independent method, "computed": its result, "agrees": True}}``.
      evidence: JSON-able numbers the check computed (default: none).
      **beside: as :func:`holds`.

    Raises:
      ValueError: a key is missing, or the recheck is missing or its ``agrees`` is not True.
    """
    return CheckResult(REFUTED, {} if evidence is None else evidence, counterexample=counterexample, **beside)


def vacuous(reason: str, evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``vacuous``: the claim is true only because its hypothesis can never be met
    (or its conclusion is empty). ``reason`` says why, ``backing`` what shows it (e.g. "sympy:
    the hypothesis set is empty"). Other args as :func:`holds`."""
    return CheckResult(VACUOUS, evidence, condition=reason, backing=backing, **beside)


def answered(answer: str, evidence: Mapping, backing: str, **beside) -> CheckResult:
    """Verdict ``answered`` for a catalogue *question*: ``answer`` in one sentence, with the
    evidence that earned it. Never for a claim. Other args as :func:`holds`."""
    return CheckResult(ANSWERED, evidence, backing=backing, answer=answer, **beside)


# ---------------------------------------------------------------------------------------
# Mutants and repairs
# ---------------------------------------------------------------------------------------

MUTANT = "mutant"
REPAIR = "repair"


@dataclass(frozen=True)
class Variant:
    """A nearby statement on which a claim's own check is rerun (``pmtheory verify --mutants``).

    A *mutant* is a false statement near a claim that holds (a constant changed, a sign
    flipped, an inequality reversed, a hypothesis dropped): the check must return
    ``refuted``. A *repair* is the corrected statement of a refuted claim: the check must
    return ``holds``. Either way the same check function runs, called as
    ``check(quick=..., **params)``: ``params`` are the keyword arguments through which the
    check reads the statement it tests, so the variant is a different statement, not a
    different computation. A variant is *killed* when the check returns ``expected``.
    """

    name: str  # short name, e.g. "C1 = c' − 1"
    statement: str  # the variant's statement, in words
    params: dict  # keyword arguments of the check that encode the variant's statement
    role: str  # "mutant" or "repair"

    def __post_init__(self) -> None:
        _require_text(self.name, "Variant.name")
        _require_text(self.statement, "Variant.statement")
        if self.role not in (MUTANT, REPAIR):
            raise ValueError(f"Variant.role must be {MUTANT!r} or {REPAIR!r}, got {self.role!r}")
        if not isinstance(self.params, Mapping) or not self.params:
            raise ValueError(
                f"Variant {self.name!r} needs params: the check's keyword arguments that state the variant "
                "(a variant with no params would rerun the claim itself)"
            )
        for key in self.params:
            if not isinstance(key, str) or not key.isidentifier() or key == "quick":
                raise ValueError(f"Variant {self.name!r} has a bad parameter name {key!r}")

    @property
    def expected(self) -> str:
        """The verdict that kills it: ``refuted`` for a mutant, ``holds`` for a repair."""
        return REFUTED if self.role == MUTANT else HOLDS


def mutant(name: str, statement: str, **params) -> Variant:
    """A false statement near a claim; its check, called with ``params``, must refute it."""
    return Variant(name, statement, dict(params), MUTANT)


def repair(name: str, statement: str, **params) -> Variant:
    """The corrected statement of a refuted claim; its check, called with ``params``, must
    return ``holds``."""
    return Variant(name, statement, dict(params), REPAIR)


@dataclass(frozen=True)
class VariantOutcome:
    """What the check gave on one mutant or repair."""

    name: str
    statement: str
    role: str  # "mutant" or "repair"
    expected: str  # the verdict that kills it
    verdict: str  # the verdict the check returned ("error" if it raised)
    killed: bool  # verdict == expected
    seconds: float
    detail: str = ""  # the error message, or the counterexample's inputs, in one line


# ---------------------------------------------------------------------------------------
# Outcomes and reports
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimOutcome:
    """What running (or not running) the check of one claim gave."""

    id: str  # the claim ID
    verdict: str  # one of VERDICTS
    condition: str | None  # holds-with-condition: the condition; vacuous: why; else None
    methods: tuple[str, ...]  # the catalogue's method words for the claim
    evidence: dict  # JSON-able evidence; for "error": exception_type, message, traceback
    counterexample: dict | None  # the rechecked counterexample of a refuted verdict, else None
    seconds: float  # wall-clock time the check took (0.0 when not checked)
    backing: str  # what backs the verdict; "" for refuted, error and not-checked
    where: str  # where the paper states the claim ("" for BRG)
    statement: str  # the claim, as the catalogue words it
    kind: str = CLAIM  # the catalogue row's kind: "claim" or "question"
    answer: str | None = None  # a question's one-sentence answer
    proof_gaps: tuple[ProofGap, ...] = ()
    readings: tuple[Reading, ...] = ()
    conventions: tuple[Convention, ...] = ()
    mutants: tuple[VariantOutcome, ...] = ()  # filled when the run included mutants
    variants_registered: int = 0  # how many mutants and repairs the claim's check registers


@dataclass(frozen=True)
class Report:
    """The outcomes of one run, in catalogue order."""

    pmtheory_version: str  # the version of pmtheory that produced it
    claims: list[ClaimOutcome] = field(default_factory=list)  # one outcome per selected claim
    mutants_run: bool = False  # whether the mutants and repairs were run too
    complete: bool = True  # False when the run was interrupted before every selected claim

    def counts(self) -> dict[str, int]:
        """How many claims got each verdict, for every verdict word (zeros included)."""
        counts = dict.fromkeys(VERDICTS, 0)
        for outcome in self.claims:
            counts[outcome.verdict] += 1
        return counts

    def mutation(self) -> dict | None:
        """The run's mutants and repairs, or None when they were not run: ``{"claims_with_mutants":
        int, "claims_without": [IDs that register none], "killed": int, "total": int,
        "survivors": ["ID: name" of each one not killed]}``."""
        if not self.mutants_run:
            return None
        variants = [variant for outcome in self.claims for variant in outcome.mutants]
        return {
            "claims_with_mutants": sum(1 for outcome in self.claims if outcome.mutants),
            "claims_without": [outcome.id for outcome in self.claims if not outcome.variants_registered],
            "killed": sum(1 for variant in variants if variant.killed),
            "total": len(variants),
            "survivors": [f"{outcome.id}: {variant.name}" for outcome in self.claims
                          for variant in outcome.mutants if not variant.killed],
        }

    @property
    def has_errors(self) -> bool:
        """Whether any check errored (a refuted claim is a finding, not an error)."""
        return any(outcome.verdict == ERROR for outcome in self.claims)

    def outcome(self, claim_id: str) -> ClaimOutcome:
        """The outcome of ``claim_id``; ValueError if the run did not include it."""
        for outcome in self.claims:
            if outcome.id == claim_id:
                return outcome
        raise ValueError(f"claim_id {claim_id!r} is not in this report")


# ---------------------------------------------------------------------------------------
# Selecting claims
# ---------------------------------------------------------------------------------------


class UnknownClaimError(ValueError):
    """A claim ID or glob that matches no claim in the catalogue."""

    def __init__(self, patterns: list[str], catalogue_ids: Iterable[str] = CLAIM_IDS) -> None:
        self.patterns = list(patterns)  # the patterns that matched nothing
        catalogue_ids = list(catalogue_ids)
        described = ", ".join(f"{pattern!r}{_suggestion(pattern, catalogue_ids)}" for pattern in self.patterns)
        super().__init__(
            f"no claim in the catalogue matches {described}; IDs look like 'PMR-P3.1' and "
            "globs like 'PMR-*' (case-sensitive)"
        )


def select_claim_ids(patterns: Iterable[str] | None, catalogue_ids: Iterable[str] = CLAIM_IDS) -> tuple[str, ...]:
    """The catalogue IDs matched by any of ``patterns`` (IDs or fnmatch globs), in catalogue order.

    Matching is case-sensitive; ``None`` or no patterns selects every ID; an ID matched by
    several patterns is selected once.

    Raises:
      TypeError: ``patterns`` is a single string, or holds a non-string.
      UnknownClaimError (a ValueError): a pattern matches no catalogue ID; names each one.
    """
    catalogue_ids = tuple(catalogue_ids)
    if patterns is None:
        return catalogue_ids
    if isinstance(patterns, (str, bytes)):
        raise TypeError(
            f"patterns must be a list of claim IDs or globs, got the single string {patterns!r}; wrap it in a list"
        )
    patterns = list(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"patterns must hold strings (claim IDs or globs), got {pattern!r}")
    if not patterns:
        return catalogue_ids
    selected: set[str] = set()
    unknown = []
    for pattern in patterns:
        matches = [claim_id for claim_id in catalogue_ids if fnmatch.fnmatchcase(claim_id, pattern)]
        if not matches:
            unknown.append(pattern)
        selected.update(matches)
    if unknown:
        raise UnknownClaimError(unknown, catalogue_ids)
    return tuple(claim_id for claim_id in catalogue_ids if claim_id in selected)


# ---------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------

# A check: ``check(*, quick=...) -> CheckResult``.
Check = Callable[..., CheckResult]
# A progress callback: (1-based index, total, claim ID, None before the check / its outcome after).
Progress = Callable[[int, int, str, "ClaimOutcome | None"], None]


def is_missing_module(error: ModuleNotFoundError, module_name: str) -> bool:
    """Whether ``error`` (from importing ``module_name``) says that module or its package does
    not exist, rather than that something it imports is missing."""
    return error.name is not None and (module_name == error.name or module_name.startswith(error.name + "."))


class Registry:
    """Which function checks which claim, and the runner of those checks.

    The package has one default instance (:data:`default_registry`), which the module-level
    :func:`register`, :func:`registered_ids` and :func:`run_claims` use and into which the
    modules of :data:`CHECK_MODULES` register. Tests build their own, isolated instances.

    Args:
      check_modules: modules imported (once, on first use) to register their checks. A
        listed module that does not exist is skipped (see :attr:`skipped_modules`); any
        other import failure propagates.
      catalogue: the claims that may be registered and that runs report on.
    """

    def __init__(self, check_modules: Iterable[str] = (), catalogue: Iterable[ClaimInfo] = CATALOGUE) -> None:
        if isinstance(check_modules, str):
            raise TypeError(f"check_modules must be a tuple of module names, got the single string {check_modules!r}")
        self._check_modules = tuple(check_modules)
        for module_name in self._check_modules:
            if not isinstance(module_name, str):
                raise TypeError(f"check_modules must hold module names, got {module_name!r}")
        self._catalogue = tuple(catalogue)
        for info in self._catalogue:
            if not isinstance(info, ClaimInfo):
                raise TypeError(f"catalogue must hold ClaimInfo rows, got {info!r}")
        self._info_by_id = {info.id: info for info in self._catalogue}
        self._checks: dict[str, Check] = {}
        self._variants: dict[str, tuple[Variant, ...]] = {}
        self._loaded = False
        self._loading = False
        self._skipped_modules: list[str] = []

    @property
    def check_modules(self) -> tuple[str, ...]:
        """The modules this registry imports to collect checks."""
        return self._check_modules

    @property
    def skipped_modules(self) -> tuple[str, ...]:
        """The listed check modules that do not exist (their claims show as not-checked)."""
        self.load_check_modules()
        return tuple(self._skipped_modules)

    def register(self, claim_id: str, *, mutants: Iterable[Variant] = ()) -> Callable[[Check], Check]:
        """Decorator: register ``check(*, quick: bool, **statement) -> CheckResult`` as the
        check of ``claim_id``, with its mutants and repairs (:func:`mutant`, :func:`repair`).

        Every variant's ``params`` must bind to the check's signature: they are the keyword
        arguments through which the check reads the statement it tests.

        Raises:
          ValueError: ``claim_id`` is not in the catalogue, or already has a check; two
            variants share a name.
          TypeError: ``claim_id`` is not a string; the decorated object is not callable or
            cannot be called as ``check(quick=...)`` or with a variant's params; a variant is
            not a :class:`Variant`.
        """
        if not isinstance(claim_id, str):
            raise TypeError(f"claim_id must be a claim ID string such as 'PMR-P3.1', got {claim_id!r}")
        if claim_id not in self._info_by_id:
            raise ValueError(
                f"claim_id {claim_id!r} is not in the catalogue{_suggestion(claim_id, self._info_by_id)}; "
                "add it to shared/CLAIMS.md and pmtheory.claims.CATALOGUE first"
            )
        variants = _as_tuple(mutants, Variant, f"mutants of {claim_id}")
        names = [variant.name for variant in variants]
        if len(names) != len(set(names)):
            raise ValueError(f"mutants of {claim_id} repeat a name: {names}")

        def decorator(check: Check) -> Check:
            if not callable(check):
                raise TypeError(f"register({claim_id!r}) must decorate a function, got {check!r}")
            for params in [{}] + [variant.params for variant in variants]:
                try:
                    inspect.signature(check).bind(quick=True, **params)
                except TypeError:
                    if not params:
                        raise TypeError(
                            f"the check of {claim_id} ({_describe(check)}) must accept the keyword argument quick: "
                            "def check(*, quick: bool) -> CheckResult"
                        ) from None
                    raise TypeError(
                        f"the check of {claim_id} ({_describe(check)}) does not accept the mutant parameters "
                        f"{sorted(params)}: add them as keyword arguments whose defaults state the paper's claim"
                    ) from None
                except ValueError:  # no signature to inspect (some builtins): accept it
                    pass
            if claim_id in self._checks:
                raise ValueError(
                    f"claim_id {claim_id!r} is registered twice: by {_describe(self._checks[claim_id])} "
                    f"and by {_describe(check)}"
                )
            self._checks[claim_id] = check
            self._variants[claim_id] = variants
            return check

        return decorator

    def variants_for(self, claim_id: str) -> tuple[Variant, ...]:
        """The mutants and repairs registered with ``claim_id``'s check (empty if none)."""
        self.load_check_modules()
        return self._variants.get(claim_id, ())

    def load_check_modules(self) -> None:
        """Import the check modules (once). Called by every query; idempotent."""
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            for module_name in self._check_modules:
                try:
                    importlib.import_module(module_name)
                except ModuleNotFoundError as error:
                    if not is_missing_module(error, module_name):
                        raise  # the module (or its package) exists but one of its imports is missing
                    self._skipped_modules.append(module_name)
            self._loaded = True
        finally:
            self._loading = False

    def registered_ids(self) -> tuple[str, ...]:
        """The IDs that have a check, in catalogue order."""
        self.load_check_modules()
        return tuple(info.id for info in self._catalogue if info.id in self._checks)

    def check_for(self, claim_id: str) -> Check | None:
        """The check registered for ``claim_id``, or None."""
        self.load_check_modules()
        return self._checks.get(claim_id)

    def run(
        self,
        patterns: Iterable[str] | None = None,
        *,
        quick: bool = False,
        progress: Progress | None = None,
        mutants: bool = False,
    ) -> Report:
        """Run the checks of the claims matched by ``patterns``; see :func:`run_claims`."""
        if not isinstance(quick, (bool, np.bool_)):
            raise TypeError(f"quick must be a bool, got {quick!r}")
        if not isinstance(mutants, (bool, np.bool_)):
            raise TypeError(f"mutants must be a bool, got {mutants!r}")
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable (index, total, claim_id, outcome) or None, got {progress!r}")
        selected = select_claim_ids(patterns, self._info_by_id)  # before any import: typos fail fast
        self.load_check_modules()
        outcomes: list[ClaimOutcome] = []
        try:
            for index, claim_id in enumerate(selected, start=1):
                if progress is not None:
                    progress(index, len(selected), claim_id, None)
                outcome = self._run_check(self._info_by_id[claim_id], bool(quick))
                if mutants:
                    variant_outcomes = tuple(self._run_variant(claim_id, variant, bool(quick))
                                             for variant in self._variants.get(claim_id, ()))
                    outcome = dataclasses.replace(outcome, mutants=variant_outcomes)
                outcomes.append(outcome)
                if progress is not None:
                    progress(index, len(selected), claim_id, outcome)
        except KeyboardInterrupt as interrupt:
            interrupt.partial_report = Report(pmtheory_version(), outcomes, bool(mutants), complete=False)
            raise
        return Report(pmtheory_version=pmtheory_version(), claims=outcomes, mutants_run=bool(mutants))

    def _run_check(self, info: ClaimInfo, quick: bool) -> ClaimOutcome:
        check = self._checks.get(info.id)
        if check is None:
            return _outcome(info, NOT_CHECKED, evidence={}, seconds=0.0)
        variants_registered = len(self._variants.get(info.id, ()))
        result, seconds, error = self._call(info.id, check, info.kind, quick, {})
        if error is not None:
            return _outcome(info, ERROR, evidence=error, seconds=seconds, variants_registered=variants_registered)
        return _outcome(
            info,
            result.verdict,
            evidence=result.evidence,
            seconds=seconds,
            condition=result.condition,
            counterexample=result.counterexample,
            backing=result.backing,
            answer=result.answer,
            proof_gaps=result.proof_gaps,
            readings=result.readings,
            conventions=result.conventions,
            variants_registered=variants_registered,
        )

    def _call(self, claim_id: str, check: Check, kind: str, quick: bool,
              params: dict) -> tuple[CheckResult | None, float, dict | None]:
        """Run one check; (result, seconds, None) or (None, seconds, error evidence)."""
        start = time.perf_counter()
        try:
            result = check(quick=quick, **params)
        except Exception as error:  # a failing check is reported, never fatal to the run
            return None, time.perf_counter() - start, _error_evidence(error)
        seconds = time.perf_counter() - start
        if not isinstance(result, CheckResult):
            message = (
                f"the check of {claim_id} ({_describe(check)}) returned a {type(result).__name__}, "
                "expected a CheckResult (use holds, holds_with_condition, refuted, vacuous or answered)"
            )
            return None, seconds, {"exception_type": "TypeError", "message": message, "traceback": ""}
        try:
            result.validate_for(kind)
        except ValueError as error:
            return None, seconds, {"exception_type": "ValueError", "message": f"{claim_id}: {error}", "traceback": ""}
        return result, seconds, None

    def _run_variant(self, claim_id: str, variant: Variant, quick: bool) -> VariantOutcome:
        # A variant is a statement, so it is judged as a claim even where the row is a question.
        result, seconds, error = self._call(claim_id, self._checks[claim_id], CLAIM, quick, variant.params)
        if error is not None:
            verdict, detail = ERROR, f"{error['exception_type']}: {error['message']}"
        else:
            verdict = result.verdict
            detail = (json.dumps(result.counterexample["inputs"], ensure_ascii=False)
                      if result.verdict == REFUTED else (result.condition or result.backing))
        return VariantOutcome(name=variant.name, statement=variant.statement, role=variant.role,
                              expected=variant.expected, verdict=verdict, killed=verdict == variant.expected,
                              seconds=float(seconds), detail=" ".join(detail.split()))


def _outcome(info: ClaimInfo, verdict: str, *, evidence: dict, seconds: float, **fields) -> ClaimOutcome:
    return ClaimOutcome(
        id=info.id,
        verdict=verdict,
        condition=fields.pop("condition", None),
        methods=info.methods,
        evidence=evidence,
        counterexample=fields.pop("counterexample", None),
        seconds=float(seconds),
        backing=fields.pop("backing", ""),
        where=info.where,
        statement=info.statement,
        kind=info.kind,
        **fields,
    )


def _error_evidence(error: BaseException) -> dict:
    frames = "".join(traceback.format_exception(error, limit=-_TRACEBACK_ENTRIES))
    return {"exception_type": type(error).__qualname__, "message": str(error), "traceback": frames}


def _describe(check) -> str:
    module = getattr(check, "__module__", None) or "?"
    return f"{module}.{getattr(check, '__qualname__', repr(check))}"


# The package's registry: the check modules register into it.
default_registry = Registry(check_modules=CHECK_MODULES)


def register(claim_id: str, *, mutants: Iterable[Variant] = ()) -> Callable[[Check], Check]:
    """Decorator registering ``check(*, quick: bool, **statement) -> CheckResult`` for
    ``claim_id`` in the default registry, with its mutants and repairs (see
    :meth:`Registry.register`); ValueError for an ID not in the catalogue or registered twice.

    >>> @register("PMR-P3.1")                                   # doctest: +SKIP
    ... def check_unregularized_collapse(*, quick: bool) -> CheckResult:
    ...     return holds({"instances": 400}, backing="400 exact LP instances")
    """
    return default_registry.register(claim_id, mutants=mutants)


def registered_ids() -> tuple[str, ...]:
    """The claim IDs with a check in the default registry, in catalogue order."""
    return default_registry.registered_ids()


def run_claims(
    patterns: Iterable[str] | None = None,
    *,
    quick: bool = False,
    progress: Progress | None = None,
    mutants: bool = False,
) -> Report:
    """Run the registered checks of the selected claims and collect their verdicts.

    Each selected claim, in catalogue order, gets an outcome: the verdict its check returns
    (timed), ``error`` if the check raised (the evidence keeps the exception type, message and
    the innermost traceback entries), returned something other than a :class:`CheckResult`,
    or returned a verdict its row's kind does not admit (``answered`` for a claim, anything
    else for a question), and ``not-checked`` if no check is registered for it.

    Args:
      patterns: claim IDs or fnmatch globs such as "PMR-*" (case-sensitive); None or empty
        runs every claim in the catalogue.
      quick: passed to every check; a quick check runs fewer random instances, never a
        different kind of check.
      progress: called as ``progress(index, total, claim_id, None)`` before each check and
        ``progress(index, total, claim_id, outcome)`` after it; ``index`` counts from 1.
      mutants: also rerun each check on its registered mutants and repairs
        (:class:`Variant`); each outcome's ``mutants`` says which were killed.

    Returns:
      A :class:`Report` with one :class:`ClaimOutcome` per selected claim.

    Raises:
      UnknownClaimError (a ValueError): a pattern matches no catalogue ID (checked before any
        check runs); the message names it.
      KeyboardInterrupt: passed on, with the claims finished so far as its
        ``partial_report`` (a :class:`Report` with ``complete=False``).
    """
    return default_registry.run(patterns, quick=quick, progress=progress, mutants=mutants)
