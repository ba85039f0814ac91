"""Figures of the bridge: the Fig 3/4 analogue on causal-LM samples, conditional PM training on
a response set, and MOD on an enumerable sequence space.

Every number plotted comes from :mod:`pmtheory.bridge.studies`, the code the BRG checks
decide their verdicts from (with the tiny OPT and Llama models by default, or the models of
the current :class:`~pmtheory.bridge.studies.BridgeSetup`). torch and transformers are
imported only when a figure is made; without them a bridge figure writes nothing, says so on
stderr and returns no paths, so ``pmtheory figures`` still makes every other figure.

Source: seed 001, Figures 3 and 4 (§5.2), Definition 4.1, §6.1; seed 004, Prop 1 and eq 7.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from pmtheory.bridge.paper import PAPER
from pmtheory.figures import new_figure, save_figure

__all__ = ["check_training_figure", "length_figure", "mod_figure", "training_figure"]


def _needs_bridge(stem: str):
    """Decorator: return [] with a note on stderr when torch or transformers is missing."""

    def decorate(make):
        @functools.wraps(make)
        def guarded(out_dir, *, quick: bool):
            from pmtheory.bridge.studies import require_bridge

            try:
                require_bridge()
            except ModuleNotFoundError as error:
                print(f"pmtheory figures: skipping {stem}: {error}", file=sys.stderr)
                return []
            return make(out_dir, quick=quick)

        return guarded

    return decorate


def _mark_tiny(fig, setup, paths) -> None:
    """Say on the figure when its models are pmtheory's tiny random-weight ones (their numbers
    test the code, not a language model)."""
    from pmtheory.bridge.tiny import tiny_model_note_at

    if setup.is_tiny or any(tiny_model_note_at(path) for path in paths):
        fig.suptitle("tiny random-weight models (pmtheory.bridge.tiny):\n"
                     "the numbers test the code, not a language model", fontsize=7, color="0.35")


def _hist(ax, values, color, title, xlabel):
    ax.hist(values, bins=np.linspace(0.0, 1.0, 21), color=color, alpha=0.85, edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pairs")
    ax.set_xlim(0, 1)


@PAPER.figure("bridge-len", claims=("BRG-LEN",),
                 title="Fig 3/4 on causal LMs: p_ref(y1) piles up near 0 and 1, p_reward does not")
@_needs_bridge("bridge-len")
def length_figure(out_dir, *, quick: bool):
    """Per model: histograms of p_ref(y1) (a) and p_reward(y1) (b) on pairs of its own samples,
    and (c) the fraction within 0.05 of 0 or 1 by length difference."""
    from pmtheory.bridge.claims_sequence import _length_study
    from pmtheory.bridge.studies import current_setup

    setup = current_setup()
    models = setup.policy_paths()  # the studies set the torch threads themselves
    fig, axes = new_figure(3, len(models), width=3.4, height=2.7, layout="constrained", squeeze=False)
    for row, (label, path) in enumerate(models):
        pileup = _length_study(setup, label, path, quick).pileup
        _hist(axes[row, 0], pileup.reference_preferences, "tab:blue", f"({label}) reference model",
              r"$p_{\mathrm{ref}}(y_1)$")
        _hist(axes[row, 1], pileup.reward_preferences, "tab:orange", f"({label}) reward model",
              r"$p_{\mathrm{reward}}(y_1)$")
        ax = axes[row, 2]
        starts = list(pileup.bin_edges)
        names = [f"{a}" if b - a == 1 else f"{a}-{b - 1}" for a, b in zip(starts, starts[1:])] + [f"≥{starts[-1]}"]
        x = np.arange(len(names))
        ax.bar(x - 0.2, pileup.reference_extreme, width=0.4, color="tab:blue", label=r"$p_{\mathrm{ref}}$")
        ax.bar(x + 0.2, pileup.reward_extreme, width=0.4, color="tab:orange", label=r"$p_{\mathrm{reward}}$")
        ax.set_xticks(x, [f"{n}\n({c})" for n, c in zip(names, pileup.pairs)])
        ax.set_xlabel("|length(y1) − length(y2)| (pairs)")
        ax.set_ylabel(f"fraction within {pileup.edge} of 0 or 1")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"({label}) pile-up by length difference")
        ax.legend(frameon=False, loc="upper left")
    _mark_tiny(fig, setup, [path for _, path in models])
    return save_figure(fig, out_dir, "bridge-len")


@PAPER.figure("bridge-cpm", claims=("BRG-KL", "BRG-CPM"),
                 title="KL and conditional PM RLHF trained on a response set vs their closed forms")
@_needs_bridge("bridge-cpm")
def training_figure(out_dir, *, quick: bool):
    """(a) π over one prompt's response set: reference, KL RLHF and conditional PM closed forms
    (bars) and the trained models (markers); (b) convergence of the exact (natural-gradient)
    and sampled (REINFORCE) estimators; (c) mean PM divergence by pair type."""
    from pmtheory.bridge.claims_training import _problem
    from pmtheory.bridge.studies import current_setup, study_threads

    setup = current_setup()
    label, path = setup.policy_paths()[0]
    _, problem = _problem(setup, path, True)
    with study_threads(setup):
        trained, curves = _training_curves(setup, path, problem, quick)
    return _training_plot(setup, label, problem, trained, curves, out_dir, path)


def _training_curves(setup, path, problem, quick: bool):
    """Train KL and conditional PM with both estimators, recording TV to the closed form per step."""
    from pmtheory.bridge.claims_training import ALPHA, BETA
    from pmtheory.bridge.studies import load_policy
    from pmtheory.bridge.training import RLHFObjective, TrainingConfig, target_log_policy, train_on_response_set

    objectives = {"KL RLHF": RLHFObjective("kl", beta=BETA),
                  "conditional PM": RLHFObjective("conditional_pm", beta=BETA, alpha=ALPHA, indicator="set")}
    trained, curves = {}, {}
    for name, objective in objectives.items():
        target = target_log_policy(objective, problem)
        for estimator in ("exact", "reinforce"):
            errors = []
            config = (TrainingConfig(estimator="exact", max_steps=30, progress=False) if estimator == "exact" else
                      TrainingConfig(estimator="reinforce", max_steps=200 if quick else 500, samples_per_prompt=128,
                                     learning_rate=0.005, lr_half_life=500.0, progress=False))
            lm = load_policy(setup, path)
            result = train_on_response_set(
                lm.model, lm.tokenizer, problem, objective, config,
                callback=lambda step, log_policy, target=target, errors=errors: errors.append(
                    0.5 * float(np.abs(np.exp(log_policy) - np.exp(target)).sum(axis=-1).max())))
            trained[(name, estimator)] = result.log_policy
            curves[(name, estimator)] = errors
    return trained, curves


def _training_plot(setup, label, problem, trained, curves, out_dir, path):
    from pmtheory.bridge.checks import conditional_pm_set_membership, set_log_reference
    from pmtheory.bridge.claims_training import ALPHA, BETA, _pair_breakdown
    from pmtheory.bridge.training import RLHFObjective, target_log_policy

    objectives = {"KL RLHF": RLHFObjective("kl", beta=BETA),
                  "conditional PM": RLHFObjective("conditional_pm", beta=BETA, alpha=ALPHA, indicator="set")}
    fig, axes = new_figure(3, 1, width=3.8, height=3.0, layout="constrained")
    ax = axes[0]
    k = problem.shape[1]
    x = np.arange(k)
    reference = np.exp(set_log_reference(problem.log_probs_ref)[0])
    ax.bar(x - 0.27, reference, width=0.27, color="0.7", label=r"$\pi^S_{\mathrm{ref}}$")
    for offset, (name, color) in zip((0.0, 0.27), (("KL RLHF", "tab:red"), ("conditional PM", "tab:green"))):
        target = np.exp(target_log_policy(objectives[name], problem)[0])
        ax.bar(x + offset, target, width=0.27, color=color, alpha=0.6, label=f"{name} closed form")
        ax.plot(x + offset, np.exp(trained[(name, "exact")][0]), "k_", markersize=9)
        ax.plot(x + offset, np.exp(trained[(name, "reinforce")][0]), "kx", markersize=4)
    ax.plot([], [], "k_", label="trained (exact)")
    ax.plot([], [], "kx", label="trained (REINFORCE)")
    ax.set_xticks(x, [f"y{i + 1}" for i in range(k)])
    ax.set_ylabel("probability on the set")
    ax.set_title(f"({label}) prompt {setup.prompt_list()[0]!r}, α = {ALPHA}")
    ax.legend(frameon=False, fontsize=6)
    ax = axes[1]
    for (name, estimator), errors in curves.items():
        ax.semilogy(np.arange(1, len(errors) + 1), np.maximum(errors, 1e-16),
                    color="tab:red" if name == "KL RLHF" else "tab:green",
                    linestyle="-" if estimator == "exact" else ":", label=f"{name}, {estimator}")
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(r"max over prompts of TV$(\pi^S_\theta, \pi^*)$")
    ax.set_title("convergence to the closed form")
    ax.legend(frameon=False, fontsize=7)
    ax = axes[2]
    membership = conditional_pm_set_membership(problem.log_probs_ref, alpha=ALPHA, indicator="set")
    kinds = ("both_in_M", "one_in_M", "neither_in_M")
    for offset, (name, color) in zip((-0.2, 0.2), (("KL RLHF", "tab:red"), ("conditional PM", "tab:green"))):
        breakdown = _pair_breakdown(trained[(name, "exact")], problem, membership, BETA)
        heights = [breakdown[kind]["mean_pm_divergence"] or 0.0 for kind in kinds]
        ax.bar(np.arange(3) + offset, heights, width=0.4, color=color, label=name)
    counts = [_pair_breakdown(trained[("KL RLHF", "exact")], problem, membership, BETA)[kind]["pairs"]
              for kind in kinds]
    ax.set_xticks(np.arange(3), [f"{kind.replace('_', ' ')}\n({c} pairs)" for kind, c in zip(kinds, counts)])
    ax.set_ylabel("mean instance PM divergence")
    ax.set_title("PM divergence by pair type (§6.1)")
    ax.legend(frameon=False)
    _mark_tiny(fig, setup, [path])
    return save_figure(fig, out_dir, "bridge-cpm")


def check_training_figure(out_dir, runs, *, tiny: bool = False) -> list:
    """The training figure of ``pmtheory bridge check --train``: (a) each run's trained
    log π^S_θ against its closed form log π* on every (prompt, response) of the set, with the
    diagonal; (b) its residual max|ρ| per step against the dtype's tolerance.

    Args:
      out_dir: where bridge-check-training.png/.pdf go.
      runs: :class:`pmtheory.bridge.studies.TrainedPolicy` results.
      tiny: the model is one of pmtheory's tiny random-weight models (said on the figure).
    """
    fig, axes = new_figure(2, 1, width=3.8, height=3.1, layout="constrained")
    colors = ("tab:red", "tab:green", "tab:blue", "tab:purple")
    low = min(float(np.min(run.target)) for run in runs)
    high = max(float(np.max(run.target)) for run in runs)
    ax = axes[0]
    ax.plot([low, high], [low, high], color="0.6", linewidth=1, label="trained = closed form")
    for run, color in zip(runs, colors):
        ax.plot(run.target.ravel(), run.log_policy.ravel(), "o", markersize=3, color=color, alpha=0.7,
                label=f"{run.objective['name']} (TV {run.total_variation:.1e})")
    ax.set_xlabel(r"closed form $\log\pi^*(y)$ on the set")
    ax.set_ylabel(r"trained $\log\pi^S_\theta(y)$")
    ax.set_title("trained policy vs closed form")
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    ax = axes[1]
    for run, color in zip(runs, colors):
        steps = np.arange(1, run.residuals.size + 1)
        ax.semilogy(steps, np.maximum(run.residuals, 1e-16), color=color,
                    label=f"{run.objective['name']} ({run.stop_reason})")
        ax.axhline(run.tolerance, color=color, linestyle=":", linewidth=1)
    ax.plot([], [], color="0.4", linestyle=":", label="converged below (dtype's tolerance)")
    ax.set_xlabel("training step")
    ax.set_ylabel(r"residual $\max_y|\rho(y)|$")
    ax.set_title("convergence")
    ax.legend(frameon=False, fontsize=7, loc="best")
    if tiny:
        fig.suptitle("tiny random-weight model (pmtheory.bridge.tiny):\n"
                     "the numbers test the code, not a language model", fontsize=7, color="0.35")
    return save_figure(fig, out_dir, "bridge-check-training")


@PAPER.figure("bridge-mod", claims=("BRG-MOD",),
                 title="MOD on an enumerable sequence space: sequence level vs token level")
@_needs_bridge("bridge-mod")
def mod_figure(out_dir, *, quick: bool):
    """Deviation of sequence-level MOD (Prop 1) and token-level MOD from the retrained optimum
    for Σ w_i r_i, log π_MOD − log π*, over all 64 sequences, w = (1/2, 1/2)."""
    from pmtheory.bridge.studies import current_setup, mod_figure_data

    setup = current_setup()
    label, path = setup.policy_paths()[0]
    data = mod_figure_data(setup, label, path, weights=(0.5, 0.5))
    fig, ax = new_figure(1, 1, width=4.6, height=3.6, layout="constrained")
    exact = data["exact"]
    ax.axhline(0.0, color="0.6", linewidth=1)
    ax.plot(exact, data["sequence"] - exact, "o", markersize=4, color="tab:blue", label="sequence-level MOD (Prop 1)")
    ax.plot(exact, data["token"] - exact, "x", markersize=5, color="tab:red", label="token-level MOD (eq 7 per step)")
    greedy = data["greedy"]
    ax.plot(exact[greedy], data["token"][greedy] - exact[greedy], "s", markerfacecolor="none", markersize=9,
            color="tab:red", label="greedy token-level decode")
    best = int(np.argmax(exact))
    ax.plot(exact[best], 0.0, "D", markerfacecolor="none", markersize=9, color="tab:blue",
            label="argmax of the optimum")
    ax.set_xlabel(r"retrained optimum $\log\pi^*(y)$ for $\sum_i w_i r_i$")
    ax.set_ylabel(r"$\log\pi_{\mathrm{MOD}}(y) - \log\pi^*(y)$")
    ax.set_title(f"({label}) all {data['sequences']} sequences, w = (0.5, 0.5)")
    fig.legend(frameon=False, fontsize=7, ncol=2, loc="outside lower center")  # below the axes, off the points
    _mark_tiny(fig, setup, [path])
    return save_figure(fig, out_dir, "bridge-mod")
