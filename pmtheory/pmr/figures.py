"""Figures for seed 001 (PMR): Fig 2, Fig 9, their f-divergence versions, preference collapse.

Every curve is computed by the library's exact solver (:func:`pmtheory.pmr.rlhf.f_rlhf_pair_preference`,
which calls :func:`pmtheory.solvers.optimal_policy` on two responses); the paper's closed
forms (eq 5.2, eq 5.3) and the collapse limits are drawn beside them from
:mod:`pmtheory.pmr.rlhf`. The ``*_curves`` functions return the plotted numbers, and the claim
checks (``pmtheory.pmr.claims_bias``: PMR-FIG2; ``pmtheory.pmr.claims_beta``: PMR-A3;
``pmtheory.pmr.claims_f_rlhf``: PMR-E5.3, PMR-COL) test those same numbers, so a figure can never
show something its check did not see.

Axes follow the paper: the x-axis of Figs 2 and 9 is the reward model's BTL preference
p_reward(y₁) = σ(r₁ − r₂) (eq 2.1), the y-axis the aligned model's binary preference
p_rlhf(y₁) = π(y₁)/(π(y₁) + π(y₂)), one curve per reference preference p_ref(y₁).

Source: shared/seeds/001_c8a06c444314e79a.txt, Fig 2 (§5.1), Fig 9 (App A.3), eq (5.2)-(5.3),
§5.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logit

from pmtheory.figures import new_figure, save_figure
from pmtheory.pmr.paper import PAPER
from pmtheory.pmr.rlhf import (
    eq53_binary_preference,
    eq53_defined,
    f_rlhf_pair_preference,
    preference_collapse_limit,
    renormalized_product_preference,
    tempered_preference,
)

__all__ = [
    "COLLAPSE_DIVERGENCES",
    "COLLAPSE_P_REWARDS",
    "FIG2_P_REFS",
    "FIG9_BETAS",
    "CollapseCurves",
    "PreferenceCurves",
    "collapse_curves",
    "fdiv_curves",
    "fig2_curves",
    "fig9_curves",
]

# Reference preferences p_ref(y₁) of the Fig 2 curves: 0.5 (no bias) and pairs around it,
# down to the near-collapse 0.001 / 0.999 the caption's "extreme case" refers to.
FIG2_P_REFS = (0.001, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999)
# Temperatures of Fig 9 (β ≠ 1; β = 1 drawn for comparison), as in App A.3 and §6's ablations.
FIG9_BETAS = (0.1, 0.5, 1.0, 2.0, 10.0)
# Reference preferences of the β = 0.1 panel of Fig 9; 0.0203 is near App A.3's threshold.
FIG9_P_REFS = (0.01, 0.0203, 0.1, 0.5, 0.9)
# Every divergence family of the toolkit (pmtheory.divergences.DIVERGENCE_NAMES).
COLLAPSE_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.5", "hellinger", "chi2", "tv")
# Reward preferences p_reward(y₁) of the collapse curves.
COLLAPSE_P_REWARDS = (0.6, 0.8, 0.95)
# Smallest p_ref(y₁) drawn in pmr-collapse (the curves are computed further, to 1e-16).
_COLLAPSE_PLOT_MIN = 1e-6
# Reference preferences of the f-divergence Fig 2 panels.
FDIV_P_REFS = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class PreferenceCurves:
    """p_rlhf(y₁) against p_reward(y₁), one curve per p_ref(y₁), exact and as the paper predicts."""

    divergence: str  # the f-divergence of the RLHF objective
    beta: float  # β
    p_reward: np.ndarray  # x-axis σ(r₁ − r₂), shape (M,)
    p_ref: np.ndarray  # one curve per reference preference, shape (C,)
    exact: np.ndarray  # p_rlhf(y₁) from the exact solver, shape (C, M)
    predicted: np.ma.MaskedArray  # the paper's formula (eq 5.2; eq 5.3 off reverse KL), (C, M), masked where undefined
    prediction: str  # which formula ``predicted`` is, in words


def _p_reward_grid(quick: bool) -> np.ndarray:
    return np.linspace(0.001, 0.999, 41 if quick else 201)


def fig2_curves(*, quick: bool, beta: float = 1.0, p_refs=FIG2_P_REFS) -> PreferenceCurves:
    """Fig 2 (β = 1) or Fig 9 (β ≠ 1) data for KL RLHF: exact p_rlhf and eq (5.2).

    Eq (5.2) is evaluated with the paper's tempered p_reward = σ(logit(p)/β) of §5.1, where p
    is the x-axis value σ(r₁ − r₂).

    Source: seed 001, Fig 2 and eq (5.2); Fig 9 for β ≠ 1. Returns a :class:`PreferenceCurves`
    with M = 41 (quick) or 201 grid points and one curve per ``p_refs`` entry.
    """
    p_reward = _p_reward_grid(quick)
    p_ref = np.asarray(p_refs, dtype=np.float64)
    exact = f_rlhf_pair_preference(logit(p_reward)[None, :], logit(p_ref)[:, None], divergence="reverse_kl", beta=beta)
    predicted = renormalized_product_preference(tempered_preference(p_reward, beta)[None, :], p_ref[:, None])
    return PreferenceCurves("reverse_kl", float(beta), p_reward, p_ref, exact, np.ma.masked_array(predicted),
                            "eq (5.2) with p_reward tempered by β")


def fig9_curves(*, quick: bool) -> list[PreferenceCurves]:
    """Fig 9 data: KL RLHF at p_ref = 1/2 for each β in FIG9_BETAS, then β = 0.1 with FIG9_P_REFS.

    Source: seed 001, App A.3, Fig 9. Returns a list of :class:`PreferenceCurves`.
    """
    curves = [fig2_curves(quick=quick, beta=b, p_refs=(0.5,)) for b in FIG9_BETAS]
    curves.append(fig2_curves(quick=quick, beta=0.1, p_refs=FIG9_P_REFS))
    return curves


def fdiv_curves(divergence: str, *, quick: bool, beta: float = 1.0, p_refs=FDIV_P_REFS) -> PreferenceCurves:
    """Fig 2 for f-divergence RLHF: exact p^f_rlhf and eq (5.3)'s prediction.

    Eq (5.3) depends on the rewards themselves, not only on r₁ − r₂; it is evaluated with the
    log-normalized rewards r_i = log p_reward(y_i) (so e^{r₁} + e^{r₂} = 1, r ≤ 0), where it is
    defined for most members; it is masked where (f')⁻¹(r/β) does not exist (and for tv).

    Source: seed 001, §5.1, eq (5.3). Returns a :class:`PreferenceCurves`.
    """
    p_reward = _p_reward_grid(quick)
    p_ref = np.asarray(p_refs, dtype=np.float64)
    exact = f_rlhf_pair_preference(logit(p_reward)[None, :], logit(p_ref)[:, None], divergence=divergence, beta=beta)
    rewards = np.stack([np.log(p_reward), np.log1p(-p_reward)], axis=-1)  # (M, 2)
    rewards = np.broadcast_to(rewards, (p_ref.size, p_reward.size, 2))
    log_ref = np.stack([np.log(p_ref), np.log1p(-p_ref)], axis=-1)[:, None, :]
    log_ref = np.broadcast_to(log_ref, rewards.shape)
    defined = eq53_defined(rewards, divergence=divergence, beta=beta)
    predicted = np.zeros(defined.shape)
    if defined.any():
        predicted[defined] = eq53_binary_preference(rewards[defined], log_ref[defined], divergence=divergence,
                                                    beta=beta)
    return PreferenceCurves(divergence, float(beta), p_reward, p_ref, exact, np.ma.masked_array(predicted, ~defined),
                            "eq (5.3) with r = log p_reward")


@dataclass(frozen=True)
class CollapseCurves:
    """p_rlhf(y₁) as p_ref(y₁) → 0, one curve per reward preference, with the exact limit."""

    divergence: str  # the f-divergence
    beta: float  # β
    p_ref: np.ndarray  # x-axis p_ref(y₁), decreasing to 1e-16, shape (M,)
    p_reward: np.ndarray  # one curve per σ(r₁ − r₂), shape (C,)
    exact: np.ndarray  # p_rlhf(y₁) from the exact solver, shape (C, M)
    limit: np.ndarray  # lim_{p_ref→0} p_rlhf(y₁), :func:`pmtheory.pmr.rlhf.preference_collapse_limit`, shape (C,)


def collapse_curves(divergence: str, *, quick: bool, beta: float = 1.0, p_rewards=COLLAPSE_P_REWARDS) -> CollapseCurves:
    """Preference-collapse data for one divergence: p_ref(y₁) from 1/2 down to 1e-16 (log grid).

    Source: seed 001, §5.2. Returns a :class:`CollapseCurves` with 25 (quick) or 121 points.
    """
    log10_p_ref = np.linspace(np.log10(0.5), -16.0, 25 if quick else 121)
    p_ref = 10.0**log10_p_ref
    p_reward = np.asarray(p_rewards, dtype=np.float64)
    ref_log_odds = np.log(p_ref) - np.log1p(-p_ref)
    exact = f_rlhf_pair_preference(logit(p_reward)[:, None], ref_log_odds[None, :], divergence=divergence, beta=beta)
    limit = preference_collapse_limit(logit(p_reward), divergence=divergence, beta=beta)
    return CollapseCurves(divergence, float(beta), p_ref, p_reward, exact, limit)


def _colors(n: int):
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.05, 0.9, n)]


def _diagonal(ax) -> None:
    ax.plot([0, 1], [0, 1], color="red", linewidth=1.2, linestyle=(0, (4, 3)), zorder=5,
            label="preference matching")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel(r"reward model: $p_{\mathrm{reward}}(y_1)$")
    ax.set_ylabel(r"aligned model: $p_{\mathrm{rlhf}}(y_1)$")


def _plot_curves(ax, curves: PreferenceCurves, *, label_key: str = "p_ref", show_prediction: bool = True,
                 colors=None, labels=None) -> None:
    colors = colors or _colors(curves.p_ref.size)
    for index, (color, row) in enumerate(zip(colors, curves.exact)):
        label = labels[index] if labels else rf"$p_{{\mathrm{{ref}}}}(y_1)={curves.p_ref[index]:g}$"
        ax.plot(curves.p_reward, row, color=color, label=label)
        if show_prediction:
            ax.plot(curves.p_reward, curves.predicted[index], color="black", linestyle=":", linewidth=1.0)


@PAPER.figure("pmr-fig2", claims=("PMR-FIG2", "PMR-E5.2"), title="Fig 2: KL-RLHF p_rlhf vs p_reward, β = 1")
def make_fig2(out_dir, *, quick: bool):
    curves = fig2_curves(quick=quick)
    fig, ax = new_figure(1, 1, width=5.6, height=4.0, layout="constrained")
    _diagonal(ax)
    _plot_curves(ax, curves)
    ax.plot([], [], color="black", linestyle=":", linewidth=1.0, label="eq (5.2)")
    ax.set_title(r"KL RLHF (reverse_kl), $\beta = 1$ (exact optimum; dotted: eq 5.2)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)  # beside the axes, off the curves
    return save_figure(fig, out_dir, "pmr-fig2")


@PAPER.figure("pmr-fig9", claims=("PMR-A3",), title="Fig 9: KL-RLHF bias for β ≠ 1")
def make_fig9(out_dir, *, quick: bool):
    curves = fig9_curves(quick=quick)
    fig, axes = new_figure(3, 1, width=4.0, height=4.0, layout="constrained")
    by_beta, low = curves[:-1], curves[-1]
    ax = axes[0]
    _diagonal(ax)
    for color, c in zip(_colors(len(by_beta)), by_beta):
        ax.plot(c.p_reward, c.exact[0], color=color, label=rf"$\beta={c.beta:g}$")
    ax.set_title(r"(a) $p_{\mathrm{ref}}(y_1)=0.5$: smaller $\beta$, more bias")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, frameon=False)
    ax = axes[1]
    _diagonal(ax)
    _plot_curves(ax, low, show_prediction=False)
    ax.axvline(0.7, color="tab:orange", linewidth=0.8, linestyle="--")
    ax.axhline(0.99, color="tab:orange", linewidth=0.8, linestyle="--",
               label=r"$p_{\mathrm{reward}}>0.7 \Rightarrow p_{\mathrm{rlhf}}>0.99$?")
    ax.set_title(r"(b) $\beta=0.1$, several $p_{\mathrm{ref}}(y_1)$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, frameon=False, fontsize=7)
    ax = axes[2]  # zoom on App A.3's statement: p_reward > 0.7 gives p_rlhf > 0.99?
    _plot_curves(ax, low, show_prediction=False)
    ax.axvline(0.7, color="tab:orange", linewidth=1.0, linestyle="--")
    ax.axhline(0.99, color="tab:orange", linewidth=1.0, linestyle="--")
    ax.fill_between([0.7, 1.0], 0.99, 1.0, color="tab:orange", alpha=0.15)
    ax.set_xlim(0.6, 1.0)
    ax.set_ylim(0.95, 1.0)
    ax.set_xlabel(r"reward model: $p_{\mathrm{reward}}(y_1)$")
    ax.set_ylabel(r"aligned model: $p_{\mathrm{rlhf}}(y_1)$")
    ax.set_title(r"(c) zoom: $p_{\mathrm{rlhf}}>0.99$ for all $p_{\mathrm{reward}}>0.7$" "\n"
                 r"iff $p_{\mathrm{ref}}(y_1) \geq 99/(99+(7/3)^{10}) \approx 0.0203$")
    return save_figure(fig, out_dir, "pmr-fig9")


def _divergence_panels(*, height: float):
    """(figure, flat axes) of a 4 × 2 grid: one panel per divergence of COLLAPSE_DIVERGENCES, one left for a caption."""
    fig, axes = new_figure(4, 2, width=3.3, height=height, layout="constrained")
    return fig, axes.ravel()


def _caption_panel(axes, text: str) -> None:
    """Turn the panel after the last divergence into a text caption (in its lower part; a legend may
    take the upper part)."""
    last = axes[len(COLLAPSE_DIVERGENCES)]
    last.axis("off")
    last.text(0.0, 0.0, text, fontsize=8, va="bottom")


@PAPER.figure("pmr-fdiv-fig2", claims=("PMR-E5.3",), title="Fig 2 for each f-divergence: exact vs eq 5.3")
def make_fdiv_fig2(out_dir, *, quick: bool):
    from matplotlib.lines import Line2D

    fig, axes = _divergence_panels(height=3.3)
    for ax, name in zip(axes, COLLAPSE_DIVERGENCES):
        curves = fdiv_curves(name, quick=quick)
        _diagonal(ax)
        colors = _colors(curves.p_ref.size)
        for index, color in enumerate(colors):
            ax.plot(curves.p_reward, curves.exact[index], color=color,
                    label=rf"exact, $p_{{\mathrm{{ref}}}}={curves.p_ref[index]:g}$")
            if curves.predicted.count():
                ax.plot(curves.p_reward, curves.predicted[index], color=color, linestyle="--")
        note = "" if curves.predicted.count() else " (eq 5.3 undefined)"
        ax.set_title(f"{name}{note}")
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
    # One legend for all panels, in the caption panel (off the data); eq (5.3) is drawn in each
    # p_ref's colour, so its legend entry is black.
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", linestyle="--"))
    labels.append("eq (5.3), in each p_ref's colour")
    axes[len(COLLAPSE_DIVERGENCES)].legend(handles, labels, loc="upper left", frameon=False, fontsize=7)
    _caption_panel(axes, "β = 1. Solid: exact optimum of\nE r − β·I_f(π‖π_ref) on two responses.\n"
                         "Dashed: eq (5.3), (f')⁻¹(r/β) with\nr = log p_reward (it depends on the\n"
                         "rewards' level, not only r₁ − r₂).")
    return save_figure(fig, out_dir, "pmr-fdiv-fig2")


@PAPER.figure("pmr-collapse", claims=("PMR-COL",), title="Preference collapse as p_ref(y1) → 0, per divergence")
def make_collapse(out_dir, *, quick: bool):
    fig, axes = _divergence_panels(height=2.8)
    for ax, name in zip(axes, COLLAPSE_DIVERGENCES):
        curves = collapse_curves(name, quick=quick)
        for color, p, row, lim in zip(_colors(curves.p_reward.size), curves.p_reward, curves.exact, curves.limit):
            ax.plot(curves.p_ref, row, color=color, label=rf"$p_{{\mathrm{{reward}}}}={p:g}$")
            ax.axhline(lim, color=color, linestyle=":", linewidth=1.0)
        ax.set_xscale("log")
        # Only where the curves move: every curve is on its limit (to the plotted width) well
        # before 1e-6; the computed grid, which PMR-COL checks, runs on to 1e-16.
        ax.set_xlim(curves.p_ref[0], _COLLAPSE_PLOT_MIN)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(name)
        ax.set_xlabel(r"$p_{\mathrm{ref}}(y_1)$ (→ 0)", fontsize=8)
        ax.set_ylabel(r"$p_{\mathrm{rlhf}}(y_1)$", fontsize=8)
    axes[len(COLLAPSE_DIVERGENCES)].legend(*axes[0].get_legend_handles_labels(), loc="upper left", frameon=False,
                                           fontsize=8)
    _caption_panel(axes, "β = 1. Solid: exact optimum.\nDotted: the exact limit as p_ref(y₁) → 0.\n"
                         "Collapse (limit 0) for every reward gap\nonly where sup f' = ∞ (reverse_kl, chi2).\n"
                         "tv: p_reward = 0.8 and 0.95 coincide at 1.\n"
                         f"Computed down to p_ref = {curves.p_ref[-1]:.0e}; drawn\nto {_COLLAPSE_PLOT_MIN:.0e}, "
                         "flat on the limit beyond.")
    return save_figure(fig, out_dir, "pmr-collapse")
