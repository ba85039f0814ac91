"""Tests of pmtheory.bridge.loading: the real from_pretrained path, devices, dtypes, clear errors."""

import json
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pmtheory.bridge.loading import (  # noqa: E402
    accumulation_dtype,
    check_pad_token,
    load_causal_lm,
    load_reward_model,
    resolve_device,
    resolve_dtype,
)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


class TestLoadCausalLM:
    @pytest.mark.parametrize("architecture, model_type", [("opt", "opt"), ("llama", "llama")])
    def test_loads_through_from_pretrained(self, tiny, architecture, model_type):
        lm = load_causal_lm(tiny.policy(architecture), device="cpu", dtype="float64")
        assert lm.model.config.model_type == model_type
        assert not lm.model.training  # eval mode
        assert lm.dtype == torch.float64 and next(lm.model.parameters()).dtype == torch.float64
        assert lm.accumulate_dtype == torch.float64
        assert lm.tokenizer.pad_token_id == 0
        described = lm.describe()
        assert described["model_type"] == model_type and described["parameters"] > 1000
        json.dumps(described)  # JSON-able

    def test_auto_dtype_is_float32_on_cpu(self, tiny):
        lm = load_causal_lm(tiny.opt, device="cpu", dtype="auto")
        assert lm.dtype == torch.float32
        assert lm.accumulate_dtype == torch.float64  # float32 logits, float64 sums

    def test_bfloat16_accumulates_in_float32(self, tiny):
        lm = load_causal_lm(tiny.opt, device="cpu", dtype="bfloat16")
        assert next(lm.model.parameters()).dtype == torch.bfloat16
        assert lm.accumulate_dtype == torch.float32

    def test_missing_path_is_a_clear_error(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            load_causal_lm(tmp_path / "nowhere", device="cpu")

    def test_directory_without_config(self, tmp_path):
        with pytest.raises(ValueError, match="no config.json"):
            load_causal_lm(tmp_path, device="cpu")

    def test_file_instead_of_directory(self, tmp_path):
        path = tmp_path / "model.bin"
        path.write_bytes(b"x")
        with pytest.raises(ValueError, match="is a file"):
            load_causal_lm(path, device="cpu")

    def test_unreachable_hub_id(self):
        with pytest.raises(OSError, match="could not load"):
            load_causal_lm("pmtheory-no-such-org/no-such-model", device="cpu", local_files_only=True)

    def test_tokenizer_without_pad_token(self, tiny, tmp_path):
        directory = tmp_path / "nopad"
        shutil.copytree(tiny.opt, directory)
        config_path = directory / "tokenizer_config.json"
        config = json.loads(config_path.read_text())
        config.pop("pad_token", None)
        config_path.write_text(json.dumps(config))
        from transformers import AutoTokenizer

        if AutoTokenizer.from_pretrained(directory).pad_token is not None:
            pytest.skip("this transformers version restores the pad token from tokenizer.json")
        with pytest.raises(ValueError, match="no pad token"):
            load_causal_lm(directory, device="cpu")
        lm = load_causal_lm(directory, device="cpu", pad_token="eos")
        assert lm.tokenizer.pad_token_id == lm.tokenizer.eos_token_id

    def test_reward_model_must_have_one_output(self, tiny):
        with pytest.raises(ValueError, match="num_labels"):
            load_reward_model(tiny.opt, device="cpu")  # a causal LM checkpoint: 2 labels by default
        reward = load_reward_model(tiny.reward, device="cpu", dtype="float64")
        assert reward.model.config.num_labels == 1


class TestDevicesAndDtypes:
    def test_cpu_and_auto(self):
        assert resolve_device("cpu") == torch.device("cpu")
        assert resolve_device("auto").type in ("cpu", "cuda", "mps")

    @pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
    def test_cuda_requested_but_missing(self):
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")

    def test_unknown_device(self):
        with pytest.raises(ValueError, match="device must be"):
            resolve_device("tpu")

    def test_dtypes(self):
        cpu = torch.device("cpu")
        assert resolve_dtype("auto", cpu) == torch.float32
        assert resolve_dtype("bfloat16", cpu) == torch.bfloat16
        with pytest.raises(ValueError, match="dtype must be"):
            resolve_dtype("float8", cpu)
        with pytest.raises(ValueError, match="not supported on MPS"):
            resolve_dtype("float64", torch.device("mps"))

    def test_accumulation(self):
        cpu, mps = torch.device("cpu"), torch.device("mps")
        assert accumulation_dtype(torch.float32, cpu) == torch.float64
        assert accumulation_dtype(torch.float64, cpu) == torch.float64
        assert accumulation_dtype(torch.bfloat16, cpu) == torch.float32
        assert accumulation_dtype(torch.float32, mps) == torch.float32
        assert accumulation_dtype(torch.bfloat16, cpu, "float64") == torch.float64
        with pytest.raises(ValueError, match="float32' or 'float64"):
            accumulation_dtype(torch.float32, cpu, "bfloat16")

    def test_check_pad_token(self):
        class NoPad:
            pad_token_id = None

        with pytest.raises(ValueError, match="pad_token='eos'"):
            check_pad_token(NoPad())
