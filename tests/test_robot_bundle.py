"""model/robot_bundle.py: a robot MJCF copied with its includes, assets and robot.yaml, and hashed."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib

import mujoco
import pytest

from model.robot_bundle import MAPPING_FILE, bundle_robot, combined_sha256, verify_bundle
from model.simulation_config import REPO_ROOT
from model.yaml_config import ConfigError

SHIPPED = os.path.join(REPO_ROOT, "model", "robot.xml")


def _stl(path: str) -> None:
    """A binary STL tetrahedron of 10 cm edges."""
    v = [(0, 0, 0), (0.1, 0, 0), (0, 0.1, 0), (0, 0, 0.1)]
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    with open(path, "wb") as fh:
        fh.write(b"\0" * 80 + struct.pack("<I", len(faces)))
        for face in faces:
            fh.write(struct.pack("<3f", 0, 0, 0))
            for i in face:
                fh.write(struct.pack("<3f", *v[i]))
            fh.write(b"\0\0")


def _png(path: str, size: int = 4) -> None:
    """A grey ``size`` x ``size`` RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + b"\x80" * 3 * size for _ in range(size))
    with open(path, "wb") as fh:
        fh.write(
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b"")
        )


def _write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def _robot_with_files(root: str) -> str:
    """``root/robots/bot/bot.xml``: includes ``parts/body.xml`` (which includes ``geoms.xml`` beside
    itself), a mesh in ``root/meshes`` (meshdir ``../../meshes``), a PNG texture in ``tex/`` and a
    robot.yaml. Returns the robot file's path."""
    bot = os.path.join(root, "robots", "bot")
    os.makedirs(os.path.join(root, "meshes"), exist_ok=True)
    _stl(os.path.join(root, "meshes", "tet.stl"))
    os.makedirs(os.path.join(bot, "tex"), exist_ok=True)
    _png(os.path.join(bot, "tex", "skin.png"))
    _write(os.path.join(bot, MAPPING_FILE), "legs: {}\n")
    _write(
        os.path.join(bot, "parts", "geoms.xml"),
        '<mujoco><worldbody><body name="trunk" pos="0 0 0.3"><freejoint/>'
        '<geom type="mesh" mesh="tet" material="skin"/></body></worldbody></mujoco>',
    )
    _write(os.path.join(bot, "parts", "body.xml"), '<mujoco><include file="geoms.xml"/></mujoco>')
    return _write(
        os.path.join(bot, "bot.xml"),
        '<mujoco><compiler meshdir="../../meshes" texturedir="tex"/>'
        '<asset><mesh name="tet" file="tet.stl"/><texture name="skin" type="2d" file="skin.png"/>'
        '<material name="skin" texture="skin"/></asset>'
        '<include file="parts/body.xml"/></mujoco>',
    )


def test_round_trip_of_the_shipped_robot(tmp_path):
    record = bundle_robot(SHIPPED, str(tmp_path / "a"))
    assert record["entry"] == "robot.xml" and record["source"] == SHIPPED
    assert [f["path"] for f in record["files"]] == ["robot.xml"] and record["rewritten"] == []
    assert record["files"][0]["bytes"] == os.path.getsize(SHIPPED)
    assert json.loads(json.dumps(record)) == record  # JSON-able
    assert verify_bundle(str(tmp_path / "a"), record) == str(tmp_path / "a" / "robot.xml")
    # the combined hash names the robot, not where it lies
    assert bundle_robot(SHIPPED, str(tmp_path / "b"))["sha256"] == record["sha256"]
    assert record["sha256"] == combined_sha256(record["files"])


def test_includes_assets_and_mapping_are_copied_and_compile_without_the_original(tmp_path):
    entry = _robot_with_files(str(tmp_path / "src"))
    mujoco.MjModel.from_xml_path(entry)  # the original compiles
    record = bundle_robot(entry, str(tmp_path / "bundle"))
    assert record["entry"] == "robots/bot/bot.xml"
    assert sorted(f["path"] for f in record["files"]) == [
        "meshes/tet.stl",
        "robots/bot/bot.xml",
        "robots/bot/parts/body.xml",
        "robots/bot/parts/geoms.xml",
        f"robots/bot/{MAPPING_FILE}",
        "robots/bot/tex/skin.png",
    ]
    shutil.rmtree(tmp_path / "src")
    path = verify_bundle(str(tmp_path / "bundle"), record)
    m = mujoco.MjModel.from_xml_path(path)
    assert m.nmesh == 1 and m.ntex == 1 and m.body("trunk").id == 1


def test_a_changed_or_missing_bundled_file_is_refused_by_name(tmp_path):
    entry = _robot_with_files(str(tmp_path / "src"))
    changed, missing = str(tmp_path / "changed"), str(tmp_path / "missing")
    record = bundle_robot(entry, changed)
    assert bundle_robot(entry, missing) == record
    mesh = tmp_path / "changed" / "meshes" / "tet.stl"
    mesh.write_bytes(mesh.read_bytes()[:-2] + b"\1\1")
    with pytest.raises(ConfigError, match=r"changed after export: .*meshes/tet\.stl .*re-export the run, or restore"):
        verify_bundle(changed, record, where="meta.json")
    os.remove(os.path.join(missing, "robots", "bot", MAPPING_FILE))
    with pytest.raises(ConfigError, match=r"missing: .*robots/bot/robot\.yaml"):
        verify_bundle(missing, record)
    edited = {**record, "files": record["files"][1:]}  # a record whose combined hash no longer fits
    with pytest.raises(ConfigError, match="combined sha256"):
        verify_bundle(changed, edited)
    escape = {**record, "files": [{"path": "../x.xml", "sha256": "0", "bytes": 1}]}
    with pytest.raises(ConfigError, match="bad robot file entry"):
        verify_bundle(changed, escape)


def test_absolute_paths_are_made_relative_in_the_copy(tmp_path):
    """A robot naming its mesh folder and a texture by absolute path: the copies are bundled and the
    copied MJCF names them relative to itself, so the bundle compiles without the original."""
    src = tmp_path / "src"
    os.makedirs(src / "shared" / "meshes")
    os.makedirs(src / "tex")
    _stl(str(src / "shared" / "meshes" / "tet.stl"))
    _png(str(src / "tex" / "skin.png"))
    entry = _write(
        str(src / "robot" / "bot.xml"),
        f'<mujoco><compiler meshdir="{src}/shared/meshes"/>'
        f'<asset><mesh name="tet" file="tet.stl"/><texture name="skin" type="2d" file="{src}/tex/skin.png"/>'
        '<material name="skin" texture="skin"/></asset>'
        '<worldbody><body name="trunk"><freejoint/><geom type="mesh" mesh="tet" material="skin"/></body>'
        "</worldbody></mujoco>",
    )
    record = bundle_robot(entry, str(tmp_path / "bundle"))
    assert record["entry"] == "robot/bot.xml" and record["rewritten"] == ["robot/bot.xml"]
    assert sorted(f["path"] for f in record["files"]) == ["robot/bot.xml", "shared/meshes/tet.stl", "tex/skin.png"]
    shutil.rmtree(src)
    path = verify_bundle(str(tmp_path / "bundle"), record)
    text = open(path).read()
    assert 'meshdir="../shared/meshes"' in text and 'file="../tex/skin.png"' in text and str(src) not in text
    assert mujoco.MjModel.from_xml_path(path).ntex == 1


def test_unresolvable_references_are_named(tmp_path):
    entry = _robot_with_files(str(tmp_path / "src"))
    os.remove(tmp_path / "src" / "meshes" / "tet.stl")
    with pytest.raises(ConfigError, match=r"bot\.xml: <mesh file> names 'tet\.stl', found in none of"):
        bundle_robot(entry, str(tmp_path / "bundle"))
    with pytest.raises(ConfigError, match="robot file not found"):
        bundle_robot(str(tmp_path / "nope.xml"), str(tmp_path / "bundle3"))
