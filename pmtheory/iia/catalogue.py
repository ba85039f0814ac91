"""The IIA rows of ``shared/CLAIMS.md`` (seed 002), column for column; tests/claims/test_claims.py
compares them with the file. :mod:`pmtheory.claims.catalogue` says what each column means."""

ROWS = [
    {
        "id": "IIA-E3",
        "where": "§3.4, eq 3",
        "statement": (
            "Hard choice with i.i.d. standard Gumbel perturbations gives logit (softmax) choice "
            "probabilities."
        ),
        "method": "exact (integral), simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-S3.5",
        "where": "§3.5",
        "statement": (
            "A soft choice model equals a hard choice model with added Gumbel noise; a logit model is a soft "
            "choice model."
        ),
        "method": "exact, simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-E5",
        "where": "eq 5",
        "statement": "Dichotomy-model choice probabilities are E[1_{M_Z}(y)/|Y∩M_Z|].",
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "IIA-PET",
        "where": "§3.7",
        "statement": (
            "Dog/cat/feline: logit gives 1/3 each with three options; dichotomy with p=(1/2,1/2) gives 1/2, "
            "1/4, 1/4; logit satisfies IIA (eq 6), dichotomy violates it."
        ),
        "method": "exact (rational arithmetic)",
        "kind": "claim",
    },
    {
        "id": "IIA-E9",
        "where": "eq 9",
        "statement": "The minimizer of L_policy is P_ref·e^{r|D|/β}/Z.",
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "IIA-L13",
        "where": "Lemma 13, eq 10-11",
        "statement": "If L_reward has a minimizer, DPO and RLPO yield the same policy.",
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "IIA-E12",
        "where": "eq 12",
        "statement": "Triple {y1,y2∈M1, y3∈M2} with p*=(0.6,0.4): fitted ψ2−ψ1 = ln(4/3).",
        "method": "exact (rational/sympy)",
        "kind": "claim",
    },
    {
        "id": "IIA-E13",
        "where": "eq 13",
        "statement": "Pair {y2,y3}: fitted ψ2−ψ1 = ln(2/3).",
        "method": "exact",
        "kind": "claim",
    },
    {
        "id": "IIA-L8",
        "where": "Lemma 8",
        "statement": "Strictly convex f with f'(1)<0 and a root ζ has ζ > 1 − f(1)/f'(1).",
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "IIA-L9",
        "where": "Lemma 9",
        "statement": (
            "If ρ_data > ρ_chosen > 0, the reward minimizer exists and ψ2−ψ1 > "
            "(ρ_data−ρ_chosen)/(1+ρ_data−ρ_chosen)."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "IIA-L11",
        "where": "Lemma 11",
        "statement": "Chernoff-type bound on the number of mixed-category queries.",
        "method": "simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-L12",
        "where": "Lemma 12",
        "statement": "If p*(1) < F(P_ref(M1)) then ρ_data−ρ_chosen > η with probability → 1.",
        "method": "population, simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-P4",
        "where": "Prop 4",
        "statement": (
            "RLPO failure: for |Y|≥3 and p*(1) < F(ζ), P(M1) → 0 as |D|→∞. Also establish what happens at "
            "and above the threshold."
        ),
        "method": "population, simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-P5",
        "where": "Prop 5",
        "statement": "DPO failure under the same condition.",
        "method": "population, simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-FIG2",
        "where": "§5.4, Fig 2",
        "statement": (
            "Under the §5.3 setup, RLPO and DPO go to M1 for |Y|=2 and to M2 for larger |Y| as |D| grows "
            "(100 simulations per point). Report each |Y| separately."
        ),
        "method": "simulation, figure",
        "kind": "claim",
    },
    {
        "id": "IIA-E16",
        "where": "eq 15-16",
        "statement": "IL thought experiment: P(M1) = 15/(15+|M2|).",
        "method": "exact",
        "kind": "claim",
    },
    {
        "id": "IIA-L14",
        "where": "Lemma 14",
        "statement": "Convex losses with negative derivative for large m have minimizers tending to 1.",
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "IIA-P6",
        "where": "Prop 6, Lemmas 15-16",
        "statement": "IL failure: P(M1) → 0 as |M2| → ∞ (|D|→∞ first).",
        "method": "population, simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-L16",
        "where": "Lemma 16",
        "statement": "Under Assumption 1 with |Y| ≥ 2, for fixed M1, P(E(D)) → 1 as |M2| → ∞.",
        "method": "population, property",
        "kind": "claim",
    },
    {
        "id": "IIA-FIG3",
        "where": "Fig 3",
        "statement": "IL's P(M1) falls as |M2| grows.",
        "method": "simulation, figure",
        "kind": "claim",
    },
    {
        "id": "IIA-P7",
        "where": "Prop 7, Lemma 17",
        "statement": "SLiC failure for |Y|=2 as |M2| grows.",
        "method": "population, simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-SEC6",
        "where": "§6",
        "statement": (
            "Analogue of the GPT-3.5/GPT-4 study: annotators 0.3 concise / 0.7 informative; training queries "
            "of 1 concise + 3 informative make a standard reward model prefer the concise response and fall "
            "below 50% pairwise test accuracy; 1+1 queries do not."
        ),
        "method": "population, simulation",
        "kind": "claim",
    },
    {
        "id": "IIA-S6IIA",
        "where": "§6, discussion of the study",
        "statement": (
            "An annotator who picks concise over one informative response with probability 2/5: under the "
            "IIA assumption, going from one to three informative alternatives would increase the probability "
            "of choosing the concise response to 2/3."
        ),
        "method": "exact (rational)",
        "kind": "claim",
    },
    {
        "id": "IIA-SEC7",
        "where": "§7",
        "statement": "Converting each k-way choice into pairwise comparisons: does RLPO then recover M1?",
        "method": "population, simulation",
        "kind": "question",
    },
]
