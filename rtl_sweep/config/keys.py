"""Every config key: the dotted names, their defaults, and the manual's keys table (docs/config_keys.md).

    python -m rtl_sweep.config      # prints the table (docs/config_keys.md; tests check it)
"""

from __future__ import annotations

from typing import Any

from rtl_sweep.config.run import RunConfig
from rtl_sweep.config.tree import dotted_fields, nearest


def all_keys(cls: type = RunConfig, prefix: str = "") -> dict[str, Any]:
    """Every dotted config key with its dataclass field (the search-space loader validates on it)."""
    return dotted_fields(cls, prefix)


def nearest_keys(key: str, n: int = 3) -> list[str]:
    return nearest(key, RunConfig, n)


def keys_markdown() -> str:
    """The config keys table of docs/config_keys.md: `python -m rtl_sweep.config`."""
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    defaults = flat_defaults()
    for key, f in all_keys().items():
        lines.append(f"| `{key}` | `{defaults[key]}` | {f.metadata.get('help', '').replace('|', '/')} |")
    return "\n".join(lines)


def flat_defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                out[prefix + k] = v
    walk(RunConfig().to_dict(), "")
    return out
