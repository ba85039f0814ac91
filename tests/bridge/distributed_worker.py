"""One process of the 2-process training runs of tests/bridge/test_distributed.py.

Launched by the test as ``accelerate launch --multi_gpu --num_processes 2 distributed_worker.py
MODEL_DIR PROBLEM_JSON OUT_DIR`` (on CPU: gloo); every process trains the tiny float64 model of
MODEL_DIR on the problem of PROBLEM_JSON with each configuration of :func:`runs` and writes
OUT_DIR/rank<r>.json: per run the final (N, K) log-policy, the objective history, the residuals,
the notes and how many checkpoints this process wrote; and the natural optimizer's error.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import pmtheory.bridge.training as training
from pmtheory.bridge.loading import load_causal_lm
from pmtheory.bridge.training import ResponseSetProblem, RLHFObjective, TrainingConfig, train_on_response_set


def problem_to_json(problem: ResponseSetProblem) -> dict:
    """What :func:`problem_from_json` reads back exactly (JSON floats round-trip)."""
    return {"prompt_ids": problem.prompt_ids, "response_ids": problem.response_ids,
            "rewards": problem.rewards.tolist(), "log_probs_ref": problem.log_probs_ref.tolist()}


def problem_from_json(data: dict) -> ResponseSetProblem:
    """The problem written by :func:`problem_to_json`."""
    return ResponseSetProblem(prompt_ids=tuple(tuple(p) for p in data["prompt_ids"]),
                              response_ids=tuple(tuple(tuple(r) for r in row) for row in data["response_ids"]),
                              rewards=np.asarray(data["rewards"]), log_probs_ref=np.asarray(data["log_probs_ref"]))


def runs(problem: ResponseSetProblem) -> dict:
    """name -> (problem, objective, config): Adam on the exact objective (3 prompts: shards of 2 and
    1), REINFORCE, and Adam on a single prompt (the second process's shard is empty)."""
    adam = TrainingConfig(optimizer="adam", max_steps=4, learning_rate=0.02, progress=False, checkpoint_every=2)
    reinforce = TrainingConfig(estimator="reinforce", max_steps=4, samples_per_prompt=8, learning_rate=0.02,
                               progress=False, seed=3)
    single = training._shard(problem, slice(0, 1))
    return {"adam": (problem, RLHFObjective("kl"), adam),
            "reinforce": (problem, RLHFObjective("conditional_pm", alpha=0.1), reinforce),
            "one_prompt": (single, RLHFObjective("kl"), replace(adam, max_steps=2))}


def train(model_dir: str, problem, objective, config, checkpoint_dir=None):
    """A fresh float64 tiny model trained on CPU; returns the :class:`TrainingResult`."""
    lm = load_causal_lm(model_dir, device="cpu", dtype="float64")
    config = replace(config, checkpoint_dir=checkpoint_dir)
    return train_on_response_set(lm.model, lm.tokenizer, problem, objective, config)


def main(model_dir: str, problem_path: str, out_dir: str) -> None:
    """Train every run of :func:`runs` in this process and write OUT_DIR/rank<r>.json."""
    torch.set_num_threads(1)
    problem = problem_from_json(json.loads(Path(problem_path).read_text()))
    saves = []
    real_save = training._save_checkpoint
    training._save_checkpoint = lambda directory, payload: (saves.append(str(directory)),
                                                            real_save(directory, payload))
    out = {}
    for name, (run_problem, objective, config) in runs(problem).items():
        before = len(saves)
        result = train(model_dir, run_problem, objective, config, str(Path(out_dir) / f"checkpoint-{name}"))
        out[name] = {"log_policy": result.log_policy.tolist(), "history": result.objective_history.tolist(),
                     "residuals": result.residuals.tolist(), "notes": list(result.notes),
                     "checkpoints_written": len(saves) - before}
    try:
        train(model_dir, problem, RLHFObjective("kl"), TrainingConfig(max_steps=2, progress=False))
        out["natural_error"] = None
    except ValueError as error:
        out["natural_error"] = str(error)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    out["world_size"] = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(out))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
