"""A config as a tree of dataclasses: its dotted keys, the fields that differ from a default, and
the nearest keys to a misspelt one.

    python -c "from rtl_sweep.config import RunConfig; from rtl_sweep.config.tree import *; \
        print(list(dotted_fields(RunConfig))[:3])"

Every function takes the tree's root class (or instance), so loading, the hash and the keys table
share one walk without importing RunConfig.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import fields
from typing import Any, get_type_hints


def dotted_fields(cls: type, prefix: str = "") -> dict[str, Any]:
    """Every dotted key of dataclass `cls` (`prune.fraction`) with its field."""
    hints = get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in fields(cls):
        t = hints[f.name]
        if dataclasses.is_dataclass(t):
            out.update(dotted_fields(t, prefix + f.name + "."))
        else:
            out[prefix + f.name] = f
    return out


def nearest(key: str, root: type, n: int = 3) -> list[str]:
    """The keys of `root` closest to a misspelt `key`, for the error that names it."""
    return difflib.get_close_matches(key, list(dotted_fields(root)), n=n, cutoff=0.4)


def non_default(obj: Any, default: Any) -> dict:
    """The nested fields of `obj` whose values differ from `default`'s (tuples as lists)."""
    out = {}
    for f in fields(obj):
        v, dv = getattr(obj, f.name), getattr(default, f.name)
        if dataclasses.is_dataclass(v):
            sub = non_default(v, dv)
            if sub:
                out[f.name] = sub
        elif v != dv:
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def given(d: dict, built: Any) -> dict:
    """The keys of nested dict `d` with the values `built` from it (coerced: no second warning)."""
    out = {}
    for key, value in d.items():
        got = getattr(built, key)
        if dataclasses.is_dataclass(got):
            out[key] = given(value, got) if isinstance(value, dict) else dataclasses.asdict(got)
        else:
            out[key] = got
    return out
