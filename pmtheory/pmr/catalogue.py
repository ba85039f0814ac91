"""The PMR rows of ``shared/CLAIMS.md`` (seed 001), column for column; tests/claims/test_claims.py
compares them with the file. :mod:`pmtheory.claims.catalogue` says what each column means."""

ROWS = [
    {
        "id": "PMR-P3.1",
        "where": "Prop 3.1",
        "statement": (
            "Unregularized reward maximization puts all mass on the highest-reward responses (preference "
            "collapse without regularization)."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-E3.7",
        "where": "eq 3.6-3.7",
        "statement": "At a PM optimum the first-order condition gives R(π)+πR'(π) = -log π + c'.",
        "method": "symbolic",
        "kind": "claim",
    },
    {
        "id": "PMR-ODE",
        "where": "§3.1",
        "statement": "Differentiating (3.7) gives the PM ODE πR''+2R'+1/π = 0.",
        "method": "symbolic",
        "kind": "claim",
    },
    {
        "id": "PMR-E3.8",
        "where": "eq 3.8",
        "statement": "The ODE's general solution is R(π) = -log π + C1 + C2/π.",
        "method": "symbolic (dsolve + substitution)",
        "kind": "claim",
    },
    {
        "id": "PMR-T1",
        "where": "Thm 1",
        "statement": (
            "Solving max E[r + R(π)] yields the PL/softmax policy if and only if R has the form of (3.8), "
            "with C1, C2 depending on x only. Both directions."
        ),
        "method": "exact, property, symbolic",
        "kind": "claim",
    },
    {
        "id": "PMR-R3.4",
        "where": "Remark 3.4",
        "statement": "The C2/π term contributes k·C2, independent of π.",
        "method": "symbolic, property",
        "kind": "claim",
    },
    {
        "id": "PMR-EX1",
        "where": "Example 1, §3.2",
        "statement": (
            "With C1=C2=0, PM RLHF is max-entropy RL at temperature 1, and (3.10) is dual to the robust "
            "program max_φ min_{r'} E_{π_φ} r' s.t. logsumexp(r − r') ≤ ε for some ε, via max over Δr of E_π "
            "Δr − logsumexp(Δr) = Σ π log π."
        ),
        "method": "exact (convex solver), property",
        "kind": "claim",
    },
    {
        "id": "PMR-EX2",
        "where": "Example 2",
        "statement": "Adding a prompt-only constant C1,x leaves the optimum unchanged.",
        "method": "property",
        "kind": "claim",
    },
    {
        "id": "PMR-EX3",
        "where": "Example 3",
        "statement": (
            "With C1 = log(1/k): objective = E r − KL(π‖Unif); uniform-penalty RLHF is KL RLHF with β=1 and "
            "uniform reference."
        ),
        "method": "symbolic, property",
        "kind": "claim",
    },
    {
        "id": "PMR-T2",
        "where": "Thm 2",
        "statement": (
            "Response-dependent regularizers R_{x,y}(π) = −log π + C1,x + C2,x,y/π are exactly the PM ones."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-R3.6",
        "where": "Remark 3.6",
        "statement": "Σ_y C2,x,y is independent of π.",
        "method": "symbolic",
        "kind": "claim",
    },
    {
        "id": "PMR-P3.7",
        "where": "Prop 3.7",
        "statement": "Standard KL RLHF (2.3) does not yield the PM policy. State exactly when it does.",
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-GODE",
        "where": "§3.4, App B.1",
        "statement": "The generalized-PL PM ODE is πR''+2R'+1/g'(g⁻¹(π)) = 0, with general solution (3.14).",
        "method": "symbolic",
        "kind": "claim",
    },
    {
        "id": "PMR-T3",
        "where": "Thm 3",
        "statement": (
            "Under the generalized PL model with increasing positive g, R(π) = −g⁻¹(π) + C1 + "
            "(G(g⁻¹(π))+C2)/π is a PM regularizer (the optimum is g(r)/Σg(r)), and only it. Check several g, "
            "not only exp."
        ),
        "method": "exact, symbolic, property",
        "kind": "claim",
    },
    {
        "id": "PMR-R3.8",
        "where": "Remark 3.8",
        "statement": "For g = exp, (3.14) reduces to Theorem 1.",
        "method": "symbolic",
        "kind": "claim",
    },
    {
        "id": "PMR-PF1",
        "where": "§3.5",
        "statement": "E_π[r − log π + C1 + C2/π] = −KL(π‖π*) + log Z + C1 + kC2.",
        "method": "symbolic, property",
        "kind": "claim",
    },
    {
        "id": "PMR-T4",
        "where": "Thm 4, eq 4.1",
        "statement": (
            "The optimum of (4.1), conditioned on M(x), is softmax of r over M(x), for any M and ε>0; as ε→0 "
            "the mass on M tends to 1."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-D4.1",
        "where": "Def 4.1, §4.2",
        "statement": (
            "With M = {π_ref ≥ α} and ε = π_ref, the optimum is ∝ e^r on M and ∝ π_ref·e^r off M; α above "
            "max π_ref gives KL RLHF with β=1."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-TAB1",
        "where": "Table 1",
        "statement": (
            "Max-entropy RLHF with entropy weight τ is PM only at τ=1; KL and f-divergence RLHF are not PM."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-P5.1",
        "where": "Prop 5.1",
        "statement": "KL RLHF optimum is π_ref·e^{r/β}/Z.",
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-E5.2",
        "where": "eq 5.2",
        "statement": (
            "Binary preference of the KL-RLHF policy is p_ref·p_reward renormalized; it equals p_reward iff "
            "β=1 and p_ref=1/2."
        ),
        "method": "symbolic, property",
        "kind": "claim",
    },
    {
        "id": "PMR-FIG2",
        "where": "Fig 2",
        "statement": "Curves of p_rlhf(y1) against p_reward(y1) for several p_ref, β=1.",
        "method": "figure",
        "kind": "claim",
    },
    {
        "id": "PMR-E5.3",
        "where": "eq 5.3",
        "statement": (
            "For f-divergence RLHF, the binary preference is p_ref·p^f_reward renormalized with p^f_reward ∝ "
            "(f')⁻¹(r/β). Check reverse KL, forward KL, JS, α-divergences, χ², total variation."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-COL",
        "where": "§5.2",
        "statement": (
            "Preference collapse: as p_ref(y1)→0 (→1), p_rlhf(y1)→0 (→1), and this persists when KL is "
            "replaced by any f-divergence. Check every f-divergence family the toolkit has."
        ),
        "method": "exact, property",
        "kind": "claim",
    },
    {
        "id": "PMR-F5.1",
        "where": "§5.1, after eq 5.3",
        "statement": (
            "For f-divergence RLHF the bias remains even at β = 1 with a uniform p_ref, unless (f')⁻¹(u) = "
            "exp(u + c); and (f')⁻¹(u) = exp(u + c) iff f(u) = u log u + c'u (KL)."
        ),
        "method": "exact, symbolic, property",
        "kind": "claim",
    },
    {
        "id": "PMR-A3",
        "where": "App A.3, Fig 9",
        "statement": (
            "As illustrated in Figure 9, β≠1 biases the aligned model (smaller β, more severe bias); for β<1 "
            "it amplifies the dominant response; β=0.1 and p_reward(y)>0.7 give p_rlhf(y)>0.99."
        ),
        "method": "exact, figure",
        "kind": "claim",
    },
    {
        "id": "PMR-PA2",
        "where": "Prop A.2",
        "statement": (
            "Under the BTL model with P_comp the true comparison distribution, the global solution of the "
            "population BTL negative log-likelihood is the true reward r*(x, y)."
        ),
        "method": "exact (convex solver)",
        "kind": "claim",
    },
    {
        "id": "PMR-A1",
        "where": "App A.1",
        "statement": "The PL model (A.1) implies the same choice rule on every subset (it satisfies IIA).",
        "method": "symbolic, property",
        "kind": "claim",
    },
    {
        "id": "PMR-MET",
        "where": "§6.1",
        "statement": (
            "PM divergence (instance and aggregate), perplexity, entropy and KL metrics as defined; PM "
            "divergence is 0 iff the model's binary preferences equal the reward model's."
        ),
        "method": "property, bridge",
        "kind": "claim",
    },
]
