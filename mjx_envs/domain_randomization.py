"""Domain randomisation: the per-episode draws of model parameters and the model arrays they give.

:func:`draw_domain` draws an episode's parameters (``EnvConfig.domain_randomization``) from one
PRNG key; :func:`randomized_model_fields` turns them into the model arrays of :data:`DR_FIELDS`
for either back end (``jax.numpy`` for MJX, ``numpy`` in float64 for C MuJoCo). Both are pure
functions of an :class:`mjx_envs.env_context.EnvContext`, re-exported by
:mod:`mjx_envs.episode_logic`. Scales are dimensionless; ``trunk_mass`` is an added mass [kg];
``com_offset`` a trunk centre-of-mass shift [m, trunk body frame x, y].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from mjx_envs.episode_commands import _uniform

if TYPE_CHECKING:
    from mjx_envs.env_context import EnvContext

DR_NAMES = ("friction", "trunk_mass", "com_offset", "link_mass", "motor_strength", "kp", "kv")


def _dr_shapes(ctx: EnvContext) -> Dict[str, Tuple[int, ...]]:
    nu = ctx.mj_model.nu
    return dict(
        friction=(),
        trunk_mass=(),
        com_offset=(2,),
        link_mass=(ctx.mj_model.nbody,),
        motor_strength=(nu,),
        kp=(nu,),
        kv=(nu,),
    )


def draw_domain(ctx: EnvContext, key: jax.Array) -> Dict[str, jax.Array]:
    """This episode's model-parameter draws (``EnvConfig.domain_randomization``), deterministic in
    ``key``: every name of :data:`DR_NAMES` is present; a switched-off one holds its neutral value
    (1 for a scale, 0 for an offset), which leaves the model exactly as it is."""
    d = ctx.env.domain_randomization
    shapes = _dr_shapes(ctx)
    out = {}
    for i, name in enumerate(DR_NAMES):
        sw = getattr(d, name)
        neutral = 0.0 if name in ("trunk_mass", "com_offset") else 1.0
        if sw.enabled:
            out[name] = _uniform(jax.random.fold_in(key, i), sw.range, shapes[name])
        else:
            out[name] = jnp.full(shapes[name], neutral)
    # world body and trunk keep their masses (the trunk has its own switch)
    out["link_mass"] = out["link_mass"].at[0].set(1.0).at[ctx.trunk_body].set(1.0)
    return {k: jnp.asarray(v, jnp.float32) for k, v in out.items()}


def randomized_model_fields(ctx: EnvContext, base: Dict[str, Any], dr: Dict[str, Any], xp=jnp) -> Dict[str, Any]:
    """Model arrays for this episode's draws (:func:`draw_domain`; ``base`` = nominal arrays).

    friction -> ``geom_friction[:, 0]``; trunk_mass -> ``body_mass[trunk]``; com_offset ->
    ``body_ipos[trunk, :2]``; link_mass -> ``body_mass``, ``body_inertia`` of the other bodies;
    motor_strength -> ``actuator_forcerange``; kp -> ``actuator_gainprm[:, 0]`` and
    ``-actuator_biasprm[:, 1]``; kv -> ``-actuator_biasprm[:, 2]``. Written with broadcasting only,
    so ``xp`` = ``jax.numpy`` (MJX, float32) or ``numpy`` (the C-MuJoCo twin, in float64: its
    float64 model arrays are not rounded); neutral draws return the base arrays bit for bit.
    """
    dt = xp.asarray(base["body_mass"]).dtype
    d = {k: xp.asarray(v, dt) for k, v in dr.items()}
    b = {k: xp.asarray(v) for k, v in base.items()}
    nbody = b["body_mass"].shape[0]
    trunk = xp.asarray(np.arange(nbody) == ctx.trunk_body, dt)  # (nbody,) one-hot
    col = lambda n, i: xp.asarray(np.arange(n) == i, dt)  # noqa: E731  one-hot column selector
    one = xp.ones((), dt)
    friction = b["geom_friction"] * xp.stack([d["friction"], one, one])
    mass = b["body_mass"] * d["link_mass"] + trunk * d["trunk_mass"]
    inertia = b["body_inertia"] * d["link_mass"][:, None]
    ipos = b["body_ipos"] + trunk[:, None] * xp.concatenate([d["com_offset"], xp.zeros((1,), dt)])[None, :]
    ng, nb = b["actuator_gainprm"].shape[1], b["actuator_biasprm"].shape[1]
    gain = b["actuator_gainprm"] * (1.0 + (d["kp"] - 1.0)[:, None] * col(ng, 0))
    bias = b["actuator_biasprm"] * (1.0 + (d["kp"] - 1.0)[:, None] * col(nb, 1) + (d["kv"] - 1.0)[:, None] * col(nb, 2))
    frange = b["actuator_forcerange"] * d["motor_strength"][:, None]
    return dict(
        geom_friction=friction,
        body_mass=mass,
        body_inertia=inertia,
        body_ipos=ipos,
        actuator_gainprm=gain,
        actuator_biasprm=bias,
        actuator_forcerange=frange,
    )


DR_FIELDS = (
    "geom_friction",
    "body_mass",
    "body_inertia",
    "body_ipos",
    "actuator_gainprm",
    "actuator_biasprm",
    "actuator_forcerange",
)
