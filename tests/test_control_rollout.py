"""StackedPolicy semantics and checks, lockstep rollouts, the solve protocol, the throughput benchmark."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

from neuroevo.control import StackedPolicy, make_env, rollout
from neuroevo.control.envs import CartPole, DoublePole
from neuroevo.control.envs.double_pole import damping_fitness
from neuroevo.control.rollout import generalisation_score, long_check, solve_check
from tests.conftest import load_benchmark


def random_policy(population: int, sizes: tuple[int, ...], *, recurrent: bool = False, scale: float = 0.5,
                  seed: int = 0, dtype: torch.dtype = torch.float32) -> StackedPolicy:
    g = torch.Generator().manual_seed(seed)
    pairs = list(zip(sizes, sizes[1:]))
    return StackedPolicy(
        [torch.randn(population, a, b, generator=g, dtype=dtype) * scale for a, b in pairs],
        [torch.randn(population, b, generator=g, dtype=dtype) * scale for _, b in pairs],
        [torch.randn(population, b, b, generator=g, dtype=dtype) * scale if recurrent and i < len(pairs) - 1 else None
         for i, (_, b) in enumerate(pairs)])


# ------------------------------------------------------------------ StackedPolicy
@pytest.mark.parametrize("episodes", [1, 9])  # broadcast products below 8 episodes, bmm above
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_policy_follows_its_recurrence(episodes, activation):
    """h_t = act(x_t W + h_{t-1} R + b), outputs linear, member by member, against plain matmuls."""
    policy = random_policy(3, (4, 5, 6, 2), recurrent=True, seed=1)
    policy.activation = activation
    act = {"tanh": torch.tanh, "relu": torch.relu}[activation]
    policy.reset(episodes)
    xs = torch.randn(4, 3, episodes, 4, generator=torch.Generator().manual_seed(2))
    for p in range(3):
        h1, h2 = torch.zeros(episodes, 5), torch.zeros(episodes, 6)
        for t in range(4):
            h1 = act(xs[t, p] @ policy.weights[0][p] + h1 @ policy.recurrent[0][p] + policy.biases[0][p])
            h2 = act(h1 @ policy.weights[1][p] + h2 @ policy.recurrent[1][p] + policy.biases[1][p])
            expected = h2 @ policy.weights[2][p] + policy.biases[2][p]
            if p == 0:
                outputs = [policy(xs[s]) for s in range(4)] if t == 0 else outputs
            torch.testing.assert_close(outputs[t][p], expected, rtol=1e-5, atol=1e-5)


def test_policy_reset_zeroes_the_state():
    policy = random_policy(2, (3, 4, 1), recurrent=True)
    x = torch.ones(2, 1, 3)
    policy.reset(1)
    first = policy(x)
    assert not torch.equal(policy(x), first)  # the state carried over
    policy.reset(1)
    assert torch.equal(policy(x), first)


def test_policy_refuses_bad_shapes_and_names_non_finite_members():
    good = random_policy(3, (4, 5, 2))
    with pytest.raises(ValueError, match=r"layer 1: weights must be \[P=3, n_in=5"):
        StackedPolicy([good.weights[0], torch.zeros(3, 4, 2)], good.biases)
    with pytest.raises(ValueError, match=r"layer 0: biases must be \[3, 5\]"):
        StackedPolicy(good.weights, [torch.zeros(3, 4), good.biases[1]])
    with pytest.raises(ValueError, match="output layer cannot be recurrent"):
        StackedPolicy(good.weights, good.biases, [None, torch.zeros(3, 2, 2)])
    with pytest.raises(ValueError, match="activation"):
        StackedPolicy(good.weights, good.biases, activation="sigmoid")
    bad = good.weights[1].clone()
    bad[2, 0, 1] = float("nan")
    with pytest.raises(ValueError, match="population member 2 has non-finite parameters"):
        StackedPolicy([good.weights[0], bad], good.biases)
    good.reset(2)
    with pytest.raises(ValueError, match=r"observations must be \[P, E, n_inputs\] = \[3, 2, 4\]"):
        good(torch.zeros(3, 1, 4))


def test_policy_select_and_to():
    policy = random_policy(4, (3, 2, 1), recurrent=True)
    chosen = policy.select([3, 1])
    assert torch.equal(chosen.weights[0][0], policy.weights[0][3]) and chosen.population == 2
    moved = policy.to(dtype=torch.float64)
    assert moved.dtype == torch.float64 and moved.sizes == (3, 2, 1)


# ------------------------------------------------------------------ rollout
def test_rollout_is_deterministic_and_seeded():
    policy = random_policy(5, (4, 8, 2))
    first, again = (rollout(policy, CartPole(), episodes=3, seed=4) for _ in range(2))
    other = rollout(policy, CartPole(), episodes=3, seed=5)
    assert torch.equal(first.returns, again.returns) and torch.equal(first.steps, again.steps)
    assert not torch.equal(first.returns, other.returns)
    assert first.returns.shape == (5, 3) and first.mean_return.shape == (5,)
    assert torch.equal(first.returns, first.steps.float())  # CartPole: reward 1 per step taken


def test_rollout_matches_stepping_each_member_alone():
    """Member p's episodes in the lockstep batch equal that member run alone with env.step."""
    policy = random_policy(4, (6, 5, 1), recurrent=True, scale=0.3, seed=3)
    env = DoublePole(velocities=True, max_steps=200)
    together = rollout(policy, env, seed=0)
    for p in range(4):
        one = policy.select([p])
        one.reset(1)
        observations, total, steps = env.reset(1, generator=torch.Generator()), 0.0, 0
        while not bool(env.current.done[0]):
            observations, reward, _ = env.step(env.action_from_output(one(observations.unsqueeze(0))[0]))
            total, steps = total + float(reward[0]), steps + 1
        assert (together.returns[p, 0].item(), together.steps[p, 0].item()) == (total, steps)
    assert len(set(together.steps.flatten().tolist())) > 1


class _SeeingDoublePole(DoublePole):
    """The non-Markov task's bookkeeping (damping memory and score) with the velocities shown, so that
    a linear controller balances it past the 100-step window."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.observation_size = 6

    def observe(self, state):
        return state / self._scale


def test_rollout_damping_score_matches_a_hand_computation():
    """The batched damping score equals damping_fitness over the jiggle history kept by hand, for
    members balancing the whole 300 steps and one falling early."""
    gain = torch.tensor(load_benchmark("control_throughput").double_pole_gain(), dtype=torch.float64)
    factors = torch.tensor([1.0, 0.8, -1.0], dtype=torch.float64)  # the last pushes the wrong way
    policy = StackedPolicy([(factors[:, None] * gain).unsqueeze(2)], [torch.zeros(3, 1, dtype=torch.float64)])
    env = _SeeingDoublePole(velocities=False, max_steps=300, dtype=torch.float64)
    result = rollout(policy, env, seed=0)
    for p in range(3):
        one = policy.select([p])
        one.reset(1)
        observations, jiggle = env.reset(1, generator=torch.Generator()), []
        while not bool(env.current.done[0]):
            observations, reward, _ = env.step(env.action_from_output(one(observations.unsqueeze(0))[0]))
            if reward[0] > 0:
                jiggle.append(float(env.current.state[0, :4].abs().sum()))
        expected = damping_fitness(torch.tensor([len(jiggle)]), torch.tensor([sum(jiggle[-100:])], dtype=torch.float64),
                                   episode_steps=300)
        assert result.scores[p, 0].item() == pytest.approx(expected.item(), rel=1e-12)
    assert result.returns[:2, 0].tolist() == [300.0, 300.0] and result.returns[2, 0] < 100


def test_rollout_refuses_policies_that_do_not_fit():
    with pytest.raises(ValueError, match="cartpole takes 2 policy outputs per step, the policy has 3"):
        rollout(random_policy(2, (4, 3)), CartPole(), seed=0)
    with pytest.raises(ValueError, match="double-pole-nv gives 3 observations per step, the policy takes 6"):
        rollout(random_policy(2, (6, 1)), make_env("double-pole-nv"), seed=0)


class _NaNAfterThree(CartPole):
    """CartPole whose batch row 5 turns NaN on its third step."""

    def transition(self, state, actions):
        next_state, reward, terminated = super().transition(state, actions)
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            next_state = next_state.clone()
            next_state[5] = float("nan")
        return next_state, reward, terminated


def test_non_finite_observation_names_member_episode_and_step():
    policy = random_policy(4, (4, 2), scale=0.01)
    with pytest.raises(ValueError, match=r"member 2 \(episode 1\) at step 3"):
        rollout(policy, _NaNAfterThree(), episodes=2, seed=0)


def test_rollout_through_the_gymnasium_adapter():
    policy = random_policy(3, (4, 6, 2), seed=7)
    env = make_env("gymnasium:CartPole-v1", max_steps=60)
    first, again = rollout(policy, env, episodes=2, seed=1), rollout(policy, env, episodes=2, seed=1)
    assert torch.equal(first.returns, again.returns) and first.scores is None
    assert torch.equal(first.returns, first.steps.float()) and first.steps.max() <= 60


def test_solve_protocol_on_a_short_check():
    """A still policy survives a 20-step check from 1 degree, a hard-pushing one does not; neither
    generalises (the generalisation test only runs for the survivor)."""
    weights, biases = [torch.zeros(2, 3, 1)], [torch.tensor([[0.0], [30.0]])]
    policy = StackedPolicy(weights, biases)
    assert long_check(policy, steps=20).tolist() == [True, False]
    outcome = solve_check(policy, steps=20)
    assert outcome.long_balanced.tolist() == [True, False] and not outcome.solved.any()
    assert outcome.generalisation[1] == 0
    assert outcome.generalisation[0] == generalisation_score(policy.select([0]))[0] < 200


@pytest.mark.slow
def test_compiled_rollout_equals_eager():
    """torch.compile'd lockstep steps give the same episodes as eager ones (returns, steps; scores to
    float tolerance)."""
    policy = random_policy(6, (4, 8, 2), seed=2)
    eager, compiled = (rollout(policy, CartPole(max_steps=100), episodes=2, seed=3, compile=c) for c in (False, True))
    assert torch.equal(eager.steps, compiled.steps) and torch.equal(eager.returns, compiled.returns)
    blind = random_policy(4, (3, 5, 1), recurrent=True, scale=0.05, seed=4)
    env = DoublePole(velocities=False, max_steps=150)
    eager, compiled = (rollout(blind, env, seed=0, compile=c) for c in (False, True))
    assert torch.equal(eager.steps, compiled.steps)
    torch.testing.assert_close(eager.scores, compiled.scores, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("compile", [False, True])
def test_compacted_rollout_equals_the_full_batch(monkeypatch, compile):
    """Dropping finished members from the batch (compact=True) changes no member's returns, steps,
    scores or recurrent bookkeeping, and it does drop them: the batch shrinks while long episodes go
    on. The members' episode lengths differ widely, so several compactions happen."""
    module = importlib.import_module("neuroevo.control.rollout")  # the package's ``rollout`` is the function
    gathered = []
    original = module._gather

    def spy(take, *args):
        gathered.append(len(take))
        return original(take, *args)

    monkeypatch.setattr(module, "_gather", spy)
    scales = torch.linspace(0.01, 2.0, 40)[:, None, None]
    blind = random_policy(40, (3, 5, 1), recurrent=True, scale=1.0, seed=7)
    blind = StackedPolicy([w * scales for w in blind.weights], [b * scales[:, 0] for b in blind.biases],
                          [None if r is None else r * scales for r in blind.recurrent])
    env = DoublePole(velocities=False, max_steps=400)
    full, compacted = (rollout(blind, env, episodes=3, seed=1, compile=compile, compact=c) for c in (False, True))
    assert gathered and gathered[-1] < 40  # the batch did shrink
    assert len(set(full.steps.flatten().tolist())) > 10
    assert torch.equal(full.steps, compacted.steps) and torch.equal(full.returns, compacted.returns)
    torch.testing.assert_close(full.scores, compacted.scores, rtol=0, atol=0)
    cart = random_policy(33, (4, 6, 2), scale=1.5, seed=8)
    full, compacted = (rollout(cart, CartPole(max_steps=300), episodes=2, seed=2, compile=compile, compact=c)
                       for c in (False, True))
    assert torch.equal(full.steps, compacted.steps) and torch.equal(full.returns, compacted.returns)


# ------------------------------------------------------------------ the benchmark
def test_throughput_benchmark_quick_mode(tmp_path):
    output = tmp_path / "control.json"
    results = load_benchmark("control_throughput").main(
        ["--quick", "--compile", "off", "--arms", "neuroevo,gymnasium-loop", "--output", str(output)])
    written = json.loads(output.read_text())
    assert written["commit"] == results["commit"] and "code" in written
    runs = written["runs"]
    assert {(r["task"], r["arm"]) for r in runs} == {(t, a) for t in ("cartpole", "double-pole")
                                                      for a in ("neuroevo", "gymnasium-loop")}
    for r in runs:
        assert {"task", "arm", "population", "steps_per_s", "threads"} <= set(r) and r["steps_per_s"] > 0
        genomes = r["population"]
        assert r["env_steps"] == genomes * 20  # every genome balances the whole quick episode
    assert "## Control rollout throughput" in load_benchmark("control_throughput").render_markdown(written)
