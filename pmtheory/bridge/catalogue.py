"""The BRG rows of ``shared/CLAIMS.md`` (the bridge), column for column; tests/claims/test_claims.py
compares them with the file. :mod:`pmtheory.claims.catalogue` says what each column means."""

ROWS = [
    {
        "id": "BRG-SEQ",
        "statement": (
            "Sequence log-probabilities from a causal LM (OPT, Llama) equal the sum of token "
            "log-probabilities; batched and padded computation equals the per-sequence loop."
        ),
        "method": "bridge",
        "kind": "claim",
    },
    {
        "id": "BRG-LEN",
        "statement": (
            "On a model's own samples, binary reference preferences p_ref(y1) pile up near 0 and 1 when "
            "lengths differ (PMR Fig 3(a)/4(a))."
        ),
        "method": "bridge, figure",
        "kind": "claim",
    },
    {
        "id": "BRG-KL",
        "statement": (
            "Training a causal LM with the KL-RLHF objective over a finite response set converges to "
            "π_ref·e^{r/β}/Z on that set."
        ),
        "method": "bridge",
        "kind": "claim",
    },
    {
        "id": "BRG-CPM",
        "statement": (
            "Conditional PM RLHF training (Def 4.1) converges to the closed form of PMR-D4.1 on the set; its "
            "PM divergence is below KL RLHF's."
        ),
        "method": "bridge",
        "kind": "claim",
    },
    {
        "id": "BRG-MOD",
        "statement": (
            "MOD decoding from several fine-tuned causal LMs matches the exact optimum where the sequence "
            "space can be enumerated."
        ),
        "method": "bridge",
        "kind": "claim",
    },
]
