"""The BRG catalogue: one row per formal statement, transcribed from the BRG rows of the
project's ``shared/CLAIMS.md`` (``tests/claims/test_catalogue.py`` keeps the two in step).

Each row has CLAIMS.md's columns: ``id``, ``where`` (absent where the table has none), ``statement``,
``method`` (the method cell as written; parenthesised notes are dropped when parsed) and ``kind``.
"""

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
