"""A sweep's own tables: one `trials` part per trial (rewritten, never duplicated) and the Pareto front.

    python -c "from rtl_sweep.sweep.tables import pareto_front; print(pareto_front([(0.9, 5), (0.8, 3), (0.7, 6)], ['max', 'min']))"
"""

from __future__ import annotations

import json
import math

import pyarrow as pa

from rtl_sweep.schema import to_table
from rtl_sweep.store import Store
from rtl_sweep.sweep.space import SweepSpec


def param_column(key: str) -> str:
    return "param_" + key.replace(".", "_")


def ended_early(last: dict) -> bool:
    """The trial's last report is below its target sparsity (a stopper or ASHA ended it)."""
    return last.get("level", -1) + 1 < last.get("levels_total", 0)


def trial_status(last: dict, error: str | None) -> str:
    """failed, stopped_collapse (the stopper ended it), stopped_early (e.g. ASHA), or completed."""
    if error:
        return "failed"
    if ended_early(last):
        return "stopped_collapse" if last.get("collapse") else "stopped_early"
    return "completed" if last else "failed"


def trial_row(spec: SweepSpec, trial_id: str, params: dict, status: str, last: dict, best_bal: float,
              wall: float, error: str | None, number: int | None) -> dict:
    def num(key):
        v = last.get(key)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
    row = {"sweep": spec.name, "trial_id": trial_id, "trial_number": number, "run_id": last.get("run_id"),
           "status": status, "levels": (int(last["level"]) + 1) if "level" in last else 0,
           "k": num("k"), "sparsity": num("sparsity"), "balanced_accuracy": num("balanced_accuracy"),
           "best_balanced_accuracy": None if math.isnan(best_bal) else best_bal,
           "params_prunable": int(last["params_prunable"]) if num("params_prunable") is not None else None,
           "mean_jaccard": num("mean_jaccard"), "collapse_sparsity": num("collapse_sparsity"),
           "objective": None, "wall_s": wall, "error": error}
    # Objectives are the values at the target sparsity: a trial stopped before it has none (its
    # last level is not comparable with a finished trial's), as Optuna records it PRUNED.
    for m in spec.metrics:
        row["obj_" + m] = num(m) if status == "completed" else None
    row["objective"] = row["obj_" + spec.metrics[0]]
    for key in spec.space:
        row[param_column(key)] = params.get(key)
    return row


def extra_columns(spec: SweepSpec) -> dict:
    import optuna.distributions as od
    out = {"obj_" + m: pa.float64() for m in spec.metrics}
    for key, dist in spec.space.items():
        if isinstance(dist, od.FloatDistribution):
            out[param_column(key)] = pa.float64()
        elif isinstance(dist, od.IntDistribution):
            out[param_column(key)] = pa.int64()
        else:
            out[param_column(key)] = pa.string()
    return out


def write_trial(store: Store, spec: SweepSpec, row: dict) -> None:
    row, extra = dict(row), extra_columns(spec)
    for key in spec.space:  # categorical choices may mix types; store them as text
        col = param_column(key)
        if extra[col] == pa.string() and row.get(col) is not None:
            row[col] = str(row[col])
    store.write_table(f"tables/trials/{row['trial_id']}.parquet", to_table("trials", [row], extra))


def pareto_front(points: list[tuple], modes: list[str]) -> list[int]:
    """Indices of the non-dominated points (maximise 'max' coordinates, minimise 'min' ones)."""
    signed = [tuple(v if m == "max" else -v for v, m in zip(p, modes)) for p in points]
    front = []
    for i, a in enumerate(signed):
        dominated = any(all(b[j] >= a[j] for j in range(len(a))) and any(b[j] > a[j] for j in range(len(a)))
                        for k, b in enumerate(signed) if k != i)
        if not dominated:
            front.append(i)
    return front


def write_pareto(store: Store, spec: SweepSpec, rows: list[dict]) -> list[dict]:
    usable = [r for r in rows if all(r.get("obj_" + m) is not None for m in spec.metrics)]
    if not usable:
        return []
    front = [usable[i] for i in pareto_front([tuple(r["obj_" + m] for m in spec.metrics) for r in usable],
                                             spec.modes)]
    first, mode = spec.metrics[0], spec.modes[0]
    front.sort(key=lambda r: r["obj_" + first], reverse=(mode == "max"))
    out = [{"sweep": spec.name, "trial_id": r["trial_id"], "rank": i + 1,
            "objectives": json.dumps({m: r["obj_" + m] for m in spec.metrics}),
            **{"obj_" + m: r["obj_" + m] for m in spec.metrics}}
           for i, r in enumerate(front)]
    store.write_table("tables/pareto/front.parquet",
                      to_table("pareto", out, {"obj_" + m: pa.float64() for m in spec.metrics}))
    return out
