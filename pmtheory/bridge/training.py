"""Training a causal LM's parameters with KL RLHF or conditional PM RLHF on a response set.

The objectives are those of seed 001 restricted to a finite set S of K responses per prompt,
with the policy renormalized over the set, π^S_θ(y) = π_θ(y|x)/Σ_{y'∈S} π_θ(y'|x):

- KL RLHF (eq 2.3): E_{π^S}[r] − β KL(π^S ‖ π^S_ref) = β·E_{π^S}[u − log π^S] with
  u = r/β + log π^S_ref;
- conditional PM RLHF (Def 4.1, reward r/β as in §6): E_{π^S}[r/β − log π^S·1(y∈M) −
  log(π^S/ε)·1(y∉M)] = E_{π^S}[u − log π^S] with u = r/β + log ε(y)·1(y∉M), for the three
  indicator readings of :mod:`pmtheory.bridge.checks` ("set", "sequence", and the published
  code's per-token "token", for which u = r/β + Σ_{t: π_ref,t ≤ α} log π_ref,t).

Both are E_π[u − log π], maximized by softmax(u); :func:`target_log_policy` gives the optimum
from the library's closed forms (:func:`pmtheory.pmr.rlhf.kl_rlhf_log_policy`,
:func:`pmtheory.pmr.pm.conditional_pm_log_policy`, :func:`pmtheory.pmr.pm.pm_log_policy`), which the
checks compare the trained model with; training itself never sees the closed form.

Two estimators of the gradient:

- ``"exact"``: the finite-set objective itself, all N·K sequence log-probabilities in one
  full batch. Default optimizer ``"natural"``: natural-gradient (Fisher-preconditioned)
  steps, which for a softmax over the set are Gauss-Newton steps toward u − log π = const,
  solved in the least-norm damped sense through the (N·K × parameters) Jacobian, with
  backtracking so that every accepted step increases the objective; deterministic, and in
  float64 it reaches the optimum to ~1e-10 in log π on tiny models within ~6 steps (a
  float64 Llama stops near 1e-7: transformers' LlamaRMSNorm computes in float32). Also
  ``"adam"`` (first-order; for models too large for a Jacobian). torch's L-BFGS is not used:
  its strong-Wolfe line search stalled at t = 0 on this objective after the first step.
- ``"reinforce"``: the score-function estimator with a leave-one-out baseline. Each step draws
  M responses per prompt from π^S_θ (categorical over the set, i.e. the model's own samples
  conditioned on landing in S) and uses ∇J = E_{y~π}[(u(y) − log π(y) − b)∇log π(y)], b the
  mean of the other M−1 draws' returns (unbiased). Adam with the rate decaying as
  lr/(1 + t/half_life).

The model is kept in eval mode (dropout off) so the objective is a deterministic function of
θ. Training is seeded (the draws of step t come from a generator seeded by (seed, t), so a
resumed run draws what an uninterrupted one would), checkpoints model, Adam state, history
and the natural optimizer's step size atomically every ``checkpoint_every`` steps, resumes from a
checkpoint written for the same
problem, objective and settings, and shows a tqdm progress bar on a terminal.

Several processes (data parallel, issue 15): run the script that calls
:func:`train_on_response_set` under ``accelerate launch --multi_gpu --num_processes 8
your_script.py`` (or ``python -m torch.distributed.run --nproc_per_node 8 your_script.py``;
``pmtheory``'s own command line does not launch processes yet), each process loading the model
onto its own device (``cuda:LOCAL_RANK``). With the Adam optimizer (estimator ``"exact"`` with
``optimizer="adam"``, and ``"reinforce"``) each process takes a contiguous shard of the N
prompts (the rows of the (N, K) problem) for its forward and backward passes; its loss is
weighted by its number of prompts / N and the gradients are summed across processes (before
they reach the master weights), so the update is that of one process on all N prompts, up to
rounding. REINFORCE draws for all N prompts on every process from the (seed, step) generator
and keeps its shard's rows, so the draws are those of one process. The (N, K) log-probabilities
are gathered every step, so the objective history, residuals, callback and result are the
full problem's, the same on every process. Only the main process (rank 0) writes checkpoints
(``checkpoint_dir`` must be on a file system every process reads) and shows the bar. Not
sharded: the natural optimizer (its Jacobian solve is one process's), which refuses to run in
more than one process. The process group and the collectives are in
:mod:`pmtheory.bridge.distributed`; without a launcher (``WORLD_SIZE`` unset or 1) nothing of
this runs.

Shape letters: ``N`` prompts, ``K`` responses per prompt, ``M`` draws per prompt.

Source: seed 001, eq 2.3 (KL RLHF), Definition 4.1 (conditional PM RLHF), §6 (r = r_θ/β);
github.com/JiancongXiao/PM_RLHF ``compute_rewards`` for the per-token indicator.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from scipy.special import log_softmax

from pmtheory._validation import as_float_array, check_finite, check_positive_scalar
from pmtheory.bridge.checks import (
    INDICATORS,
    ResponseSet,
    conditional_pm_set_log_policy,
    conditional_pm_set_membership,
    kl_rlhf_set_log_policy,
    set_log_reference,
)
from pmtheory.bridge.distributed import current_world
from pmtheory.bridge.loading import accumulation_dtype, input_device
from pmtheory.bridge.logprobs import sequence_log_probs

__all__ = [
    "ESTIMATORS",
    "MasterWeights",
    "OBJECTIVES",
    "OPTIMIZERS",
    "PUBLISHED_REWARD_CLIP",
    "RLHFObjective",
    "TRAINABLE",
    "ResponseSetProblem",
    "TrainingConfig",
    "TrainingResult",
    "available_memory",
    "natural_jacobian_bytes",
    "peak_memory",
    "policy_log_probs_on_set",
    "regularized_rewards",
    "select_trainable",
    "target_log_policy",
    "train_on_response_set",
]

OBJECTIVES = ("kl", "conditional_pm")
# DeepSpeed-Chat's clip_reward_value, which the published PM RLHF code keeps (RLHFObjective.reward_clip).
PUBLISHED_REWARD_CLIP = 5.0
ESTIMATORS = ("exact", "reinforce")
OPTIMIZERS = ("natural", "adam")
# Natural optimizer: stop ("stalled") after this many steps without a new smallest residual,
# which happens at the rounding floor of the log-probabilities.
_STALL_STEPS = 8
_CHECKPOINT_NAME = "checkpoint.pt"
# REINFORCE's default Adam rate, measured: the worst total variation from the closed form after
# 250 steps (64 draws per prompt, float32, 2 prompts × 8 responses, seeds 0 and 1) over the tiny
# OPT and Llama, KL and conditional PM, head-only and all parameters, was 0.077 at rate 0.05,
# 0.096 at 0.02, 0.048 at 0.01, 0.015 at 0.005 and 0.004 at 0.002 (the larger rates collapse a
# response: its probability overshoots to ~0 and the samples stop drawing it).
REINFORCE_RATE = 0.002


@dataclass(frozen=True)
class RLHFObjective:
    """Which RLHF objective to maximize on the set.

    Two options reproduce the published code (github.com/JiancongXiao/PM_RLHF, DeepSpeed-Chat's
    ``compute_rewards``) where it departs from the paper: ``published_alpha_zero="kl"`` (at
    α = 0 the code falls back to the KL penalty, so the objective is KL RLHF; Def 4.1 at α = 0
    puts every response in M, i.e. PM RLHF, which is the default) and ``reward_clip``
    (the code clips the reward score to ±clip_reward_value, :data:`PUBLISHED_REWARD_CLIP` = 5,
    before it enters the objective; the default does not clip). Both apply to the closed form
    as to training.
    """

    name: str = "conditional_pm"  # "kl" (eq 2.3) or "conditional_pm" (Def 4.1)
    beta: float = 1.0  # β: KL weight, or the reward scale r/β of conditional PM (§6)
    alpha: float = 0.1  # α: conditional PM's threshold on π_ref (ignored for "kl")
    indicator: str = "set"  # conditional PM's reading: "set", "sequence" or "token" (ignored for "kl")
    published_alpha_zero: str = "pm"  # conditional PM at α = 0: "pm" (Def 4.1) or "kl" (the published code)
    reward_clip: float | None = None  # clip r to [−c, c] first (the published code: PUBLISHED_REWARD_CLIP)

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise ValueError(f"objective name must be one of {', '.join(OBJECTIVES)}, got {self.name!r}")
        check_positive_scalar(self.beta, "beta")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.indicator not in INDICATORS:
            raise ValueError(f"indicator must be one of {', '.join(INDICATORS)}, got {self.indicator!r}")
        if self.published_alpha_zero not in ("pm", "kl"):
            raise ValueError(f"published_alpha_zero must be 'pm' (Def 4.1) or 'kl' (the published code's fallback "
                             f"at alpha = 0), got {self.published_alpha_zero!r}")
        if self.reward_clip is not None:
            check_positive_scalar(self.reward_clip, "reward_clip")

    @property
    def effective_name(self) -> str:
        """"kl" when the published code's α = 0 fallback applies, else :attr:`name`."""
        if self.name == "conditional_pm" and float(self.alpha) == 0.0 and self.published_alpha_zero == "kl":
            return "kl"
        return self.name

    def clipped(self, rewards: np.ndarray) -> np.ndarray:
        """The rewards the objective sees: clipped to ±reward_clip when it is set."""
        return rewards if self.reward_clip is None else np.clip(rewards, -self.reward_clip, self.reward_clip)

    def to_dict(self) -> dict:
        """JSON-able description (alpha and indicator only for conditional PM; the published-code
        options only when set)."""
        if self.name == "kl":
            out = {"name": "kl", "beta": float(self.beta)}
        else:
            out = {"name": self.name, "beta": float(self.beta), "alpha": float(self.alpha),
                   "indicator": self.indicator}
            if self.published_alpha_zero != "pm":
                out["published_alpha_zero"] = self.published_alpha_zero
        if self.reward_clip is not None:
            out["reward_clip"] = float(self.reward_clip)
        return out


@dataclass(frozen=True)
class ResponseSetProblem:
    """What training needs: the set, the rewards and the reference's log-probabilities."""

    prompt_ids: tuple[tuple[int, ...], ...]  # N prompts as token ids
    response_ids: tuple[tuple[tuple[int, ...], ...], ...]  # N × K distinct responses as token ids
    rewards: np.ndarray  # (N, K) float64: r(x, y)
    log_probs_ref: np.ndarray  # (N, K) float64: log π_ref(y|x), full-sequence
    token_log_probs_ref: np.ndarray | None = None  # (N, K, R) float64, for indicator "token"
    token_mask: np.ndarray | None = None  # (N, K, R) bool
    allowed_token_ids: tuple[int, ...] | None = None  # restrict next-token distributions (enumerated spaces)

    def __post_init__(self) -> None:
        rewards = as_float_array(self.rewards, "rewards", min_ndim=2)
        log_probs = as_float_array(self.log_probs_ref, "log_probs_ref", min_ndim=2)
        check_finite(rewards, "rewards")
        check_finite(log_probs, "log_probs_ref")
        n, k = len(self.response_ids), len(self.response_ids[0]) if self.response_ids else 0
        if rewards.shape != (n, k) or log_probs.shape != (n, k) or len(self.prompt_ids) != n:
            raise ValueError(f"rewards {rewards.shape}, log_probs_ref {log_probs.shape} and {len(self.prompt_ids)} "
                             f"prompts must match the response set's (N, K) = ({n}, {k})")
        if any(len(row) != k for row in self.response_ids):
            raise ValueError("every prompt must have the same number K of responses")
        for index, row in enumerate(self.response_ids):
            if len(set(row)) != len(row):
                raise ValueError(f"the responses of prompt {index} are not distinct; a set needs distinct responses")
        object.__setattr__(self, "rewards", rewards)
        object.__setattr__(self, "log_probs_ref", log_probs)

    @classmethod
    def from_response_set(cls, response_set: ResponseSet, rewards, *, allowed_token_ids=None) -> ResponseSetProblem:
        """The problem of a sampled :class:`~pmtheory.bridge.checks.ResponseSet` with rewards (N, K)."""
        return cls(prompt_ids=response_set.prompt_ids, response_ids=response_set.response_ids,
                   rewards=np.asarray(rewards, dtype=np.float64), log_probs_ref=response_set.log_probs,
                   token_log_probs_ref=response_set.token_log_probs, token_mask=response_set.token_mask,
                   allowed_token_ids=None if allowed_token_ids is None else tuple(int(t) for t in allowed_token_ids))

    @property
    def shape(self) -> tuple[int, int]:
        """(N, K)."""
        return self.rewards.shape

    def pairs(self) -> tuple[list, list]:
        """(prompt ids, response ids) flattened row-major to N·K pairs."""
        prompts = [list(p) for p, row in zip(self.prompt_ids, self.response_ids) for _ in row]
        responses = [list(r) for row in self.response_ids for r in row]
        return prompts, responses

    def fingerprint(self) -> str:
        """SHA-256 of the ids, rewards and reference log-probabilities (checkpoint matching)."""
        digest = hashlib.sha256()
        digest.update(json.dumps([self.prompt_ids, self.response_ids, self.allowed_token_ids]).encode())
        digest.update(np.ascontiguousarray(self.rewards).tobytes())
        digest.update(np.ascontiguousarray(self.log_probs_ref).tobytes())
        return digest.hexdigest()


TRAINABLE = ("all", "head")


def select_trainable(model, trainable: str) -> int:
    """Let only the ``trainable`` parameters of ``model`` ("all", or the output "head") require
    gradients; returns how many scalars train.

    With "head", an output layer that shares its weight with the input embeddings (OPT ties
    them, ``tie_word_embeddings``) is untied first: it gets its own copy of the weight and the
    config is marked untied, so that training the head leaves the input embeddings (and a later
    ``save_pretrained``) as they were. Without this, every update of the head moved the input
    embeddings too (1,200 of 1,200 rows of a tied OPT).
    """
    if trainable not in TRAINABLE:
        raise ValueError(f"trainable must be one of {', '.join(TRAINABLE)}, got {trainable!r}")
    for parameter in model.parameters():
        parameter.requires_grad_(trainable == "all")
    if trainable == "all":
        return sum(p.numel() for p in model.parameters())
    head = model.get_output_embeddings()
    if head is None:
        raise ValueError(f"{type(model).__name__} has no output embeddings (get_output_embeddings() is None); "
                         "use trainable='all'")
    inputs = model.get_input_embeddings()
    if inputs is not None and head.weight is inputs.weight:
        head.weight = torch.nn.Parameter(head.weight.detach().clone())
        model.config.tie_word_embeddings = False
        if hasattr(model.config, "get_text_config"):  # where a composite config keeps the flag
            model.config.get_text_config().tie_word_embeddings = False
    for parameter in head.parameters():
        parameter.requires_grad_(True)
    return sum(p.numel() for p in head.parameters())


def regularized_rewards(objective: RLHFObjective, problem: ResponseSetProblem) -> np.ndarray:
    """u(y) such that the objective is E_{π^S}[u − log π^S] (KL RLHF: divided by β).

    .. math::  u_{KL} = r/β + \\log π^S_{ref},\\qquad u_{CPM} = r/β + \\log ε(y)·1(y ∉ M)

    Source: seed 001, eq 2.3 and Definition 4.1 (module docstring). Returns shape (N, K).
    """
    rewards = objective.clipped(problem.rewards) / objective.beta
    if objective.effective_name == "kl":
        return rewards + set_log_reference(problem.log_probs_ref)
    if objective.indicator == "set":
        log_reference = set_log_reference(problem.log_probs_ref)
        inside = log_reference >= (np.log(objective.alpha) if objective.alpha > 0 else -np.inf)
        return rewards + np.where(inside, 0.0, log_reference)
    if objective.indicator == "sequence":
        inside = conditional_pm_set_membership(problem.log_probs_ref, alpha=objective.alpha, indicator="sequence")
        return rewards + np.where(inside, 0.0, problem.log_probs_ref)
    inside = conditional_pm_set_membership(problem.log_probs_ref, alpha=objective.alpha, indicator="token",
                                           token_log_probs=problem.token_log_probs_ref, token_mask=problem.token_mask)
    outside = np.asarray(problem.token_mask, dtype=bool) & ~inside
    return rewards + np.sum(np.where(outside, problem.token_log_probs_ref, 0.0), axis=-1)


def target_log_policy(objective: RLHFObjective, problem: ResponseSetProblem) -> np.ndarray:
    """The closed-form optimum on the set, from the library's formulas (shape (N, K)).

    KL: :func:`pmtheory.pmr.rlhf.kl_rlhf_log_policy` on π^S_ref (eq 5.1); conditional PM:
    :func:`pmtheory.bridge.checks.conditional_pm_set_log_policy` (Def 4.1).
    """
    rewards = objective.clipped(problem.rewards)
    if objective.effective_name == "kl":
        return kl_rlhf_set_log_policy(rewards, problem.log_probs_ref, beta=objective.beta)
    return conditional_pm_set_log_policy(rewards, problem.log_probs_ref, alpha=objective.alpha,
                                         beta=objective.beta, indicator=objective.indicator,
                                         token_log_probs=problem.token_log_probs_ref, token_mask=problem.token_mask)


@dataclass(frozen=True)
class TrainingConfig:
    """How to train (everything but the progress bar and paths goes into the checkpoint check)."""

    estimator: str = "exact"  # "exact" (the finite-set objective itself) or "reinforce" (sampled)
    optimizer: str | None = None  # "natural" or "adam"; default natural for exact, adam for reinforce
    max_steps: int = 200  # optimizer steps
    learning_rate: float | None = None  # natural: initial step 1.0; adam: REINFORCE_RATE (reinforce) / 0.01 (exact)
    samples_per_prompt: int = 64  # M draws per prompt per step ("reinforce")
    lr_half_life: float = 100.0  # adam: the rate at step t is lr/(1 + t/half_life)
    tolerance: float | None = None  # natural: stop when max |ρ| falls below this (default 1e-6 float64, 1e-4 else)
    damping: float = 1e-13  # natural: Levenberg-Marquardt damping, relative to the mean diagonal of JJᵀ
    seed: int = 0  # seed of the draws ("reinforce")
    batch_size: int = 64  # pairs per forward pass
    checkpoint_dir: str | None = None  # where checkpoint.pt goes (None: no checkpoints)
    checkpoint_every: int = 50  # steps between checkpoints
    resume: bool = True  # continue from checkpoint_dir/checkpoint.pt when it matches
    progress: bool | None = None  # tqdm bar: None = only when stderr is a terminal
    max_memory: int | None = None  # bytes the natural optimizer's Jacobian may take (None: what the device has free)

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} or None, got {self.optimizer!r}")
        if self.estimator == "reinforce" and self.optimizer == "natural":
            raise ValueError("the natural optimizer needs the exact objective; use optimizer='adam' with reinforce")
        for name in ("max_steps", "samples_per_prompt", "batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "max_steps" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.estimator == "reinforce" and self.samples_per_prompt < 2:
            raise ValueError("samples_per_prompt must be >= 2: the leave-one-out baseline needs two draws")
        if self.learning_rate is not None:
            check_positive_scalar(self.learning_rate, "learning_rate")
        for name in ("lr_half_life", "damping"):
            check_positive_scalar(getattr(self, name), name)
        if self.tolerance is not None:
            check_positive_scalar(self.tolerance, "tolerance")
        if self.max_memory is not None and (isinstance(self.max_memory, bool) or not isinstance(self.max_memory, int)
                                            or self.max_memory < 1):
            raise ValueError(f"max_memory must be a positive number of bytes (an int) or None, got {self.max_memory!r}")

    def tolerance_for(self, dtype) -> float:
        """The residual max|ρ| below which training has converged, for parameters of ``dtype``:
        1e-6 in float64 (far below the 1e-3 bar; a float64 Llama's float32 RMSNorm floors it
        near 1e-7), 1e-4 in float32 (log-probabilities of size ~10 are known to ~1e-6), and
        16·eps of a narrower float (bfloat16: 0.125, float16: 0.0156): their logits are rounded
        to eps relative, and the residual of exact natural-gradient training of the tiny OPT and
        Llama in bfloat16, with float32 master weights, floors at 0.03-0.06 (4-8 eps)."""
        if self.tolerance is not None:
            return float(self.tolerance)
        if dtype == torch.float64:
            return 1e-6
        if dtype == torch.float32:
            return 1e-4
        return 16.0 * float(torch.finfo(dtype).eps)

    @property
    def method(self) -> str:
        """The optimizer in use."""
        if self.optimizer is not None:
            return self.optimizer
        return "natural" if self.estimator == "exact" else "adam"

    @property
    def rate(self) -> float:
        """The (initial) learning rate in use."""
        if self.learning_rate is not None:
            return float(self.learning_rate)
        if self.method == "natural":
            return 1.0
        return REINFORCE_RATE if self.estimator == "reinforce" else 0.01

    def identity(self) -> dict:
        """The settings a checkpoint must share to be resumed."""
        keep = ("estimator", "samples_per_prompt", "lr_half_life", "damping", "seed")
        return {**{name: getattr(self, name) for name in keep}, "optimizer": self.method, "learning_rate": self.rate}


@dataclass(frozen=True)
class TrainingResult:
    """What a training run did and where it ended."""

    log_policy: np.ndarray  # (N, K) log π^S_θ of the trained model, float64
    steps: int  # optimizer steps taken in total (including those before a resume)
    converged: bool  # the residual max|ρ| fell below TrainingConfig.tolerance_for(the parameters' dtype)
    # "converged" (below the tolerance; in a narrower float: at the rounding floor, and that floor
    # below the tolerance), "stalled" (natural: no progress in _STALL_STEPS steps) or "max_steps"
    stop_reason: str
    objective_history: np.ndarray  # (steps,) J = E_{π^S}[u − log π^S] at the start of each step
    residuals: np.ndarray  # (steps,) max_y |ρ(y)|, ρ = u − log π^S centred under π^S (0 at the optimum)
    resumed_from_step: int | None  # the checkpoint step it resumed from, or None
    seconds: float  # wall-clock seconds of this call
    objective: dict = field(default_factory=dict)  # RLHFObjective.to_dict()
    config: dict = field(default_factory=dict)  # TrainingConfig settings
    notes: tuple[str, ...] = ()  # e.g. that the natural optimizer did not fit in memory and Adam ran instead
    peak_memory: dict = field(default_factory=dict)  # {"bytes": int, "measured": how} (module doc)


def policy_log_probs_on_set(model, tokenizer, problem: ResponseSetProblem, *, requires_grad: bool = False,
                            batch_size: int = 64) -> torch.Tensor:
    """log π^S_θ(y) = log_softmax over each prompt's K responses of log π_θ(y|x), shape (N, K)."""
    return torch.log_softmax(_sequence_log_probs(model, tokenizer, problem, requires_grad=requires_grad,
                                                 batch_size=batch_size), dim=-1)


def _sequence_log_probs(model, tokenizer, problem: ResponseSetProblem, *, requires_grad: bool,
                        batch_size: int) -> torch.Tensor:
    prompts, responses = problem.pairs()
    flat = sequence_log_probs(model, tokenizer, prompts, responses, batch_size=batch_size,
                              allowed_token_ids=problem.allowed_token_ids, requires_grad=requires_grad)
    return flat.reshape(problem.shape)


def _shard(problem: ResponseSetProblem, rows: slice) -> ResponseSetProblem:
    """The problem restricted to the prompts ``rows`` (a process's shard)."""
    token = None if problem.token_log_probs_ref is None else problem.token_log_probs_ref[rows]
    mask = None if problem.token_mask is None else problem.token_mask[rows]
    return replace(problem, prompt_ids=problem.prompt_ids[rows], response_ids=problem.response_ids[rows],
                   rewards=problem.rewards[rows], log_probs_ref=problem.log_probs_ref[rows],
                   token_log_probs_ref=token, token_mask=mask)


def _step_generator(seed: int, step: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, step]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _save_checkpoint(directory: Path, payload: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / (_CHECKPOINT_NAME + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, directory / _CHECKPOINT_NAME)


def _load_checkpoint(directory: Path, identity: dict) -> dict | None:
    path = directory / _CHECKPOINT_NAME
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("identity") != identity:
        raise ValueError(
            f"the checkpoint {path} was written for another problem, objective or training settings "
            f"({payload.get('identity')} != {identity}); remove it, pick another checkpoint_dir, or pass resume=False"
        )
    return payload


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _objective(log_policy: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """J = mean over prompts of Σ_y π(y)(u(y) − log π(y)), from log π of shape (N, K)."""
    return (log_policy.exp() * (u - log_policy)).sum(dim=-1).mean()


def _natural_residual(log_policy: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """ρ = (u − log π) − E_π[u − log π] per prompt: the natural gradient of J in set-logit space."""
    raw = u - log_policy
    return raw - (log_policy.exp() * raw).sum(dim=-1, keepdim=True)


def _jacobian(outputs: torch.Tensor, parameters) -> torch.Tensor:
    """∂ outputs / ∂ θ as a dense (outputs, parameters) matrix, one backward pass per output."""
    flat = outputs.reshape(-1)
    rows = []
    for index in range(flat.numel()):
        grads = torch.autograd.grad(flat[index], parameters, retain_graph=index + 1 < flat.numel(), allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, parameters)]))
    return torch.stack(rows)


class MasterWeights:
    """The trainable parameters, updated through float32 master copies when they are stored in
    a narrower float.

    Updates of bfloat16/float16 weights round away whenever they are below half an ulp of the
    weight (an Adam step of 5e-5 changed 4,420 of 38,400 weights of a bfloat16 tiny OPT head),
    and subtracting a rejected step does not restore them. Here every update goes to the
    masters (float32, or the parameters themselves when they are float32/float64), which are
    then rounded into the model once; a rejected step restores a snapshot of the masters.
    """

    def __init__(self, parameters) -> None:
        self.parameters = list(parameters)
        self.narrow = any(p.dtype in (torch.bfloat16, torch.float16) for p in self.parameters)
        if self.narrow:
            self.masters = [p.detach().to(torch.float32).clone().requires_grad_(True) for p in self.parameters]
        else:
            self.masters = self.parameters

    def snapshot(self) -> list[torch.Tensor]:
        """A copy of the masters, for :meth:`restore`."""
        return [m.detach().clone() for m in self.masters]

    def restore(self, snapshot: list[torch.Tensor]) -> None:
        """Set the masters (and the model) back to ``snapshot``, bit for bit."""
        with torch.no_grad():
            for master, saved in zip(self.masters, snapshot):
                master.copy_(saved)
        self.sync()

    def add(self, direction: torch.Tensor, scale: float) -> None:
        """masters += scale·direction (direction flat over the trainable parameters), then sync."""
        offset = 0
        with torch.no_grad():
            for master in self.masters:
                n = master.numel()
                master.add_(direction[offset:offset + n].view_as(master).to(master.dtype), alpha=scale)
                offset += n
        self.sync()

    def gradients_to_masters(self) -> None:
        """Hand the model's gradients (of any float) to the masters in their precision."""
        if self.narrow:
            for master, parameter in zip(self.masters, self.parameters):
                master.grad = None if parameter.grad is None else parameter.grad.to(master.dtype)
                parameter.grad = None

    def sync(self) -> None:
        """Round the masters into the model's parameters (nothing to do without masters)."""
        if self.narrow:
            with torch.no_grad():
                for master, parameter in zip(self.masters, self.parameters):
                    parameter.copy_(master)


def _natural_step(model, tokenizer, problem, weights: MasterWeights, u, config, rate: float,
                  tolerance: float) -> tuple[float, float, float]:
    """One damped natural-gradient (Gauss-Newton) step with backtracking; returns (J, max|ρ|, rate).

    The natural gradient of J for a softmax over the set is ρ in set-logit space (Kakade
    2001); in parameter space the step δ solves J_θ δ = ρ in the least-norm, damped sense,
    δ = J_θᵀ(J_θ J_θᵀ + λI)⁻¹ρ, with J_θ = ∂ log π^S/∂θ. The step is halved until J does not
    decrease, so every accepted step is an ascent step of the exact objective; a rejected trial
    restores the snapshot of the weights taken before it (:class:`MasterWeights`).
    """
    log_probs = _sequence_log_probs(model, tokenizer, problem, requires_grad=True, batch_size=config.batch_size)
    log_policy = torch.log_softmax(log_probs, dim=-1)
    value = float(_objective(log_policy.detach(), u))
    residual = _natural_residual(log_policy.detach(), u)
    worst = float(residual.abs().max())
    if worst < tolerance:
        return value, worst, rate
    solve_dtype = torch.float32 if log_policy.device.type == "mps" else torch.float64  # MPS has no float64
    jacobian = _jacobian(log_policy, weights.parameters).to(solve_dtype)
    gram = jacobian @ jacobian.T
    damping = config.damping * float(gram.diagonal().mean())
    coefficients = torch.linalg.solve(gram + damping * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device),
                                      residual.reshape(-1).to(solve_dtype))
    direction = jacobian.T @ coefficients
    del jacobian, gram
    scale = min(1.0, 2.0 * rate)  # let the step grow back after a backtrack
    before = weights.snapshot()
    for _ in range(40):
        weights.add(direction, scale)
        with torch.no_grad():
            trial = float(_objective(policy_log_probs_on_set(model, tokenizer, problem,
                                                             batch_size=config.batch_size), u))
        if trial >= value - 1e-15 * max(1.0, abs(value)):
            return value, worst, scale
        weights.restore(before)
        scale *= 0.5
    return value, worst, 0.0


def train_on_response_set(model, tokenizer, problem: ResponseSetProblem, objective: RLHFObjective,
                          config: TrainingConfig | None = None, *, callback=None) -> TrainingResult:
    """Maximize the RLHF objective on the set over all of the model's parameters (in place).

    .. math::  \\max_θ\\ \\frac1N \\sum_x \\sum_{y∈S_x} π^S_θ(y|x)\\,[u(x, y) − \\log π^S_θ(y|x)]

    Optimizers: ``"natural"`` (exact estimator only): damped natural-gradient steps with
    backtracking (see :func:`_natural_step`), which converge in tens of steps and need the
    (N·K × parameters) Jacobian, so they are for small models and sets; ``"adam"``: Adam on
    −J (exact) or on the REINFORCE surrogate (reinforce), rate lr/(1 + t/half_life).

    Source: seed 001, eq 2.3 and Definition 4.1 (module docstring).

    Args:
      model: a transformers causal LM (float64 recommended for exact convergence checks).
      tokenizer: its tokenizer.
      problem: the response set, rewards and reference log-probabilities.
      objective: :class:`RLHFObjective`.
      config: :class:`TrainingConfig` (default: exact estimator, natural optimizer).
      callback: called as ``callback(step, log_policy)`` after every step with the (N, K)
        float64 numpy log π^S_θ at the new parameters (costs one extra forward pass).

    Returns:
      :class:`TrainingResult`.

    Under ``accelerate launch`` (several processes) each process trains on its shard of the
    prompts and the gradients are summed (module docstring); every process gets the same result.

    Raises:
      ValueError: a checkpoint in ``checkpoint_dir`` that belongs to another run (with resume);
        the natural optimizer in more than one process.
    """
    from tqdm.auto import tqdm

    config = TrainingConfig() if config is None else config
    started = time.perf_counter()
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("the model has no trainable parameters (requires_grad is False everywhere)")
    device = parameters[0].device
    world = current_world(device)
    if world.distributed and config.method == "natural":
        raise ValueError(f"the natural optimizer runs in one process only (its Jacobian solve is not sharded), and "
                         f"this is process {world.rank} of {world.size}; pass optimizer='adam' to train the exact "
                         f"objective with Adam across processes, or run a single process")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    notes: list[str] = []
    if config.method == "natural":
        config, note = _plan_natural_memory(config, problem, parameters, device)
        if note:
            notes.append(note)
    dtype = parameters[0].dtype if parameters[0].dtype in (torch.float32, torch.float64) else torch.float32
    u = torch.as_tensor(regularized_rewards(objective, problem), dtype=dtype, device=device)
    model.eval()
    weights = MasterWeights(parameters)
    adam = torch.optim.Adam(weights.masters, lr=config.rate)
    identity = {"problem": problem.fingerprint(), "objective": objective.to_dict(), "config": config.identity(),
                "model_class": type(model).__name__}
    directory = Path(config.checkpoint_dir) if config.checkpoint_dir is not None else None
    history: list[float] = []
    residuals: list[float] = []
    start_step, resumed_from, converged, rate = 0, None, False, config.rate
    if directory is not None and config.resume:
        payload = _load_checkpoint(directory, identity)
        if payload is not None:
            model.load_state_dict(payload["model"])
            if weights.narrow:
                weights.restore(payload["masters"])
            adam.load_state_dict(payload["adam"])
            history, residuals = list(payload["history"]), list(payload["residuals"])
            start_step = resumed_from = int(payload["step"])
            converged, rate = bool(payload["converged"]), float(payload["rate"])
    rows = world.rows(problem.shape[0])
    if world.distributed:
        world.check_same(start_step, "the step to resume from",
                         "checkpoint_dir must be on a file system that every process reads")
        world.broadcast_from_main(weights.masters)  # start from the same weights, as DDP does
        weights.sync()
        shard = _shard(problem, rows) if rows.stop > rows.start else None
        own_rows = f"rows {rows.start} to {rows.stop - 1}" if rows.stop > rows.start else "none"
        notes.append(f"trained in {world.size} processes, each on a shard of the {problem.shape[0]} prompts "
                     f"(this one, rank {world.rank}: {own_rows}), gradients summed")
    else:
        shard = problem
    weight = (rows.stop - rows.start) / problem.shape[0]  # this shard's share of the mean over prompts

    def log_policy_on_set(requires_grad: bool = False) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(this shard's log π^S (n_r, K), or None when it is empty; the full (N, K), detached)."""
        if rows.stop == rows.start:  # fewer prompts than processes: the dtype and device the others gather
            own = None
            model_dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
            where = input_device(model)
            empty = torch.empty((0, problem.shape[1]), dtype=accumulation_dtype(model_dtype, where), device=where)
        else:
            with torch.set_grad_enabled(requires_grad):
                own = policy_log_probs_on_set(model, tokenizer, shard, requires_grad=requires_grad,
                                              batch_size=config.batch_size)
        return own, world.gather_rows(own.detach() if own is not None else empty, rows, problem.shape[0])

    def checkpoint(step: int) -> None:
        if directory is not None and world.is_main:
            _save_checkpoint(directory, {"identity": identity, "step": step, "model": model.state_dict(),
                                         "masters": weights.snapshot() if weights.narrow else None,
                                         "adam": adam.state_dict(), "history": history, "residuals": residuals,
                                         "converged": converged, "rate": rate})

    bar = tqdm(total=config.max_steps, initial=min(start_step, config.max_steps),
               disable=not (world.is_main and _show_progress(config.progress)),
               desc=f"{objective.name} ({config.estimator})", file=sys.stderr, leave=False, dynamic_ncols=True)
    step = start_step
    tolerance = config.tolerance_for(parameters[0].dtype)
    # In a narrower float the bar is near the rounding floor itself: run until the residual stops
    # improving (or max_steps), then judge the residual reached against the bar.
    stop_below = 0.0 if weights.narrow and config.tolerance is None else tolerance
    stalled = False
    try:
        while step < config.max_steps and not converged and not stalled:
            if config.method == "natural":
                value, worst, rate = _natural_step(model, tokenizer, problem, weights, u, config, rate, stop_below)
                history.append(value)
                residuals.append(worst)
                converged = worst < stop_below
                best_before = min(residuals[:-_STALL_STEPS], default=np.inf)
                stalled = rate == 0.0 or (len(residuals) > _STALL_STEPS
                                          and min(residuals[-_STALL_STEPS:]) >= best_before)
            else:
                for group in adam.param_groups:
                    group["lr"] = config.rate / (1.0 + step / config.lr_half_life)
                adam.zero_grad()
                # log_policy: this process's rows (all N in one process); detached: all N rows.
                log_policy, detached = log_policy_on_set(requires_grad=True)
                history.append(float(_objective(detached, u)))
                residuals.append(float(_natural_residual(detached, u).abs().max()))
                converged = residuals[-1] < stop_below
                loss = None
                if converged:
                    pass  # at the optimum to the dtype's resolution: no update
                elif config.estimator == "exact":
                    if log_policy is not None:
                        loss = -_objective(log_policy, u[rows]) * weight
                else:
                    with torch.no_grad():  # drawn for all N prompts, as in one process
                        probabilities = detached.exp().to(torch.float64).cpu()
                        draws = torch.multinomial(probabilities, config.samples_per_prompt, replacement=True,
                                                  generator=_step_generator(config.seed, step)).to(device)
                        returns = (u - detached).gather(1, draws)
                        baseline = (returns.sum(dim=1, keepdim=True) - returns) / (config.samples_per_prompt - 1)
                    if log_policy is not None:
                        loss = -((returns - baseline)[rows] * log_policy.gather(1, draws[rows])).mean() * weight
                if not converged:
                    if loss is not None:
                        loss.backward()
                    world.sum_gradients(weights.parameters)  # before the masters take them (MasterWeights)
                    weights.gradients_to_masters()
                    adam.step()
                    weights.sync()
            step += 1
            bar.update(1)
            bar.set_postfix(objective=f"{history[-1]:.6g}", residual=f"{residuals[-1]:.1e}")
            if callback is not None:
                callback(step, log_policy_on_set()[1].to(torch.float64).cpu().numpy())
            if step % config.checkpoint_every == 0:
                checkpoint(step)
        checkpoint(step)
    finally:
        bar.close()
    final = log_policy_on_set()[1]
    if not converged and stop_below < tolerance:
        converged = float(_natural_residual(final.to(u.dtype), u).abs().max()) < tolerance
    settings = {k: v for k, v in asdict(config).items() if k not in ("checkpoint_dir", "progress")}
    settings["optimizer"] = config.method
    settings["learning_rate"] = config.rate  # the rate in use (None in the config means the default)
    return TrainingResult(
        log_policy=log_softmax(final.to(torch.float64).cpu().numpy(), axis=-1),
        steps=step, converged=converged,
        stop_reason="converged" if converged else ("stalled" if stalled else "max_steps"),
        objective_history=np.asarray(history, dtype=np.float64),
        residuals=np.asarray(residuals, dtype=np.float64), resumed_from_step=resumed_from,
        seconds=time.perf_counter() - started, objective=objective.to_dict(), config=settings,
        notes=tuple(notes), peak_memory=peak_memory(device),
    )


def natural_jacobian_bytes(rows: int, parameters: int, dtype: torch.dtype) -> int:
    """Peak bytes of the natural optimizer's Jacobian (:func:`_natural_step`) for ``rows`` = N·K
    log-probabilities and ``parameters`` trainable scalars of ``dtype``: the per-row gradients
    and their stack in ``dtype`` (2 copies) and the float64 copy the solve uses, i.e.
    rows·parameters·(2·itemsize + 8); 16 bytes per parameter per row in float32."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    return int(rows) * int(parameters) * (2 * itemsize + 8)


def available_memory(device: torch.device) -> int | None:
    """Free bytes on ``device``: CUDA's free memory, or the machine's available physical memory
    for the CPU; None where it cannot be read (MPS, other platforms)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "cpu":
        try:
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return None


def peak_memory(device: torch.device) -> dict:
    """The peak memory of the run: CUDA's max_memory_allocated on a GPU (reset when training
    starts), else the process's peak resident set size (everything the process held, not only
    training)."""
    device = torch.device(device)
    if device.type == "cuda":
        return {"bytes": int(torch.cuda.max_memory_allocated(device)), "measured": "torch.cuda.max_memory_allocated"}
    try:
        import resource

        return {"bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024,
                "measured": "peak resident set size of the process (ru_maxrss)"}
    except (ImportError, OSError):  # pragma: no cover - not POSIX
        return {"bytes": None, "measured": "unavailable on this platform"}


def _plan_natural_memory(config: TrainingConfig, problem: ResponseSetProblem, parameters,
                         device: torch.device) -> tuple[TrainingConfig, str]:
    """Check the natural optimizer's Jacobian against ``config.max_memory`` (default: what the
    device has free) before building it. When it does not fit: with the optimizer left to its
    default, switch to Adam and say so; asked for by name, refuse with the numbers."""
    rows = problem.shape[0] * problem.shape[1]
    count = sum(p.numel() for p in parameters)
    need = natural_jacobian_bytes(rows, count, parameters[0].dtype)
    limit = config.max_memory if config.max_memory is not None else available_memory(device)
    if limit is None or need <= limit:
        return config, ""
    gib = 2.0 ** 30
    message = (f"the natural optimizer's Jacobian needs ~{need / gib:.3g} GiB ({rows} log-probabilities × {count} "
               f"trainable parameters × {need // (rows * count)} bytes) and {limit / gib:.3g} GiB are "
               f"{'allowed (max_memory)' if config.max_memory is not None else 'free on ' + str(device)}")
    if config.optimizer == "natural":
        raise ValueError(message + "; train fewer parameters (only the head), use fewer prompts or responses, raise "
                                   "max_memory, or use optimizer='adam'")
    return replace(config, optimizer="adam"), message + "; Adam ran instead"
