"""``pmtheory bridge selftest``: the bridge's computations on a random-weight model of a real size.

For the day a GPU is there (issue 15): ``pmtheory bridge selftest --size {tiny,opt-1.3b,llama-7b}
--device DEVICE --out DIR`` builds a causal LM of that architecture and size from its config
(no download: the weights are random), pairs it with the tiny word-level tokenizer of
:func:`pmtheory.bridge.tiny.build_tiny_tokenizer` (its 40 ids are a subset of the model's
vocabulary, so a random model samples ids past the tokenizer, which the bridge handles), and runs
in bfloat16 and in float32:

1. ``sequence_log_probs``: batched (left and right padding) vs the per-sequence loop
   (:func:`pmtheory.bridge.sequence_log_probs`, :func:`pmtheory.bridge.sequence_log_probs_loop`);
2. ``sampling``: :func:`pmtheory.bridge.sample_responses` with a fixed seed finishes and its
   log π(y|x) and log q(y|x) are finite;
3. ``closed_forms``: on a sampled response set with synthetic rewards (a seeded normal array,
   no reward model), the KL RLHF (eq 5.1) and conditional PM (Def 4.1) optima of
   :func:`pmtheory.bridge.training.target_log_policy` are finite and normalized;
4. ``training_natural`` / ``training_adam``: exact training of the output layer
   (:func:`pmtheory.bridge.training.select_trainable` "head") with the natural optimizer
   (bar: :attr:`TrainingResult.converged`) and with Adam (bar: the objective increases). When the
   natural optimizer's Jacobian (:func:`pmtheory.bridge.training.natural_jacobian_bytes`) would
   not fit in the device's free memory, only Adam runs, and the JSON says so.

Before anything is built, one line estimates the run (parameters, bytes of weights per dtype,
seconds, peak memory) and the run is refused (exit 2) when the device's free memory is below the
least it needs; ``--estimate-only`` prints that line and stops. Every step prints a progress line
on stderr; the end prints a table (step, dtype, bar, measured, pass/fail) and writes
``DIR/selftest.json`` atomically: per dtype and step the seconds, the bars (measured value, bar,
pass) and the peak memory (:func:`pmtheory.bridge.training.peak_memory`, reset per step on
CUDA), with the environment (versions, device, size, parameter count).

Exit status: 0 every bar passed; 1 a bar failed or a step raised; 2 usage error (unknown size, a
device that is not there, too little free memory); 130 interrupted (Ctrl-C).

Source: seed 001, eq 2.3 and 5.1 (KL RLHF), Definition 4.1 (conditional PM), §6.1 (π(y|x) as a
product of token probabilities).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "SELFTEST_DTYPES",
    "SIZES",
    "SelftestEstimate",
    "SelftestPlan",
    "add_selftest_arguments",
    "estimate_selftest",
    "run_selftest",
    "selftest_config",
]

_EXIT_OK, _EXIT_FAILED, _EXIT_USAGE, _EXIT_INTERRUPTED = 0, 1, 2, 130
_PREFIX = "pmtheory bridge selftest"

SIZES = ("tiny", "opt-1.3b", "llama-7b")
SELFTEST_DTYPES = ("bfloat16", "float32")

# Bars of the batched vs looped sequence log-probabilities, on max |batched − loop| / max(1, |loop|).
# float32: the two differ by float32 rounding of differently shaped matmuls (≈1e-6 relative); 1e-4.
# bfloat16: measured on the tiny OPT (random weights, CPU, seed 0, 4 prompts × 4 responses of 1-8
# tokens, batch size 4, both padding sides): 6.5e-4 relative (2.5e-3 absolute at |log π| ≤ 30), a
# sixth of a bfloat16 ulp (eps = 2^-8 = 3.9e-3): the logits are rounded to bfloat16 and the shapes
# of the padded and unpadded matmuls differ. The bar, 2^-4 = 0.0625 = 16·eps (bfloat16's training
# tolerance, TrainingConfig.tolerance_for), leaves ~100× that for the 24-32 layers of the GPU sizes
# (2 here) and for GPU attention kernels that differ between padded and unpadded batches. (A random
# model predicts nearly the same distribution in every context, so this step checks the batched
# path's rounding and bookkeeping at scale; BRG-SEQ checks its positions on the pretrained tiny LMs.)
SEQUENCE_BARS = {"float32": 1e-4, "bfloat16": 2.0 ** -4}
# The closed forms are normalized when max |log Σ_y π(y)| over prompts is below this (float64 sums).
NORMALIZATION_BAR = 1e-9
_ALPHA, _BETA = 0.1, 1.0  # conditional PM's threshold and β of the trained objectives

# Fixed responses of 1 to 8 words for step 1 (different lengths, so that padding matters); the leading
# space makes prompt + response one text with the same tokens (no boundary warning).
_RESPONSES = (" sat", " ran under the big tree", " is not happy and it was very sad", " flew")


@dataclass(frozen=True)
class SelftestPlan:
    """How much work one size gets (per dtype); the GPU sizes are kept small to run in minutes."""

    prompts: int  # N prompts, from pmtheory.bridge.tiny.TINY_PROMPTS
    set_size: int  # K responses per prompt in the response set (rows of the Jacobian: N·K)
    max_new_tokens: int  # the longest sampled response
    samples: int  # samples per prompt of the sampling step
    natural_steps: int = 20  # max_steps of the natural optimizer
    adam_steps: int = 30  # steps of Adam
    batch_size: int = 4  # pairs per forward pass of the batched log-probabilities


_PLANS = {
    "tiny": SelftestPlan(prompts=4, set_size=6, max_new_tokens=8, samples=4),
    "opt-1.3b": SelftestPlan(prompts=2, set_size=4, max_new_tokens=4, samples=2),
    "llama-7b": SelftestPlan(prompts=2, set_size=4, max_new_tokens=4, samples=2),
}


def add_selftest_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``pmtheory bridge selftest`` to ``parser``."""
    parser.add_argument("--size", choices=SIZES, default="tiny",
                        help="the model built from its config with random weights: tiny (the tiny OPT), opt-1.3b "
                             "or llama-7b (Llama-2-7B) (default: tiny)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("--out", type=Path, default=Path("selftest-out"), metavar="DIR",
                        help="directory for selftest.json (default: selftest-out)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, samples and rewards (default 0)")
    parser.add_argument("--estimate-only", action="store_true",
                        help="print the estimate (parameters, weights, seconds, memory) and exit without building")


def selftest_config(size: str, vocab_size: int | None = None):
    """The transformers config of ``size`` with the token ids of the tiny tokenizer (pad 0, BOS 1, EOS 2).

    "opt-1.3b" is OPT-1.3B (hidden 2048, 24 layers, 32 heads, ffn 8192, vocabulary 50,272, 2048
    positions, tied embeddings) and "llama-7b" Llama-2-7B (hidden 4096, 32 layers, 32 heads and
    32 key-value heads, intermediate 11,008, vocabulary 32,000, 4096 positions, untied); "tiny"
    is the tiny OPT of :mod:`pmtheory.bridge.tiny` with ``vocab_size`` (default: the tiny
    tokenizer's 40). Dropout is off (the bridge runs models in eval mode anyway).
    """
    from transformers import LlamaConfig, OPTConfig

    from pmtheory.bridge.tiny import _config

    ids = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)
    if size == "tiny":
        return _config("opt", 40 if vocab_size is None else vocab_size, max_positions=64, for_classification=False)
    if size == "opt-1.3b":
        return OPTConfig(hidden_size=2048, num_hidden_layers=24, num_attention_heads=32, ffn_dim=8192,
                         vocab_size=50272, max_position_embeddings=2048, word_embed_proj_dim=2048,
                         do_layer_norm_before=True, tie_word_embeddings=True, dropout=0.0, attention_dropout=0.0,
                         activation_dropout=0.0, layerdrop=0.0, **ids)
    if size == "llama-7b":
        return LlamaConfig(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                           intermediate_size=11008, vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5,
                           tie_word_embeddings=False, attention_dropout=0.0, **ids)
    raise ValueError(f"--size must be one of {', '.join(SIZES)}, got {size!r}")


@dataclass(frozen=True)
class SelftestEstimate:
    """What a run of one size needs, from the config and :class:`SelftestPlan` alone."""

    size: str
    device_type: str
    parameters: int  # scalars of the model
    head_parameters: int  # scalars of the output layer (the trained parameters)
    layers: int
    weight_bytes: dict  # dtype name -> bytes of the weights
    natural_jacobian_bytes: dict  # dtype name -> bytes of the natural optimizer's Jacobian (N·K rows)
    least_bytes: int  # the least free memory the run needs (weights + Adam on the head, the larger dtype)
    peak_bytes: int  # the estimated peak (weights + the natural optimizer's Jacobian, the larger dtype)
    seconds: float  # estimated wall-clock seconds of both dtypes

    def line(self, free: int | None) -> str:
        """The one-line estimate printed before anything is built."""
        gib = 2.0 ** 30
        weights = ", ".join(f"{self.weight_bytes[d] / gib:.3g} GiB ({d})" for d in SELFTEST_DTYPES)
        free_text = "unknown" if free is None else f"{free / gib:.3g} GiB"
        return (f"{_PREFIX} estimate: {self.size} on {self.device_type}: {self.parameters:,} parameters "
                f"({self.head_parameters:,} trained in the head); weights {weights}; ~{self.seconds:.0f} s for "
                f"bfloat16 and float32; peak ~{self.peak_bytes / gib:.3g} GiB (at least "
                f"{self.least_bytes / gib:.3g} GiB); free {free_text}")


def _count_parameters(config) -> tuple[int, int]:
    """(all, head) parameter counts of the model of ``config``, built on the meta device (no memory)."""
    import torch
    from transformers import AutoModelForCausalLM

    from pmtheory.bridge.loading import quiet_transformers

    with torch.device("meta"), quiet_transformers():
        model = AutoModelForCausalLM.from_config(config)
    head = model.get_output_embeddings().weight.numel()
    return sum(p.numel() for p in model.parameters()), head


# Rough speeds behind the time estimate (not measured here for the GPU sizes: no GPU on the machine
# this was written on): matmul throughput in FLOP/s and a floor of seconds per forward pass
# (kernel launches, Python) per layer plus a constant, and seconds per parameter to build the
# random weights, and a constant (imports, CUDA start-up). CPU: calibrated on the tiny run (about 5 ms
# per forward pass of 2 layers, 3 s of imports and set-up).
_SPEEDS = {
    "cpu": {"flops": {"bfloat16": 5e9, "float32": 2e10}, "per_layer": 1e-3, "per_forward": 3e-3,
            "build_per_parameter": 1e-8, "overhead": 3.0},
    "cuda": {"flops": {"bfloat16": 1e14, "float32": 3e13}, "per_layer": 3e-4, "per_forward": 5e-3,
             "build_per_parameter": 2e-10, "overhead": 10.0},
}


def estimate_selftest(size: str, device_type: str) -> SelftestEstimate:
    """Estimate a run of ``size`` on a device of ``device_type`` ("cpu", "cuda"; others as cuda).

    Forward passes per dtype: step 1 runs 2·⌈P/B⌉ batched and P looped (P = 4N pairs), sampling
    and the response set generate N·max_new_tokens tokens each plus one scoring pass each, the
    natural optimizer about 3 per step (the gradient pass and ~2 trial steps), Adam one per step.
    Memory per dtype: the weights (plus an untied copy of a tied head), float32 master weights of
    a bfloat16 head, and the larger of the natural optimizer's Jacobian (+ its float64 step and a
    snapshot) and Adam's state (gradient and two moments in float32).
    """
    import torch

    from pmtheory.bridge.training import natural_jacobian_bytes

    config = selftest_config(size)
    plan = _PLANS[size]
    parameters, head = _count_parameters(config)
    layers = int(config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    rows = plan.prompts * plan.set_size
    speeds = _SPEEDS["cpu" if device_type == "cpu" else "cuda"]
    weight_bytes, jacobian_bytes, least, peak = {}, {}, 0, 0
    seconds = speeds["overhead"]
    for name in SELFTEST_DTYPES:
        dtype = getattr(torch, name)
        itemsize = torch.empty((), dtype=dtype).element_size()
        weight_bytes[name] = parameters * itemsize
        jacobian_bytes[name] = natural_jacobian_bytes(rows, head, dtype)
        base = weight_bytes[name] + (head * itemsize if tied else 0) + (head * 4 if itemsize < 4 else 0)
        adam = base + 3 * head * 4 + head * 4  # gradient, two moments, the saved head
        natural = base + jacobian_bytes[name] + head * (8 + 4 + 4)  # float64 step, snapshot, saved head
        least, peak = max(least, adam), max(peak, natural, adam)
        pairs = plan.prompts * len(_RESPONSES)
        prompt_tokens, response_tokens = 4, plan.max_new_tokens
        forwards = [(2 * math.ceil(pairs / plan.batch_size), pairs * 8), (pairs, 8)]  # (passes, tokens)
        for samples in (plan.samples, 8 * plan.set_size):  # sampling; the response set draws 8K
            forwards.append((plan.prompts * response_tokens, plan.prompts * samples * response_tokens))
            forwards.append((1, plan.prompts * samples * (prompt_tokens + response_tokens)))
        passes_training = 3 * plan.natural_steps + 2 * plan.adam_steps + 4
        forwards.append((passes_training, passes_training * rows * (prompt_tokens + response_tokens)))
        for passes, tokens in forwards:
            seconds += passes * (speeds["per_forward"] + layers * speeds["per_layer"])
            seconds += 2.0 * parameters * tokens / speeds["flops"][name]
        seconds += parameters * speeds["build_per_parameter"]
    slack = 2 ** 30 if device_type != "cpu" else 2 ** 28  # activations, logits, the CUDA context
    return SelftestEstimate(size=size, device_type=device_type, parameters=parameters, head_parameters=head,
                            layers=layers, weight_bytes=weight_bytes, natural_jacobian_bytes=jacobian_bytes,
                            least_bytes=least + slack, peak_bytes=peak + slack, seconds=seconds)


def _say(message: str) -> None:
    print(f"{_PREFIX}: {message}", file=sys.stderr, flush=True)


def _bar(name: str, measured, bar, passed: bool, comparison: str) -> dict:
    return {"name": name, "measured": measured, "bar": bar, "comparison": comparison, "passed": bool(passed)}


def _at_most(name: str, measured: float, bar: float) -> dict:
    measured = float(measured)
    return _bar(name, measured, bar, math.isfinite(measured) and measured <= bar, "<=")


# ---- the steps: each takes the run's state and returns (bars, info) -------------------------------------


def _step_sequence_log_probs(state: dict) -> tuple[list, dict]:
    """Batched (left and right padding) vs the per-sequence loop, relative to max(1, |log π|)."""
    from pmtheory.bridge.logprobs import sequence_log_probs, sequence_log_probs_loop

    model, tokenizer, plan = state["model"], state["tokenizer"], state["plan"]
    prompts = [p for p in state["prompts"] for _ in _RESPONSES]
    responses = [r for _ in state["prompts"] for r in _RESPONSES]
    loop = sequence_log_probs_loop(model, tokenizer, prompts, responses).double().cpu()
    info = {"pairs": len(prompts), "batch_size": plan.batch_size, "max_abs_log_pi": float(loop.abs().max())}
    relative = 0.0
    for side in ("left", "right"):
        batched = sequence_log_probs(model, tokenizer, prompts, responses, batch_size=plan.batch_size,
                                     padding_side=side).double().cpu()
        difference = (batched - loop).abs()
        info[f"max_abs_{side}"] = float(difference.max())
        relative = max(relative, float((difference / loop.abs().clamp(min=1.0)).max()))
    finite = bool(loop.isfinite().all())
    bars = [_bar("log π finite", finite, True, finite, "=="),
            _at_most("max |batched − loop| / max(1, |log π|)", relative, SEQUENCE_BARS[state["dtype"]])]
    return bars, info


def _step_sampling(state: dict) -> tuple[list, dict]:
    """sample_responses with a fixed seed (T = 1, no truncation): it finishes, log π and log q are finite."""
    import numpy as np

    from pmtheory.bridge.sampling import sample_responses

    plan = state["plan"]
    sampled = sample_responses(state["model"], state["tokenizer"], state["prompts"], num_samples=plan.samples,
                               max_new_tokens=plan.max_new_tokens, seed=state["seed"], batch_size=plan.batch_size)
    outside = sum(1 for row in sampled.response_ids for r in row for t in r if t >= len(state["tokenizer"]))
    info = {"samples": int(sampled.log_probs.size), "finished_fraction": float(sampled.finished.mean()),
            "mean_length": float(sampled.lengths.mean()),
            "tokens_past_the_tokenizer": outside,
            "max_abs_log_pi_minus_log_q": float(np.abs(sampled.log_probs - sampled.sampling_log_probs).max())}
    bad_pi = int(np.sum(~np.isfinite(sampled.log_probs)))
    bad_q = int(np.sum(~np.isfinite(sampled.sampling_log_probs)))
    return [_bar("responses sampled", int(sampled.log_probs.size), plan.prompts * plan.samples,
                 sampled.log_probs.size == plan.prompts * plan.samples, "=="),
            _bar("non-finite log π", bad_pi, 0, bad_pi == 0, "=="),
            _bar("non-finite log q", bad_q, 0, bad_q == 0, "==")], info


def _objectives():
    from pmtheory.bridge.training import RLHFObjective

    return {"kl": RLHFObjective("kl", beta=_BETA),
            "conditional_pm": RLHFObjective("conditional_pm", beta=_BETA, alpha=_ALPHA, indicator="set")}


def _step_closed_forms(state: dict) -> tuple[list, dict]:
    """A sampled response set, seeded normal rewards, and the KL and conditional PM optima on it."""
    import numpy as np
    from scipy.special import logsumexp

    from pmtheory.bridge.checks import sample_response_set
    from pmtheory.bridge.training import ResponseSetProblem, target_log_policy

    plan = state["plan"]
    response_set = sample_response_set(state["model"], state["tokenizer"], state["prompts"], set_size=plan.set_size,
                                       max_new_tokens=plan.max_new_tokens, seed=state["seed"] + 1,
                                       batch_size=plan.batch_size)
    rewards = 2.0 * np.random.default_rng(state["seed"]).standard_normal(response_set.shape)
    problem = ResponseSetProblem.from_response_set(response_set, rewards)
    state["problem"] = problem
    bars = []
    info = {"set_shape": list(problem.shape), "log_pi_ref_range": [float(problem.log_probs_ref.min()),
                                                                   float(problem.log_probs_ref.max())]}
    for name, objective in _objectives().items():
        log_policy = target_log_policy(objective, problem)
        finite = bool(np.all(np.isfinite(log_policy)))
        bars.append(_bar(f"{name} finite", finite, True, finite, "=="))
        bars.append(_at_most(f"{name} max |log Σ π|",
                             float(np.max(np.abs(logsumexp(log_policy, axis=-1)))) if finite else float("inf"),
                             NORMALIZATION_BAR))
    return bars, info


def _needs_problem(state: dict):
    if state.get("problem") is None:
        raise RuntimeError("no response set: the closed_forms step did not produce one")
    return state["problem"]


def _objective_value(log_policy, u) -> float:
    """J = mean over prompts of Σ_y π(y)(u(y) − log π(y)) (pmtheory.bridge.training's objective)."""
    import numpy as np

    return float(np.mean(np.sum(np.exp(log_policy) * (u - log_policy), axis=-1)))


def _training_result_info(result) -> dict:
    return {"steps": result.steps, "stop_reason": result.stop_reason, "converged": result.converged,
            "final_residual": float(result.residuals[-1]) if len(result.residuals) else None,
            "training_seconds": result.seconds, "notes": list(result.notes), "optimizer": result.config["optimizer"]}


def _restore_head(state: dict) -> None:
    import torch

    with torch.no_grad():
        for parameter, saved in zip(state["head"], state["saved_head"]):
            parameter.copy_(saved)


def _prepare_head(state: dict) -> None:
    """Train the output layer only (untied from the embeddings) and keep a copy to restore it."""
    from pmtheory.bridge.training import select_trainable

    if state.get("head") is None:
        select_trainable(state["model"], "head")
        state["head"] = [p for p in state["model"].parameters() if p.requires_grad]
        state["saved_head"] = [p.detach().clone() for p in state["head"]]
    else:
        _restore_head(state)


def natural_fits(rows: int, parameters: int, dtype, free: int | None) -> tuple[bool, str]:
    """Whether the natural optimizer's Jacobian (rows × parameters, :func:`natural_jacobian_bytes`)
    fits in ``free`` bytes with a quarter to spare; (True, "") or (False, why)."""
    from pmtheory.bridge.training import natural_jacobian_bytes

    need = natural_jacobian_bytes(rows, parameters, dtype) + 3 * parameters * 8  # + the float64 step, snapshots
    if free is None or 1.25 * need <= free:
        return True, ""
    gib = 2.0 ** 30
    return False, (f"the natural optimizer's Jacobian ({rows} rows × {parameters:,} head parameters) needs "
                   f"~{need / gib:.3g} GiB and {free / gib:.3g} GiB are free: only Adam ran")


def _step_training_natural(state: dict) -> tuple[list, dict]:
    """Exact natural-gradient training of the head on conditional PM; bar: TrainingResult.converged."""
    import numpy as np

    from pmtheory.bridge.training import TrainingConfig, available_memory, target_log_policy, train_on_response_set

    problem = _needs_problem(state)
    _prepare_head(state)
    count = sum(p.numel() for p in state["head"])
    fits, why = natural_fits(problem.shape[0] * problem.shape[1], count, state["head"][0].dtype,
                             available_memory(state["device"]))
    if not fits:
        state["natural_skipped"] = why
        return [], {"skipped": why, "fallback": "adam only"}
    objective = _objectives()["conditional_pm"]
    result = train_on_response_set(state["model"], state["tokenizer"], problem, objective,
                                   TrainingConfig(estimator="exact", optimizer="natural",
                                                  max_steps=state["plan"].natural_steps, progress=False,
                                                  batch_size=state["plan"].batch_size))
    info = _training_result_info(result)
    info["max_abs_log_error_vs_closed_form"] = float(np.max(np.abs(result.log_policy
                                                                   - target_log_policy(objective, problem))))
    info["trainable_parameters"] = count
    tolerance = TrainingConfig().tolerance_for(state["head"][0].dtype)
    return [_bar("natural: final max|ρ| (converged)", info["final_residual"], tolerance, result.converged,
                 "<")], info


def _step_training_adam(state: dict) -> tuple[list, dict]:
    """Exact Adam training of the head on conditional PM; bar: the objective J increases."""
    from pmtheory.bridge.training import TrainingConfig, regularized_rewards, train_on_response_set

    problem = _needs_problem(state)
    _prepare_head(state)
    objective = _objectives()["conditional_pm"]
    result = train_on_response_set(state["model"], state["tokenizer"], problem, objective,
                                   TrainingConfig(estimator="exact", optimizer="adam",
                                                  max_steps=state["plan"].adam_steps, progress=False,
                                                  batch_size=state["plan"].batch_size))
    _restore_head(state)
    start = float(result.objective_history[0])
    end = _objective_value(result.log_policy, regularized_rewards(objective, problem))
    info = _training_result_info(result)
    info.update(objective_start=start, objective_end=end)
    if state.get("natural_skipped"):
        info["note"] = state["natural_skipped"]
    return [_bar("adam: J(end) − J(start)", end - start, 0.0, math.isfinite(end - start) and end > start, ">")], info


# The steps after the build, in order; a test may replace this tuple.
_STEPS = (
    ("sequence_log_probs", _step_sequence_log_probs),
    ("sampling", _step_sampling),
    ("closed_forms", _step_closed_forms),
    ("training_natural", _step_training_natural),
    ("training_adam", _step_training_adam),
)


def _build_model(size: str, dtype, device, seed: int):
    """The random-weight causal LM of ``size`` in ``dtype``, initialized directly on ``device``, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    from pmtheory.bridge.loading import quiet_transformers

    config = selftest_config(size)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), quiet_transformers(), torch.device(device):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def _reset_peak(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _run_step(name: str, function, state: dict, record: dict) -> None:
    """Run one step, timing it and recording its bars, information, peak memory or error."""
    import torch

    from pmtheory.bridge.training import peak_memory

    device, dtype = state["device"], state["dtype"]
    _reset_peak(device)
    started = time.perf_counter()
    entry: dict = {"bars": [], "info": {}, "error": None}
    try:
        entry["bars"], entry["info"] = function(state)
    except Exception as error:  # a step failed: record it, run the others
        entry["error"] = f"{type(error).__name__}: {error}"
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    entry["seconds"] = time.perf_counter() - started
    entry["peak_memory"] = peak_memory(device)
    entry["passed"] = entry["error"] is None and all(bar["passed"] for bar in entry["bars"])
    record[name] = entry
    verdict = ("error: " + entry["error"]) if entry["error"] else ("skipped: " + entry["info"]["skipped"]
                                                                   if "skipped" in entry["info"] else
                                                                   ("pass" if entry["passed"] else "FAIL"))
    _say(f"[{dtype}] {name}: {entry['seconds']:.1f} s, {verdict}")


def _environment(device, size: str, estimate: SelftestEstimate, threads: int) -> dict:
    import torch
    import transformers

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "platform": platform.platform(), "device": str(device), "device_name": name,
            "cuda": torch.version.cuda, "size": size, "parameters": estimate.parameters,
            "head_parameters": estimate.head_parameters, "torch_threads": threads}


def _measured_text(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _summary_table(dtypes: dict) -> str:
    """The console table: step, dtype, bar, measured, pass/fail (a skipped or failed step is one row)."""
    rows = [("step", "dtype", "bar", "measured", "result")]
    for dtype, steps in dtypes.items():
        for step, entry in steps.items():
            if entry["error"]:
                rows.append((step, dtype, "(error)", entry["error"][:60], "FAIL"))
            elif "skipped" in entry["info"]:
                rows.append((step, dtype, "(skipped)", entry["info"]["skipped"][:60], "skip"))
            for bar in entry["bars"]:
                rows.append((step, dtype, f"{bar['name']} {bar['comparison']} {_measured_text(bar['bar'])}",
                             _measured_text(bar["measured"]), "pass" if bar["passed"] else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def _write_json_atomically(path: Path, payload: dict) -> None:
    from pmtheory.claims import to_jsonable
    from pmtheory.cli import write_text_atomically

    write_text_atomically(path, json.dumps(to_jsonable(payload, "selftest"), indent=2, ensure_ascii=False) + "\n")


def _resolve(arguments, *, estimate_only: bool):
    """(size, device) or ValueError; with --estimate-only a CUDA/MPS device need not be present."""
    import torch

    from pmtheory.bridge.loading import resolve_device

    size = getattr(arguments, "size", None)
    if size not in SIZES:
        raise ValueError(f"--size must be one of {', '.join(SIZES)}, got {size!r}")
    out = getattr(arguments, "out", None)
    if not estimate_only and out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    try:
        return size, resolve_device(arguments.device)
    except ValueError:
        if not estimate_only:
            raise
        try:
            return size, torch.device(arguments.device)
        except (RuntimeError, TypeError):
            raise ValueError(f"--device {arguments.device!r} is not a device (cpu, cuda, cuda:N, mps)") from None


def run_selftest(arguments: argparse.Namespace) -> int:
    """Run ``pmtheory bridge selftest`` (module docstring); returns the exit status (0, 1, 2 or 130)."""
    estimate_only = bool(getattr(arguments, "estimate_only", False))
    try:
        from pmtheory.bridge.studies import require_bridge

        require_bridge()
        size, device = _resolve(arguments, estimate_only=estimate_only)
    except (ValueError, ModuleNotFoundError) as error:
        print(f"{_PREFIX}: {error}", file=sys.stderr)
        return _EXIT_USAGE
    try:
        return _run(arguments, size, device, estimate_only)
    except KeyboardInterrupt:
        print(f"{_PREFIX}: interrupted (Ctrl-C); nothing written", file=sys.stderr, flush=True)
        return _EXIT_INTERRUPTED


def _run(arguments, size: str, device, estimate_only: bool) -> int:
    import contextlib

    import torch

    from pmtheory.bridge.tiny import TINY_PROMPTS, build_tiny_tokenizer, single_thread
    from pmtheory.bridge.training import available_memory

    started = time.perf_counter()
    estimate = estimate_selftest(size, device.type)
    try:
        free = available_memory(device)
    except (RuntimeError, AssertionError):  # a device that is not there (--estimate-only)
        free = None
    print(estimate.line(free), flush=True)
    if estimate_only:
        return _EXIT_OK
    if free is not None and free < estimate.least_bytes:
        gib = 2.0 ** 30
        print(f"{_PREFIX}: {device} has {free / gib:.3g} GiB free and --size {size} needs at least "
              f"{estimate.least_bytes / gib:.3g} GiB (weights and Adam on the head); free memory, pick a smaller "
              f"--size or another --device", file=sys.stderr)
        return _EXIT_USAGE
    plan = _PLANS[size]
    seed = int(getattr(arguments, "seed", 0))
    tokenizer = build_tiny_tokenizer()
    prompts = list(TINY_PROMPTS[:plan.prompts])
    dtypes: dict = {}
    quiet = single_thread() if device.type == "cpu" and size == "tiny" else contextlib.nullcontext()
    with quiet:
        threads = torch.get_num_threads()
        for name in SELFTEST_DTYPES:
            dtype = getattr(torch, name)
            record: dict = {}
            dtypes[name] = record
            state = {"size": size, "device": device, "dtype": name, "tokenizer": tokenizer, "prompts": prompts,
                     "plan": plan, "seed": seed, "model": None}

            def build(state=state, dtype=dtype):
                state["model"] = _build_model(size, dtype, device, seed)
                return [], {"parameters": sum(p.numel() for p in state["model"].parameters())}

            _run_step("build", build, state, record)
            if state["model"] is not None:
                for step, function in _STEPS:
                    _run_step(step, function, state, record)
            state.clear()
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    passed = all(entry["passed"] for record in dtypes.values() for entry in record.values())
    report = {"schema": "pmtheory-bridge-selftest/1", "passed": passed, "size": size,
              "environment": _environment(device, size, estimate, threads), "plan": asdict(plan),
              "estimate": {**asdict(estimate), "free_bytes_at_start": free},
              "bars": {"sequence_log_probs": SEQUENCE_BARS, "normalization": NORMALIZATION_BAR},
              "dtypes": dtypes, "seconds": time.perf_counter() - started}
    target = Path(arguments.out) / "selftest.json"
    _write_json_atomically(target, report)
    print(_summary_table(dtypes))
    print(f"{_PREFIX}: {'all bars pass' if passed else 'FAILED'} in {report['seconds']:.1f} s; wrote {target}",
          flush=True)
    return _EXIT_OK if passed else _EXIT_FAILED
