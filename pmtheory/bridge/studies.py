"""The computations behind the BRG claims, the bridge figures and ``pmtheory bridge check``.

Each study loads models through the real ``from_pretrained`` path (:class:`BridgeSetup`
says which: by default the tiny OPT and Llama of :mod:`pmtheory.bridge.tiny`, built once per
process, on CPU in float64), runs the bridge functions and returns a frozen dataclass of
numbers. The claim checks (:mod:`pmtheory.bridge.claims`) decide verdicts from these
numbers, the figures (:mod:`pmtheory.bridge.figures`) plot them, and the CLI reports them,
so all three see the same computation.

Real weights: ``BridgeSetup(policies=(("model", PATH),), reward_model=RPATH, device=...,
dtype=...)`` (``pmtheory bridge check --model PATH`` builds it; ``pmtheory verify`` reads the
environment variables ``PMTHEORY_BRIDGE_MODEL``, ``PMTHEORY_BRIDGE_REWARD_MODEL``,
``PMTHEORY_BRIDGE_DEVICE``, ``PMTHEORY_BRIDGE_DTYPE``). With a real model the training
studies train only the output layer (``trainable="head"``): the natural-gradient optimizer
needs the Jacobian of N·K log-probabilities in the trained parameters.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = [
    "BridgeSetup",
    "LengthStudy",
    "ModStudy",
    "SequenceStudy",
    "TrainedPolicy",
    "current_setup",
    "length_study",
    "load_policy",
    "load_reward",
    "mod_figure_data",
    "mod_fit",
    "mod_rows",
    "mod_study",
    "policy_path",
    "response_set_problem",
    "sequence_study",
    "study_threads",
    "train_policy",
    "use_setup",
]

_ENVIRONMENT = {
    "model": "PMTHEORY_BRIDGE_MODEL",
    "reward_model": "PMTHEORY_BRIDGE_REWARD_MODEL",
    "device": "PMTHEORY_BRIDGE_DEVICE",
    "dtype": "PMTHEORY_BRIDGE_DTYPE",
}


def require_bridge() -> None:
    """Raise a clear error when torch or transformers is missing (the BRG checks need both)."""
    import importlib.util

    for name in ("torch", "transformers"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a broken or blocked installation counts as missing
            spec = None
        if spec is None:
            raise ModuleNotFoundError(
                f"pmtheory.bridge (the BRG checks, pmtheory bridge) needs the bridge extra ({name} is not installed): "
                "python -m pip install -e '.[bridge]'",
                name=name,
            )


@dataclass(frozen=True)
class BridgeSetup:
    """Which models the bridge studies use."""

    policies: tuple[tuple[str, str], ...] | None = None  # (label, directory) pairs; None: tiny OPT and Llama
    reward_model: str | None = None  # reward-model directory; None: the tiny reward model
    device: str = "cpu"  # "cpu", "cuda", "mps" or "auto"
    dtype: str = "float64"  # model dtype ("float64" for exact convergence checks on tiny models)
    prompts: tuple[str, ...] | None = None  # prompts; None: pmtheory.bridge.tiny.TINY_PROMPTS
    trainable: str = "all"  # "all" parameters or only the output "head" in training studies
    threads: int | None = None  # torch CPU threads during the studies; None: 1 for the tiny models, else torch's
    # Extra from_pretrained options for every model loaded (trust_remote_code, revision,
    # local_files_only, pad_token), as (name, value) pairs so that the setup stays hashable.
    load_options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        # Tuples, so that a setup given lists still hashes (the BRG checks cache studies per setup).
        if self.policies is not None:
            object.__setattr__(self, "policies", tuple(tuple(pair) for pair in self.policies))
        if self.prompts is not None:
            object.__setattr__(self, "prompts", tuple(self.prompts))
        options = tuple(sorted(dict(self.load_options).items()))
        unknown = {name for name, _ in options} - {"trust_remote_code", "revision", "local_files_only", "pad_token"}
        if unknown:
            raise ValueError(f"load_options may set trust_remote_code, revision, local_files_only and pad_token, "
                             f"got {sorted(unknown)}")
        object.__setattr__(self, "load_options", options)
        if self.trainable not in ("all", "head"):
            raise ValueError(f"trainable must be 'all' or 'head', got {self.trainable!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"threads must be a positive int or None (torch's default), got {self.threads!r}")

    @property
    def is_tiny(self) -> bool:
        """Whether the default tiny models are used."""
        return self.policies is None

    @classmethod
    def from_environment(cls) -> BridgeSetup:
        """The default setup, overridden by the PMTHEORY_BRIDGE_* environment variables."""
        model = os.environ.get(_ENVIRONMENT["model"])
        setup = cls()
        if model:
            setup = replace(setup, policies=(("model", model),), dtype="auto", trainable="head")
        reward = os.environ.get(_ENVIRONMENT["reward_model"])
        if reward:
            setup = replace(setup, reward_model=reward)
        for key in ("device", "dtype"):
            value = os.environ.get(_ENVIRONMENT[key])
            if value:
                setup = replace(setup, **{key: value})
        return setup

    def policy_paths(self) -> tuple[tuple[str, str], ...]:
        """(label, directory) of each policy (building the tiny models if needed)."""
        if self.policies is not None:
            return self.policies
        from pmtheory.bridge.tiny import tiny_model_paths

        paths = tiny_model_paths()
        return (("opt", str(paths.opt)), ("llama", str(paths.llama)))

    def reward_path(self) -> str:
        """The reward model's directory (building the tiny one if needed)."""
        if self.reward_model is not None:
            return self.reward_model
        if self.policies is not None:
            raise ValueError("a reward model is needed for this study: pass --reward-model (or set "
                             "PMTHEORY_BRIDGE_REWARD_MODEL) together with a real policy model")
        from pmtheory.bridge.tiny import tiny_model_paths

        return str(tiny_model_paths().reward)

    def prompt_list(self) -> list[str]:
        """The prompts."""
        if self.prompts is not None:
            return list(self.prompts)
        from pmtheory.bridge.tiny import TINY_PROMPTS

        return list(TINY_PROMPTS)

    def describe(self) -> dict:
        """JSON-able description."""
        return {"policies": [list(p) for p in self.policies] if self.policies else "tiny opt and llama",
                "reward_model": self.reward_model or ("tiny" if self.is_tiny else None),
                "device": self.device, "dtype": self.dtype, "trainable": self.trainable}


_CURRENT: list[BridgeSetup] = []


def current_setup() -> BridgeSetup:
    """The setup in use: the innermost :func:`use_setup`, else the environment's."""
    return _CURRENT[-1] if _CURRENT else BridgeSetup.from_environment()


@contextlib.contextmanager
def use_setup(setup: BridgeSetup):
    """Run the studies (and the BRG checks) with ``setup`` inside the block."""
    _CURRENT.append(setup)
    try:
        yield setup
    finally:
        _CURRENT.pop()


@contextlib.contextmanager
def study_threads(setup: BridgeSetup):
    """torch CPU threads for the studies of ``setup`` (see :attr:`BridgeSetup.threads`)."""
    threads = setup.threads if setup.threads is not None else (1 if setup.is_tiny else None)
    if threads is None or setup.device != "cpu":
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def policy_path(setup: BridgeSetup, label: str) -> str:
    """The directory of the policy called ``label`` in the setup."""
    for name, path in setup.policy_paths():
        if name == label:
            return path
    raise ValueError(f"no policy called {label!r} in the setup ({[n for n, _ in setup.policy_paths()]})")


def load_policy(setup: BridgeSetup, path: str, *, dtype: str | None = None):
    """Load a policy with the setup's device and dtype (a fresh copy each call)."""
    from pmtheory.bridge.loading import load_causal_lm

    return load_causal_lm(path, device=setup.device, dtype=dtype or setup.dtype, **dict(setup.load_options))


def load_reward(setup: BridgeSetup):
    """Load the reward model (float64 on CPU for the tiny one)."""
    from pmtheory.bridge.loading import load_reward_model

    return load_reward_model(setup.reward_path(), device=setup.device,
                             dtype="float64" if setup.is_tiny else setup.dtype, **dict(setup.load_options))


# ----------------------------------------------------------------------------------------
# BRG-SEQ
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequenceStudy:
    """Batched vs looped vs prefix-by-prefix sequence log-probabilities."""

    rows: list  # dicts: label, dtype, padding_side, batch_size, pairs, max_abs / max_rel batched vs loop
    chain_rule: list  # dicts: label, dtype, max_abs / max_rel prefix-by-prefix vs loop, max_abs_log_prob
    half_precision: list  # dicts: label, dtype "bfloat16", max_abs / max_rel batched vs loop (no bar)
    pairs: int  # (prompt, response) pairs scored per configuration
    # Per (label, dtype): the loop's log π(y|x) (P,) and the chain rule's terms computed
    # literally, one forward pass per prefix, for each alignment in PREFIX_SHIFTS: terms[shift]
    # is a list of P arrays whose t-th entry is log p(y_t | x, y_<t+shift) (shift 0: the chain
    # rule; shift 1: the distribution that has already seen y_t).
    loop_values: dict = field(default_factory=dict)  # (label, dtype) -> (P,) float64
    prefix_terms: dict = field(default_factory=dict)  # (label, dtype) -> {shift: [P arrays]}
    # Per label (float64 model): the enumerable space W^L of a few allowed tokens, next-token
    # distributions restricted to W. "terms": {shift: (S, L)} as above, from the prefixes;
    # "library": (S,) sequence_log_probs(..., allowed_token_ids=W), batched.
    enumeration: dict = field(default_factory=dict)


# Alignments of the literal chain-rule terms the study records (see SequenceStudy).
PREFIX_SHIFTS = (0, 1)
# The enumerable space of the BRG-SEQ normalization check: |W| tokens, responses of L tokens.
ENUMERATION_TOKENS = 4
ENUMERATION_LENGTH = 3


def _sequence_pairs(lm, prompts: list[str], *, seed: int):
    """Prompts with two of the model's own samples (ids, up to 32 tokens) and one text response each."""
    from pmtheory.bridge.sampling import sample_responses

    sampled = sample_responses(lm.model, lm.tokenizer, prompts, num_samples=2, max_new_tokens=32, seed=seed)
    pair_prompts, pair_responses = [], []
    for prompt, row in zip(prompts, sampled.response_ids):
        for response in row:
            pair_prompts.append(prompt)
            pair_responses.append(list(response))
        pair_prompts.append(prompt)
        pair_responses.append(" and it was very good")
    return pair_prompts, pair_responses


def _last_log_softmax(model, ids, accumulate, allowed=None):
    """log softmax of the last position's logits for a batch of equal-length id rows (B, V or W)."""
    import torch

    from pmtheory.bridge.loading import input_device

    device = input_device(model)
    batch = torch.as_tensor(ids, dtype=torch.long, device=device)
    logits = model(input_ids=batch, use_cache=False).logits[:, -1]
    if allowed is not None:
        logits = logits.index_select(-1, torch.as_tensor(list(allowed), dtype=torch.long, device=device))
    return torch.log_softmax(logits.to(accumulate), dim=-1).double().cpu().numpy()


def prefix_chain_terms(model, tokenizer, prompts, responses) -> dict:
    """The chain rule's terms computed literally: {shift: [P arrays of length |y|]}.

    For each pair the model is run on every prefix (x, y_<j), j = 1..|y|+1, alone (no padding,
    no batching), and only the last position's next-token distribution L_j is read:
    terms[0][t] = L_t[y_t] = log p(y_t | x, y_<t) and terms[1][t] = L_{t+1}[y_t] (the
    distribution one token later, which has already seen y_t). Accumulated in float64 (as the
    library does for float32 and float64 models).
    """
    import torch

    from pmtheory.bridge.loading import accumulation_dtype, input_device
    from pmtheory.bridge.logprobs import encode_pairs, model_vocab_size

    parameter = next(model.parameters())
    accumulate = accumulation_dtype(parameter.dtype, input_device(model))
    pairs = encode_pairs(tokenizer, prompts, responses, vocab_size=model_vocab_size(model))
    terms = {shift: [] for shift in PREFIX_SHIFTS}
    with torch.no_grad():
        for pair in pairs:
            ids = pair.prompt_ids + pair.response_ids
            n, m = len(pair.response_ids), len(pair.prompt_ids)
            rows = np.stack([_last_log_softmax(model, [ids[:m + j]], accumulate)[0] for j in range(n + 1)])
            response = np.asarray(pair.response_ids)
            for shift in PREFIX_SHIFTS:
                terms[shift].append(rows[np.arange(n) + shift, response])
    return terms


def _enumeration(lm, prompt: str, *, tokens: int = ENUMERATION_TOKENS, length: int = ENUMERATION_LENGTH) -> dict:
    """BRG-SEQ's enumerable space: W = the ``tokens`` most probable non-special next tokens of
    the prompt, every response of ``length`` tokens over W, next-token distributions restricted
    to W (renormalized). Returns {"allowed", "length", "sequences", "terms": {shift: (S, L)},
    "library": (S,), "accumulate_dtype"} (the dtype of the log-softmax and of the library's
    sums over tokens, on which the normalization's rounding depends); the terms come from one
    forward pass per distinct prefix (depth by depth, no padding), the library values from the
    batched :func:`sequence_log_probs`."""
    import itertools

    import torch

    from pmtheory.bridge.loading import accumulation_dtype, input_device
    from pmtheory.bridge.logprobs import encode_pairs, model_vocab_size, sequence_log_probs

    model, tokenizer = lm.model, lm.tokenizer
    accumulate = accumulation_dtype(next(model.parameters()).dtype, input_device(model))
    prompt_ids = list(encode_pairs(tokenizer, [prompt], [[0]], vocab_size=model_vocab_size(model))[0].prompt_ids)
    special = set(tokenizer.all_special_ids)
    with torch.no_grad():
        first = _last_log_softmax(model, [prompt_ids], accumulate)[0]
        allowed = [int(t) for t in np.argsort(-first, kind="stable") if int(t) not in special][:tokens]
        tables = []  # tables[d][index of the depth-d prefix over W] = restricted log-softmax (W,)
        for depth in range(length + 1):
            prefixes = [prompt_ids + [allowed[i] for i in combo]
                        for combo in itertools.product(range(tokens), repeat=depth)]
            tables.append(_last_log_softmax(model, prefixes, accumulate, allowed))
    combos = np.asarray(list(itertools.product(range(tokens), repeat=length)), dtype=np.int64)
    terms = {shift: np.zeros(combos.shape) for shift in PREFIX_SHIFTS}
    for t in range(length):
        for shift in PREFIX_SHIFTS:
            depth = t + shift  # the prefix y_<t+shift, an index in base |W|
            index = np.zeros(len(combos), dtype=np.int64)
            for d in range(depth):
                index = index * tokens + combos[:, d]
            terms[shift][:, t] = tables[depth][index, combos[:, t]]
    sequences = [[allowed[i] for i in combo] for combo in combos]
    library = sequence_log_probs(model, tokenizer, [prompt] * len(sequences), sequences, allowed_token_ids=allowed,
                                 batch_size=len(sequences)).double().cpu().numpy()
    return {"allowed": allowed, "length": length, "sequences": len(sequences), "terms": terms, "library": library,
            "accumulate_dtype": _dtype_name(accumulate)}


def _dtype_name(dtype) -> str:
    """'float64' for torch.float64 (the keys of the claim checks' per-dtype bars)."""
    return str(dtype).removeprefix("torch.")


def _differences(values, reference) -> dict:
    """max |Δ| and max |Δ|/max(1, |log π|) over the pairs."""
    difference = (values - reference).abs().double()
    scale = reference.abs().double().clamp(min=1.0)
    return {"max_abs": float(difference.max()), "max_rel": float((difference / scale).max())}


def sequence_study(setup: BridgeSetup, *, quick: bool, seed: int = 0) -> SequenceStudy:
    """BRG-SEQ: per policy, dtype (float32, float64), padding side and batch size, the largest
    |batched − loop| (absolute and relative to max(1, |log π|)) and, per dtype, the same for
    the prefix-by-prefix chain rule; bfloat16 (float32 accumulation) as evidence only. Also the
    chain rule's literal terms (:func:`prefix_chain_terms`) and, per policy in its last dtype
    (float64 on CPU/CUDA), the enumerable space of :func:`_enumeration`."""
    import torch

    from pmtheory.bridge.logprobs import sequence_log_probs, sequence_log_probs_loop

    prompts = setup.prompt_list()[: 4 if quick else 8]
    rows, chain, half = [], [], []
    loop_values, prefix_terms, enumeration = {}, {}, {}
    device_type = setup.device.split(":")[0]
    dtypes = ("float32", "float64") if device_type in ("cpu", "cuda") else ("float32",)
    with study_threads(setup):
        for label, path in setup.policy_paths():
            pairs = None
            for dtype in dtypes:
                lm = load_policy(setup, path, dtype=dtype)
                if pairs is None:
                    pairs = _sequence_pairs(lm, prompts, seed=seed)
                count = len(pairs[0])
                loop = sequence_log_probs_loop(lm.model, lm.tokenizer, *pairs)
                for side in ("left", "right"):
                    for batch_size in ((2, 8, count) if quick else (1, 2, 3, 8, 16, count)):
                        batched = sequence_log_probs(lm.model, lm.tokenizer, *pairs, batch_size=batch_size,
                                                     padding_side=side)
                        difference = _differences(batched, loop)
                        rows.append({"label": label, "dtype": dtype, "padding_side": side, "batch_size": batch_size,
                                     "pairs": count, "max_abs_batched_vs_loop": difference["max_abs"],
                                     "max_rel_batched_vs_loop": difference["max_rel"]})
                terms = prefix_chain_terms(lm.model, lm.tokenizer, *pairs)
                loop_values[(label, dtype)] = loop.double().cpu().numpy()
                prefix_terms[(label, dtype)] = terms
                prefix = torch.tensor([float(np.sum(values)) for values in terms[0]], dtype=torch.float64)
                difference = _differences(prefix, loop.double().cpu())
                chain.append({"label": label, "dtype": dtype, "max_abs_prefix_vs_loop": difference["max_abs"],
                              "max_rel_prefix_vs_loop": difference["max_rel"],
                              "max_abs_log_prob": float(loop.abs().max())})
                if dtype == dtypes[-1]:
                    enumeration[label] = {**_enumeration(lm, prompts[0]), "dtype": dtype}
            if device_type in ("cpu", "cuda"):
                lm = load_policy(setup, path, dtype="bfloat16")
                loop = sequence_log_probs_loop(lm.model, lm.tokenizer, *pairs)
                batched = sequence_log_probs(lm.model, lm.tokenizer, *pairs, batch_size=len(pairs[0]),
                                             padding_side="left")
                difference = _differences(batched, loop)
                half.append({"label": label, "dtype": "bfloat16", "accumulate_dtype": str(batched.dtype)[6:],
                             "max_abs_batched_vs_loop": difference["max_abs"],
                             "max_rel_batched_vs_loop": difference["max_rel"]})
    return SequenceStudy(rows=rows, chain_rule=chain, half_precision=half, pairs=len(pairs[0]),
                         loop_values=loop_values, prefix_terms=prefix_terms, enumeration=enumeration)


# ----------------------------------------------------------------------------------------
# BRG-LEN
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LengthStudy:
    """Binary reference and reward preferences on pairs of the model's own samples."""

    label: str  # which policy
    pileup: object  # pmtheory.bridge.checks.LengthPileup
    settings: dict  # the generation settings (GenerationSettings.to_dict())
    finished_fraction: float  # fraction of samples that ended with EOS
    mean_length: float  # mean response length in tokens
    prompt_ids: tuple = ()  # N prompts as token ids
    response_ids: tuple = ()  # N × 2P sampled responses as token ids (pairs: columns 2j, 2j+1)
    rewards: np.ndarray | None = None  # (N, 2P) reward-model scores
    lengths: np.ndarray | None = None  # (N, 2P) response lengths


def length_study(setup: BridgeSetup, label: str, path: str, *, pairs_per_prompt: int, max_new_tokens: int = 16,
                 seed: int = 0) -> LengthStudy:
    """BRG-LEN / Fig 3-4: sample 2·P responses per prompt from π_ref (T = 1, no truncation),
    pair them up, and compute p_ref(y1), p_reward(y1) and the pile-up by |Δ length|."""
    from pmtheory.bridge.checks import length_pileup
    from pmtheory.bridge.rewards import reward_model_scores
    from pmtheory.bridge.sampling import sample_responses

    prompts = setup.prompt_list()
    with study_threads(setup):
        lm = load_policy(setup, path)
        reward = load_reward(setup)
        sampled = sample_responses(lm.model, lm.tokenizer, prompts, num_samples=2 * pairs_per_prompt,
                                   max_new_tokens=max_new_tokens, seed=seed)
        text_prompts, text_responses = sampled.text_pairs(prompts)
        rewards = reward_model_scores(reward.model, reward.tokenizer, text_prompts, text_responses).reshape(
            sampled.log_probs.shape)
    log_probs, lengths = sampled.log_probs, sampled.lengths
    pileup = length_pileup(log_probs[:, 0::2].ravel(), log_probs[:, 1::2].ravel(), rewards[:, 0::2].ravel(),
                           rewards[:, 1::2].ravel(), lengths[:, 0::2].ravel(), lengths[:, 1::2].ravel())
    return LengthStudy(label=label, pileup=pileup, settings=sampled.settings.to_dict(),
                       finished_fraction=float(sampled.finished.mean()), mean_length=float(lengths.mean()),
                       prompt_ids=sampled.prompt_ids, response_ids=sampled.response_ids, rewards=rewards,
                       lengths=lengths)


# ----------------------------------------------------------------------------------------
# BRG-KL, BRG-CPM
# ----------------------------------------------------------------------------------------


def response_set_problem(setup: BridgeSetup, path: str, *, prompts: int, set_size: int = 8,
                         max_new_tokens: int = 6, seed: int = 1):
    """(ResponseSet, ResponseSetProblem): K distinct samples of π_ref per prompt, rewards from
    the reward model, the reference's log-probabilities (float64)."""
    from pmtheory.bridge.checks import sample_response_set
    from pmtheory.bridge.rewards import reward_model_scores
    from pmtheory.bridge.training import ResponseSetProblem

    with study_threads(setup):
        lm = load_policy(setup, path)
        reward = load_reward(setup)
        response_set = sample_response_set(lm.model, lm.tokenizer, setup.prompt_list()[:prompts], set_size=set_size,
                                           max_new_tokens=max_new_tokens, seed=seed)
        prompt_texts = [p for p in setup.prompt_list()[:prompts] for _ in range(set_size)]
        texts = [t for row in response_set.texts for t in row]
        rewards = reward_model_scores(reward.model, reward.tokenizer, prompt_texts, texts).reshape(response_set.shape)
    return response_set, ResponseSetProblem.from_response_set(response_set, rewards)


@dataclass(frozen=True)
class TrainedPolicy:
    """A policy trained on a response set, and how close it came to the closed form."""

    label: str  # which policy architecture
    objective: dict  # RLHFObjective.to_dict()
    estimator: str  # "exact" or "reinforce"
    log_policy: np.ndarray  # (N, K) trained log π^S_θ
    target: np.ndarray  # (N, K) the closed form (library formulas)
    max_abs_log_error: float  # max |log π^S_θ − log π*|
    total_variation: float  # max over prompts of TV(π^S_θ, π*)
    max_abs_log_error_high_mass: float  # max |Δ log π| over responses with π* ≥ HIGH_MASS
    steps: int  # optimizer steps
    seconds: float  # training time
    converged: bool  # the optimizer's own convergence test passed
    stop_reason: str  # "converged", "stalled" or "max_steps"
    training: dict = field(default_factory=dict)  # the TrainingConfig settings
    residuals: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (steps,) max|ρ| per step
    tolerance: float = 0.0  # the residual below which it counts as converged (TrainingConfig.tolerance_for)
    notes: tuple[str, ...] = ()  # TrainingResult.notes (e.g. Adam ran instead of the natural optimizer)
    peak_memory: dict = field(default_factory=dict)  # TrainingResult.peak_memory
    dtype: str = ""  # the trained parameters' dtype


# Responses whose optimal probability is at least this are "high mass" in the sampled
# estimator's tolerance (a sampled estimator rarely draws the rest, so their log-probability
# is barely constrained by the samples).
HIGH_MASS = 0.05


def train_policy(setup: BridgeSetup, label: str, path: str, problem, objective, config) -> TrainedPolicy:
    """Load a fresh copy of the policy, train it on ``problem`` and compare with the closed form."""
    from pmtheory.bridge.training import select_trainable, target_log_policy, train_on_response_set

    target = target_log_policy(objective, problem)
    with study_threads(setup):
        lm = load_policy(setup, path)
        select_trainable(lm.model, setup.trainable)
        dtype = next(p.dtype for p in lm.model.parameters() if p.requires_grad)
        result = train_on_response_set(lm.model, lm.tokenizer, problem, objective, config)
    error = np.abs(result.log_policy - target)
    optimum = np.exp(target)
    tv = 0.5 * np.abs(np.exp(result.log_policy) - optimum).sum(axis=-1)
    high = optimum >= HIGH_MASS
    return TrainedPolicy(label=label, objective=objective.to_dict(), estimator=config.estimator,
                         log_policy=result.log_policy, target=target, max_abs_log_error=float(error.max()),
                         total_variation=float(tv.max()),
                         max_abs_log_error_high_mass=float(error[high].max()) if high.any() else 0.0,
                         steps=result.steps, seconds=result.seconds, converged=result.converged,
                         stop_reason=result.stop_reason,
                         training=result.config, residuals=result.residuals, tolerance=config.tolerance_for(dtype),
                         notes=result.notes, peak_memory=result.peak_memory,
                         dtype=str(dtype).removeprefix("torch."))


# ----------------------------------------------------------------------------------------
# BRG-MOD
# ----------------------------------------------------------------------------------------

# The enumerable space of the MOD study: responses of _MOD_LENGTH tokens over these words.
MOD_WORDS = ("yes", "no", "good", "bad")
_MOD_LENGTH = 3


def mod_reward_yes(prompt: str, response: str) -> float:
    """Reward 1 of the MOD study: +1 per "yes", −0.5 per "no"."""
    words = response.split()
    return words.count("yes") - 0.5 * words.count("no")


def mod_reward_good(prompt: str, response: str) -> float:
    """Reward 2 of the MOD study: +1 per "good", +1.5 if the response ends with "bad"."""
    words = response.split()
    return words.count("good") + (1.5 if words and words[-1] == "bad" else 0.0)


@dataclass(frozen=True)
class ModStudy:
    """MOD on an enumerable sequence space of fine-tuned causal LMs."""

    label: str  # the reference architecture
    sequences: int  # |W|^L
    reference_normalization: float  # |log Σ_y π_ref(y)| over the space (0 up to rounding)
    fine_tune_errors: list  # per objective i: max |log π_i − log π_i*| after fine-tuning
    bound: float  # 2·max_i fine-tune error: the gap sequence-level MOD may show from fine-tuning alone
    rows: list  # per weight vector: sequence/token-level gaps, greedy agreement, TV
    model_dtype: str  # the loaded policy's parameter dtype (setup.dtype may be "auto")
    accumulate_dtype: str  # the dtype of the log-softmax and the sums over tokens of log π_ref
    generation: dict = field(default_factory=dict)  # mod_generation_evidence of the fine-tuned models


def _mod_fit(setup: BridgeSetup, path: str, *, seed: int) -> dict:
    """Enumerate the space, fine-tune one copy of the policy per reward, collect log-probabilities."""
    from scipy.special import logsumexp

    from pmtheory.bridge.decoding import enumerate_sequences, prefix_log_probs
    from pmtheory.bridge.loading import accumulation_dtype, input_device
    from pmtheory.bridge.logprobs import sequence_log_probs
    from pmtheory.bridge.rewards import function_rewards
    from pmtheory.bridge.training import (
        ResponseSetProblem,
        RLHFObjective,
        TrainingConfig,
        train_on_response_set,
    )
    from pmtheory.pmr.rlhf import kl_rlhf_log_policy

    prompt = setup.prompt_list()[0]
    with study_threads(setup):
        reference = load_policy(setup, path)
        tokenizer = reference.tokenizer
        model_dtype = next(reference.model.parameters()).dtype
        accumulate = accumulation_dtype(model_dtype, input_device(reference.model))  # sequence_log_probs' default
        allowed = [tokenizer.convert_tokens_to_ids(w) for w in MOD_WORDS]
        if any(t is None or t == tokenizer.unk_token_id for t in allowed):
            raise ValueError(f"the tokenizer of {path} has no single tokens for {MOD_WORDS}")
        sequences = enumerate_sequences(allowed, _MOD_LENGTH)
        texts = [tokenizer.decode(list(s), skip_special_tokens=True) for s in sequences]
        log_ref = sequence_log_probs(reference.model, tokenizer, [prompt] * len(sequences),
                                     [list(s) for s in sequences], allowed_token_ids=allowed,
                                     batch_size=len(sequences)).double().cpu().numpy()
        normalization = float(abs(logsumexp(log_ref)))
        log_ref = log_ref - logsumexp(log_ref)
        rewards = np.stack([function_rewards(fn, [prompt] * len(texts), texts)
                            for fn in (mod_reward_yes, mod_reward_good)])
        fine_tuned, errors, prefix, models = [], [], [], []
        for index in range(len(rewards)):
            problem = ResponseSetProblem(prompt_ids=(tuple(tokenizer(prompt)["input_ids"]),),
                                         response_ids=(tuple(tuple(int(t) for t in s) for s in sequences),),
                                         rewards=rewards[index][None], log_probs_ref=log_ref[None],
                                         allowed_token_ids=tuple(allowed))
            policy = load_policy(setup, path)
            result = train_on_response_set(policy.model, tokenizer, problem, RLHFObjective("kl", beta=1.0),
                                           TrainingConfig(estimator="exact", max_steps=60, seed=seed, progress=False,
                                                          batch_size=len(sequences)))
            optimum = kl_rlhf_log_policy(rewards[index], log_ref, 1.0)
            fine_tuned.append(result.log_policy[0])
            errors.append(float(np.abs(result.log_policy[0] - optimum).max()))
            prefix.append(prefix_log_probs(policy.model, tokenizer, prompt, sequences, allowed))
            models.append(policy.model)
        generation = mod_generation_evidence(reference.model, tokenizer, models, setup.prompt_list()[:MOD_PROMPTS])
    return {"sequences": sequences, "texts": texts, "allowed": allowed, "log_ref": log_ref, "rewards": rewards,
            "normalization": normalization, "log_policies": np.stack(fine_tuned), "prefix": np.stack(prefix),
            "errors": errors, "model_dtype": _dtype_name(model_dtype), "accumulate_dtype": _dtype_name(accumulate),
            "generation": generation}


# Real generation in the BRG-MOD study: prompts, tokens per response, and the divergences whose
# published rules (the JSD "shortcut" and the α branch) are compared with the exact rule.
MOD_PROMPTS = 4
MOD_NEW_TOKENS = 8
MOD_GENERATION_DIVERGENCES = ("js", "alpha:0.5")


def mod_generation_evidence(reference_model, tokenizer, base_models, prompts, *, weights=(0.5, 0.5)) -> dict:
    """Greedy ``generate`` with :class:`pmtheory.bridge.MODLogitsProcessor` over the full
    vocabulary (π_ref = ``reference_model``, the base policies ``base_models``), one prompt at a
    time, for each of :data:`MOD_GENERATION_DIVERGENCES`: the largest KKT residual of the exact
    Prop 1 solve over every generated step, and how often the published code's rule for the
    divergence (and eq 7's product rule) picks a different token from the exact rule at the same
    prefix. Returns {divergence: {"steps", "max_kkt_residual", "published_differs",
    "product_differs", "row_steps", "published_rate", "generations"}}.
    """
    import torch

    from pmtheory.bridge.loading import input_device
    from pmtheory.bridge.mod_processor import MODLogitsProcessor

    out = {}
    for divergence in MOD_GENERATION_DIVERGENCES:
        processor = MODLogitsProcessor(list(base_models), list(weights), reference=reference_model,
                                       divergence=divergence)
        generations = []
        for prompt in prompts:
            ids = torch.tensor([tokenizer(prompt)["input_ids"]], device=input_device(reference_model))
            with torch.no_grad():
                output = reference_model.generate(ids, attention_mask=torch.ones_like(ids),
                                                  logits_processor=[processor], do_sample=False,
                                                  max_new_tokens=MOD_NEW_TOKENS, pad_token_id=tokenizer.pad_token_id)
            generations.append(tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True))
        rows = sum(d["rows"] for d in processor.disagreements)
        published = sum(d["published"] or 0 for d in processor.disagreements)
        out[divergence] = {"steps": len(processor.certificates),
                           "max_kkt_residual": float(max(processor.certificates, default=0.0)),
                           "published_differs": int(published),
                           "product_differs": int(sum(d["product"] for d in processor.disagreements)),
                           "row_steps": int(rows), "published_rate": published / rows if rows else 0.0,
                           "generations": generations}
    return out


def mod_fit(setup: BridgeSetup, path: str, *, seed: int = 0) -> dict:
    """The fine-tuned models of the BRG-MOD study (:func:`_mod_fit`), for :func:`mod_rows`."""
    return _mod_fit(setup, path, seed=seed)


def _mod_rules(fit: dict, weights, *, target_weights=None, combination: str = "geometric") -> dict:
    """The exact optimum and the MOD rules for one weight vector, as log-probabilities (S,).

    ``target_weights`` (default ``weights``): the weights of the reward Σ w_i r_i whose
    retrained optimum "exact" is; ``combination``: how "sequence" combines the fine-tuned
    policies, "geometric" (Prop 1 for reverse KL: π ∝ π_ref·Π (π_i/π_ref)^{w_i}, eq 7) or
    "arithmetic" (the mixture Σ w_i π_i, a rule MOD does not use).
    """
    from pmtheory.bridge.decoding import token_level_greedy, token_level_log_policy
    from pmtheory.mod import optimal_log_policy
    from pmtheory.mod.decoding import product_rule_log_scores, sampling_policy
    from pmtheory.pmr.rlhf import kl_rlhf_log_policy

    weights = np.asarray(weights, dtype=np.float64)
    target = weights if target_weights is None else np.asarray(target_weights, dtype=np.float64)
    if combination == "geometric":
        sequence = optimal_log_policy(fit["log_policies"], weights, fit["log_ref"], divergence="reverse_kl").log_policy
    elif combination == "arithmetic":
        from scipy.special import logsumexp

        sequence = logsumexp(fit["log_policies"] + np.log(weights)[:, None], axis=0)
    else:
        raise ValueError(f"combination must be 'geometric' or 'arithmetic', got {combination!r}")
    return {
        "weights": weights,
        "target_weights": target,
        "exact": kl_rlhf_log_policy(target @ fit["rewards"], fit["log_ref"], 1.0),  # retrained optimum for Σ w_i r_i
        "sequence": sequence,
        "eq7": np.log(sampling_policy(product_rule_log_scores(fit["log_policies"], weights))),
        "token": token_level_log_policy(fit["prefix"], weights, fit["sequences"], fit["allowed"]),
        "greedy": token_level_greedy(fit["prefix"], weights, fit["sequences"], fit["allowed"]),
        "sequences": len(fit["sequences"]),
    }


def mod_rows(fit: dict, weights_list, *, swap_target_weights: bool = False, combination: str = "geometric") -> list:
    """Per weight vector: sequence/token-level gaps to the exact optimum, greedy agreement, TV.

    ``swap_target_weights``: compare with the optimum for the reversed weight vector (a false
    statement the BRG-MOD check must refute); ``combination``: as :func:`_mod_rules`.
    """
    texts = fit["texts"]
    rows = []
    for weights in weights_list:
        target = np.asarray(weights, dtype=np.float64)[::-1] if swap_target_weights else None
        rules = _mod_rules(fit, weights, target_weights=target, combination=combination)
        exact, token = rules["exact"], rules["token"]
        argmax = int(np.argmax(exact))
        rows.append({
            "weights": rules["weights"].tolist(),
            "target_weights": rules["target_weights"].tolist(),
            "combination": combination,
            "sequence_level_prop1_gap": float(np.abs(rules["sequence"] - exact).max()),
            "sequence_level_eq7_gap": float(np.abs(rules["eq7"] - exact).max()),
            "sequence_level_argmax_matches": bool(int(np.argmax(rules["sequence"])) == argmax),
            # Thm 5: how much less likely under the optimum MOD's argmax is than the optimum's (0 if it is it)
            "sequence_level_argmax_log_gap": float(exact[argmax] - exact[int(np.argmax(rules["sequence"]))]),
            "token_level_gap": float(np.abs(token - exact).max()),
            "token_level_total_variation": float(0.5 * np.abs(np.exp(token) - np.exp(exact)).sum()),
            "greedy_sequence": texts[rules["greedy"]],
            "optimal_argmax_sequence": texts[argmax],
            "greedy_matches_argmax": bool(rules["greedy"] == argmax),
        })
    return rows


def mod_study(setup: BridgeSetup, label: str, path: str, *, weights_list, seed: int = 0, fit: dict | None = None,
              swap_target_weights: bool = False, combination: str = "geometric") -> ModStudy:
    """BRG-MOD: fine-tune two copies of the policy by exact KL RLHF (β = 1) on the enumerable
    space for two rewards, then compare MOD (sequence-level Prop 1 and eq 7, token-level
    sampling and greedy decoding) with the exact optimum for Σ w_i r_i. ``fit``: a
    :func:`mod_fit` result to reuse (the fine-tuning is the slow part); the last two arguments
    as :func:`mod_rows`."""
    fit = _mod_fit(setup, path, seed=seed) if fit is None else fit
    rows = mod_rows(fit, weights_list, swap_target_weights=swap_target_weights, combination=combination)
    return ModStudy(label=label, sequences=len(fit["sequences"]), reference_normalization=fit["normalization"],
                    fine_tune_errors=fit["errors"], bound=2.0 * max(fit["errors"]), rows=rows,
                    model_dtype=fit["model_dtype"], accumulate_dtype=fit["accumulate_dtype"],
                    generation=fit.get("generation", {}))


def mod_figure_data(setup: BridgeSetup, label: str, path: str, *, weights, seed: int = 0) -> dict:
    """The log-probabilities the bridge-mod figure plots: exact, sequence-level and token-level MOD."""
    return _mod_rules(_mod_fit(setup, path, seed=seed), weights)
