"""pmtheory.bridge: the theory's checks on causal-LM logits (torch and transformers).

Load a causal LM with the real ``from_pretrained`` path, compute exact sequence
log-probabilities (batched and padded on either side, equal to the per-sequence loop),
sample responses with their settings and both log-probabilities recorded, compute π_ref on a
finite response set, binary preferences and their pile-up with length, rewards from a reward
model or a function, the closed forms (KL RLHF, PM, conditional PM) and the §6.1 metrics on
the set, and train the model's parameters with KL RLHF or conditional PM RLHF (exact
finite-set objective or REINFORCE) with checkpoints and resume.

The bridge needs the optional dependencies torch and transformers (``pip install -e
'.[bridge]'``); accelerate is optional (``device_map="auto"`` for multi-GPU). Importing this
package does not import torch: every public name below is loaded on first use, so that
``pmtheory verify`` can import the BRG checks and report a clear error for them alone when
torch is missing.
"""

from __future__ import annotations

import importlib

# Public name -> module that defines it (imported on first attribute access).
_EXPORTS = {
    "DTYPE_NAMES": "loading",
    "LoadedModel": "loading",
    "load_causal_lm": "loading",
    "load_reward_model": "loading",
    "EncodedPair": "logprobs",
    "TokenLogProbs": "logprobs",
    "encode_pairs": "logprobs",
    "sequence_log_probs": "logprobs",
    "sequence_log_probs_by_prefix": "logprobs",
    "sequence_log_probs_loop": "logprobs",
    "token_log_probs": "logprobs",
    "GenerationSettings": "sampling",
    "SampledResponses": "sampling",
    "sample_responses": "sampling",
    "function_rewards": "rewards",
    "reward_model_scores": "rewards",
    "INDICATORS": "checks",
    "LengthPileup": "checks",
    "ResponseSet": "checks",
    "SetClosedForms": "checks",
    "SetMetrics": "checks",
    "conditional_pm_set_log_policy": "checks",
    "conditional_pm_set_membership": "checks",
    "kl_rlhf_set_log_policy": "checks",
    "length_pileup": "checks",
    "pm_set_log_policy": "checks",
    "sample_response_set": "checks",
    "set_closed_forms": "checks",
    "set_log_reference": "checks",
    "set_metrics": "checks",
    "RLHFObjective": "training",
    "ResponseSetProblem": "training",
    "TrainingConfig": "training",
    "TrainingResult": "training",
    "regularized_rewards": "training",
    "target_log_policy": "training",
    "train_on_response_set": "training",
    "enumerate_sequences": "decoding",
    "prefix_log_probs": "decoding",
    "token_level_greedy": "decoding",
    "token_level_log_policy": "decoding",
    "token_level_step_log_policy": "decoding",
    "MOD_RULES": "mod_processor",
    "MODLogitsProcessor": "mod_processor",
    "BridgeSetup": "studies",
    "use_setup": "studies",
    "build_tiny_tokenizer": "tiny",
    "save_tiny_causal_lm": "tiny",
    "save_tiny_models": "tiny",
    "save_tiny_reward_model": "tiny",
    "tiny_model_paths": "tiny",
    "ThroughputResult": "bench",
    "sequence_log_prob_throughput": "bench",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'pmtheory.bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pmtheory.bridge.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
