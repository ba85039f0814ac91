"""The MOD rows of ``shared/CLAIMS.md`` (seed 004), column for column; tests/claims/test_claims.py
compares them with the file. :mod:`pmtheory.claims.catalogue` says what each column means."""

ROWS = [
    {
        "id": "MOD-L1",
        "where": "Lemma 1, eq 3",
        "statement": (
            "For a strong-barrier f, the f-regularized optimum is π_ref·(∇f)⁻¹(R/β − Z), and R is recovered "
            "from π up to Z."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "MOD-P1",
        "where": "Prop 1",
        "statement": (
            "The optimum for Σ w_i R_i is π_ref·(∇f)⁻¹(−Z + Σ w_i ∇f(π_i/π_ref)); Z lies in the stated "
            "bracket [t1,t2] and bisection finds it."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "MOD-P2",
        "where": "Prop 2",
        "statement": "Ordering of Σ w_i R_i equals ordering of Σ w_i ∇f(π_i/π_ref).",
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "MOD-T5",
        "where": "Thm 5 (Thm 1)",
        "statement": (
            "argmax_y π_ref·(∇f)⁻¹(Σ w_i ∇f(π_i/π_ref)) solves max π_ref(y) s.t. Σ w_i R_i(y) ≥ C for some C."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "MOD-E7",
        "where": "eq 7",
        "statement": "For reverse KL the rule is argmax Π π_i^{w_i}: a linear combination of logits.",
        "method": "symbolic, property",
        "kind": "claim",
    },
    {
        "id": "MOD-T2",
        "where": "Thm 2",
        "statement": (
            "Parameter merging (rewarded soups) violates Hypothesis 1: (i) non-barrier f, (ii) reverse KL "
            "with the 2-layer ReLU construction, (iii) strong-barrier f with finitely many roots of the "
            "stated function."
        ),
        "method": "exact, symbolic",
        "kind": "claim",
    },
    {
        "id": "MOD-T3",
        "where": "Thm 3, Remark 2",
        "statement": (
            "For non-barrier f, every decoding or merging algorithm can be made arbitrarily worse than some "
            "policy; the construction with p,q,r,s works."
        ),
        "method": "exact",
        "kind": "claim",
    },
    {
        "id": "MOD-T4",
        "where": "Thm 4",
        "statement": (
            "If max|log p_i − log π_i| ≤ L and KL(π_ref‖π_i), KL(π_ref‖p_i) ≤ C, then V* − V ≤ 2·e^C·L for "
            "π_w ∝ Π π_i^{w_i}."
        ),
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "MOD-L2",
        "where": "Lemma 2",
        "statement": "Σ x_i e^{−y_i} ≥ e^{−C} when Σ x_i y_i ≤ C.",
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "MOD-P3",
        "where": "Prop 3",
        "statement": "(1/β)E r − KL(π‖π_ref) = −KL(π‖π_opt) + const.",
        "method": "symbolic, property",
        "kind": "claim",
    },
    {
        "id": "MOD-L3",
        "where": "Lemma 3",
        "statement": "ECE(π1) − ECE(π2) ≤ E 2√(2 KL(π1‖π2)).",
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "MOD-P4",
        "where": "Prop 4",
        "statement": "ECE(π_w) ≤ ECE(π_opt) + 4√(e^C L).",
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "MOD-D2",
        "where": "App D.2, App F code",
        "statement": (
            "Closed-form decoding rules for reverse KL, forward KL, JSD and α-divergences (including the "
            "published inference code's formulas and its JSD-as-reverse-KL shortcut) agree with Prop 1 / Thm "
            "5. Quantify any gap."
        ),
        "method": "exact, property",
        "kind": "question",
    },
    {
        "id": "MOD-D3",
        "where": "App D.3",
        "statement": (
            "Proxy-tuning, jail-breaking, DeRa (β re-alignment) and MODPO identities hold in the tabular "
            "setting."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "MOD-NEG",
        "where": "§G.2",
        "statement": (
            "Weights with negative entries summing to 1 still give the optimum for Σ w_i R_i (reverse KL); "
            "say for which f the formula stays defined."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "MOD-PAR",
        "where": "§G",
        "statement": (
            "In a tabular setting, MOD's Pareto front equals the retrained (MORLHF) optimum and lies on or "
            "above rewarded soups."
        ),
        "method": "exact, figure",
        "kind": "question",
    },
    {
        "id": "MOD-TOK",
        "where": "§3.2-3.3",
        "statement": (
            "Token-level greedy MOD versus the exact sequence-level optimum on an enumerable sequence space: "
            "measure the gap."
        ),
        "method": "exact, bridge",
        "kind": "question",
    },
]
