"""Binary preferences of the KL-RLHF policy and the PL model's subset consistency, with sympy.

Source: shared/seeds/001_c8a06c444314e79a.txt (Xiao et al. 2024), §5.1 eq (5.1)-(5.2)
(algorithmic bias of KL RLHF) and App A.1 (the PL model, Assumption A.1 and (A.1)).

Representation: the PL model is written in weights w_i = e^{r_i} > 0 so that every
probability is a rational function of w; the App A.1 checks compute in sympy's field of
rational functions Q(w_1..w_K) (``sympy.field``), where an element is 0 iff it is the zero
rational function, so equality is exact and fast.
Shapes: ``K`` is the number of responses.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp

from proofs._symbolic import check_num_responses, is_identically_zero

# The weights passed to these callables are elements of Q(w_1..w_K) (sympy FracElement):
# use field arithmetic (+, −, ·, /, integer powers), not sympy functions.
# A choice rule: (weights w_1..w_K, subset of indices, index in the subset) -> probability.
ChoiceRule = Callable[[Sequence[sp.Expr], Sequence[int], int], sp.Expr]
# A ranking model: (weights w_1..w_K, an ordering of all K indices, best first) -> probability.
RankingModel = Callable[[Sequence[sp.Expr], Sequence[int]], sp.Expr]

BETA = sp.Symbol("beta", positive=True)
# d = r(y_1) − r(y_2), the only reward quantity a binary preference sees.
REWARD_GAP = sp.Symbol("d", real=True)
# (q_1, q_2) = (p_ref(y_1), p_ref(y_2)), the reference policy's binary preference.
REF_PREFS = sp.symbols("q_1:3", positive=True)
# π_ref(y_1), π_ref(y_2) (positive, not necessarily summing to 1) and r(y_1), r(y_2).
REF_PROBS = sp.symbols("pi_ref_1:3", positive=True)
REWARDS = sp.symbols("r_1:3", real=True)


@dataclass(frozen=True)
class BinaryPreference:
    """Eq (5.2): the binary preference of the KL-RLHF optimum (5.1)."""

    p_rlhf: tuple[sp.Expr, sp.Expr]  # π_rlhf(y_i)/(π_rlhf(y_1) + π_rlhf(y_2)), i = 1, 2
    p_reward: tuple[sp.Expr, sp.Expr]  # e^{r_i/β}/(e^{r_1/β} + e^{r_2/β}), as the paper defines it
    p_ref: tuple[sp.Expr, sp.Expr]  # π_ref(y_i)/(π_ref(y_1) + π_ref(y_2))
    renormalized_product: tuple[sp.Expr, sp.Expr]  # p_ref·p_reward / Σ_j p_ref·p_reward
    verified: bool  # p_rlhf ≡ renormalized_product for i = 1, 2


def kl_rlhf_binary_preference() -> BinaryPreference:
    """Eq (5.2): p_rlhf(y_i) = p_ref(y_i) p_reward(y_i) / Σ_j p_ref(y_j) p_reward(y_j).

    .. math::

        π_{rlhf}(y) = \\frac{π_{ref}(y) e^{r(y)/β}}{Z},\\quad
        p_{rlhf}(y_i) = \\frac{p_{ref}(y_i)p_{reward}(y_i)}
                            {\\sum_{j=1,2} p_{ref}(y_j)p_{reward}(y_j)}.

    Source: seed 001, §5.1, eq (5.1)-(5.2). Agrees with the paper, with p_reward defined as
    the paper does there, *with* the temperature β: e^{r_i/β}/Σ_j e^{r_j/β}. The
    normalizer Z of (5.1) over all responses cancels.

    Returns:
      A :class:`BinaryPreference`.
    """
    ref, rewards = REF_PROBS, REWARDS
    total = sp.Symbol("Z", positive=True)
    policy = [p * sp.exp(r / BETA) / total for p, r in zip(ref, rewards)]
    p_rlhf = tuple(pol / sum(policy) for pol in policy)
    tempered = [sp.exp(r / BETA) for r in rewards]
    p_reward = tuple(t / sum(tempered) for t in tempered)
    p_ref = tuple(p / sum(ref) for p in ref)
    products = [a * b for a, b in zip(p_ref, p_reward)]
    renormalized = tuple(prod / sum(products) for prod in products)
    return BinaryPreference(
        p_rlhf=p_rlhf,
        p_reward=p_reward,
        p_ref=p_ref,
        renormalized_product=renormalized,
        verified=all(is_identically_zero(a - b) for a, b in zip(p_rlhf, renormalized)),
    )


@dataclass(frozen=True)
class MatchingConditions:
    """For which (β, p_ref) does the KL-RLHF binary preference equal a target for all rewards."""

    target: str  # "btl": e^{r_1}/(e^{r_1}+e^{r_2}) as in (2.1); "tempered": with r/β as in §5.1
    p_rlhf: sp.Expr  # p_rlhf(y_1) in terms of d = r_1 − r_2, β and (q_1, q_2) = p_ref
    p_target: sp.Expr  # the target preference for y_1
    log_odds_gap: sp.Expr  # logit(p_rlhf) − logit(p_target), affine in d
    coefficients: tuple[sp.Expr, sp.Expr]  # (coefficient of d, constant term) of the gap
    solutions: tuple[dict, ...]  # sympy's solutions of coefficients = 0, q_1 + q_2 = 1
    conditions: str  # assumptions
    verified: bool  # solutions are exactly the expected set and make the gap vanish


def kl_rlhf_matching_conditions(target: str = "btl") -> MatchingConditions:
    """Solve p_rlhf(y_1) ≡ p_target(y_1) for all rewards: β = 1 and p_ref = 1/2 (BTL target).

    .. math::

        \\operatorname{logit} p_{rlhf}(y_1) = \\log\\frac{q_1}{q_2} + \\frac{d}{β},\\quad
        \\operatorname{logit} p_{BTL}(y_1) = d,\\quad d = r(y_1) - r(y_2),\\ q_1 + q_2 = 1.

    The gap is affine in d, so it vanishes for every d iff both coefficients vanish:
    1/β − 1 = 0 and log(q_1/q_2) = 0, i.e. β = 1 and q_1 = q_2 = 1/2. Since logit is
    injective on (0, 1), equal log-odds is equal probability.

    Source: seed 001, §5.1, text after (5.2) ("p_rlhf is identical to the preferences of the
    reward model when β = 1 and π_ref is uniform").

    **Differs from the paper's notation.** With p_reward defined as in §5.1 (with r/β,
    ``target="tempered"``), p_rlhf ≡ p_reward iff p_ref = 1/2, for *every* β > 0: the
    condition β = 1 appears only when the target is the reward model's own BTL preference
    (2.1), e^{r_1}/(e^{r_1} + e^{r_2}) (``target="btl"``), which is what the text, Figure 9
    and App A.3 mean.

    Args:
      target: ``"btl"`` (default) or ``"tempered"``.

    Returns:
      A :class:`MatchingConditions`; ``verified`` is True iff the solution set is
      {β = 1, q_1 = q_2 = 1/2} ("btl") or {q_1 = q_2 = 1/2} with β free ("tempered"), and
      substituting it makes the probability gap vanish identically in d.
    """
    if target not in ("btl", "tempered"):
        raise ValueError(f"target must be 'btl' or 'tempered', got {target!r}")
    d = REWARD_GAP
    q1, q2 = REF_PREFS
    # p_rlhf(y_1) from (5.2), with p_ref = (q_1, q_2) and r_1 = r_2 + d: depends on d only.
    binary = kl_rlhf_binary_preference()
    p_rlhf = sp.simplify(
        binary.renormalized_product[0].subs(
            {REF_PROBS[0]: q1, REF_PROBS[1]: q2, REWARDS[0]: REWARDS[1] + d}
        )
    )
    if p_rlhf.has(REWARDS[1]):
        raise ArithmeticError(f"p_rlhf should depend on the rewards only through d: {p_rlhf}")
    scale = 1 if target == "btl" else BETA
    p_target = sp.exp(d / scale) / (sp.exp(d / scale) + 1)

    def logit(p: sp.Expr) -> sp.Expr:
        return sp.expand_log(sp.log(sp.simplify(p / (1 - p))), force=True)

    gap = sp.expand(logit(p_rlhf) - logit(p_target))
    poly = sp.Poly(gap, d)
    if poly.degree() > 1:
        raise ArithmeticError(f"log-odds gap is not affine in d: {gap}")
    coefficients = (sp.simplify(poly.coeff_monomial(d)), sp.simplify(poly.coeff_monomial(1)))
    unknowns = [BETA, q1, q2] if target == "btl" else [q1, q2]
    equations = [c for c in coefficients if c != 0] + [q1 + q2 - 1]
    solutions = tuple(sp.solve(equations, unknowns, dict=True))
    half = sp.Rational(1, 2)
    expected = {q1: half, q2: half} | ({BETA: sp.Integer(1)} if target == "btl" else {})
    matches = [dict(s) for s in solutions] == [expected]
    vanishes = all(is_identically_zero(p_rlhf.subs(s) - p_target.subs(s)) for s in solutions)
    return MatchingConditions(
        target=target,
        p_rlhf=p_rlhf,
        p_target=p_target,
        log_odds_gap=gap,
        coefficients=coefficients,
        solutions=solutions,
        conditions="β > 0, p_ref = (q_1, q_2) with q_i > 0 and q_1 + q_2 = 1; every d ∈ ℝ",
        verified=matches and vanishes,
    )


def plackett_luce_choice(weights: Sequence[sp.Expr], subset: Sequence[int], index: int) -> sp.Expr:
    """The PL (Luce) choice rule on a subset: w_index / Σ_{j ∈ subset} w_j.

    Source: seed 001, App A.1, π(y|C, x) = e^{r(y)}/Σ_{y' ∈ C} e^{r(y')} (weights w = e^r).

    Args:
      weights: w_1..w_K > 0, shape (K,).
      subset: indices of the offered responses.
      index: the chosen response, a member of ``subset``.

    Returns:
      The choice probability.
    """
    if index not in subset:
        raise ValueError(f"index {index} is not in subset {tuple(subset)}")
    return weights[index] / sum(weights[j] for j in subset)


def plackett_luce_ranking(weights: Sequence[sp.Expr], order: Sequence[int]) -> sp.Expr:
    """Assumption A.1: P(τ) = Π_i w_{τ(i)} / Σ_{j ≥ i} w_{τ(j)}, best response first.

    Source: seed 001, App A.1, Assumption A.1.

    Args:
      weights: w_1..w_K > 0, shape (K,).
      order: a permutation of range(K), best first.

    Returns:
      The ranking probability.
    """
    probability = 1
    for position in range(len(order)):
        probability *= plackett_luce_choice(weights, order[position:], order[position])
    return probability


@dataclass(frozen=True)
class SubsetConsistency:
    """IIA: a choice rule on each subset equals the full rule conditioned on that subset."""

    num_responses: int  # K
    num_subsets: int  # subsets of size ≥ 2 checked
    violations: tuple[tuple[tuple[int, ...], int, sp.Expr], ...]  # (subset, index, residual)
    verified: bool  # no violations


def _weight_field(num_responses: int) -> tuple:
    """The field Q(w_1..w_K) and its generators w_1..w_K."""
    _, *weights = sp.field(",".join(f"w_{i}" for i in range(1, num_responses + 1)), sp.QQ)
    return tuple(weights)


def pl_subset_consistency(
    num_responses: int = 4, choice_rule: ChoiceRule | None = None
) -> SubsetConsistency:
    """App A.1: (A.1) conditioned on any subset C is the PL rule on C (IIA), for K = 4.

    .. math::  \\frac{π(y)}{\\sum_{y' ∈ C} π(y')} = \\frac{e^{r(y)}}{\\sum_{y' ∈ C} e^{r(y')}}
               \\quad \\text{for all } C ⊆ \\{y_1..y_K\\},\\ y ∈ C.

    Source: seed 001, App A.1 (text after (A.1)). Agrees with the paper.

    Args:
      num_responses: K ≥ 2.
      choice_rule: the rule to test; defaults to :func:`plackett_luce_choice`.

    Returns:
      A :class:`SubsetConsistency`; ``verified`` is True iff every subset of size ≥ 2 and
      every member satisfies the identity exactly.
    """
    k = check_num_responses(num_responses)
    rule = plackett_luce_choice if choice_rule is None else choice_rule
    if not callable(rule):
        raise TypeError(f"choice_rule must be callable, got {type(rule).__name__}")
    weights = _weight_field(k)
    everything = tuple(range(k))
    full = [rule(weights, everything, i) for i in everything]
    violations = []
    num_subsets = 0
    for size in range(2, k + 1):
        for subset in itertools.combinations(everything, size):
            num_subsets += 1
            conditioned_total = sum(full[j] for j in subset)
            for i in subset:
                residual = rule(weights, subset, i) - full[i] / conditioned_total
                if residual != 0:
                    violations.append((subset, i, residual.as_expr()))
    return SubsetConsistency(
        num_responses=k,
        num_subsets=num_subsets,
        violations=tuple(violations),
        verified=not violations,
    )


@dataclass(frozen=True)
class RankingMarginals:
    """Marginals of a ranking model: total mass, top choice, pairwise order."""

    num_responses: int  # K
    total_probability: sp.Expr  # Σ_τ P(τ): 1 for a distribution
    top_choice: tuple[sp.Expr, ...]  # P(τ(1) = i), shape (K,)
    top_choice_residuals: tuple[sp.Expr, ...]  # top_choice − w_i/Σ_j w_j, shape (K,)
    pairwise_residuals: tuple[sp.Expr, ...]  # P(i above j) − w_i/(w_i + w_j), K(K−1)/2 pairs
    verified: bool  # total 1, top choice is (A.1), every pairwise marginal is BTL (2.1)


def pl_ranking_marginals(
    num_responses: int = 4, ranking_model: RankingModel | None = None
) -> RankingMarginals:
    """App A.1: Assumption A.1's ranking marginals give (A.1) (top choice) and BTL (pairs).

    .. math::

        \\sum_{τ:\\,τ(1) = i} P(τ) = \\frac{w_i}{\\sum_j w_j},\\qquad
        \\sum_{τ:\\,i \\text{ before } j} P(τ) = \\frac{w_i}{w_i + w_j}.

    Source: seed 001, App A.1 ("by letting i = 1 … we obtain (A.1)"; "the PL model can be
    reduced to the BTL model"). Agrees with the paper: sympy confirms the top-choice
    marginal is (A.1) and every pairwise marginal is the BTL probability (2.1), a stronger
    statement than the paper's reduction via the last two ranks.

    Args:
      num_responses: K ≥ 2 (K! orderings are summed).
      ranking_model: defaults to :func:`plackett_luce_ranking`.

    Returns:
      A :class:`RankingMarginals`.
    """
    k = check_num_responses(num_responses)
    model = plackett_luce_ranking if ranking_model is None else ranking_model
    if not callable(model):
        raise TypeError(f"ranking_model must be callable, got {type(model).__name__}")
    weights = _weight_field(k)
    orders = list(itertools.permutations(range(k)))
    probability = {order: model(weights, order) for order in orders}
    total = sum(probability.values())
    top = [sum(probability[o] for o in orders if o[0] == i) for i in range(k)]
    total_weight = sum(weights)
    top_residuals = [t - w / total_weight for t, w in zip(top, weights)]
    pair_residuals = []
    for i, j in itertools.combinations(range(k), 2):
        above = sum(probability[o] for o in orders if o.index(i) < o.index(j))
        pair_residuals.append(above - weights[i] / (weights[i] + weights[j]))
    return RankingMarginals(
        num_responses=k,
        total_probability=total.as_expr(),
        top_choice=tuple(t.as_expr() for t in top),
        top_choice_residuals=tuple(r.as_expr() for r in top_residuals),
        pairwise_residuals=tuple(r.as_expr() for r in pair_residuals),
        verified=total.as_expr() == 1
        and all(r == 0 for r in top_residuals)
        and all(r == 0 for r in pair_residuals),
    )

