"""The §5.3 setup and the simulation intervals shared by the IIA check modules (seed 002).

Simulations use 100 seeds per point (Wilson intervals for proportions, Student-t for means).

Source: shared/seeds/002_611084f664837d1f.txt, §5.3; shared/CLAIMS.md (IIA rows).
"""

from __future__ import annotations

from fractions import Fraction

from pmtheory.iia.data import wilson_interval

# The §5.3 setup, exactly.
ZETA = Fraction(4, 5)  # P_ref(M1)
P_STAR = Fraction(3, 5)  # p*(1)
M1_SIZE, M2_SIZE = 10, 100
BETA = 1.0
SEEDS = 100  # simulations per point, as in the paper's figures
# Two-sided level of the simulation intervals; a check compares against several intervals
# at once, so it uses a Bonferroni-corrected level where noted.
CONFIDENCE = 0.95


def _wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> list[float]:
    low, high = wilson_interval(successes, trials, confidence)
    return [float(low), float(high)]

