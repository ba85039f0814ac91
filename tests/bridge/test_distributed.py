"""Data-parallel training (issue 15, "Outgrowing one GPU"): 2 CPU processes equal 1.

The test launches tests/bridge/distributed_worker.py in 2 processes with ``accelerate launch
--multi_gpu --num_processes 2`` (gloo on CPU). Not ``--cpu``: with ``--cpu`` accelerate 1.16
starts a single process (its multi-CPU launcher is mpirun with a hostfile), while ``--multi_gpu``
goes through torch.distributed.run and runs on CPU-only machines too. Without accelerate the
test launches ``python -m torch.distributed.run --nproc_per_node 2``, the same launcher.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import pmtheory.bridge.training as training  # noqa: E402
from pmtheory.bridge.checks import sample_response_set  # noqa: E402
from pmtheory.bridge.distributed import World, current_world, shard_rows  # noqa: E402
from pmtheory.bridge.loading import load_causal_lm  # noqa: E402
from pmtheory.bridge.tiny import TINY_PROMPTS, tiny_model_paths  # noqa: E402
from pmtheory.bridge.training import ResponseSetProblem, RLHFObjective, TrainingConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("single_torch_thread")

WORKER_PATH = Path(__file__).with_name("distributed_worker.py")
_spec = importlib.util.spec_from_file_location("distributed_worker", WORKER_PATH)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launcher(processes: int) -> list[str]:
    port = str(_free_port())
    if importlib.util.find_spec("accelerate") is not None:
        return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", port]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_port", port]


@pytest.fixture(scope="module")
def problem():
    """3 prompts × 4 responses sampled from the tiny OPT (seeded), fixed rewards."""
    lm = load_causal_lm(tiny_model_paths().opt, device="cpu", dtype="float64")
    response_set = sample_response_set(lm.model, lm.tokenizer, list(TINY_PROMPTS[:3]), set_size=4, seed=1,
                                       max_new_tokens=5)
    rewards = np.random.default_rng(0).normal(0.0, 2.0, size=(3, 4))
    return ResponseSetProblem.from_response_set(response_set, rewards)


@pytest.fixture(scope="module")
def launched(problem, tmp_path_factory):
    """{rank: the worker's output} of the 2-process run (and it printed its wall time)."""
    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        pytest.skip("this torch has no torch.distributed with gloo")
    directory = tmp_path_factory.mktemp("distributed")
    problem_path = directory / "problem.json"
    problem_path.write_text(json.dumps(worker.problem_to_json(problem)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [*_launcher(2), str(WORKER_PATH), str(tiny_model_paths().opt), str(problem_path), str(directory)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    print(f"2-process run: {time.perf_counter() - started:.1f} s")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = {rank: json.loads((directory / f"rank{rank}.json").read_text()) for rank in (0, 1)}
    return out, directory


@pytest.fixture(scope="module")
def single(problem):
    """The same runs in this process (one process)."""
    out = {}
    for name, (run_problem, objective, config) in worker.runs(problem).items():
        result = worker.train(str(tiny_model_paths().opt), run_problem, objective, config)
        out[name] = result
    return out


RUNS = ["adam", "reinforce", "one_prompt"]


class TestTwoProcesses:
    @pytest.mark.parametrize("name", RUNS)
    def test_two_processes_train_as_one(self, launched, single, name):
        # 3 prompts over 2 processes: shards of 2 and 1 (each loss weighted by its share of the
        # mean); "one_prompt": the second process has no prompt at all.
        out, _ = launched
        assert out[0]["world_size"] == 2
        for rank in (0, 1):
            got = out[rank][name]
            assert np.max(np.abs(np.array(got["log_policy"]) - single[name].log_policy)) < 1e-6
            assert np.max(np.abs(np.array(got["history"]) - single[name].objective_history)) < 1e-6
            assert np.max(np.abs(np.array(got["residuals"]) - single[name].residuals)) < 1e-6
        # training moved the policy (the comparison is not of two untouched models)
        assert abs(single[name].objective_history[-1] - single[name].objective_history[0]) > 1e-4

    @pytest.mark.parametrize("name", RUNS)
    def test_every_process_has_the_full_problem_values(self, launched, single, name):
        out, _ = launched
        for key in ("log_policy", "history", "residuals"):
            assert out[0][name][key] == out[1][name][key], key
        assert np.shape(out[1][name]["log_policy"]) == single[name].log_policy.shape
        assert any("trained in 2 processes" in note for note in out[1][name]["notes"])

    def test_only_the_main_process_writes_checkpoints(self, launched):
        out, directory = launched
        assert out[0]["adam"]["checkpoints_written"] == 3  # steps 2 and 4, and at the end
        assert out[1]["adam"]["checkpoints_written"] == 0
        assert (directory / "checkpoint-adam" / "checkpoint.pt").is_file()

    def test_the_natural_optimizer_refuses_to_run_in_two_processes(self, launched):
        out, _ = launched
        for rank in (0, 1):
            assert "optimizer='adam'" in out[rank]["natural_error"]


class TestOneProcess:
    def test_the_natural_optimizer_refuses_a_world_of_two(self, problem, monkeypatch):
        monkeypatch.setattr(training, "current_world", lambda device: World(rank=1, size=2))
        lm = load_causal_lm(tiny_model_paths().opt, device="cpu", dtype="float64")
        with pytest.raises(ValueError, match=r"natural optimizer runs in one process only .* process 1 of 2; "
                                             r"pass optimizer='adam'"):
            training.train_on_response_set(lm.model, lm.tokenizer, problem, RLHFObjective("kl"),
                                           TrainingConfig(max_steps=1, progress=False))

    def test_without_a_launcher_there_is_one_process(self, monkeypatch):
        monkeypatch.delenv("WORLD_SIZE", raising=False)
        assert current_world() == World(rank=0, size=1)
        monkeypatch.setenv("WORLD_SIZE", "1")
        world = current_world()
        assert not world.distributed and world.is_main and world.rows(5) == slice(0, 5)

    @pytest.mark.parametrize("n, size", [(3, 2), (1, 2), (8, 8), (10, 3), (0, 4)])
    def test_shards_cover_the_prompts_once(self, n, size):
        shards = [shard_rows(n, rank, size) for rank in range(size)]
        assert [row for s in shards for row in range(s.start, s.stop)] == list(range(n))
        assert max(s.stop - s.start for s in shards) - min(s.stop - s.start for s in shards) <= 1
        with pytest.raises(ValueError, match="rank must be in"):
            shard_rows(n, size, size)

    def test_summed_gradients_keep_none_and_the_dtype(self):
        # A parameter no process has a gradient for must keep None (Adam skips it, as in one
        # process), not get zeros. The collectives of a 2-process World over a group of one.
        if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
            pytest.skip("this torch has no torch.distributed with gloo")
        torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0,
                                             world_size=1)
        try:
            assert current_world() == World(rank=0, size=1)  # an initialized group of one
            world = World(rank=0, size=2)
            used = torch.nn.Parameter(torch.ones(3, dtype=torch.bfloat16))
            used.grad = torch.full((3,), 0.5, dtype=torch.bfloat16)
            unused = torch.nn.Parameter(torch.ones(2, dtype=torch.bfloat16))
            world.sum_gradients([used, unused])
            assert unused.grad is None
            assert used.grad.dtype == torch.bfloat16 and torch.equal(used.grad, torch.full((3,), 0.5))
            world.check_same(7, "a number", "no fix needed")
            full = world.gather_rows(torch.ones((1, 2), dtype=torch.float64), slice(1, 2), 3)
            assert torch.equal(full, torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64))
        finally:
            torch.distributed.destroy_process_group()

    def test_a_shard_is_the_problem_restricted_to_its_rows(self, problem):
        shard = training._shard(problem, slice(1, 3))
        assert shard.shape == (2, 4) and shard.prompt_ids == problem.prompt_ids[1:3]
        assert np.array_equal(shard.rewards, problem.rewards[1:3])
        assert np.array_equal(shard.log_probs_ref, problem.log_probs_ref[1:3])
