"""Load the quad12 worlds into C MuJoCo and MJX, applying ``SimulationConfig``."""

from __future__ import annotations

import os

import mujoco
import numpy as np

from model import robot_adapter, terrain
from model import robot_constants as rc
from model.robot_mapping import subtree, trunk_body
from model.simulation_config import SimulationConfig
from model.yaml_config import ConfigError


def load_mj_model(cfg: SimulationConfig, textures: bool = True) -> mujoco.MjModel:
    """C MuJoCo model of ``cfg.world`` with ``physics_dt``, terrain seed, solver, collision set and
    servo gains applied.

    ``textures=False`` compiles it without textures (the same bodies, geoms, joints and actuators
    in the same order, so the same physics): the skybox and floor textures are 99 % of a world's
    5.5 MB, and the C-MuJoCo back end keeps one model copy per world under domain randomisation.

    Every world is compiled from a ``mujoco.MjSpec`` (:func:`world_spec`), so that the robot adapter
    (:mod:`model.robot_adapter`), the ``suite`` world's hfield (:func:`suite_spec`) and the
    ``collision: feet`` probes (:func:`feet_only`) are edits of the spec, the same in both twins."""
    if cfg.world == "suite":
        suite = terrain.default_suite_spec()
        mjspec = suite_spec(cfg.world_xml, cfg.terrain_seed, suite, robot_xml=cfg.robot_path)
    else:
        suite = None
        mjspec = world_spec(cfg.world_xml, cfg.robot_path)
    what = f"MJCF {cfg.world_xml}" + (f" with the robot {cfg.robot_path}" if cfg.robot_path else "")
    if not textures:
        _drop_textures(mjspec)
    if cfg.collision == "feet":
        feet_only(mjspec, _compile(mjspec, what))
    m = _compile(mjspec, what)
    if suite is not None:
        _check_suite_hfield(m, cfg.world_xml, suite)
    m.opt.timestep = cfg.physics_dt
    if cfg.world != "suite" and m.nhfield > 0 and cfg.terrain_seed != 0:
        spec = terrain.DEFAULT_TERRAIN
        if (m.hfield_nrow[0], m.hfield_ncol[0]) != (spec.nrow, spec.ncol):
            raise ConfigError(f"{cfg.world_xml}: hfield grid differs from TerrainSpec; regenerate it")
        m.hfield_data[:] = terrain.hfield_data(cfg.terrain_seed, spec)
    if cfg.solver_iterations is not None:
        m.opt.iterations = cfg.solver_iterations
    if cfg.ls_iterations is not None:
        m.opt.ls_iterations = cfg.ls_iterations
    if cfg.kp is not None:
        m.actuator_gainprm[:, 0] = cfg.kp
        m.actuator_biasprm[:, 1] = -cfg.kp
    if cfg.kv is not None:
        m.actuator_biasprm[:, 2] = -cfg.kv
    return m


def as_torque_motors(m: mujoco.MjModel) -> None:
    """Turn ``m``'s position servos into torque motors, in place: force = ctrl [N·m], no servo
    (gain 1, no bias), ctrl limited to the torque limit ``actuator_forcerange``, which still clamps
    the force (``action_mode: torque``: the policy commands joint torques)."""
    m.actuator_gaintype[:] = mujoco.mjtGain.mjGAIN_FIXED
    m.actuator_gainprm[:] = 0.0
    m.actuator_gainprm[:, 0] = 1.0
    m.actuator_biastype[:] = mujoco.mjtBias.mjBIAS_NONE
    m.actuator_biasprm[:] = 0.0
    m.actuator_ctrllimited[:] = 1
    m.actuator_ctrlrange[:] = m.actuator_forcerange


def _drop_textures(mjspec: mujoco.MjSpec) -> None:
    """Delete every texture of ``mjspec`` and the materials' references to them (rendering only)."""
    for tex in list(mjspec.textures):
        mjspec.delete(tex)
    for mat in mjspec.materials:
        mat.textures = [""] * len(mat.textures)


def _compile(mjspec: mujoco.MjSpec, what: str) -> mujoco.MjModel:
    try:
        return mjspec.compile()
    except ValueError as e:
        raise ConfigError(f"could not compile {what}: {e}") from None


def foot_geoms(m: mujoco.MjModel) -> set:
    """Ids of the four foot geoms: the sphere on each ``<leg>_foot`` site's body centred on the site."""
    out = set()
    for name in rc.FOOT_SITES:
        s = m.site(name).id
        b = int(m.site_bodyid[s])
        for g in range(int(m.body_geomadr[b]), int(m.body_geomadr[b] + m.body_geomnum[b])):
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE and np.linalg.norm(m.geom_pos[g] - m.site_pos[s]) < 1e-6:
                out.add(g)
    return out


def _probe_points(m: mujoco.MjModel, g: int) -> list:
    """(point in the geom's body frame, radius) spheres whose union bounds geom ``g`` from below:
    a capsule's or cylinder's two end spheres, a box's (or any other shape's bounding box's) 8 corners."""
    pos, mat = m.geom_pos[g], np.zeros(9)
    mujoco.mju_quat2Mat(mat, m.geom_quat[g])
    mat = mat.reshape(3, 3)
    t, size = int(m.geom_type[g]), m.geom_size[g]
    if t in (mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_CYLINDER):
        return [(pos + mat @ np.array([0.0, 0.0, s * size[1]]), float(size[0])) for s in (-1, 1)]
    c, h = m.geom_aabb[g, :3], m.geom_aabb[g, 3:]
    return [(pos + mat @ (c + h * np.array([sx, sy, sz])), 0.001) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]


def feet_only(mjspec: mujoco.MjSpec, m: mujoco.MjModel | None = None) -> list[str]:
    """Let only the four feet collide (``simulation.collision: feet``), keeping body contacts sensed.

    Every other colliding geom of the robot (trunk, hip, thigh and calf geoms) gets contype =
    conaffinity = 0 and, in its place, probes: :func:`mjx_envs.episode_logic.body_contact_zones`
    counts a zone as touching when a probe sphere reaches below the terrain height. A named sphere
    keeps one ``framepos`` sensor ``probe_<geom>`` (:data:`model.robot_constants.BODY_PROBE_PREFIX`;
    its radius is the contact distance); any other shape, or an unnamed sphere, gets sites at the
    points of :func:`_probe_points` with a ``framepos`` sensor each (``probe_<geom or body>_<k>``):
    exact on flat ground for capsules and boxes, conservative (early) for cylinders and meshes.
    ``m`` is ``mjspec`` compiled (for the geoms' compiled sizes; compiled here when None).
    Returns the names of the probed geoms."""
    m = m if m is not None else mjspec.compile()
    trunk = trunk_body(m)
    feet = foot_geoms(m)
    probed = []
    for b in subtree(m, trunk):
        body = mjspec.body(m.body(b).name)
        geoms = list(body.geoms)
        for k, g in enumerate(range(int(m.body_geomadr[b]), int(m.body_geomadr[b] + m.body_geomnum[b]))):
            if g in feet or (m.geom_contype[g] == 0 and m.geom_conaffinity[g] == 0):
                continue
            gs = geoms[k]
            gs.contype = 0
            gs.conaffinity = 0
            name = m.geom(g).name
            if name and m.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE:
                mjspec.add_sensor(
                    name=rc.BODY_PROBE_PREFIX + name,
                    type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
                    objtype=mujoco.mjtObj.mjOBJ_GEOM,
                    objname=name,
                )
            else:
                base = name or f"{m.body(b).name}_g{k}"
                for i, (p, r) in enumerate(_probe_points(m, g)):
                    site = f"{rc.BODY_PROBE_PREFIX}{base}_{i}"
                    body.add_site(name=site, pos=list(p), size=[r, 0, 0], group=5)
                    mjspec.add_sensor(
                        name=site, type=mujoco.mjtSensor.mjSENS_FRAMEPOS, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=site
                    )
            probed.append(name or f"{m.body(b).name}_g{k}")
    return probed


ROBOT_INCLUDE = '<include file="robot.xml"/>'
"""How every world MJCF includes the robot; ``simulation.robot_xml`` replaces it."""


def spec_with_robot(world_xml: str, robot_xml: str) -> mujoco.MjSpec:
    """``mujoco.MjSpec`` of world ``world_xml`` with the robot file ``robot_xml`` (absolute path)
    included in place of its ``<include file="robot.xml"/>`` line, as it is (not adapted); asset
    files resolve next to the world, then next to the robot (:func:`_resolve_asset_files`).

    Raises:
      ConfigError: the world has no such include line. ValueError: MuJoCo cannot parse the result.
    """
    with open(world_xml, "r", encoding="utf-8") as fh:
        text = fh.read()
    if ROBOT_INCLUDE not in text:
        raise ConfigError(f"{world_xml}: has no {ROBOT_INCLUDE} line to put the robot {robot_xml} in")
    spec = mujoco.MjSpec.from_string(text.replace(ROBOT_INCLUDE, f'<include file="{robot_xml}"/>'))
    world_dir = os.path.dirname(os.path.abspath(world_xml))
    spec.modelfiledir = world_dir
    _resolve_asset_files(spec, (world_dir, os.path.dirname(robot_xml)))
    return spec


def world_spec(world_xml: str, robot_xml: str | None = None) -> mujoco.MjSpec:
    """``mujoco.MjSpec`` of world ``world_xml`` with its robot adapted (:mod:`model.robot_adapter`);
    with ``robot_xml`` (absolute path) that robot is included in place of ``model/robot.xml``. Asset
    files (meshes, textures, heightfields, skins) resolve next to the file that names them, with its
    compiler ``meshdir``/``texturedir`` (:func:`_resolve_asset_files`)."""
    world_dir = os.path.dirname(os.path.abspath(world_xml))
    try:
        if robot_xml is None:
            spec = mujoco.MjSpec.from_file(world_xml)
        else:
            spec = spec_with_robot(world_xml, robot_xml)
    except ValueError as e:
        raise ConfigError(
            f"could not load MJCF {world_xml}" + (f" with the robot {robot_xml}" if robot_xml else "") + f": {e}"
        ) from None
    robot = robot_xml or os.path.join(world_dir, "robot.xml")
    return robot_adapter.apply(spec, robot_adapter.prepare(robot))


def _resolve_asset_files(spec: mujoco.MjSpec, folders) -> None:
    """Give every asset file the absolute path of the first of ``folder/dir/file`` (``dir``: the
    compiler's meshdir for meshes, heightfields and skins, texturedir for textures) and ``folder/file``
    that exists, over ``folders`` (the world's, then the robot's). A world that includes a robot with
    ``meshdir="meshes"`` then finds the robot's meshes next to the robot and its own heightfield next
    to itself."""
    for assets, sub in (
        (spec.meshes, spec.meshdir),
        (spec.hfields, spec.meshdir),
        (spec.skins, spec.meshdir),
        (spec.textures, spec.texturedir),
    ):
        for a in assets:
            name = a.file
            if not name:
                continue
            # the parser prefixes an included file's folder to its relative names, without the meshdir
            rels = (
                [name]
                if not os.path.isabs(name)
                else [os.path.relpath(name, f) for f in folders if name.startswith(os.path.join(f, ""))]
            )
            cands = [os.path.join(f, sub or "", r) for r in rels for f in folders]
            cands += [os.path.join(f, r) for r in rels for f in folders] + [name]
            found = next((c for c in cands if os.path.isfile(c)), None)
            if found is not None:
                a.file = os.path.abspath(found)


def suite_spec(
    xml_path: str, seed: int, spec: "terrain.SuiteSpec | None" = None, robot_xml: str | None = None
) -> mujoco.MjSpec:
    """``mujoco.MjSpec`` of the suite world ``xml_path`` with its hfield ``terrain`` sized from
    ``spec`` (default: ``configs/terrain.yaml``) and filled with ``terrain.generate_suite_heights(seed)``
    (about 0.5 s for the default 1.56 M samples).

    The XML's hfield is a placeholder: nrow, ncol and size come from the SuiteSpec (one source of
    truth), the terrain geom is moved to z = ``spec.z_min`` so that MuJoCo's [0, 1] elevations span
    [z_min, z_max]."""
    spec = spec if spec is not None else terrain.default_suite_spec()
    mjspec = world_spec(xml_path, robot_xml)
    hfield, geom = mjspec.hfield("terrain"), mjspec.geom("terrain")
    if hfield is None or geom is None:
        raise ConfigError(
            f"{xml_path}: the suite world needs an <hfield name='terrain'> and a <geom name='terrain'> using it"
        )
    data = terrain.suite_hfield_data(terrain.generate_suite_heights(seed, spec), spec)
    hfield.file = ""
    hfield.nrow, hfield.ncol = spec.nrow, spec.ncol
    hfield.size = list(spec.hfield_size())
    hfield.userdata = data
    geom.pos = [0.0, 0.0, spec.z_min]
    material = mjspec.material(geom.material) if geom.material else None
    if material is not None:  # 1 m checker squares, as on the rough world
        material.texrepeat = [2 * spec.size_x, 2 * spec.size_y]
        material.texuniform = False
    return mjspec


def _check_suite_hfield(m: mujoco.MjModel, xml_path: str, spec: "terrain.SuiteSpec") -> None:
    hid = m.geom_dataid[m.geom("terrain").id]
    got = (int(m.hfield_nrow[hid]), int(m.hfield_ncol[hid]), *np.round(m.hfield_size[hid], 9))
    want = (spec.nrow, spec.ncol, *np.round(spec.hfield_size(), 9))
    if got != want:
        raise ConfigError(
            f"{xml_path}: compiled hfield (nrow, ncol, size) = {got} differs from the "
            f"SuiteSpec of configs/terrain.yaml {want}"
        )


def load_suite_model(
    xml_path: str, seed: int, spec: "terrain.SuiteSpec | None" = None, robot_xml: str | None = None
) -> mujoco.MjModel:
    """Compile the suite world (:func:`suite_spec`) and check the compiled hfield against the SuiteSpec."""
    spec = spec if spec is not None else terrain.default_suite_spec()
    try:
        m = suite_spec(xml_path, seed, spec, robot_xml).compile()
    except ValueError as e:
        raise ConfigError(f"could not compile MJCF {xml_path}: {e}") from None
    _check_suite_hfield(m, xml_path, spec)
    return m


def terrain_heights(m: mujoco.MjModel) -> np.ndarray | None:
    """Heights (m, world z) of the model's hfield as an (nrow, ncol) array, or None for the flat world.

    Includes the hfield geom's z position (the suite world's geom sits at z_min < 0; the rough
    world's at 0)."""
    if m.nhfield == 0:
        return None
    nrow, ncol = int(m.hfield_nrow[0]), int(m.hfield_ncol[0])
    gids = np.flatnonzero((m.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD) & (m.geom_dataid == 0))
    z0 = float(m.geom_pos[gids[0], 2]) if len(gids) else 0.0
    h = np.asarray(m.hfield_data[: nrow * ncol], np.float64).reshape(nrow, ncol) * m.hfield_size[0, 2] + z0
    return h.astype(np.float32)


def sensor_slices_of(m: mujoco.MjModel) -> dict:
    """Map sensor name -> slice into ``sensordata`` of model ``m``."""
    return {
        m.sensor(i).name: slice(int(m.sensor_adr[i]), int(m.sensor_adr[i] + m.sensor_dim[i])) for i in range(m.nsensor)
    }
