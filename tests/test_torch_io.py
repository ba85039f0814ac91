"""torch tensors in and out of the exact solvers (issue 16, section 1; pmtheory._torch_io).

The torch path solves with the numpy solvers and returns tensors: these tests pin that the
answers are the numpy path's (to 1e-12 in float64, for every divergence, on random and extreme
inputs), that the certificate is enforced as on numpy, that device and dtype come back as
promised, and that numpy calls never import torch.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import pmtheory
from pmtheory import SolverError, mod
from pmtheory.testing import SOLVER_DIVERGENCES

torch = pytest.importorskip("torch")


def _problems():
    """(name, rewards (B, K), log reference (B, K), beta): random, and extreme scales."""
    rng = np.random.default_rng(7)
    log_q = rng.standard_normal((4, 200))
    log_q -= np.logaddexp.reduce(log_q, axis=-1, keepdims=True)
    deep = log_q.copy()
    deep[:, 0] -= 690.0  # an entry near e^-690 (the solvers' log-space path)
    deep -= np.logaddexp.reduce(deep, axis=-1, keepdims=True)
    return [("random", rng.standard_normal((4, 200)), log_q, 0.7),
            ("huge rewards", rng.standard_normal((4, 200)) * 1e12, log_q, 1.0),
            ("tiny beta", rng.standard_normal((4, 200)), log_q, 1e-6),
            ("deep reference", rng.standard_normal((4, 200)), deep, 1.0),
            ("ties", np.zeros((4, 200)), log_q, 1.0)]


@pytest.mark.parametrize("divergence", SOLVER_DIVERGENCES)
@pytest.mark.parametrize("name, rewards, log_q, beta", _problems(), ids=lambda v: v if isinstance(v, str) else "")
def test_torch_float64_is_the_numpy_answer(divergence, name, rewards, log_q, beta):
    expected = pmtheory.optimal_policy(rewards, log_reference=log_q, divergence=divergence, beta=beta)
    got = pmtheory.optimal_policy(torch.as_tensor(rewards), log_reference=torch.as_tensor(log_q),
                                  divergence=divergence, beta=beta)
    for field in ("policy", "log_policy", "multiplier", "kkt_residual"):
        value = getattr(got, field)
        assert isinstance(value, torch.Tensor) and value.dtype == torch.float64 and value.device.type == "cpu"
        np.testing.assert_allclose(value.numpy(), getattr(expected, field), rtol=1e-12, atol=1e-12)
    assert got.divergence == expected.divergence and got.iterations == expected.iterations


def test_float32_in_float32_out_with_its_own_tolerance():
    # torch.softmax output over K = 50 000 in float32 sums to 1 only to float32's rounding.
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 50_000, generator=generator)
    reference = torch.softmax(logits, dim=-1)
    rewards = torch.randn(3, 50_000, generator=generator)
    solution = pmtheory.optimal_policy(rewards, reference, divergence="js", beta=0.5)
    assert solution.policy.dtype == torch.float32 and solution.policy.shape == (3, 50_000)
    assert float(solution.kkt_residual.max()) < 1e-9  # taken in float64 before the cast
    expected = pmtheory.optimal_policy(rewards.double().numpy(), reference.double().numpy()
                                       / reference.double().numpy().sum(-1, keepdims=True), divergence="js", beta=0.5)
    np.testing.assert_allclose(solution.policy.double().numpy(), expected.policy, rtol=1e-6, atol=1e-12)


def test_the_certificate_is_enforced_on_tensors_as_on_arrays():
    rewards = np.array([0.0, 1e300, -1e300])  # the spread divided by β overflows float64
    with pytest.raises(SolverError, match="overflows float64") as from_numpy:
        pmtheory.optimal_policy(rewards, divergence="chi2", beta=1e-10)
    with pytest.raises(SolverError, match="overflows float64") as from_torch:
        pmtheory.optimal_policy(torch.as_tensor(rewards), divergence="chi2", beta=1e-10)
    assert str(from_torch.value) == str(from_numpy.value)
    unchecked = pmtheory.optimal_policy(torch.as_tensor([0.0, 1.0]), divergence="chi2", check=False)
    assert isinstance(unchecked.kkt_residual, torch.Tensor)


def test_bfloat16_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"rewards is a bfloat16 tensor.*rewards.float\(\)"):
        pmtheory.optimal_policy(torch.zeros(2, dtype=torch.bfloat16))


def test_residual_objective_and_mixed_inputs():
    rewards = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64)
    solution = pmtheory.optimal_policy(rewards, np.array([0.2, 0.3, 0.5]), divergence="hellinger")
    assert isinstance(solution.policy, torch.Tensor)  # one tensor argument is enough
    residual = pmtheory.kkt_residual(solution.policy, rewards, [0.2, 0.3, 0.5], divergence="hellinger")
    assert isinstance(residual, torch.Tensor) and float(residual) < 1e-12
    value = pmtheory.regularized_objective(solution.policy, rewards, [0.2, 0.3, 0.5], divergence="hellinger")
    assert isinstance(value, torch.Tensor) and value.shape == (1,)


def test_mod_prop1_on_tensors():
    generator = torch.Generator().manual_seed(1)
    log_policies = torch.log_softmax(torch.randn(2, 5, 64, generator=generator, dtype=torch.float64), -1)
    log_reference = torch.log_softmax(torch.randn(5, 64, generator=generator, dtype=torch.float64), -1)
    weights = torch.tensor([0.3, 0.7], dtype=torch.float64)
    got = mod.optimal_log_policy(log_policies, weights, log_reference, divergence="js")
    expected = mod.optimal_log_policy(log_policies.numpy(), weights.numpy(), log_reference.numpy(), divergence="js")
    assert isinstance(got.log_policy, torch.Tensor) and got.log_policy.shape == (5, 64)
    np.testing.assert_allclose(got.log_policy.numpy(), expected.log_policy, rtol=1e-12, atol=1e-12)
    single = mod.optimal_policy(log_policies[:, 0].exp(), weights, log_reference[0].exp(), divergence="js")
    np.testing.assert_allclose(single.policy.numpy(), expected.policy[0], rtol=1e-10, atol=1e-14)


def test_numpy_calls_never_import_torch():
    code = ("import sys, numpy as np, pmtheory\n"
            "from pmtheory import mod\n"
            "pmtheory.optimal_policy(np.array([0.0, 1.0]), divergence='js')\n"
            "mod.optimal_policy([[0.2, 0.8], [0.8, 0.2]], [0.5, 0.5], [0.5, 0.5])\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
