"""``ContextEnvProperties``: the brax-style properties every env built on an ``EnvContext`` shares."""

from __future__ import annotations

from mjx_envs.observation import observation_layout, observation_spec


class ContextEnvProperties:
    """``observation_size``, ``action_size``, ``dt`` (s, control period), ``episode_steps`` and
    ``observation_layout()`` of an env holding its ``env_context.EnvContext`` in ``self.ctx``
    (``MjxResidualWalk`` on MJX, ``CMujocoResidualWalk`` on C MuJoCo)."""

    ctx: object

    @property
    def observation_size(self) -> int:
        return self.ctx.observation_size

    @property
    def action_size(self) -> int:
        return self.ctx.action_size

    @property
    def dt(self) -> float:
        return self.ctx.sim.control_dt

    @property
    def episode_steps(self) -> int:
        return self.ctx.episode_steps

    def observation_layout(self):
        return observation_layout(**observation_spec(self.ctx.env))
