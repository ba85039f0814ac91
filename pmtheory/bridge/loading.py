"""Loading causal LMs, reward models and tokenizers through transformers' ``from_pretrained``.

Any causal LM that ``AutoModelForCausalLM`` loads is accepted (OPT and Llama are tested, on
tiny random models from :mod:`pmtheory.bridge.tiny`); reward models are
``AutoModelForSequenceClassification`` models with one output. Models are put in eval mode
on the requested device (``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``) and dtype
(``float32``, ``float64``, ``bfloat16``, ``float16`` or ``auto``: bfloat16 on a GPU that
supports it, float32 elsewhere). Log-probabilities are always accumulated in float32 or
float64 (:func:`accumulation_dtype`: float64 for float32/float64 models, float32 for
bfloat16/float16 ones), never in the model's half-precision dtype.

``device_map="auto"`` shards a large model over several GPUs through ``accelerate``, which
is optional and imported only then; without it that option raises an ImportError saying
how to install it.

Errors are raised before anything is loaded or written: a path that does not exist, a
directory without ``config.json``, a hub id that cannot be fetched (no network), a device
that is not available, float64 on MPS, and a tokenizer without a pad token (unless the
caller opts in to padding with EOS, which is safe because padded positions are masked).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = [
    "DTYPE_NAMES",
    "LoadedModel",
    "accumulation_dtype",
    "check_pad_token",
    "input_device",
    "load_causal_lm",
    "load_reward_model",
    "resolve_device",
    "resolve_dtype",
]

# The dtype names accepted by the loaders and the CLI.
DTYPE_NAMES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' progress bars and info/warning logs for the duration."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device for ``device``: "auto" (or None) picks cuda, then mps, then cpu.

    Raises:
      ValueError: the device is not available on this machine, or the name is not a device.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r} ({error})") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was requested but CUDA is not available here "
                             f"(torch {torch.__version__})")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif resolved.type == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} was requested but MPS is not available here")
    elif resolved.type != "cpu":
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The model dtype for ``dtype`` on ``device``; "auto" (or None): bfloat16 on a CUDA GPU
    that supports it, float32 elsewhere.

    Raises:
      ValueError: an unknown name, or float64 on MPS (which has no float64).
    """
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif isinstance(dtype, str) and dtype in DTYPE_NAMES:
        resolved = DTYPE_NAMES[dtype]
    else:
        raise ValueError(f"dtype must be 'auto' or one of {', '.join(DTYPE_NAMES)}, got {dtype!r}")
    if resolved not in DTYPE_NAMES.values():
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {resolved}")
    if device.type == "mps" and resolved == torch.float64:
        raise ValueError("dtype float64 is not supported on MPS; use float32 (log-probs accumulate in float32 there)")
    return resolved


def accumulation_dtype(model_dtype: torch.dtype, device: torch.device,
                       requested: str | torch.dtype | None = None) -> torch.dtype:
    """The dtype in which log-softmax and the sums over tokens are computed.

    Default: float64 for float32 and float64 models (the logits of the response positions are
    upcast, so a sum of n token log-probabilities of size |log π| is exact to ~n·1e-16·|log π|
    instead of float32's one ulp of |log π|, 2e-6 at |log π| = 24); float32 for bfloat16 and
    float16 models (their logits have 3 significant digits, and a float64 copy of the
    response logits would double the memory for nothing); float32 on MPS (no float64).
    ``requested`` may be "float32" or "float64" (not on MPS).

    Raises:
      ValueError: ``requested`` is not float32/float64, or float64 on MPS.
    """
    if requested is None:
        if device.type == "mps" or model_dtype in (torch.bfloat16, torch.float16):
            return torch.float32
        return torch.float64
    resolved = DTYPE_NAMES.get(requested, requested) if isinstance(requested, str) else requested
    if resolved not in (torch.float32, torch.float64):
        raise ValueError(f"accumulate_dtype must be 'float32' or 'float64', got {requested!r}")
    if device.type == "mps" and resolved == torch.float64:
        raise ValueError("accumulate_dtype float64 is not supported on MPS; use float32")
    return resolved


def input_device(model) -> torch.device:
    """The device the model's input ids must be on (its input embedding's, also when sharded)."""
    return model.get_input_embeddings().weight.device


def check_pad_token(tokenizer, name: str = "tokenizer") -> int:
    """The tokenizer's pad token id; ValueError with the fix when it has none."""
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        raise ValueError(
            f"{name} has no pad token, so batches cannot be padded; load it with "
            "pmtheory.bridge.load_causal_lm(..., pad_token='eos') to pad with the EOS token (padded "
            "positions are masked, so any token id is safe), or set tokenizer.pad_token yourself"
        )
    return int(pad)


def _check_source(source) -> str:
    """Refuse a missing local path before transformers turns it into a hub lookup."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"model must be a local directory or a hub id string, got {type(source).__name__}")
    text = os.fspath(source)
    if not text.strip():
        raise ValueError("model must be a local directory or a hub id, got an empty string")
    path = Path(text).expanduser()
    looks_local = path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1 or os.sep + os.sep in text
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"model path {text!r} is a file; give the directory written by save_pretrained")
        if not (path / "config.json").is_file():
            raise ValueError(f"model directory {text!r} has no config.json; is it a save_pretrained directory?")
        return str(path)
    if looks_local:
        raise FileNotFoundError(f"model path {text!r} does not exist")
    return text


def _pretrained_error(kind: str, source: str, error: Exception) -> OSError:
    return OSError(
        f"could not load the {kind} from {source!r}: {error}. A local path must be a save_pretrained "
        "directory; a hub id needs network access or a filled cache (local_files_only=True uses the cache only)"
    )


@dataclass(frozen=True)
class LoadedModel:
    """A model and tokenizer loaded by :func:`load_causal_lm` or :func:`load_reward_model`."""

    model: object  # the transformers model, in eval mode
    tokenizer: object  # its tokenizer, with a pad token
    source: str  # the directory or hub id it came from
    device: torch.device  # where its inputs go (the input embedding's device)
    dtype: torch.dtype  # the model's parameter dtype
    accumulate_dtype: torch.dtype  # float32 or float64: log-softmax and sums over tokens

    def describe(self) -> dict:
        """JSON-able description: source, class, parameter count, device, dtypes."""
        return {
            "source": self.source,
            "model_class": type(self.model).__name__,
            "model_type": getattr(self.model.config, "model_type", "?"),
            "parameters": int(sum(p.numel() for p in self.model.parameters())),
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "accumulate_dtype": str(self.accumulate_dtype).removeprefix("torch."),
            "max_positions": _max_positions(self.model),
            "tiny_model": _tiny_note(self.model),  # set for pmtheory's tiny random-weight models, else None
        }


def _tiny_note(model) -> str | None:
    from pmtheory.bridge.tiny import tiny_model_note

    return tiny_model_note(getattr(model, "config", None))


def _max_positions(model) -> int | None:
    value = getattr(model.config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) else None


def _load_tokenizer(source: str, *, pad_token: str | None, padding_side: str | None, local_files_only: bool,
                    revision: str | None, trust_remote_code: bool):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only, revision=revision,
                                                  trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise _pretrained_error("tokenizer", source, error) from None
    if tokenizer.pad_token_id is None and pad_token is not None:
        if pad_token == "eos":
            if tokenizer.eos_token is None:
                raise ValueError(f"pad_token='eos' was asked for, but the tokenizer of {source!r} has no EOS "
                                 "token either")
            tokenizer.pad_token = tokenizer.eos_token
        else:
            tokenizer.pad_token = pad_token
    check_pad_token(tokenizer, f"the tokenizer of {source!r}")
    if padding_side is not None:
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        tokenizer.padding_side = padding_side
    return tokenizer


def _load(kind: str, auto_class_name: str, source, *, device, dtype, accumulate_dtype, pad_token, padding_side,
          device_map, local_files_only, revision, trust_remote_code) -> LoadedModel:
    import transformers

    source = _check_source(source)
    if device_map is not None:
        try:
            import accelerate  # noqa: F401  (needed by transformers for device_map)
        except ModuleNotFoundError:
            raise ImportError(
                "device_map needs the optional package accelerate (python -m pip install accelerate); "
                "without it, load on one device with device=..."
            ) from None
        resolved_device = resolve_device("auto" if device in (None, "auto") else device)
    else:
        resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    accumulate = accumulation_dtype(resolved_dtype, resolved_device, accumulate_dtype)
    auto_class = getattr(transformers, auto_class_name)
    with quiet_transformers():
        tokenizer = _load_tokenizer(source, pad_token=pad_token, padding_side=padding_side,
                                    local_files_only=local_files_only, revision=revision,
                                    trust_remote_code=trust_remote_code)
        kwargs = dict(dtype=resolved_dtype, local_files_only=local_files_only, trust_remote_code=trust_remote_code)
        if revision is not None:
            kwargs["revision"] = revision
        if device_map is not None:
            kwargs["device_map"] = device_map
        try:
            model = auto_class.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as error:
            raise _pretrained_error(kind, source, error) from None
    if device_map is None:
        model = model.to(resolved_device)
    model.eval()
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(model=model, tokenizer=tokenizer, source=str(source), device=input_device(model),
                       dtype=resolved_dtype, accumulate_dtype=accumulate)


def load_causal_lm(source, *, device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = "auto",
                   accumulate_dtype: str | torch.dtype | None = None, pad_token: str | None = None,
                   padding_side: str | None = None, device_map: str | dict | None = None,
                   local_files_only: bool = False, revision: str | None = None,
                   trust_remote_code: bool = False) -> LoadedModel:
    """Load a causal LM and its tokenizer with ``AutoModelForCausalLM.from_pretrained``.

    Args:
      source: a save_pretrained directory or a hub id.
      device: "auto", "cpu", "cuda", "cuda:N" or "mps".
      dtype: "auto", "float32", "float64", "bfloat16" or "float16".
      accumulate_dtype: dtype of log-probability accumulation (default: float64 for float32
        and float64 models, float32 for bfloat16/float16 and on MPS).
      pad_token: None (a tokenizer without a pad token is an error), "eos" (pad with EOS)
        or a token string to use as pad token.
      padding_side: override the tokenizer's padding side ("left" or "right").
      device_map: e.g. "auto" to shard over GPUs with accelerate (optional dependency).
      local_files_only, revision, trust_remote_code: passed to ``from_pretrained``.

    Returns:
      :class:`LoadedModel`.

    Raises:
      FileNotFoundError: a local-looking path that does not exist.
      ValueError: a directory without config.json, a tokenizer without pad token, a bad
        device or dtype.
      OSError: transformers could not load it (the message says why and what to check).
      ImportError: device_map without accelerate installed.
    """
    return _load("causal LM", "AutoModelForCausalLM", source, device=device, dtype=dtype,
                 accumulate_dtype=accumulate_dtype, pad_token=pad_token, padding_side=padding_side,
                 device_map=device_map, local_files_only=local_files_only, revision=revision,
                 trust_remote_code=trust_remote_code)


def load_reward_model(source, *, device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = "auto",
                      pad_token: str | None = None, device_map: str | dict | None = None,
                      local_files_only: bool = False, revision: str | None = None,
                      trust_remote_code: bool = False) -> LoadedModel:
    """Load a reward model with ``AutoModelForSequenceClassification.from_pretrained``.

    The model must have exactly one output (``num_labels == 1``): its score of a text is the
    reward. Args, returns and errors as :func:`load_causal_lm`.
    """
    loaded = _load("reward model", "AutoModelForSequenceClassification", source, device=device, dtype=dtype,
                   accumulate_dtype=None, pad_token=pad_token, padding_side=None, device_map=device_map,
                   local_files_only=local_files_only, revision=revision, trust_remote_code=trust_remote_code)
    labels = getattr(loaded.model.config, "num_labels", None)
    if labels != 1:
        raise ValueError(f"the reward model {loaded.source!r} has num_labels={labels}; a reward model has one output")
    return loaded
