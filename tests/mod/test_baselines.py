"""Tests of pmtheory.mod.baselines: MORLHF, rewarded soups, token-level MOD, Pareto fronts."""

import itertools

import numpy as np
import pytest
from scipy.special import log_softmax, logsumexp, softmax

from pmtheory import optimal_policy
from pmtheory.mod import optimal_policy as mod_optimal_policy
from pmtheory.mod.baselines import (
    ReluNetwork,
    autoregressive_instance,
    compare_token_and_sequence_level,
    merge_relu_networks,
    morlhf_optimal_policy,
    pareto_fronts,
    prefix_log_marginals,
    relu_network_log_policy,
    relu_network_parameters,
    rewarded_soup_relu,
    rewarded_soup_softmax_linear,
    token_greedy_decode,
    token_level_log_policy,
    token_log_conditionals,
)


class TestMorlhf:
    @pytest.mark.parametrize("divergence", ["reverse_kl", "js", "chi2", "tv"])
    def test_is_the_optimum_for_the_weighted_reward(self, divergence):
        rewards = np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]])
        reference = np.array([0.2, 0.3, 0.5])
        sol = morlhf_optimal_policy(rewards, [0.25, 0.75], reference, divergence=divergence, beta=0.5)
        direct = optimal_policy(0.25 * rewards[0] + 0.75 * rewards[1], reference, divergence=divergence, beta=0.5)
        np.testing.assert_array_equal(sol.policy, direct.policy)

    def test_rejects_a_single_reward_vector(self):
        with pytest.raises(ValueError, match=r"\(M, K\)"):
            morlhf_optimal_policy(np.ones((2, 2, 2)), [0.5, 0.5], [0.5, 0.5])


class TestSoftmaxLinearSoup:
    def test_is_the_normalized_geometric_mixture(self):
        log_pi = np.log([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
        expected = 0.3 * log_pi[0] + 0.7 * log_pi[1]
        np.testing.assert_allclose(rewarded_soup_softmax_linear(log_pi, [0.3, 0.7]), log_softmax(expected), atol=1e-15)

    def test_equals_mod_for_reverse_kl(self):
        # §4.1: a linear last layer makes parameter merging MOD w.r.t. reverse KL.
        rng = np.random.default_rng(0)
        rewards, reference = rng.normal(size=(2, 5)), rng.dirichlet(np.ones(5))
        bases = optimal_policy(rewards, reference).policy
        soup = np.exp(rewarded_soup_softmax_linear(np.log(bases), [0.4, 0.6]))
        np.testing.assert_allclose(soup, mod_optimal_policy(bases, [0.4, 0.6], reference).policy, atol=1e-14)


class TestReluNetwork:
    def test_parameters_represent_the_policy(self):
        log_pi = np.log([0.1, 0.2, 0.3, 0.4])
        network = relu_network_parameters(log_pi)
        np.testing.assert_allclose(relu_network_log_policy(network), log_pi, atol=1e-14)

    def test_reproduces_the_papers_construction(self):
        # Thm 2(ii): π ∝ exp(e_1) is represented by W1 = e_1, W2 = e_1 e_1ᵀ.
        network = relu_network_parameters(log_softmax(np.eye(3)[0]))
        np.testing.assert_allclose(network.first_layer[:, 0], [1, 0, 0], atol=1e-15)
        np.testing.assert_allclose(network.second_layer, np.diag([1, 0, 0]), atol=1e-15)

    def test_merging_squares_the_combined_roots(self):
        # Thm 2(ii): merging θ_1..θ_3 with λ gives logits (λ_1², λ_2², λ_3²).
        networks = [relu_network_parameters(log_softmax(row)) for row in np.eye(3)]
        merged = merge_relu_networks(networks, [0.2, 0.3, 0.5])
        np.testing.assert_allclose(relu_network_log_policy(merged), log_softmax(np.array([0.04, 0.09, 0.25])),
                                   atol=1e-15)
        np.testing.assert_allclose(rewarded_soup_relu(log_softmax(np.eye(3), axis=-1), [0.2, 0.3, 0.5]),
                                   relu_network_log_policy(merged), atol=1e-15)

    def test_negative_lambda_is_cut_by_the_relu(self):
        networks = [relu_network_parameters(log_softmax(row)) for row in np.eye(3)]
        merged = merge_relu_networks(networks, [-0.5, 0.5, 1.0])
        np.testing.assert_allclose(relu_network_log_policy(merged), log_softmax(np.array([0.0, 0.25, 1.0])), atol=1e-15)

    def test_validation(self):
        with pytest.raises(TypeError):
            merge_relu_networks([object()], [1.0])
        with pytest.raises(ValueError, match="share"):
            merge_relu_networks([ReluNetwork(np.ones((2, 1)), np.eye(2)), ReluNetwork(np.ones((3, 1)), np.eye(3))],
                                [0.5, 0.5])
        with pytest.raises(TypeError):
            relu_network_log_policy("network")


class TestTokenLevel:
    @pytest.fixture(scope="class")
    def instance(self):
        return autoregressive_instance(3, vocab=3, length=3, objectives=2)

    def test_instance_is_normalized_and_optimal(self, instance):
        assert logsumexp(instance.log_reference) == pytest.approx(0.0, abs=1e-12)
        flat = instance.log_policies.reshape(2, -1)
        expected = optimal_policy(instance.rewards.reshape(2, -1), log_reference=instance.log_reference.reshape(-1))
        np.testing.assert_allclose(flat, expected.log_policy, atol=1e-12)

    def test_marginals_and_conditionals(self, instance):
        marginals = prefix_log_marginals(instance.log_reference)
        assert [m.shape for m in marginals] == [(3,), (3, 3), (3, 3, 3)]
        conditionals = token_log_conditionals(instance.log_reference)
        for cond in conditionals:
            np.testing.assert_allclose(logsumexp(cond, axis=-1), 0.0, atol=1e-12)
        # The chain rule: Σ_t log π(y_t | y_<t) = log π(y).
        total = conditionals[0][:, None, None] + conditionals[1][:, :, None] + conditionals[2]
        np.testing.assert_allclose(total, instance.log_reference, atol=1e-12)

    def test_reverse_kl_token_policy_multiplies_conditional_products(self, instance):
        weights = np.array([0.3, 0.7])
        token = token_level_log_policy(instance.log_policies, weights, instance.log_reference)
        conds = [token_log_conditionals(p) for p in instance.log_policies]
        expected = np.zeros((3, 3, 3))
        for seq in itertools.product(range(3), repeat=3):
            for t in range(3):
                scores = sum(w * c[t][seq[:t]] for w, c in zip(weights, conds))
                expected[seq] += log_softmax(scores)[seq[t]]
        np.testing.assert_allclose(token, expected, atol=1e-12)

    def test_vertex_weights_recover_the_base_policy(self, instance):
        for divergence in ("reverse_kl", "js"):
            case = autoregressive_instance(1, divergence=divergence)
            token = token_level_log_policy(case.log_policies, [1.0, 0.0], case.log_reference, divergence=divergence)
            np.testing.assert_allclose(token, case.log_policies[0], atol=1e-10)

    def test_greedy_follows_eq7_step_by_step(self, instance):
        weights = np.array([0.5, 0.5])
        decoded = token_greedy_decode(instance.log_policies, weights, instance.log_reference)
        conds = [token_log_conditionals(p) for p in instance.log_policies]
        prefix = ()
        for t in range(3):
            # eq 7 on next-token conditionals (the prefix term is the same for every token).
            prefix += (int(np.argmax(sum(w * c[t][prefix] for w, c in zip(weights, conds)))),)
        assert decoded == prefix

    def test_gap_is_nonnegative_and_kl_for_reverse_kl(self, instance):
        comparison = compare_token_and_sequence_level(instance.log_policies, [0.5, 0.5], instance.log_reference)
        assert comparison.objective_gap >= -1e-12
        # Prop 3: for reverse KL the objective gap is KL(π_tok‖π*).
        assert comparison.objective_gap == pytest.approx(comparison.kl_token_to_sequence, abs=1e-12)
        star = np.exp(comparison.sequence_log_policy)
        expected = softmax((0.5 * instance.log_policies[0] + 0.5 * instance.log_policies[1]).ravel())
        expected = expected.reshape(star.shape)
        np.testing.assert_allclose(star, expected, atol=1e-12)

    def test_factorized_reverse_kl_has_no_gap(self):
        # Independent positions and additive rewards: every prefix has the same normalizer.
        rng = np.random.default_rng(5)
        ref = [np.log(rng.dirichlet(np.ones(2))) for _ in range(3)]
        log_reference = ref[0][:, None, None] + ref[1][None, :, None] + ref[2][None, None, :]
        rewards = [rng.normal(size=(2, 2)) for _ in range(3)]  # position t: (objective, token)
        total = np.stack([rewards[0][i][:, None, None] + rewards[1][i][None, :, None] + rewards[2][i][None, None, :]
                          for i in range(2)])
        flat = optimal_policy(total.reshape(2, -1), log_reference=log_reference.reshape(-1)).log_policy
        comparison = compare_token_and_sequence_level(flat.reshape(2, 2, 2, 2), [0.4, 0.6], log_reference)
        assert abs(comparison.objective_gap) <= 1e-12


class TestParetoFronts:
    def test_mod_equals_morlhf_and_is_optimal(self):
        rewards = np.array([[1.0, -0.5, 0.2, 0.0], [-1.0, 0.8, 0.1, 0.3]])
        reference = np.array([0.1, 0.2, 0.3, 0.4])
        for divergence in ("reverse_kl", "forward_kl", "alpha:0.3"):
            fronts = pareto_fronts(rewards, reference, np.linspace(0, 1, 5), divergence=divergence)
            np.testing.assert_allclose(fronts.policies["mod"], fronts.policies["morlhf"], atol=1e-10)
            for method, values in fronts.objectives.items():
                assert np.all(values <= fronts.objectives["mod"] + 1e-12), method
            assert fronts.points["mod"].shape == (5, 2)

    def test_rejects_three_objectives(self):
        with pytest.raises(ValueError, match=r"\(2, K\)"):
            pareto_fronts(np.ones((3, 2)), [0.5, 0.5], [0.5])
