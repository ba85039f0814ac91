"""Figures of seed 002 (RLHF and IIA), made by the library code the IIA claim checks use.

- ``iia-fig2``: RLPO and DPO, P(M1) against |D| for |Y| = 2..5 at the §5.3 setup (Fig 2),
  100 seeds with 95% bands, and the exact law of the fitted reward's sign overlaid.
- ``iia-fig3``: IL (and SLiC) P(M1) against |M2| (Fig 3), with the population limit.
- ``iia-phase``: where RLPO's and DPO's population reward favours M2, in (P_ref(M1), p*(1))
  for several |Y|, with the paper's boundary p*(1) = F(P_ref(M1)).
- ``iia-sec6``: the §6 analogue (Fig 4): pairwise test accuracy and P(score of the
  GPT-4-like response > GPT-3.5-like) after training on 1+1 or 1+3 queries.

Source: shared/seeds/002_611084f664837d1f.txt, Figs 2-4, §5.3-§6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pmtheory import iia
from pmtheory.figures import new_figure, save_figure
from pmtheory.iia.data import mean_interval
from pmtheory.iia.paper import PAPER

__all__ = ["fig2", "fig3", "phase_diagram", "sec6"]

# The §5.3 setup.
_ZETA, _P_STAR, _M1, _M2, _BETA = 0.8, 0.6, 10, 100, 1.0
_SEEDS = 100
_COLORS = {2: "tab:green", 3: "tab:orange", 4: "tab:red", 5: "tab:purple"}


_CONFIDENCE = 0.95  # level of every interval drawn (Student t over the seeds)


def _band(ax, x, samples, color, label) -> float:
    """Mean over the seeds (axis 0) with its _CONFIDENCE t-band; returns the band's widest half-width."""
    mean, low, high = mean_interval(samples, confidence=_CONFIDENCE)
    ax.plot(x, mean, color=color, label=label)
    ax.fill_between(x, np.clip(low, 0, 1), np.clip(high, 0, 1), color=color, alpha=0.3, linewidth=0)
    return float(np.max((high - low) / 2))


def _band_note(fig, half_width: float, seeds: int) -> None:
    """Say, on the figure, what the lines and bands are (the bands can be thinner than a line)."""
    fig.suptitle(f"lines: mean over {seeds} seeds; shaded: {_CONFIDENCE:.0%} t-interval of the mean "
                 f"(half-width ≤ {half_width:.3f}, often thinner than the line)", fontsize=8)


@PAPER.figure("iia-fig2", claims=("IIA-FIG2", "IIA-P4", "IIA-P5"),
                 title="RLPO and DPO: P(M1) against |D|, |Y| = 2..5, §5.3 setup (Fig 2)")
def fig2(out_dir: Path, *, quick: bool) -> list[Path]:
    """Fig 2: mean P(M1) over 100 seeds with 95% t-bands; dashed: the exact large-|D|
    prediction P(ψ̂2 < ψ̂1) + the conventions' P(M1) × P(no unique minimizer)."""
    largest = 2000 if quick else 5000
    sizes = np.unique(np.round(np.logspace(0, np.log10(largest), 12 if quick else 20)).astype(np.int64))
    fig, axes = new_figure(2, 1, width=3.9, height=3.0, sharey=True)
    uniform = _M1 / (_M1 + _M2)
    half_width = 0.0
    for n in (2, 3, 4, 5):
        sim = iia.simulate_rlpo_dpo(choice_set_size=n, data_sizes=sizes, num_seeds=_SEEDS, seed=200 + n,
                                    p_ref_m1=_ZETA, p_star_1=_P_STAR, m1_size=_M1, m2_size=_M2, beta=_BETA)
        laws = [iia.reward_gap_sign_law(n, _ZETA, _P_STAR, int(size)) for size in sizes]
        rlpo_law = [law.favours_m1 + _ZETA * (law.tie + law.no_minimizer + law.constant_loss) for law in laws]
        dpo_law = [law.favours_m1 + _ZETA * law.tie + uniform * (law.no_minimizer + law.constant_loss) for law in laws]
        for ax, p_m1, law in ((axes[0], sim.p_m1_rlpo, rlpo_law), (axes[1], sim.p_m1_dpo, dpo_law)):
            half_width = max(half_width, _band(ax, sizes, p_m1, _COLORS[n], f"|Y| = {n}"))
            ax.plot(sizes, law, color=_COLORS[n], linestyle="--", linewidth=1.0)
    for ax, name in zip(axes, ("RLPO", "DPO")):
        ax.set_xscale("log")
        ax.set_xlabel("|D| (number of preference data)")
        ax.set_title(f"{name} (p*(1) = 0.6, P_ref(M1) = 0.8, β = 1)")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("P(M1) of the fine-tuned policy")
    axes[0].plot([], [], color="gray", linestyle="--", linewidth=1.0, label="exact sign law")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", frameon=False)
    _band_note(fig, half_width, _SEEDS)
    return save_figure(fig, out_dir, "iia-fig2")


@PAPER.figure("iia-fig3", claims=("IIA-FIG3", "IIA-P6", "IIA-P7", "IIA-E16"),
                 title="IL and SLiC: P(M1) against |M2| (Fig 3)")
def fig3(out_dir: Path, *, quick: bool) -> list[Path]:
    """Fig 3: mean P(M1) of IL (and SLiC, δ = 1) over 100 seeds with 95% t-bands against
    |M2|, |M1| = 10; dashed: the population limit (15/(15 + |M2|) for IL with |Y| = 2)."""
    num_data = 500 if quick else 1000
    m2_sizes = np.unique(np.round(np.logspace(1, np.log10(3000), 6 if quick else 12)))
    fig, axes = new_figure(2, 1, width=3.9, height=3.0, sharey=True)
    half_width = 0.0
    for n in (2, 4):
        sweep = iia.simulate_il(choice_set_size=n, num_data=num_data, m2_sizes=m2_sizes, num_seeds=_SEEDS, seed=30 + n,
                                p_ref_m1=_ZETA, p_star_1=_P_STAR, m1_size=_M1, beta=_BETA)
        half_width = max(half_width, _band(axes[0], m2_sizes, sweep.p_m1, _COLORS[n], f"|Y| = {n}"))
        axes[0].plot(m2_sizes, iia.population_il_p_m1(n, _ZETA, _P_STAR, m1_size=_M1, m2_size=m2_sizes),
                     color=_COLORS[n], linestyle="--", linewidth=1.0)
    sweep = iia.simulate_slic(choice_set_size=2, num_data=num_data, m2_sizes=m2_sizes, num_seeds=_SEEDS, seed=40,
                              p_ref_m1=_ZETA, p_star_1=_P_STAR, m1_size=_M1, beta=_BETA, delta=1.0)
    half_width = max(half_width, _band(axes[1], m2_sizes, sweep.p_m1, _COLORS[2], "|Y| = 2, δ = 1"))
    limit = iia.population_slic_limit(2, _ZETA, _P_STAR, m1_size=_M1, m2_size=m2_sizes, delta=1.0)
    axes[1].plot(m2_sizes, limit.p_m1_high, color=_COLORS[2], linestyle="--", linewidth=1.0)
    for ax, name in zip(axes, ("IL", "SLiC")):
        ax.set_xscale("log")
        ax.set_xlabel("|M2| (size of the less preferred set)")
        ax.set_title(f"{name}, |D| = {num_data}, |M1| = 10")
        ax.axhline(_P_STAR, color="gray", linestyle=":", linewidth=1.0)
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("P(M1) of the fine-tuned policy")
    axes[0].plot([], [], color="gray", linestyle="--", linewidth=1.0, label="population limit")
    axes[0].plot([], [], color="gray", linestyle=":", linewidth=1.0, label="p*(1) = 0.6")
    axes[0].legend(loc="upper right")
    axes[1].legend(loc="upper right")
    _band_note(fig, half_width, _SEEDS)
    return save_figure(fig, out_dir, "iia-fig3")


@PAPER.figure("iia-phase", claims=("IIA-P4", "IIA-P5", "IIA-SEC7"),
                 title="Where RLPO/DPO's population reward favours M2, with the F boundary")
def phase_diagram(out_dir: Path, *, quick: bool) -> list[Path]:
    """Population ψ̂2 − ψ̂1 (tanh-scaled; red: the fitted reward favours M2, so P(M1) → 0)
    over (P_ref(M1), p*(1)) for |Y| = 3, 4, 5, 8, with the paper's boundary F."""
    import matplotlib.pyplot as plt

    points = 81 if quick else 201
    axis = np.linspace(0.5 / points, 1 - 0.5 / points, points)
    zeta, p = np.meshgrid(axis, axis)
    fig, axes = new_figure(4, 1, width=2.7, height=2.7, sharey=True)
    for ax, n in zip(axes, (3, 4, 5, 8)):
        gap = iia.population_reward_gap_grid(n, zeta, p)
        image = ax.imshow(np.tanh(gap), origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r", vmin=-1, vmax=1,
                          aspect="equal")
        ax.contour(zeta, p, gap, levels=[0.0], colors="lime", linewidths=3.0)
        threshold = [iia.failure_threshold(n, z) for z in axis]
        ax.plot(axis, threshold, color="black", linewidth=1.0, label="p*(1) = F(P_ref(M1))")
        ax.axhline(0.5, color="gray", linestyle=":", linewidth=1.0, label="p*(1) = 1/2 (no preference)")
        ax.plot([_ZETA], [_P_STAR], marker="*", color="gold", markeredgecolor="black", markersize=10)
        ax.set_title(f"|Y| = {n}")
        ax.set_xlabel("P_ref(M1)")
        ax.grid(False)
    axes[0].set_ylabel("p*(1)")
    axes[0].plot([], [], color="lime", linewidth=3.0, label="population gap = 0")
    axes[0].plot([], [], marker="*", color="gold", markeredgecolor="black", linestyle="none", label="§5.3 setup")
    axes[0].legend(loc="upper left", fontsize=6)
    colorbar = fig.colorbar(image, ax=list(axes), fraction=0.015, pad=0.03)
    colorbar.set_label("tanh(ψ̂2 − ψ̂1): > 0 favours M2")
    plt.setp(axes[0].get_legend().get_texts(), color="black")
    return save_figure(fig, out_dir, "iia-phase")


@PAPER.figure("iia-sec6", claims=("IIA-SEC6",),
                 title="§6 analogue: test accuracy and P(GPT-4-like scored higher), 1+1 vs 1+3 queries (Fig 4)")
def sec6(out_dir: Path, *, quick: bool) -> list[Path]:
    """Fig 4 analogue: a linear reward model on synthetic concise (GPT-3.5-like) and
    informative (GPT-4-like) responses; annotators 0.3 concise / 0.7 informative. Bars:
    means over seeds with 95% t-intervals; crosses: the category-level population values."""
    seeds = 30 if quick else _SEEDS
    fig, axes = new_figure(2, 1, width=3.4, height=2.9)
    labels, accuracy, higher = [], [], []
    for k in (1, 3):
        study = iia.simulate_query_format_study(informative_per_query=k, num_seeds=seeds, seed=600 + k)
        labels.append(f"1 + {k}")
        accuracy.append(mean_interval(study.test_accuracy))
        higher.append(mean_interval(study.p_informative_scores_higher))
    population_accuracy = [0.7, 0.3]
    population_higher = [1.0, 0.0]
    x = np.arange(2)
    for ax, values, population, ylabel in (
            (axes[0], accuracy, population_accuracy, "pairwise test accuracy"),
            (axes[1], higher, population_higher, "P(GPT-4-like scored higher)")):
        means = np.array([v[0] for v in values])
        errors = np.array([[v[0] - v[1], v[2] - v[0]] for v in values]).T
        ax.bar(x, means, yerr=errors, color=["tab:blue", "tab:red"], capsize=4, width=0.6)
        # clip_on=False: the population value 0 sits on the axis and must show whole.
        ax.plot(x, population, linestyle="none", marker="x", markersize=7, color="black", clip_on=False, zorder=4,
                label="population (category reward)")
        ax.axhline(0.5, color="gray", linestyle="--", linewidth=1.0, label="random")
        ax.set_xticks(x, labels)
        ax.set_xlabel("training query:\nconcise + informative")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)  # both are probabilities
    axes[0].set_title("test accuracy")
    axes[1].set_title("reward ranks GPT-4-like first")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle(f"bars: mean over {seeds} seeds; error bars: {_CONFIDENCE:.0%} t-interval of the mean", fontsize=8)
    return save_figure(fig, out_dir, "iia-sec6")
