"""Seed 001 (PMR): preference-matching RLHF, conditional PM RLHF, the bias of KL RLHF and
preference collapse.

Xiao, Li, Xie, Getzen, Fang, Long and Su, "On the Algorithmic Bias of Aligning Large Language
Models with RLHF: Preference Collapse and Matching Regularization" (2024), arXiv 2405.16455.

Library modules: :mod:`~pmtheory.pmr.pm` (PM and conditional PM RLHF),
:mod:`~pmtheory.pmr.rlhf` (KL and f-divergence RLHF, binary preferences, collapse limits),
:mod:`~pmtheory.pmr.preferences` (BTL and Plackett-Luce), :mod:`~pmtheory.pmr.metrics` (the
§6.1 metrics). The paper's catalogue is :mod:`~pmtheory.pmr.catalogue`, its checks the
``claims_*`` modules, its figures :mod:`~pmtheory.pmr.figures`; :data:`pmtheory.pmr.paper.PAPER`
ties them together.
"""
