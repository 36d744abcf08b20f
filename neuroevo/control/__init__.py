"""Control tasks for neuro-evolution: batched environments, stacked policies, lockstep rollouts.

* :mod:`neuroevo.control.envs`: the environments (:func:`~neuroevo.control.envs.make_env`);
* :mod:`neuroevo.control.policy`: :class:`~neuroevo.control.policy.StackedPolicy`, a population of
  small networks as stacked tensors;
* :mod:`neuroevo.control.rollout`: :func:`~neuroevo.control.rollout.rollout` and the double-pole
  solve protocol.
"""

from neuroevo.control.envs import make_env
from neuroevo.control.policy import StackedPolicy
from neuroevo.control.rollout import RolloutResult, SolveCheck, rollout, solve_check

__all__ = ["RolloutResult", "SolveCheck", "StackedPolicy", "make_env", "rollout", "solve_check"]
