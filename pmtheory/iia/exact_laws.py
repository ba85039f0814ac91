"""Exact finite-|D| laws of RLPO's reward fit under Assumption 1, by N-fold convolutions (seed 002).

:func:`reward_gap_sign_law` gives the *exact* finite-|D| law of the sign of RLPO's fitted reward
gap by an N-fold convolution of the per-datum score at ψ2 − ψ1 = 0;
:func:`rho_gap_event_probability` the exact probability of the event E_η(D) of eq (19).

Notation: ζ = P_ref(M1), p = p*(1), m = |M2|/|M1|; the reward gap is ψ2 − ψ1; a policy's
log-odds is t = ln P(M2)/P(M1); the per-message log-odds is u = t − ln m.

Source: shared/seeds/002_611084f664837d1f.txt (Xu et al. 2024), Lemmas 9-12 (eq 19), Props 4-5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pmtheory.iia._common import _choice_set_size, _unit
from pmtheory.iia.compositions import _mixed_weights, composition_log_probabilities

__all__ = [
    "SignLaw",
    "reward_gap_sign_law",
    "rho_gap_event_probability",
]


# ---------------------------------------------------------------------------------------
# Exact finite-|D| laws (N-fold convolutions)
# ---------------------------------------------------------------------------------------


def _datum_score_pmf(n: int, zeta: float, p: float, *, only_chose_2: bool = False) -> np.ndarray:
    """P(v) of one datum's v = k2 − n·1(choice ∈ M2) = n·∂ℓ/∂gap at gap 0, on v = −(n−1)..(n−1).

    Pure sets give v = 0; a mixed set with k1 = k gives n − k (choice in M1, prob p) or −k.
    With ``only_chose_2`` the (sub-)probabilities of data whose choice is in M2.
    """
    logs = composition_log_probabilities(n, zeta)
    probs = np.exp(logs)
    pmf = np.zeros(2 * n - 1)
    offset = n - 1
    if only_chose_2:
        pmf[offset] += probs[0]  # a pure-M2 set: v = 0, choice in M2
    else:
        pmf[offset] += probs[0] + probs[n]
    for k in range(1, n):
        if not only_chose_2:
            pmf[offset + (n - k)] += probs[k] * p
        pmf[offset - k] += probs[k] * (1 - p)
    return pmf


def _convolution_power(pmf: np.ndarray, power: int) -> np.ndarray:
    """The law of a sum of ``power`` i.i.d. draws with (sub-)probabilities ``pmf`` (by FFT).

    FFT round-off is ~1e-16 × the total mass per entry; negative round-off is clipped.
    """
    from scipy import fft

    length = (pmf.size - 1) * power + 1
    size = fft.next_fast_len(length, real=True)
    transform = fft.rfft(pmf, size) ** power
    return np.clip(fft.irfft(transform, size)[:length], 0.0, None)


def _sign_law_inputs(choice_set_size, p_ref_m1, p_star_1, num_data) -> tuple[int, float, float]:
    """(n, ζ, p), checked along with |D| (an integer >= 1) for the exact finite-|D| laws."""
    n = _choice_set_size(choice_set_size)
    zeta = _unit(p_ref_m1, "p_ref_m1", open_interval=True)
    p = _unit(p_star_1, "p_star_1")
    if isinstance(num_data, bool) or not isinstance(num_data, (int, np.integer)) or num_data < 1:
        raise ValueError(f"num_data must be an integer >= 1, got {num_data!r}")
    return n, zeta, p


@dataclass(frozen=True)
class SignLaw:
    """Exact law of the sign of RLPO's fitted reward gap for |D| i.i.d. data (Assumption 1)."""

    favours_m2: float  # P(a minimizer exists and ψ̂2 − ψ̂1 > 0)
    favours_m1: float  # P(a minimizer exists and ψ̂2 − ψ̂1 < 0)
    tie: float  # P(a unique minimizer with ψ̂2 − ψ̂1 = 0)
    no_minimizer: float  # P(every mixed choice in one category): ψ̂ = 0 by convention
    constant_loss: float  # P(no mixed set): every ψ minimizes


def reward_gap_sign_law(choice_set_size: int, p_ref_m1: float, p_star_1: float, num_data: int) -> SignLaw:
    """Exact law of sign(ψ̂2 − ψ̂1) for RLPO's reward fit on |D| data from Assumption 1.

    The reward gradient at gap 0 is Σ_i v_i / n with v = k2 − n·1(choice ∈ M2), an integer;
    the loss is convex in the gap, so ψ̂2 − ψ̂1 > 0 iff Σ v_i < 0 (when a minimizer exists).
    The law of Σ v_i is the |D|-fold convolution of the per-datum law (FFT, error ~1e-13);
    the no-minimizer events have closed forms: (1 − s p)^N − (1 − s)^N etc.

    Source: seed 002, Lemmas 9-12 (ρ_data − ρ_chosen = −Σ v_i/(n|D|)), Props 4-5.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1).
      p_star_1: p in [0, 1].
      num_data: |D| >= 1.

    Returns:
      A :class:`SignLaw` whose five probabilities sum to 1.
    """
    n, zeta, p = _sign_law_inputs(choice_set_size, p_ref_m1, p_star_1, num_data)
    law = _convolution_power(_datum_score_pmf(n, zeta, p), int(num_data))
    zero = (law.size - 1) // 2
    below, at, above = law[:zero].sum(), law[zero], law[zero + 1:].sum()
    _, log_mixed = _mixed_weights(n, zeta)
    s = math.exp(log_mixed)
    none_mixed = math.exp(num_data * math.log1p(-s)) if s < 1 else 0.0
    all_m2 = math.exp(num_data * math.log1p(-s * p)) - none_mixed if s * p < 1 else 0.0
    all_m1 = math.exp(num_data * math.log1p(-s * (1 - p))) - none_mixed if s * (1 - p) < 1 else 0.0
    return SignLaw(favours_m2=float(max(below - all_m2, 0.0)), favours_m1=float(max(above - all_m1, 0.0)),
                   tie=float(max(at - none_mixed, 0.0)), no_minimizer=float(all_m1 + all_m2),
                   constant_loss=float(none_mixed))


def rho_gap_event_probability(choice_set_size: int, p_ref_m1: float, p_star_1: float, num_data: int,
                              eta: float) -> float:
    """Exact P(E_η(D)) = P(ρ_data − ρ_chosen > η and ρ_chosen > 0) for |D| data (Assumption 1).

    n|D|(ρ_data − ρ_chosen) = −Σ v_i with v as in :func:`reward_gap_sign_law`; ρ_chosen = 0
    iff every choice is in M2, whose sub-law is convolved separately and subtracted.

    Source: seed 002, eq (19), Lemma 12.

    Args:
      choice_set_size: n >= 2.
      p_ref_m1: ζ in (0, 1).
      p_star_1: p in [0, 1].
      num_data: |D| >= 1.
      eta: η >= 0.

    Returns:
      The probability.
    """
    n, zeta, p = _sign_law_inputs(choice_set_size, p_ref_m1, p_star_1, num_data)
    if not np.isfinite(eta) or eta < 0:
        raise ValueError(f"eta must be a finite number >= 0, got {eta}")
    law = _convolution_power(_datum_score_pmf(n, zeta, p), int(num_data))
    sub = _convolution_power(_datum_score_pmf(n, zeta, p, only_chose_2=True), int(num_data))
    values = np.arange(law.size) - (law.size - 1) // 2
    # ρ_data − ρ_chosen > η  ⟺  −Σv > nη|D|  ⟺  Σv < −nη|D| (integers: strict).
    event = values < -n * eta * num_data
    return float(max(law[event].sum() - sub[event].sum(), 0.0))

