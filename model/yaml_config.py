"""Typed, validated YAML configuration for frozen dataclasses.

Every config object in this project (simulation, gait, environment, PPO) is a frozen dataclass.
This module turns a YAML mapping into such a dataclass and refuses anything it does not
understand, naming the offending key and the file:

* a missing file                    -> ``ConfigError("... not found")``
* a key the dataclass does not have -> ``ConfigError("unknown key 'x' in <file> ...")``
* a value of the wrong type         -> ``ConfigError("key 'x' in <file> must be float ...")``
* a value out of its range          -> checked by the dataclass' ``validate()``; re-raised with
                                        the file name.

Ranges are declared next to the field with ``field(metadata={"range": (lo, hi)})`` or
``metadata={"choices": (...)}``; ``check_ranges`` enforces them.

Defaults live in the YAML files of ``configs/``, not in Python: :func:`yaml_dataclass` makes a
frozen dataclass whose every field takes its default from a YAML file (or one section of it),
read once at import. The dataclass declares types and ranges; the file, which users read and
edit, holds the values.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import reprlib
import types
import typing
from typing import Any, Callable, Mapping, Optional, Sequence, Type, TypeVar

import yaml

_YAML11_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")

MAX_YAML_BYTES = 4_000_000
"""Largest YAML file :func:`read_yaml` reads (the training config is ~12 kB)."""
MAX_YAML_NODES = 200_000
"""Most nodes a YAML document may expand to, counting each alias (``*name``) as a copy of what it
names: a few nested aliases can otherwise stand for billions of nodes ("billion laughs")."""

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 80, 80, 3, 8, 6

T = TypeVar("T")


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to a few lines' worth (error messages quote values the user wrote)."""
    return _REPR.repr(value)


def _expanded_nodes(node: yaml.Node, memo: dict) -> int:
    """Nodes of ``node``'s tree with every alias expanded (memoised by node identity)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once
    if isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_nodes(c, memo) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_nodes(k, memo) + _expanded_nodes(v, memo) for k, v in node.value)
    else:
        n = 1
    memo[key] = min(n, 10 * MAX_YAML_NODES)
    return memo[key]


def safe_load_bounded(text: str, where: str) -> Any:
    """``yaml.safe_load(text)`` that refuses a document expanding to more than
    :data:`MAX_YAML_NODES` nodes (ConfigError naming ``where``) before building it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        n = _expanded_nodes(node, {})
        if n > MAX_YAML_NODES:
            raise ConfigError(
                f"{where}: the YAML expands to more than {MAX_YAML_NODES:,d} values through its "
                f"aliases (*name); a config needs a few hundred: remove the nested aliases"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


class ConfigError(ValueError):
    """A configuration file or override is malformed; the message names the key and file."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Coerce a YAML scalar/list to the annotated type, or raise ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (value == "auto" and str not in args)):
            return None  # an optional number: null or "auto" (derived, e.g. from the robot)
        non_none = [a for a in args if a is not type(None)]
        last_err = None
        for a in non_none:
            try:
                return _coerce(value, a, key, where)
            except ConfigError as e:  # try the next member of the union
                last_err = e
        raise last_err  # type: ignore[misc]
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"key '{key}' in {where} must be a mapping, got {short_repr(value)}")
        return from_dict(tp, value, where=where, prefix=f"{key}.")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"key '{key}' in {where} must be a list, got {short_repr(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"key '{key}' in {where} must have {len(args)} entries, got {len(value)}")
            return tuple(_coerce(v, a, f"{key}[{i}]", where) for i, (v, a) in enumerate(zip(value, args)))
        elem = args[0] if args else Any
        out = [_coerce(v, elem, f"{key}[{i}]", where) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"key '{key}' in {where} must be a mapping, got {short_repr(value)}")
        if args:
            return {str(k): _coerce(v, args[1], f"{key}.{k}", where) for k, v in value.items()}
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"key '{key}' in {where} must be true/false, got {short_repr(value)}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"key '{key}' in {where} must be an integer, got {short_repr(value)}")
        return value
    if tp is float:
        if isinstance(value, str) and _YAML11_FLOAT.match(value.strip()):
            value = float(value)  # YAML 1.1 reads "1e-4" (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"key '{key}' in {where} must be a number, got {short_repr(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"key '{key}' in {where} must be finite, got {short_repr(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"key '{key}' in {where} must be a string, got {short_repr(value)}")
        return value
    raise ConfigError(f"key '{key}' in {where}: unsupported type {_type_name(tp)}")


def from_dict(cls: Type[T], data: Mapping[str, Any], where: str = "<dict>", prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and bad types raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    if hasattr(cls, "migrate"):  # a dataclass that renamed keys translates the old ones first
        data = cls.migrate(data, where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key '{prefix}{unknown[0]}' in {where} (valid keys for {cls.__name__}: "
            f"{', '.join(sorted(fields))})"
        )
    kwargs = {}
    for name, value in data.items():
        default = fields[name].default
        if isinstance(value, Mapping) and dataclasses.is_dataclass(default) and not isinstance(default, type):
            # a partial nested mapping keeps this field's own default for the keys it leaves out
            # (e.g. ``friction: {enabled: true}`` keeps friction's range, not RandomRange's)
            value = {
                **{
                    f.name: getattr(default, f.name)
                    for f in dataclasses.fields(default)
                    if f.init and f.name not in value
                },
                **value,
            }
        kwargs[name] = _coerce(value, hints[name], prefix + name, where)
    try:
        obj = cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{where}: {e}") from None
    try:
        check_ranges(obj, prefix=prefix)
        if hasattr(obj, "validate"):
            obj.validate()
    except ConfigError as e:
        raise ConfigError(f"{e} (in {where})") from None
    return obj


def check_ranges(obj: Any, prefix: str = "") -> None:
    """Enforce ``metadata={'range': (lo, hi)}`` / ``{'choices': ...}`` on every field of ``obj``."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if "range" in f.metadata and value is not None:
            lo, hi = f.metadata["range"]
            vals = value if isinstance(value, (tuple, list)) else (value,)
            for v in vals:
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    raise ConfigError(f"key '{prefix}{f.name}' = {short_repr(value)} is out of range [{lo}, {hi}]")
        if "choices" in f.metadata and value not in f.metadata["choices"]:
            raise ConfigError(
                f"key '{prefix}{f.name}' = {short_repr(value)} must be one of {list(f.metadata['choices'])}"
            )


def read_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping; missing file or non-mapping content raise ConfigError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    size = os.path.getsize(path)
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{path} is {size:,d} bytes: a config file is at most {MAX_YAML_BYTES:,d} (is it a config?)")
    try:
        with open(path, "r", encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        data = safe_load_bounded(text, path)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {short_repr(str(e)) if len(str(e)) > 600 else e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must contain a YAML mapping at the top level")
    return data


def load_dataclass(cls: Type[T], path: str | os.PathLike, section: str | None = None) -> T:
    """Load ``cls`` from a YAML file (optionally from one top-level ``section`` of it)."""
    data = read_yaml(path)
    where = os.fspath(path)
    if section is not None:
        data = data.get(section, {})
        where = f"{where} [{section}]"
    return from_dict(cls, data, where=where)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse a ``dotted.key=value`` override; the value is parsed as YAML (so 3e-4, true, [1,2])."""
    if "=" not in text:
        raise ConfigError(f"malformed override {text!r}: expected key=value (e.g. ppo.learning_rate=3e-4)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"malformed override {text!r}: empty key")
    if len(text) > 10_000:
        raise ConfigError(f"override {short_repr(text)} is {len(text):,d} characters long: a value is at most 10,000")
    try:
        value = safe_load_bounded(raw, f"override {key}") if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"malformed override {text!r}: value is not valid YAML") from None
    return key.split("."), value


def apply_overrides(
    data: dict, overrides: Sequence[str], check_key: Optional[Callable[[list, str], None]] = None
) -> dict:
    """Return a copy of nested mapping ``data`` with ``key=value`` overrides applied in order.

    ``check_key(parts, text)``, when given, is called first for each override (e.g. to refuse
    keys the config classes do not have). A missing or null section on the way is created; a
    key path through a value that is not a section raises :class:`ConfigError`.
    """
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        if check_key is not None:
            check_key(parts, text)
        node = out
        for p in parts[:-1]:
            if node.get(p) is None:
                node[p] = {}
            node = node[p]
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: '{p}' is not a section")
        node[parts[-1]] = value
    return out


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain nested dict/list (tuples become lists) suitable for YAML/JSON."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


DEFAULTS_SOURCE_ATTR = "__yaml_defaults__"
"""Attribute :func:`yaml_dataclass` sets on a class: ``(path, section)`` its defaults come from."""

_DEFAULTS_FILES: dict = {}


def yaml_section(path: str | os.PathLike, section: Optional[str] = None) -> tuple[dict, str]:
    """The mapping at ``section`` (dotted for a nested one: ``run.early_stopping``) of YAML file
    ``path``, read once per process, and its name for messages (``path [section]``).

    Raises:
      ConfigError: missing or malformed file, or no mapping at ``section``.
    """
    path = os.fspath(path)
    if path not in _DEFAULTS_FILES:
        _DEFAULTS_FILES[path] = read_yaml(path)
    data: Any = _DEFAULTS_FILES[path]
    if section is None:
        return dict(data), path
    where = f"{path} [{section}]"
    for part in section.split("."):
        data = data.get(part) if isinstance(data, Mapping) else None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path} has no section '{section}' (a mapping of keys)")
    return dict(data), where


def yaml_dataclass(path: str | os.PathLike, section: Optional[str] = None) -> Callable[[type], type]:
    """Class decorator: ``cls`` as a frozen dataclass whose field defaults are the values of YAML
    file ``path`` (or of its ``section``), read once at import.

    The class body declares each field's type and, optionally, ``field(metadata=...)`` with its
    range or choices, but no default: the file is the one place the values live, so
    ``cls() == from_dict(cls, <the file>)`` by construction and ``cls(key=value)`` overrides a few.
    The defaults are checked like a loaded file (types, ranges, ``validate()``).

    Raises (at import):
      ConfigError: the file is missing or malformed; it lacks a field or has a key that is no
        field (naming the key and the file); a field has a default in Python; a value is invalid.
    """

    def wrap(cls: type) -> type:
        data, where = yaml_section(path, section)
        own = list(cls.__dict__.get("__annotations__", {}))
        unknown = sorted(set(data) - set(own))
        if unknown:
            raise ConfigError(
                f"unknown key '{unknown[0]}' in {where}: {cls.__name__} has no such field (fields: {', '.join(own)})"
            )
        hints = typing.get_type_hints(cls)
        for name in own:
            if name not in data:
                raise ConfigError(
                    f"{where} lacks key '{name}': the default of {cls.__name__}.{name} is read from this file"
                )
            declared = cls.__dict__.get(name, dataclasses.MISSING)
            has_default = not isinstance(declared, dataclasses.Field) or (
                declared.default is not dataclasses.MISSING or declared.default_factory is not dataclasses.MISSING
            )
            if declared is not dataclasses.MISSING and has_default:
                raise ConfigError(
                    f"{cls.__name__}.{name} has a default in Python; its default is key '{name}' of {where}"
                )
            value = _coerce(data[name], hints[name], name, where)
            if isinstance(declared, dataclasses.Field):
                declared.default = value
            else:
                setattr(cls, name, value)
        out = dataclasses.dataclass(frozen=True)(cls)
        setattr(out, DEFAULTS_SOURCE_ATTR, (os.fspath(path), section))
        from_dict(out, data, where=where)  # ranges and cross-field rules of the defaults
        return out

    return wrap


def defaults_source(cls: type) -> Optional[tuple[str, Optional[str]]]:
    """``(path, section)`` of the YAML that ``cls``'s defaults come from (None: not a
    :func:`yaml_dataclass`)."""
    return cls.__dict__.get(DEFAULTS_SOURCE_ATTR)
