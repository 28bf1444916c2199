"""Which routings a run scores, and which make sense under each protocol.

    python -c "from rtl_sweep.config import RunConfig, routes_of; print(routes_of(RunConfig()))"

The routings themselves are computed in rtl_sweep/routing.py; these tables let the config (and a
search space) refuse one that does not exist or means nothing for the run, before anything runs.
"""

from __future__ import annotations

from typing import Any

from rtl_sweep.errors import ConfigError

# Routings per protocol (rtl_sweep/routing.py computes them), the default set, and why the others
# make no sense there. The oracle routes by the known subset id, as the paper does.
ROUTINGS = {"ovr": ("oracle", "argmax"),
            "multiclass": ("oracle", "centroid", "learned", "confidence", "entropy"),
            "speech": ("oracle", "learned")}
DEFAULT_ROUTES = {"ovr": ("oracle", "argmax"), "multiclass": ("oracle",)}
_NOT_UNDER = {  # protocol -> (why another routing makes no sense there, what to use)
    "ovr": ("each routed ticket is a binary detector of its subset and cannot name a class",
            "use argmax, where every ticket reads its own output and the largest wins; or "
            "protocol=multiclass"),
    "multiclass": ("argmax reads ticket k's output k, which is class k's logit, not a subset score",
                   "use confidence, centroid or learned"),
    "speech": ("an enhanced waveform carries no subset score to compare across tickets",
               "use learned (a router trained on the noisy inputs' scenes)"),
}


def routes_of(cfg: Any) -> list[str]:
    """The routings run config `cfg` scores: the oracle first, then `routes` (or the protocol's default; the
    routings are classification's: another task, e.g. INR, routes by its oracle alone)."""
    out = ["oracle"]
    default = DEFAULT_ROUTES.get(cfg.protocol, ()) if cfg.task == "classification" else ()
    for r in cfg.routes or default:
        if r not in out:
            out.append(r)
    return out


def check_routes(protocol: str, routes: list | tuple, what: str = "routes") -> None:
    """Refuse, in one line, a routing that does not exist or makes no sense for `protocol`."""
    every = sorted({r for names in ROUTINGS.values() for r in names})
    for r in routes:
        if r not in every:
            raise ConfigError(f"{what}: {r!r} is not a routing", f"use one of {', '.join(every)}")
        if protocol in ROUTINGS and r not in ROUTINGS[protocol]:
            why, fix = _NOT_UNDER[protocol]
            raise ConfigError(f"{what}: {r} makes no sense for protocol={protocol}: {why}", fix)

