"""``pmtheory bridge``: the theory's checks on a causal LM's logits, from the command line.

Subcommands:

- ``pmtheory bridge check --model PATH [--reward-model PATH] [--prompts FILE] [--out DIR]
  [--device D] [--dtype T] ...``: loads the model (and reward model) through
  ``from_pretrained``, then computes and writes ``DIR/bridge-report.json`` and figures:
  batched vs looped sequence log-probabilities, sampling with recorded settings (and log π vs
  the log-probability under the distribution actually sampled from), and with a reward model
  the Fig 3/4 pile-up of p_ref, the closed forms (KL RLHF, PM, conditional PM for each
  indicator reading) on sampled response sets with their §6.1 metrics; ``--train`` trains KL
  and conditional PM RLHF on the sets (the output layer only unless ``--trainable all``) and
  ``--claims`` runs the BRG-* checks on the model. A console summary follows: each bar with its
  measured value, the closed forms' §6.1 metrics, training convergence and the BRG verdicts.
  ``--chat-template`` wraps the prompts in the tokenizer's chat template; ``--trust-remote-code``,
  ``--revision`` and ``--local-files-only`` go to ``from_pretrained``.
- ``pmtheory bridge selftest --size {tiny,opt-1.3b,llama-7b} --device D --out DIR``: a
  random-weight model of that size built from its config (no download), checked end to end in
  bf16 and fp32 (:mod:`pmtheory.bridge.selftest`); prints an estimate of time and memory first.
- ``pmtheory bridge tiny DIR``: writes the tiny OPT, Llama and reward model (no download),
  loadable by ``--model DIR/opt --reward-model DIR/reward``.
- ``pmtheory bridge bench [--model PATH] ...``: sequence log-prob throughput, batched vs loop.
- ``pmtheory bridge mod --model A --model B --weights 0.3,0.7 --divergence js --prompts FILE
  [--reference R] [--out FILE.json] ...``: exact MOD decoding with ``generate``
  (:class:`pmtheory.bridge.MODLogitsProcessor`): the generations, the per-step KKT
  certificates and how often the published code's rule and eq 7 pick a different token from
  the exact rule, as JSON (to ``--out``, else to stdout). π_ref is ``--reference``, by default
  the first ``--model``.

Errors (a missing model path, a tokenizer without pad token, an unreadable or empty prompts
file, a device that is not there) are reported before anything is written; the report is
written atomically at the end. Multi-GPU: ``--device-map auto`` (needs accelerate).

Exit status: 0 done; 1 a computation failed or a bar was not reached (the report is still
written, with ``failed_bars``); 2 usage error (bad option, path or input, ``--train`` without
``--reward-model``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["build_parser", "main"]

_EXIT_OK, _EXIT_FAILED, _EXIT_USAGE = 0, 1, 2


def _read_prompts(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"--prompts {path}: cannot read it ({error.strerror or error})") from None
    if path.suffix == ".json":
        try:
            prompts = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"--prompts {path}: not valid JSON ({error})") from None
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"--prompts {path}: a JSON prompts file must hold a list of strings")
    else:
        prompts = [line.rstrip("\n") for line in text.splitlines()]
    prompts = [p for p in prompts if p.strip()]
    if not prompts:
        raise ValueError(f"--prompts {path}: no prompts in it (one prompt per line, or a JSON list of strings)")
    return prompts


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pmtheory bridge``."""
    parser = argparse.ArgumentParser(prog="pmtheory bridge",
                                     description="Run pmtheory's checks on a causal LM's logits "
                                                 "(torch + transformers).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", help="check a model and write a JSON report and figures",
                                description="Check a causal LM: sequence log-probs, sampling, the p_ref pile-up, "
                                            "closed forms and §6.1 metrics on response sets; optional training.")
    check.add_argument("--model", required=True, metavar="PATH", help="causal LM: save_pretrained directory or hub id")
    check.add_argument("--reward-model", metavar="PATH", help="sequence-classification reward model (one output)")
    check.add_argument("--prompts", type=Path, metavar="FILE", help="prompts, one per line (or a JSON list of strings)")
    check.add_argument("--out", type=Path, default=Path("bridge-out"), metavar="DIR",
                       help="directory for bridge-report.json and figures (default: bridge-out)")
    check.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    check.add_argument("--dtype", default="auto", help="auto, float32, float64, bfloat16 or float16 (default: auto)")
    check.add_argument("--device-map", default=None, help="e.g. 'auto' to shard the model over GPUs (needs accelerate)")
    check.add_argument("--pad-token", default=None, help="'eos' (or a token) when the tokenizer has no pad token")
    check.add_argument("--trust-remote-code", action="store_true",
                       help="let from_pretrained run the model repository's own code (only for sources you trust)")
    check.add_argument("--revision", default=None, help="a branch, tag or commit of a hub model")
    check.add_argument("--local-files-only", action="store_true",
                       help="never reach the hub: load from the directory or the local cache only")
    check.add_argument("--chat-template", action="store_true",
                       help="wrap each prompt as a user message in the tokenizer's chat template (with the "
                            "generation prompt) before sampling and scoring")
    check.add_argument("--max-memory", default=None, metavar="SIZE",
                       help="with --train: memory the natural optimizer's Jacobian may take, e.g. 40GB or 512MiB "
                            "(default: what the device has free); beyond it Adam trains instead, as the report says")
    check.add_argument("--set-size", type=int, default=8, help="K distinct responses per prompt in a response set")
    check.add_argument("--max-new-tokens", type=int, default=32, help="longest sampled response (default 32)")
    check.add_argument("--set-max-new-tokens", type=int, default=8,
                       help="longest response in a response set (default 8: short responses keep π_ref^S moderate)")
    check.add_argument("--pairs-per-prompt", type=int, default=16, help="sampled pairs per prompt for the pile-up")
    check.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the reported samples")
    check.add_argument("--top-p", type=float, default=1.0, help="nucleus mass of the reported samples (1: off)")
    check.add_argument("--top-k", type=int, default=0, help="top-k of the reported samples (0: off)")
    check.add_argument("--alpha", type=float, default=0.1, help="conditional PM threshold α (default 0.1)")
    check.add_argument("--beta", type=float, default=1.0, help="β: KL weight / reward scale r/β (default 1)")
    check.add_argument("--published-alpha-zero", choices=("pm", "kl"), default="pm",
                       help="with --train and --alpha 0: 'pm' (Def 4.1, the default) or 'kl' (the published code "
                            "falls back to the KL penalty at alpha = 0)")
    check.add_argument("--reward-clip", type=float, default=None, metavar="C",
                       help="with --train: clip rewards to [-C, C] first, as the published code does with C = 5 "
                            "(default: no clip)")
    check.add_argument("--batch-size", type=int, default=16, help="pairs per forward pass")
    check.add_argument("--seed", type=int, default=0, help="sampling seed")
    check.add_argument("--train", action="store_true",
                       help="train KL and conditional PM RLHF on the response sets (needs --reward-model); exit 1 "
                            "when a run does not converge to its dtype's tolerance")
    check.add_argument("--trainable", choices=("head", "all"), default="head",
                       help="parameters trained with --train (default: the output layer)")
    check.add_argument("--claims", action="store_true", help="also run the BRG-* claim checks on this model")
    check.add_argument("--quick", action="store_true", help="fewer prompts and pairs (the same computations)")
    check.add_argument("--no-figures", action="store_true", help="write the JSON report only")
    check.add_argument("--no-progress", action="store_true", help="no progress lines or bars on stderr")
    check.set_defaults(run=_run_check)

    from pmtheory.bridge.selftest import add_selftest_arguments, run_selftest

    selftest = commands.add_parser(
        "selftest", help="build a random-weight model of a real size from its config and check the bridge on it",
        description="Build a random-weight OPT or Llama of a real size from its config (no download) and run "
                    "log-probs, sampling, closed forms and short exact and Adam training in bf16 and fp32 against "
                    "their bars; write DIR/selftest.json.")
    add_selftest_arguments(selftest)
    selftest.set_defaults(run=run_selftest)

    tiny = commands.add_parser("tiny", help="write tiny OPT, Llama and reward models to DIR (no download)")
    tiny.add_argument("directory", type=Path, metavar="DIR")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(run=_run_tiny)

    bench = commands.add_parser("bench", help="sequence log-prob throughput: batched vs the per-pair loop")
    bench.add_argument("--model", default=None, metavar="PATH", help="causal LM (default: the tiny OPT)")
    bench.add_argument("--device", default="cpu")
    bench.add_argument("--dtype", default="float32")
    bench.add_argument("--pairs", type=int, default=64)
    bench.add_argument("--batch-size", type=int, default=16)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the result as JSON")
    bench.set_defaults(run=_run_bench)

    mod = commands.add_parser(
        "mod", help="exact MOD decoding from several models with generate; generations and certificates as JSON",
        description="Decode with the exact MOD Prop 1 next-token distribution for sum_i w_i R_i (the --model are "
                    "the base policies, fine-tuned for the R_i; --reference is pi_ref) through model.generate, and "
                    "write the generations, per-step KKT certificates and how often the published code's rule "
                    "and eq 7 pick a different token from the exact rule, as JSON.")
    mod.add_argument("--model", action="append", required=True, metavar="PATH",
                     help="a base policy (causal LM); repeat once per objective")
    mod.add_argument("--weights", required=True, metavar="W1,W2,...",
                     help="one weight per --model, comma-separated, summing to 1 (negative allowed where defined)")
    mod.add_argument("--divergence", default="reverse_kl",
                     help="barrier f-divergence: reverse_kl (default), forward_kl, js, hellinger or alpha:<a>")
    mod.add_argument("--prompts", required=True, type=Path, metavar="FILE",
                     help="prompts, one per line (or a JSON list of strings)")
    mod.add_argument("--reference", default=None, metavar="PATH",
                     help="pi_ref, the model the base policies were fine-tuned from (default: the first --model)")
    mod.add_argument("--out", type=Path, default=None, metavar="FILE.json",
                     help="write the JSON here (default: stdout)")
    mod.add_argument("--rule", choices=("exact", "published", "product"), default="exact",
                     help="decode with the exact Prop 1 rule (default), the published code's rule or eq 7")
    mod.add_argument("--beta", type=float, default=1.0, help="β > 0 (the policy does not depend on it)")
    mod.add_argument("--max-new-tokens", type=int, default=16, help="tokens to generate per prompt (default 16)")
    mod.add_argument("--do-sample", action="store_true", help="sample (default: greedy)")
    mod.add_argument("--top-k", type=int, default=0, help="with --do-sample: top-k after MOD (0: off)")
    mod.add_argument("--top-p", type=float, default=1.0, help="with --do-sample: nucleus mass after MOD (1: off)")
    mod.add_argument("--num-beams", type=int, default=1, help="beam search width (1: off)")
    mod.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    mod.add_argument("--dtype", default="auto", help="auto, float32, float64, bfloat16 or float16 (default: auto)")
    mod.add_argument("--seed", type=int, default=0, help="sampling seed")
    mod.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    mod.set_defaults(run=_run_mod)
    return parser


def _say(arguments, message: str) -> None:
    if not getattr(arguments, "no_progress", False):
        print(f"pmtheory bridge: {message}", file=sys.stderr, flush=True)


def _write_json_atomically(path: Path, payload: dict) -> None:
    from pmtheory.claims import to_jsonable
    from pmtheory.cli import write_text_atomically

    write_text_atomically(path, json.dumps(to_jsonable(payload, "report"), indent=2, ensure_ascii=False) + "\n")


def _validate_check(arguments) -> None:
    for name in ("set_size", "max_new_tokens", "set_max_new_tokens", "pairs_per_prompt", "batch_size"):
        if getattr(arguments, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(arguments, name)}")
    if not 0.0 <= arguments.alpha <= 1.0:
        raise ValueError(f"--alpha must be in [0, 1], got {arguments.alpha}")
    if arguments.beta <= 0:
        raise ValueError(f"--beta must be > 0, got {arguments.beta}")
    if arguments.out.exists() and not arguments.out.is_dir():
        raise ValueError(f"--out {arguments.out} exists and is not a directory")
    if arguments.reward_clip is not None and not arguments.reward_clip > 0:
        raise ValueError(f"--reward-clip must be > 0, got {arguments.reward_clip}")
    if arguments.train and not arguments.reward_model:
        raise ValueError("--train needs --reward-model: the response sets are trained on its rewards")
    arguments.max_memory = _parse_size(arguments.max_memory, "--max-memory")


_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _parse_size(text: str | None, option: str) -> int | None:
    """Bytes of a size such as "40GB", "512MiB" or "1e9" (None stays None)."""
    if text is None:
        return None
    import re

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS or float(match.group(1)) <= 0:
        raise ValueError(f"{option} must be a positive size such as 40GB, 512MiB or 1e9 (bytes), got {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def _apply_chat_template(tokenizer, prompts: list[str]) -> list[str]:
    """Each prompt as a user message in the tokenizer's chat template, ending with the generation prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("--chat-template: this tokenizer has no chat template (tokenizer.chat_template is empty); "
                         "drop the option, or use the chat model's own tokenizer")
    return [tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                          add_generation_prompt=True) for prompt in prompts]


def _sequence_section(lm, prompts, arguments) -> dict:
    from pmtheory.bridge.logprobs import sequence_log_probs, sequence_log_probs_loop
    from pmtheory.bridge.sampling import sample_responses

    sampled = sample_responses(lm.model, lm.tokenizer, prompts, num_samples=2, max_new_tokens=arguments.max_new_tokens,
                               seed=arguments.seed, batch_size=arguments.batch_size)
    pair_prompts, pair_responses = sampled.pairs()
    loop = sequence_log_probs_loop(lm.model, lm.tokenizer, pair_prompts, pair_responses)
    rows = []
    for side in ("left", "right"):
        batched = sequence_log_probs(lm.model, lm.tokenizer, pair_prompts, pair_responses,
                                     batch_size=arguments.batch_size, padding_side=side)
        difference = (batched - loop).abs().double()
        rows.append({"padding_side": side, "batch_size": arguments.batch_size,
                     "max_abs_batched_vs_loop": float(difference.max()),
                     "max_rel_batched_vs_loop": float((difference / loop.abs().double().clamp(min=1.0)).max())})
    return {"pairs": len(pair_prompts), "rows": rows}


def _sampling_section(lm, prompts, arguments) -> dict:
    import numpy as np

    from pmtheory.bridge.sampling import sample_responses

    sampled = sample_responses(lm.model, lm.tokenizer, prompts, num_samples=4, max_new_tokens=arguments.max_new_tokens,
                               temperature=arguments.temperature, top_p=arguments.top_p, top_k=arguments.top_k,
                               seed=arguments.seed, batch_size=arguments.batch_size)
    gap = np.abs(sampled.log_probs - sampled.sampling_log_probs)
    return {
        "settings": sampled.settings.to_dict(),
        "samples": int(sampled.log_probs.size),
        "finished_fraction": float(sampled.finished.mean()),
        "mean_length": float(sampled.lengths.mean()),
        "max_abs_log_pi_minus_log_q": float(gap.max()),
        "max_truncated_mass": float(sampled.truncated_mass.max()),
        "examples": [{"prompt": p, "response": row[0], "log_pi": float(lp[0]), "log_q": float(lq[0])}
                     for p, row, lp, lq in zip(prompts[:3], sampled.texts, sampled.log_probs,
                                               sampled.sampling_log_probs)],
        "note": ("log_pi is log π(y|x) under the model (the theory's π_ref); log_q is under the distribution actually "
                 "sampled from (temperature / top-k / top-p); they agree only when samples_from_model is true"),
    }


def _response_set_section(setup, path, arguments) -> tuple[dict, object]:
    from pmtheory.bridge.checks import set_closed_forms, set_metrics
    from pmtheory.bridge.studies import response_set_problem

    response_set, problem = response_set_problem(setup, path, prompts=len(setup.prompt_list()),
                                                 set_size=arguments.set_size,
                                                 max_new_tokens=arguments.set_max_new_tokens, seed=arguments.seed + 1)
    section = {"set_shape": list(problem.shape), "alpha": arguments.alpha, "beta": arguments.beta, "indicators": {}}
    for indicator in ("set", "sequence", "token"):
        forms = set_closed_forms(problem.rewards, problem.log_probs_ref, alpha=arguments.alpha, beta=arguments.beta,
                                 indicator=indicator, token_log_probs=problem.token_log_probs_ref,
                                 token_mask=problem.token_mask)
        metrics = {name: set_metrics(getattr(forms, name), problem.rewards, forms.log_reference, response_set.lengths,
                                     beta=arguments.beta).__dict__
                   for name in ("kl_rlhf", "pm", "conditional_pm")}
        metrics["reference"] = set_metrics(forms.log_reference, problem.rewards, forms.log_reference,
                                           response_set.lengths, beta=arguments.beta).__dict__
        section["indicators"][indicator] = {"responses_in_M_per_prompt": forms.in_set.sum(axis=-1).tolist(),
                                            "metrics": metrics}
    section["largest_pi_ref"] = float(__import__("numpy").exp(problem.log_probs_ref.max()))
    return section, problem


def _training_section(setup, path, problem, arguments) -> tuple[dict, list]:
    """Train KL and conditional PM RLHF on the response sets; the report section and the runs."""
    from pmtheory.bridge.studies import train_policy
    from pmtheory.bridge.training import RLHFObjective, TrainingConfig

    out = {"trainable": setup.trainable, "runs": []}
    trained_runs = []
    for objective in (RLHFObjective("kl", beta=arguments.beta, reward_clip=arguments.reward_clip),
                      RLHFObjective("conditional_pm", beta=arguments.beta, alpha=arguments.alpha, indicator="set",
                                    published_alpha_zero=arguments.published_alpha_zero,
                                    reward_clip=arguments.reward_clip)):
        trained = train_policy(setup, "model", path, problem, objective,
                               TrainingConfig(estimator="exact", max_steps=100, max_memory=arguments.max_memory,
                                              progress=False if arguments.no_progress else None))
        trained_runs.append(trained)
        out["runs"].append({"objective": trained.objective, "steps": trained.steps, "converged": trained.converged,
                            "stop_reason": trained.stop_reason, "dtype": trained.dtype,
                            "final_residual": float(trained.residuals[-1]) if trained.residuals.size else None,
                            "tolerance": trained.tolerance, "optimizer": trained.training.get("optimizer"),
                            "notes": list(trained.notes), "peak_memory": trained.peak_memory,
                            "max_abs_log_error": trained.max_abs_log_error,
                            "total_variation": trained.total_variation, "seconds": trained.seconds})
    return out, trained_runs


def _bar(value, bar) -> str:
    return "no bar" if bar is None else ("PASS" if value <= bar else "FAIL")


def _summary_lines(report: dict) -> tuple[list[str], list[str]]:
    """The console summary of a ``bridge check`` report, and the bars it failed."""
    from pmtheory.bridge.claims_sequence import SEQ_BARS

    lines, failed = [], []
    model = report["model"]
    lines.append(f"model {model['source']} ({model['model_type']}, {model['parameters']:,} parameters, "
                 f"{model['dtype']} on {model['device']})")
    if model.get("tiny_model"):
        lines.append(f"  note: {model['tiny_model']}")
    bar = SEQ_BARS.get(model["dtype"])  # BRG-SEQ's bars, by the model's dtype (none for bf16 / fp16)
    for row in report["sequence_log_probs"]["rows"]:
        verdict = _bar(row["max_rel_batched_vs_loop"], bar)
        shown = f"{bar:g}" if bar is not None else f"none for {model['dtype']}"
        lines.append(f"sequence log-probs, batched ({row['padding_side']} padding) vs loop: max relative "
                     f"{row['max_rel_batched_vs_loop']:.2e} (bar {shown}) {verdict}")
        if verdict == "FAIL":
            failed.append(f"batched vs loop ({row['padding_side']} padding)")
    sampling = report["sampling"]
    lines.append(f"sampling: {sampling['samples']} samples, {sampling['finished_fraction']:.0%} finished, "
                 f"mean length {sampling['mean_length']:.1f} tokens")
    for indicator, section in report.get("response_sets", {}).get("indicators", {}).items():
        metrics = section["metrics"]
        parts = [f"{name}: PM divergence {metrics[name]['pm_divergence']:.3g}, entropy {metrics[name]['entropy']:.3g}"
                 for name in ("reference", "kl_rlhf", "pm", "conditional_pm")]
        lines.append(f"closed forms, §6.1 metrics ({indicator} reading): " + "; ".join(parts))
    for run in report.get("training", {}).get("runs", []):
        name = run["objective"]["name"]
        status = "PASS" if run["converged"] else "FAIL"
        residual = run["final_residual"]
        lines.append(f"training {name} ({run['optimizer']}, {run['dtype']}): {run['stop_reason']} after "
                     f"{run['steps']} steps, residual {residual:.2e} (bar {run['tolerance']:.2g}) {status}; "
                     f"TV to the closed form {run['total_variation']:.2e}")
        for note in run["notes"]:
            lines.append(f"  note: {note}")
        if not run["converged"]:
            failed.append(f"training {name} did not converge ({run['stop_reason']}, residual {residual:.2e} > "
                          f"{run['tolerance']:.2g})")
    for claim in report.get("claims", []):
        lines.append(f"{claim['id']}: {claim['verdict']}" + (f" ({claim['condition']})" if claim["condition"] else ""))
        if claim["verdict"] == "error":
            failed.append(f"{claim['id']} errored")
    return lines, failed


def _run_check(arguments) -> int:
    from pmtheory.bridge.studies import BridgeSetup, require_bridge

    try:
        require_bridge()
        _validate_check(arguments)
        prompts = _read_prompts(arguments.prompts)
    except (ValueError, ModuleNotFoundError) as error:
        print(f"pmtheory bridge check: {error}", file=sys.stderr)
        return _EXIT_USAGE
    from pmtheory.bridge.loading import load_causal_lm, load_reward_model
    from pmtheory.bridge.tiny import TINY_PROMPTS

    started = time.perf_counter()
    _say(arguments, f"loading {arguments.model}")
    load_options = {"trust_remote_code": arguments.trust_remote_code, "revision": arguments.revision,
                    "local_files_only": arguments.local_files_only, "pad_token": arguments.pad_token}
    try:
        lm = load_causal_lm(arguments.model, device=arguments.device, dtype=arguments.dtype,
                            device_map=arguments.device_map, **load_options)
        reward = None
        if arguments.reward_model:
            _say(arguments, f"loading reward model {arguments.reward_model}")
            reward = load_reward_model(arguments.reward_model, device=arguments.device, dtype=arguments.dtype,
                                       device_map=arguments.device_map, **load_options)
        prompts = prompts if prompts is not None else list(TINY_PROMPTS)
        if arguments.quick:
            prompts = prompts[:4]
        if arguments.chat_template:
            prompts = _apply_chat_template(lm.tokenizer, prompts)
    except (OSError, ValueError, ImportError) as error:
        print(f"pmtheory bridge check: {error}", file=sys.stderr)
        return _EXIT_USAGE
    setup = BridgeSetup(policies=(("model", arguments.model),), reward_model=arguments.reward_model,
                        device=str(lm.device) if arguments.device_map is None else arguments.device,
                        dtype=str(lm.dtype).removeprefix("torch."), prompts=tuple(prompts),
                        trainable=arguments.trainable, load_options=tuple(load_options.items()))
    report = {"model": lm.describe(), "reward_model": reward.describe() if reward is not None else None,
              "prompts": len(prompts), "arguments": {k: (str(v) if isinstance(v, Path) else v)
                                                     for k, v in vars(arguments).items() if k != "run"}}
    figures: list[str] = []
    trained_runs: list = []
    try:
        _say(arguments, "sequence log-probabilities: batched vs loop")
        report["sequence_log_probs"] = _sequence_section(lm, prompts, arguments)
        _say(arguments, "sampling with recorded settings")
        report["sampling"] = _sampling_section(lm, prompts, arguments)
        if reward is None:
            report["note"] = "no --reward-model: the pile-up, closed forms, metrics and training sections need one"
        else:
            from pmtheory.bridge.claims_sequence import length_statistics
            from pmtheory.bridge.studies import length_study, use_setup

            _say(arguments, "binary reference preferences and their pile-up with length")
            study = length_study(setup, "model", arguments.model, pairs_per_prompt=arguments.pairs_per_prompt,
                                 max_new_tokens=arguments.max_new_tokens, seed=arguments.seed)
            report["length_pileup"] = length_statistics(study)
            _say(arguments, "closed forms and §6.1 metrics on response sets")
            report["response_sets"], problem = _response_set_section(setup, arguments.model, arguments)
            if arguments.train:
                _say(arguments, f"training KL and conditional PM RLHF ({arguments.trainable} parameters)")
                report["training"], trained_runs = _training_section(setup, arguments.model, problem, arguments)
            if arguments.claims:
                from pmtheory.claims import run_claims

                _say(arguments, "BRG-* claim checks")
                with use_setup(setup):
                    claim_report = run_claims(["BRG-*"], quick=arguments.quick)
                report["claims"] = [{"id": o.id, "verdict": o.verdict, "condition": o.condition, "backing": o.backing,
                                     "evidence": o.evidence, "counterexample": o.counterexample,
                                     "seconds": o.seconds} for o in claim_report.claims]
            if not arguments.no_figures:
                from pmtheory.bridge.figures import length_figure

                _say(arguments, "figures")
                staging = arguments.out / ".figures-tmp"
                with use_setup(setup):
                    written = length_figure(staging, quick=arguments.quick)
                if trained_runs:
                    from pmtheory.bridge.figures import check_training_figure

                    written += check_training_figure(staging, trained_runs, tiny=bool(lm.describe()["tiny_model"]))
                arguments.out.mkdir(parents=True, exist_ok=True)
                for path in written:
                    target = arguments.out / path.name
                    os.replace(path, target)
                    figures.append(str(target))
                staging.rmdir()
    except Exception as error:  # a computation failed: report it, write nothing
        print(f"pmtheory bridge check: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return _EXIT_FAILED
    report["figures"] = figures
    report["seconds"] = time.perf_counter() - started
    lines, failed = _summary_lines(report)
    report["failed_bars"] = failed
    target = arguments.out / "bridge-report.json"
    _write_json_atomically(target, report)
    for line in lines:
        print(line)
    _say(arguments, f"wrote {target}")
    if failed:
        print(f"pmtheory bridge check: {len(failed)} bar(s) not reached: {'; '.join(failed)}", file=sys.stderr)
        return _EXIT_FAILED
    return _EXIT_OK


def _run_tiny(arguments) -> int:
    from pmtheory.bridge.tiny import save_tiny_models, single_thread

    try:
        with single_thread():
            paths = save_tiny_models(arguments.directory, seed=arguments.seed)
    except OSError as error:
        print(f"pmtheory bridge tiny: {error}", file=sys.stderr)
        return _EXIT_USAGE
    print(json.dumps({"opt": str(paths.opt), "llama": str(paths.llama), "reward": str(paths.reward)}, indent=2))
    return _EXIT_OK


def _run_bench(arguments) -> int:
    from pmtheory.bridge.bench import sequence_log_prob_throughput

    try:
        result = sequence_log_prob_throughput(model_path=arguments.model, device=arguments.device,
                                              dtype=arguments.dtype,
                                              pairs=arguments.pairs, batch_size=arguments.batch_size,
                                              repeats=arguments.repeats)
    except (OSError, ValueError, ImportError) as error:
        print(f"pmtheory bridge bench: {error}", file=sys.stderr)
        return _EXIT_USAGE
    print(f"{result.model} on {result.device} ({result.dtype}): "
          f"batched {result.batched_tokens_per_second:,.0f} tokens/s, "
          f"loop {result.loop_tokens_per_second:,.0f} tokens/s, speed-up {result.speedup:.1f}x "
          f"({result.pairs} pairs, {result.tokens} tokens, batch size {result.batch_size}; "
          f"max |batched − loop| {result.max_abs_difference:.2g})")
    if arguments.json is not None:
        _write_json_atomically(arguments.json, result.to_dict())
    return _EXIT_OK


def _mod_weights(arguments) -> list[float]:
    """The --weights of ``bridge mod``, validated against the --model count (ValueError with the fix)."""
    import numpy as np

    try:
        weights = [float(part) for part in arguments.weights.split(",")]
    except ValueError:
        raise ValueError(f"--weights must be comma-separated numbers such as 0.3,0.7, got {arguments.weights!r}") \
            from None
    if len(weights) != len(arguments.model):
        raise ValueError(f"--weights has {len(weights)} value(s) but there are {len(arguments.model)} --model: give "
                         "one weight per --model, in the same order")
    if not all(np.isfinite(weights)):
        raise ValueError(f"--weights must be finite numbers, got {arguments.weights!r}")
    if abs(sum(weights) - 1.0) > 1e-9:
        raise ValueError(f"--weights must sum to 1, got {arguments.weights} (sum {sum(weights):g}); divide each by "
                         "the sum")
    return [w / sum(weights) for w in weights]


def _validate_mod(arguments) -> list[float]:
    import numpy as np

    from pmtheory.divergences import get_divergence
    from pmtheory.mod.decoding import published_code_log_scores

    weights = _mod_weights(arguments)
    try:
        divergence = get_divergence(arguments.divergence)
    except ValueError as error:
        raise ValueError(f"--divergence: {error}") from None
    if not divergence.barrier:
        raise ValueError(f"--divergence {divergence.name} is not a barrier divergence, so MOD Prop 1 does not apply; "
                         "use reverse_kl, forward_kl, js, hellinger or alpha:<a>")
    if not (np.isfinite(arguments.beta) and arguments.beta > 0):
        raise ValueError(f"--beta must be > 0, got {arguments.beta}")
    for name in ("max_new_tokens", "num_beams"):
        if getattr(arguments, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(arguments, name)}")
    if arguments.top_k < 0 or not 0.0 < arguments.top_p <= 1.0:
        raise ValueError(f"--top-k must be >= 0 and --top-p in (0, 1], got {arguments.top_k} and {arguments.top_p}")
    if arguments.rule == "published":
        try:
            published_code_log_scores(np.full((len(weights), 2), np.log(0.5)), weights, divergence=divergence)
        except ValueError as error:
            raise ValueError(f"--rule published: {error}; use --rule exact") from None
    if arguments.out is not None and arguments.out.is_dir():
        raise ValueError(f"--out {arguments.out} is a directory; give a file name such as mod.json")
    return weights


def _run_mod(arguments) -> int:
    try:
        weights = _validate_mod(arguments)
        prompts = _read_prompts(arguments.prompts)
    except ValueError as error:
        print(f"pmtheory bridge mod: {error}", file=sys.stderr)
        return _EXIT_USAGE
    import torch

    from pmtheory.bridge.loading import load_causal_lm
    from pmtheory.bridge.mod_processor import MODLogitsProcessor

    started = time.perf_counter()
    reference_path = arguments.reference if arguments.reference is not None else arguments.model[0]
    loaded: dict[str, object] = {}
    try:
        for path in [reference_path, *arguments.model]:
            if path not in loaded:
                _say(arguments, f"loading {path}")
                loaded[path] = load_causal_lm(path, device=arguments.device, dtype=arguments.dtype,
                                              padding_side="left")
        reference = loaded[reference_path]
        for path in arguments.model:
            if loaded[path].tokenizer.get_vocab() != reference.tokenizer.get_vocab():
                raise ValueError(f"--model {path} has another vocabulary than the reference {reference_path}: MOD "
                                 "combines next-token distributions, so every model must share one tokenizer")
    except (OSError, ValueError, ImportError) as error:
        print(f"pmtheory bridge mod: {error}", file=sys.stderr)
        return _EXIT_USAGE
    processor = MODLogitsProcessor([loaded[path].model for path in arguments.model], weights,
                                   divergence=arguments.divergence, beta=arguments.beta, rule=arguments.rule)
    tokenizer = reference.tokenizer
    generation = {"max_new_tokens": arguments.max_new_tokens, "do_sample": arguments.do_sample,
                  "num_beams": arguments.num_beams}
    if arguments.do_sample:
        generation.update(top_k=arguments.top_k, top_p=arguments.top_p)
    try:
        _say(arguments, f"decoding {len(prompts)} prompt(s) with {arguments.rule} MOD ({processor.divergence.name})")
        encoded = tokenizer(prompts, return_tensors="pt", padding=True).to(reference.device)
        torch.manual_seed(arguments.seed)
        with torch.no_grad():
            output = reference.model.generate(**encoded, logits_processor=[processor],
                                              pad_token_id=tokenizer.pad_token_id, **generation)
    except Exception as error:  # a computation failed (e.g. a solve without its certificate)
        print(f"pmtheory bridge mod: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return _EXIT_FAILED
    new_tokens = output[:, encoded["input_ids"].shape[1]:].cpu()
    generations = [{"prompt": prompt, "response": tokenizer.decode(row, skip_special_tokens=True),
                    "token_ids": row.tolist()} for prompt, row in zip(prompts, new_tokens)]
    rows = sum(d["rows"] for d in processor.disagreements)

    def gap(name: str, what: str) -> dict:
        counts = [d[name] for d in processor.disagreements]
        differing = None if any(c is None for c in counts) else int(sum(counts))
        return {"rule": what, "differing_row_steps": differing, "row_steps": rows,
                "rate": None if differing is None or rows == 0 else differing / rows}

    report = {
        "models": [loaded[path].describe() for path in arguments.model],
        "reference": reference.describe(),
        "reference_is_first_model": arguments.reference is None,
        "weights": weights, "divergence": processor.divergence.name, "beta": arguments.beta, "rule": arguments.rule,
        "generation": {**generation, "seed": arguments.seed},
        "generations": generations,
        "steps": len(processor.certificates),
        "certificates": processor.certificates,
        "max_certificate": max(processor.certificates, default=None),
        "disagreements": processor.disagreements,
        "gap_to_published_rules": {
            "published_code": gap("published", "the published code's rule for the divergence (App F; JSD: eq 7)"),
            "product": gap("product", "eq 7, the product of the policies Π_i π_i^{w_i}"),
        },
        "note": ("certificates: per step, the largest KKT residual of the exact Prop 1 solves over the batch; "
                 "disagreements: per step, among rows still generating, how many the other rule's argmax differs "
                 "from the exact rule's (on the decoded prefixes)"),
        "seconds": time.perf_counter() - started,
    }
    if arguments.out is None:
        from pmtheory.claims import to_jsonable

        print(json.dumps(to_jsonable(report, "report"), indent=2, ensure_ascii=False))
    else:
        _write_json_atomically(arguments.out, report)
        published = report["gap_to_published_rules"]["published_code"]["rate"]
        print(f"MOD ({arguments.rule}, {processor.divergence.name}): {len(prompts)} prompt(s), {report['steps']} "
              f"steps, max KKT residual {report['max_certificate']:.2e}; the published code's rule picks another "
              f"token on {'n/a' if published is None else f'{published:.1%}'} of row-steps")
        _say(arguments, f"wrote {arguments.out}")
    return _EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run ``pmtheory bridge`` with ``argv`` and return the exit status (0, 1 or 2)."""
    parser = build_parser()
    try:
        arguments = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_request:
        code = exit_request.code
        return code if isinstance(code, int) else (_EXIT_OK if code is None else _EXIT_USAGE)
    from pmtheory.bridge.studies import require_bridge

    try:
        require_bridge()
    except ModuleNotFoundError as error:
        print(f"pmtheory bridge {arguments.command}: {error}", file=sys.stderr)
        return _EXIT_USAGE
    return int(arguments.run(arguments))
