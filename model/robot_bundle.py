"""A robot MJCF and every file it needs, copied into one folder and hashed (what an export carries).

:func:`bundle_robot` copies the robot file, the files it references and the mapping file beside
it into a destination folder, keeping their relative layout, so that the copy compiles on its own
after the original moves or changes. :func:`verify_bundle` re-hashes the copy against the record
that :func:`bundle_robot` returned and refuses a changed or missing file by name.

What is copied:

* the robot MJCF (the *entry*);
* every ``<include file>``, recursively;
* every ``<mesh file>``, ``<hfield file>``, ``<skin file>`` (found in ``compiler meshdir``) and
  ``<texture file>`` / ``fileright`` ... ``fileback`` (found in ``compiler texturedir``);
  ``assetdir`` sets both folders, ``strippath`` drops the path of each file name;
* ``robot.yaml`` beside the robot file, if there is one (the mapping file the adapter reads).

File names resolve the way MuJoCo 4 resolves them: relative to the entry's folder (joined with the
compiler folder for assets), else relative to the folder of the file that names them. Absolute
file names and compiler folders are rewritten in the copy to relative ones naming the copies.

Record (JSON-able)::

    {"entry": "my_robot.xml",                       # the robot MJCF, relative to the folder
     "files": [{"path": "my_robot.xml", "sha256": "...", "bytes": 10211}, ...],   # path order
     "source": "/abs/path/of/the/original/my_robot.xml",   # information only
     "sha256": "...",                               # of every file: see combined_sha256
     "rewritten": [],                               # copies whose absolute paths were made relative
     "adapted": "adapted_robot.xml",                # add_adapted_robot: the robot as the stack compiles it,
     "kinematics": {...}}                           #   and its leg chains, home pose, qpos addresses

Paths in the record use ``/`` and are relative to the destination folder. The files keep their
layout relative to the deepest folder that holds all of them (and the compiler folders), so a
robot whose meshes sit in ``../meshes`` is copied as ``robot/go1.xml`` and ``meshes/...``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re
import shutil
import xml.etree.ElementTree as ET
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from model.yaml_config import ConfigError

MAPPING_FILE = "robot.yaml"
"""The mapping file copied with the robot when it sits beside the robot MJCF."""

MESH_DIR_ASSETS = {"mesh": ("file",), "hfield": ("file",), "skin": ("file",)}
"""Asset elements found in ``compiler meshdir`` and the attributes that name their files."""

TEXTURE_DIR_ASSETS = {"texture": ("file", "fileright", "fileleft", "fileup", "filedown", "filefront", "fileback")}
"""Asset elements found in ``compiler texturedir`` and the attributes that name their files."""

_CHUNK = 1 << 20


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def combined_sha256(files: Iterable[Mapping[str, Any]]) -> str:
    """One SHA-256 (hex) of a bundle: of the lines ``"<path> <sha256>\\n"`` of its files in path order.

    Independent of where the bundle or its original lie: the same robot gives the same hash."""
    lines = sorted(f"{f['path']} {f['sha256']}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


# ------------------------------------------------------------------------------------ reading


def _parse(path: str, named_by: str) -> ET.Element:
    if not os.path.isfile(path):
        raise ConfigError(f"{named_by}: file not found: {path}")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ConfigError(
            f"{path}: not readable XML ({e}); fix the file or point simulation.robot_xml at another one"
        ) from None


def _resolve(name: str, folder: str, entry_dir: str, element_file: str, what: str) -> str:
    """Absolute path of the file ``name`` the way MuJoCo finds it, or ConfigError.

    ``folder``: the compiler folder (meshdir/texturedir, '' for includes); ``element_file``: the
    MJCF file whose element names ``name``."""
    if os.path.isabs(name):
        candidates = [name]
    else:
        base = _base(folder, entry_dir)
        rel_dir = os.path.relpath(os.path.dirname(element_file), entry_dir)
        candidates = [os.path.join(base, name)]
        if rel_dir != os.curdir:
            candidates.append(os.path.join(base, rel_dir, name))
    for c in candidates:
        if os.path.isfile(c):
            return os.path.normpath(os.path.abspath(c))
    raise ConfigError(
        f"{element_file}: {what} names {name!r}, found in none of {', '.join(candidates)}; "
        f"fix the path in {os.path.basename(element_file)} or put the file there"
    )


def _base(folder: str, entry_dir: str) -> str:
    """The folder a compiler folder names (absolute, or relative to the entry's folder)."""
    return os.path.normpath(folder if os.path.isabs(folder) else os.path.join(entry_dir, folder))


def _walk(entry: str) -> Tuple[List[Tuple[ET.Element, str]], List[Tuple[str, str, str]]]:
    """Every element of the entry and its includes, each with the file it is written in; and the
    includes as ``(included file, file attribute, including file)``, in include order."""
    entry_dir = os.path.dirname(entry)
    elements: List[Tuple[ET.Element, str]] = []
    includes: List[Tuple[str, str, str]] = []

    def visit(path: str, named_by: str) -> None:
        for el in _parse(path, named_by).iter():
            if el.tag == "include":
                name = el.get("file")
                if not name:
                    raise ConfigError(f"{path}: <include> without a file attribute")
                inc = _resolve(name, "", entry_dir, path, "<include file>")
                if inc == entry or inc in (i for i, _, _ in includes):
                    raise ConfigError(f"{path}: {inc} is included twice (MuJoCo refuses that too)")
                includes.append((inc, name, path))
                visit(inc, path)
            else:
                elements.append((el, path))

    visit(entry, "simulation.robot_xml")
    return elements, includes


def _compiler_dirs(entry: str) -> Tuple[str, str, bool]:
    """``(meshdir, texturedir, strippath)`` of the robot as MuJoCo reads them (every ``<compiler>``
    of the entry and its includes, later ones overriding earlier ones)."""
    import mujoco

    try:
        spec = mujoco.MjSpec.from_file(entry)
    except ValueError as e:
        raise ConfigError(f"{entry}: MuJoCo cannot read it ({e}); `python -m model.check {entry}` says more") from None
    return spec.meshdir, spec.texturedir, bool(spec.strippath)


@dataclasses.dataclass(frozen=True)
class RobotFiles:
    """What a robot MJCF needs, found by :func:`robot_files`.

    Attributes:
      entry: the robot MJCF (absolute path).
      files: every file to copy (absolute paths): the entry, its includes, its assets and the
        mapping file, each once.
      folders: the compiler folders its assets are looked up in (absolute paths).
      rewrites: ``(MJCF file, attribute, absolute value, relative value)``: the absolute paths the
        copy of that file names relative to the copied entry (a compiler folder relative to the
        entry's folder, a file name relative to its folder), so that the copy names the copies.
    """

    entry: str
    files: Tuple[str, ...]
    folders: Tuple[str, ...]
    rewrites: Tuple[Tuple[str, str, str, str], ...]


def robot_files(robot_xml: str) -> RobotFiles:
    """The files the robot MJCF ``robot_xml`` needs (module docstring: what is copied).

    Raises:
      ConfigError: the robot file or a file it names is missing or unreadable (the message names
        the file and the reference).
    """
    entry = os.path.normpath(os.path.abspath(robot_xml))
    if not os.path.isfile(entry):
        raise ConfigError(f"key 'simulation.robot_xml': robot file not found: {entry}")
    entry_dir = os.path.dirname(entry)
    elements, includes = _walk(entry)
    meshdir, texturedir, strippath = _compiler_dirs(entry)
    rewrites = [
        (where, "file", name, os.path.relpath(inc, entry_dir)) for inc, name, where in includes if os.path.isabs(name)
    ]
    for el, where in elements:
        if el.tag == "compiler":
            rewrites += [
                (where, attr, el.get(attr), os.path.relpath(el.get(attr), entry_dir))
                for attr in ("assetdir", "meshdir", "texturedir")
                if os.path.isabs(el.get(attr) or "")
            ]
    assets: List[str] = []
    for el, where in elements:
        for table, folder in ((MESH_DIR_ASSETS, meshdir), (TEXTURE_DIR_ASSETS, texturedir)):
            for attr in table.get(el.tag, ()):
                name = el.get(attr)
                if not name:
                    continue
                if strippath:
                    name = os.path.basename(name.replace("\\", "/"))
                found = _resolve(name, folder, entry_dir, where, f"<{el.tag} {attr}>")
                assets.append(found)
                if os.path.isabs(name):
                    rewrites.append((where, attr, name, os.path.relpath(found, _base(folder, entry_dir))))
    mapping = os.path.join(entry_dir, MAPPING_FILE)
    files: List[str] = []
    for p in [entry, *(i for i, _, _ in includes), *assets, *([mapping] if os.path.isfile(mapping) else [])]:
        if p not in files:
            files.append(p)
    folders = tuple(dict.fromkeys(_base(f, entry_dir) for f in (meshdir, texturedir)))
    return RobotFiles(entry, tuple(files), folders, tuple(dict.fromkeys(rewrites)))


def referenced_files(robot_xml: str) -> List[str]:
    """Absolute paths of every file the robot MJCF ``robot_xml`` needs, the entry first
    (:func:`robot_files`)."""
    return list(robot_files(robot_xml).files)


# ------------------------------------------------------------------------------------ writing


def _relative_layout(paths: Sequence[str], folders: Sequence[str]) -> Tuple[str, Dict[str, str]]:
    """The deepest folder holding every path and folder, and each path relative to it ('/' separated)."""
    root = os.path.commonpath([os.path.dirname(p) for p in paths] + list(folders))
    return root, {p: os.path.relpath(p, root).replace(os.sep, "/") for p in paths}


def _rewrite(path: str, rewrites: Sequence[Tuple[str, str, str]]) -> None:
    """Replace, in the MJCF file ``path``, each ``attribute="absolute value"`` by the relative value."""
    with open(path, "r", encoding="utf-8") as fh:
        text = fh.read()
    for attr, old, new in rewrites:
        pattern = re.compile(rf"(\b{attr}\s*=\s*)([\"']){re.escape(old)}\2")
        text, n = pattern.subn(lambda m: f"{m.group(1)}{m.group(2)}{new.replace(os.sep, '/')}{m.group(2)}", text)
        if n == 0:
            raise ConfigError(
                f'{path}: cannot find {attr}="{old}" to make it relative in the copy; write it '
                f"relative to the robot file"
            )
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def bundle_robot(robot_xml: str, dest_dir: str) -> Dict[str, Any]:
    """Copy the robot MJCF ``robot_xml``, every file it references and its ``robot.yaml`` into
    ``dest_dir`` (created; files already there are overwritten), keeping their relative layout.

    Absolute paths in the MJCF files (compiler folders, file names) are rewritten in the copies to
    relative ones naming the copied files; the record lists those copies under ``rewritten``.

    Returns the JSON-able record (module docstring) that :func:`verify_bundle` checks. When the
    original compiles on its own, the copy is compiled too and must compile as well.

    Raises:
      ConfigError: the robot file or a file it names is missing or unreadable (the message names
        the file and the reference).
    """
    found = robot_files(robot_xml)
    root, layout = _relative_layout(found.files, found.folders)
    for folder in found.folders:
        os.makedirs(os.path.join(dest_dir, os.path.relpath(folder, root)), exist_ok=True)
    files, rewritten = [], []
    for src, rel in layout.items():
        dst = os.path.join(dest_dir, *rel.split("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
        edits = [(attr, old, new) for where, attr, old, new in found.rewrites if where == src]
        if edits:
            _rewrite(dst, edits)
            rewritten.append(rel)
        files.append({"path": rel, "sha256": file_sha256(dst), "bytes": os.path.getsize(dst)})
    files.sort(key=lambda f: f["path"])
    entry = layout[found.entry]
    record = {
        "entry": entry,
        "files": files,
        "source": found.entry,
        "sha256": combined_sha256(files),
        "rewritten": sorted(rewritten),
    }
    _check_copy_compiles(found.entry, os.path.join(dest_dir, *entry.split("/")))
    return record


ADAPTED_FILE = "adapted_robot.xml"
"""The adapted robot :func:`add_adapted_robot` writes beside the bundled entry."""


def add_adapted_robot(dest_dir: str, record: Dict[str, Any]) -> Dict[str, Any]:
    """Write the bundled robot as the stack compiles it (:mod:`model.robot_adapter` applied: the
    stack's sensors, sites, actuator order, home keyframe) to :data:`ADAPTED_FILE` beside the entry,
    hashed with the other files, and record its kinematics (``record["kinematics"]``: trunk, hip
    offsets, leg chains, foot radius, home pose, joint qpos addresses) so that a program without this
    repository (``deploy/robot_loop.py``) can drive any robot the stack trained. Returns ``record``
    updated (its combined sha256 too).

    Raises:
      ConfigError: the bundled robot does not adapt (:class:`model.robot_adapter.RobotModelError`).
    """
    import mujoco

    from model.robot_adapter import apply, prepare
    from model.robot_spec import adapted_robot_model, robot_spec

    entry = os.path.join(dest_dir, *record["entry"].split("/"))
    adapted = apply(mujoco.MjSpec.from_file(entry), prepare(entry))
    adapted.compile()
    rel = posixpath.join(posixpath.dirname(record["entry"]), ADAPTED_FILE)
    path = os.path.join(dest_dir, *rel.split("/"))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(adapted.to_xml())
    spec = robot_spec(adapted_robot_model(path), path)
    files = sorted(
        [f for f in record["files"] if f["path"] != rel]
        + [{"path": rel, "sha256": file_sha256(path), "bytes": os.path.getsize(path)}],
        key=lambda f: f["path"],
    )
    kinematics = {
        "trunk": spec.trunk,
        "hip_offsets": [list(h) for h in spec.hip_offsets],
        "chains": [dataclasses.asdict(c) for c in spec.chains],
        "foot_radius": spec.foot_radius,
        "home_joints": list(spec.home_joints),
        "home_trunk_height": spec.home_trunk_height,
        "qpos_adr": list(spec.qpos_adr),
    }
    return {**record, "files": files, "sha256": combined_sha256(files), "adapted": rel, "kinematics": kinematics}


def _check_copy_compiles(original: str, copy: str) -> None:
    import mujoco

    try:
        mujoco.MjModel.from_xml_path(original)
    except ValueError:
        return  # a robot that only compiles inside a world: nothing to compare
    try:
        mujoco.MjModel.from_xml_path(copy)
    except ValueError as e:
        raise ConfigError(
            f"{original} compiles but its copy {copy} does not ({e}): it needs a file this bundler "
            f"did not find; name it with <include>, <mesh>, <texture>, <hfield> or <skin>"
        ) from None


# ----------------------------------------------------------------------------------- checking


def _record_files(record: Mapping[str, Any], where: str) -> List[Mapping[str, Any]]:
    files = record.get("files") if isinstance(record, Mapping) else None
    if not isinstance(files, list) or not isinstance(record.get("entry"), str) or not files:
        raise ConfigError(f"{where}: the robot record needs 'entry' and a non-empty 'files' list; re-export the run")
    for f in files:
        path = f.get("path") if isinstance(f, Mapping) else None
        if (
            not isinstance(path, str)
            or not isinstance(f.get("sha256"), str)
            or posixpath.isabs(path)
            or ".." in path.split("/")
        ):
            raise ConfigError(
                f"{where}: bad robot file entry {f!r} (a relative path inside the bundle and its "
                f"sha256); re-export the run"
            )
    return files


def verify_bundle(dest_dir: str, record: Mapping[str, Any], where: Optional[str] = None) -> str:
    """Absolute path of the bundled robot MJCF in ``dest_dir`` once every file of ``record`` is
    there with its recorded SHA-256.

    ``where``: what holds the record (e.g. the export's ``meta.json``), for messages.

    Raises:
      ConfigError: a file is missing or differs from the record (the message names it: it was
        changed after export), or the record itself is malformed or inconsistent.
    """
    where = where or os.path.join(dest_dir, "(robot record)")
    files = _record_files(record, where)
    if record["entry"] not in {f["path"] for f in files}:
        raise ConfigError(f"{where}: robot entry {record['entry']!r} is not among the bundled files; re-export the run")
    if record.get("sha256") != combined_sha256(files):
        raise ConfigError(
            f"{where}: the robot record's combined sha256 does not match its file list (the record "
            f"was edited); re-export the run"
        )
    for f in files:
        path = os.path.join(dest_dir, *f["path"].split("/"))
        if not os.path.isfile(path):
            raise ConfigError(
                f"bundled robot file missing: {path} (removed after export; re-export the run, or restore it)"
            )
        got = file_sha256(path)
        if got != f["sha256"]:
            raise ConfigError(
                f"bundled robot file changed after export: {path} has SHA-256 {got[:12]}..., "
                f"{where} records {f['sha256'][:12]}... (re-export the run, or restore the file)"
            )
    return os.path.abspath(os.path.join(dest_dir, *record["entry"].split("/")))
