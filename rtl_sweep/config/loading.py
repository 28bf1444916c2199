"""Building a run config from nested keys, a YAML file and `--set key.sub=value` overrides.

    python -c "from rtl_sweep.config import RunConfig; print(RunConfig.load(None, ['seed=3']).seed)"

Every key is checked against the config's fields (a wrong one is named with the nearest valid
keys) and every value against its field's type. The functions take the config class (`cls`, the
root of its key tree), so RunConfig's own methods can call them.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from rtl_sweep.config.tree import dotted_fields, given, nearest, non_default
from rtl_sweep.errors import ConfigError


def build(cls: type, d: dict, source: str, root: type | None = None, prefix: str = "") -> Any:
    """Dataclass `cls` from nested dict `d`; `root` is the tree's top class (the keys an unknown
    key is compared with), `cls` itself unless a section is being built."""
    root = root or cls
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for key, value in d.items():
        dotted = prefix + str(key)
        if key not in names:
            near = nearest(dotted, root)
            hint = f"did you mean {', '.join(near)}?" if near else "see docs/config_keys.md"
            raise ConfigError(f"{source}: unknown config key {dotted!r}", hint)
        t = hints[key]
        if dataclasses.is_dataclass(t):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {dotted!r} must be a mapping of sub-keys",
                                  f"write e.g. {dotted}: {{...}}")
            kwargs[key] = build(t, value, source, root, dotted + ".")
        else:
            kwargs[key] = coerce(value, t, dotted, source)
    return cls(**kwargs)


def coerce(value: Any, t: Any, key: str, source: str) -> Any:
    """`value` as field type `t` (YAML's text floats and comma lists accepted), or one clear error."""
    t = {"int": int, "float": float, "str": str, "bool": bool, "list": list}.get(t, t) \
        if isinstance(t, str) else t
    if t is float and isinstance(value, str):
        try:  # YAML reads 1e-4 as a string; accept it rather than fail on a common spelling
            out = float(value)
        except ValueError:
            pass
        else:
            warnings.warn(f"{source}: {key}={value!r} read as text by YAML; using {out} "
                          "(write 1.0e-4 to silence this)", stacklevel=2)
            return out
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if t is list and isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if t is list and isinstance(value, tuple):
        return list(value)
    if not isinstance(value, t) or (t is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key}={value!r} should be {t.__name__}",
                          f"give {key} a {t.__name__} value")
    return value


def read_yaml(path: str | Path) -> dict:
    """The mapping of config keys in YAML file `path`."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file {p} does not exist",
                          "pass an existing YAML file, or no file for the bundled default")
    try:
        d = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML ({e.__class__.__name__})", "fix the YAML syntax")
    if not isinstance(d, dict):
        raise ConfigError(f"{p} must hold a mapping of config keys", "see docs/config_keys.md")
    return d


def load(cls: type, path: str | Path | None, overrides: list[str] | tuple = ()) -> Any:
    """Config `cls` from YAML file `path` (none: the defaults) with `--set` strings on top."""
    d = read_yaml(path) if path else {}
    cfg = cls.from_dict(d, source=str(path or "config"))  # the file's errors name the file
    if not overrides:
        return cfg
    # File and --set keys are merged before building, so every key given in either one is
    # kept and only keys given nowhere take the task's defaults.
    d = given(d, cfg)
    for key, value in [split_set(s, cls) for s in overrides]:
        set_dotted(d, key, value, cls, source="--set")
    return cls.from_dict(d, source="--set")


def overridden(cfg: Any, overrides: list[str] | tuple | dict) -> Any:
    """`cfg` with `key.sub=value` strings (or a flat {dotted_key: value} dict) applied; values parse
    as YAML. Keys `cfg` holds at its task's defaults count as not given: an override that switches
    the task (task=inr) gives them the new task's defaults."""
    cls = type(cfg)
    items = overrides.items() if isinstance(overrides, dict) else [split_set(s, cls) for s in overrides]
    d = non_default(cfg, cls.defaults(cfg.task))
    d["task"] = cfg.task
    for key, value in items:
        set_dotted(d, key, value, cls, source="--set")
    return cls.from_dict(d, source="--set")


def split_set(s: str, root: type) -> tuple[str, Any]:
    """`key.sub=value` -> (key, value), the value read as YAML unless the key's field is text."""
    if "=" not in s:
        raise ConfigError(f"--set {s!r} has no '='", "write --set key.sub=value")
    key, raw = s.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # A str field keeps the text as typed: YAML would read `name=2024` as an int (`yes` as a bool,
    # `null` as None) and the type check would then reject a perfectly good string.
    f = dotted_fields(root).get(key.strip())
    if f is not None and f.type in (str, "str") and not isinstance(value, str):
        value = raw.strip()
    return key.strip(), value


def set_dotted(d: dict, key: str, value: Any, root: type, source: str = "config") -> None:
    """Set a leaf key (`prune.fraction`) or a whole section (`prune`) of config class `root` in
    nested dict `d`, creating the section if `d` lacks it."""
    keys = dotted_fields(root)
    sections = {k.split(".")[0] for k in keys if "." in k}
    if key not in keys and key not in sections:
        near = nearest(key, root)
        raise ConfigError(f"{source}: unknown config key {key!r}",
                          f"did you mean {', '.join(near)}?" if near else "see docs/config_keys.md")
    parts = key.split(".")
    node = d
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise ConfigError(f"{source}: {part!r} must be a mapping of sub-keys",
                              f"write e.g. {part}: {{...}}")
        node = node[part]
    node[parts[-1]] = value


def dump_yaml(cfg: Any) -> str:
    """The whole config, every key spelt out, as YAML (a run folder's config.yaml)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
