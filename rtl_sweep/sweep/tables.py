"""A sweep's own tables: one `trials` part per trial (written once, never rewritten) and the Pareto front.

    python -c "from rtl_sweep.sweep.tables import trial_status; print(trial_status({'level': 1, 'levels_total': 4}, None))"

`trial_row` is the one builder of a trial's row: the Tune callback (sweep/writer.py) and the
reconciliation after a resume (sweep/tuner.py) both go through `ended_row`, which calls it.
"""

from __future__ import annotations

import json
import math

import pyarrow as pa

from rtl_sweep.schema import TABLES, to_table
from rtl_sweep.store import Store
from rtl_sweep.sweep.space import REPORTED_METRICS, SweepSpec

# The reported metrics a trial's row keeps, as reported at its last level.
ROW_METRICS = [m for m in REPORTED_METRICS if m in {c[0] for c in TABLES["trials"]["columns"]}]


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
           "k": num("k"), **{m: num(m) for m in ROW_METRICS},
           "best_balanced_accuracy": None if math.isnan(best_bal) else best_bal,
           "collapse_sparsity": num("collapse_sparsity"), "objective": None, "wall_s": wall, "error": error}
    if row.get("params_prunable") is not None:
        row["params_prunable"] = int(row["params_prunable"])
    # Objectives are the values at the target sparsity: a trial stopped before it has none (its
    # last level is not comparable with a finished trial's), as Optuna records it PRUNED.
    for m in spec.metrics:
        row["obj_" + m] = num(m) if status == "completed" else None
    row["objective"] = row["obj_" + spec.metrics[0]]
    for key in spec.space:
        row[param_column(key)] = params.get(key)
    return row


def error_line(error) -> str | None:
    """The last line of a trial's error (its exception), at most 500 characters; None for no error."""
    if error is None or error is False:
        return None
    msg = str(error).strip()
    return msg.splitlines()[-1][:500] if msg else "the trial raised an error"


def ended_row(spec: SweepSpec, trial_id: str, config: dict, last: dict, error, best_bal: float,
              wall: float, numbers: dict[str, int]) -> dict:
    """The row of an ended trial from what Tune kept of it: its config, last result and error."""
    error = error_line(error)
    return trial_row(spec, trial_id, {k: config.get(k) for k in spec.space}, trial_status(last, error), last,
                     best_bal, wall, error, numbers.get(trial_id))


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


def row_file(trial_id: str) -> str:
    return f"tables/trials/{trial_id}.parquet"


def write_trial(store: Store, spec: SweepSpec, row: dict) -> bool:
    """Write a finished trial's row; False (and nothing written) if the trial already has one.

    A row means the trial is over and Optuna was told (Tune tells its searcher before its callbacks).
    A resumed sweep may run a trial again that Tune had not yet saved as finished: its row stays."""
    if store.exists(row_file(row["trial_id"])):
        return False
    row, extra = dict(row), extra_columns(spec)
    for key in spec.space:  # categorical choices may mix types; store them as text
        col = param_column(key)
        if extra[col] == pa.string() and row.get(col) is not None:
            row[col] = str(row[col])
    store.write_table(row_file(row["trial_id"]), to_table("trials", [row], extra))
    return True


def write_pareto(store: Store, spec: SweepSpec, rows: list[dict], best_ids: list[str]) -> list[dict]:
    """The best trials (Optuna's `study.best_trials`: the Pareto front for several objectives), ranked
    by the first objective."""
    by_id = {r["trial_id"]: r for r in rows}
    front = [by_id[t] for t in best_ids
             if t in by_id and all(by_id[t].get("obj_" + m) is not None for m in spec.metrics)]
    if not front:
        return []
    first, mode = spec.metrics[0], spec.modes[0]
    front.sort(key=lambda r: r["obj_" + first], reverse=(mode == "max"))
    out = [{"sweep": spec.name, "trial_id": r["trial_id"], "rank": i + 1,
            "objectives": json.dumps({m: r["obj_" + m] for m in spec.metrics}),
            **{"obj_" + m: r["obj_" + m] for m in spec.metrics}}
           for i, r in enumerate(front)]
    store.write_table("tables/pareto/front.parquet",
                      to_table("pareto", out, {"obj_" + m: pa.float64() for m in spec.metrics}))
    return out


def confirm_file(trial_id: str, seed: int) -> str:
    return f"tables/confirm/{trial_id}-s{seed}.parquet"


def write_confirm(store: Store, spec: SweepSpec, trial: dict, seed: int, got: dict) -> dict:
    """One confirmation rerun's row: the trial it reruns, the seed, its objectives and advantages."""
    row = {"sweep": spec.name, "trial_id": trial["trial_id"], "trial_number": trial.get("trial_number"),
           "seed": seed, **got}
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    for m in spec.metrics:
        row["obj_" + m] = row.get(m)
    store.write_table(confirm_file(trial["trial_id"], seed),
                      to_table("confirm", [row], {"obj_" + m: pa.float64() for m in spec.metrics}))
    return row


def confirm_rows(store: Store) -> list[dict]:
    out = []
    for rel in store.list("tables/confirm", ".parquet"):
        out += store.read_table(rel).to_pylist()
    return out
