"""Figures for seed 004 (MOD), computed by the library code the MOD claim checks use.

- ``mod-pareto``: Pareto fronts (E R_1, E R_2) in a tabular two-objective problem, one panel
  per divergence: exact MOD (Prop 1), MORLHF (retrained), rewarded soups (softmax-linear and
  the 2-layer ReLU network of Thm 2(ii)) and the published decoding rules sampled as
  distributions (App F; and the Z-free Thm 5 rule). Claims MOD-PAR, MOD-D2.
- ``mod-token-gap``: token-level MOD against the sequence-level optimum on an enumerable
  autoregressive model, as a function of the weight w_1. Claim MOD-TOK.

Source: seed 004, App G (Figures 1-3), §3.2-3.3, App F.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pmtheory.figures import new_figure, save_figure
from pmtheory.mod.baselines import autoregressive_instance, compare_token_and_sequence_level, pareto_fronts
from pmtheory.mod.paper import PAPER

__all__ = ["pareto_figure", "pareto_problem", "token_gap_figure", "token_gap_curves"]

# The divergences of the Pareto panels (the paper's Figure 3 uses reverse KL, JSD, 0.3 and 0.5).
PARETO_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.3", "alpha:0.5", "hellinger")
# The divergences of the token-level curves.
TOKEN_DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha:0.5")

# Plot style per method: (label, line style, marker).
_METHODS = {
    "mod": ("MOD (Prop 1, exact)", "-", None),
    "morlhf": ("MORLHF (retrained)", "none", "o"),
    "rs_softmax_linear": ("RS, softmax-linear", "--", None),
    "rs_relu": ("RS, 2-layer ReLU", ":", None),
    "published_code": ("published code (sampled)", "-.", None),
    "thm5_sampling": ("Thm 5 rule without Z (sampled)", (0, (1, 3)), None),
}


def pareto_problem(seed: int = 7, responses: int = 8) -> tuple[np.ndarray, np.ndarray, float]:
    """The tabular problem of ``mod-pareto``: two anti-correlated Gaussian rewards on K responses,
    a Dirichlet reference and β = 1. Returns (R of shape (2, K), π_ref of shape (K,), β)."""
    rng = np.random.default_rng(seed)
    first = rng.normal(size=responses)
    second = -0.6 * first + 0.8 * rng.normal(size=responses)
    return np.vstack([first, second]) * 3.0, rng.dirichlet(np.full(responses, 2.0)), 1.0


@PAPER.figure("mod-pareto", claims=("MOD-PAR", "MOD-D2"),
                 title="MOD, MORLHF, rewarded soups and the published rules: Pareto fronts per divergence")
def pareto_figure(out_dir: Path, *, quick: bool) -> list[Path]:
    """One panel per divergence: E R_2 against E R_1 along w = (w_1, 1 − w_1)."""
    rewards, reference, beta = pareto_problem()
    grid = np.linspace(0.0, 1.0, 11 if quick else 41)
    fig, axes = new_figure(3, 2, width=3.4, height=3.0)
    for ax, name in zip(axes.ravel(), PARETO_DIVERGENCES):
        fronts = pareto_fronts(rewards, reference, grid, divergence=name, beta=beta)
        for method, (label, style, marker) in _METHODS.items():
            points = fronts.points[method]
            if method == "morlhf":
                every = max(1, (len(grid) - 1) // 10)  # a marker every Δw = 0.1
                ax.plot(points[::every, 0], points[::every, 1], linestyle="none", marker="o", markersize=5,
                        markerfacecolor="none", color="black", label=label, zorder=3)
            else:
                ax.plot(points[:, 0], points[:, 1], linestyle=style, label=label, zorder=2)
        base = fronts.points["mod"][[0, -1]]  # w₁ = 0 and w₁ = 1: the base policies π₂ and π₁
        ax.plot(base[:, 0], base[:, 1], linestyle="none", marker="s", markersize=7, color="gray",
                markeredgecolor="black", zorder=4, label="base policies π₂ (w₁ = 0), π₁ (w₁ = 1)")
        ax.set_title(name)
        ax.set_xlabel("E[R₁]")
        ax.set_ylabel("E[R₂]")
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(f"Two objectives, K = {rewards.shape[1]} responses, β = {beta:g}, w = (w₁, 1 − w₁)", fontsize=9)
    return save_figure(fig, out_dir, "mod-pareto")


def token_gap_curves(weights, seeds, divergences=TOKEN_DIVERGENCES) -> dict:
    """Per divergence: the objective gap (nats) of token-level MOD and whether greedy decoding
    misses the sequence-level Thm 5 choice, over ``seeds`` enumerable instances (V = 3, T = 3).

    Returns {name: {"mean": (W,), "max": (W,), "greedy_miss": (W,)}}.
    """
    curves = {}
    for name in divergences:
        gaps = np.zeros((len(seeds), len(weights)))
        misses = np.zeros((len(seeds), len(weights)))
        for i, seed in enumerate(seeds):
            instance = autoregressive_instance(seed, vocab=3, length=3, objectives=2, divergence=name)
            for j, w1 in enumerate(weights):
                comparison = compare_token_and_sequence_level(instance.log_policies, [w1, 1.0 - w1],
                                                              instance.log_reference, divergence=name)
                gaps[i, j] = comparison.objective_gap
                misses[i, j] = comparison.greedy_sequence != comparison.rule_sequence
        curves[name] = {"mean": gaps.mean(axis=0), "max": gaps.max(axis=0), "greedy_miss": misses.mean(axis=0)}
    return curves


@PAPER.figure("mod-token-gap", claims=("MOD-TOK",),
                 title="Token-level MOD against the sequence-level optimum, as a function of w₁")
def token_gap_figure(out_dir: Path, *, quick: bool) -> list[Path]:
    """Left: objective gap of token-level sampling (mean and max over instances). Right: how
    often greedy decoding misses the sequence-level Thm 5 choice."""
    weights = np.linspace(0.05, 0.95, 7 if quick else 19)
    seeds = range(3 if quick else 12)
    curves = token_gap_curves(weights, seeds)
    fig, (left, right) = new_figure(2, 1, width=3.8, height=3.0)
    for name, curve in curves.items():
        line, = left.plot(weights, np.maximum(curve["mean"], 1e-12), label=name)
        left.plot(weights, np.maximum(curve["max"], 1e-12), linestyle="--", color=line.get_color(), alpha=0.7)
        right.plot(weights, curve["greedy_miss"], marker="o", markersize=3, color=line.get_color(), label=name)
    left.set_yscale("log")
    left.set_xlabel("w₁ (w₂ = 1 − w₁)")
    left.set_ylabel("(J(π*) − J(π_tok)) / β  [nats]")
    left.set_title("token-level sampling: gap\n(solid: mean, dashed: max over instances)")
    right.set_xlabel("w₁ (w₂ = 1 − w₁)")
    right.set_ylabel("fraction of instances")
    right.set_ylim(-0.03, 1.03)
    right.set_title("greedy (eq 6) ≠ sequence-level\nThm 5 choice")
    fig.legend(*left.get_legend_handles_labels(), loc="outside right center", frameon=False, title="divergence")
    fig.suptitle(f"Enumerable model: V = 3 tokens, T = 3 positions, {len(seeds)} random instances", fontsize=9)
    return save_figure(fig, out_dir, "mod-token-gap")
