"""rtl-sweep confirm SWEEP --top N --seeds S: rerun a sweep's N best trials with S new seeds each.

    rtl-sweep confirm sweeps/where_rtl_wins --top 3 --seeds 3

TPE's best over noisy trials is optimistic: the best trial's score is partly its seed's luck. The
same S seeds, derived from the sweep's seed (deterministic: a second confirm reruns nothing), are
given to every chosen trial; each (trial, seed) is one run under <sweep>/confirm/runs/, in parallel
on Ray (one CPU each), and one row of the `confirm` table. The printout sets the sweep's score beside
the confirmed mean and its t-based 95% interval over the S seeds.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from rtl_sweep.store import Store
from rtl_sweep.sweep import study
from rtl_sweep.sweep.space import SweepSpec

SEED_STREAM = 17  # the confirmation seeds' stream of the sweep's seed (the sampler uses the seed itself)


def derived_seeds(seed: int, n: int) -> list[int]:
    """`n` distinct seeds derived from `seed`, the same for every call."""
    return [int(s) % 2**31 for s in np.random.SeedSequence([seed, SEED_STREAM]).generate_state(n)]


def interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its t-based 95% interval (NaN bounds for fewer than 2 values)."""
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(v))
    if len(v) < 2:
        return mean, math.nan, math.nan
    from scipy import stats
    half = float(stats.t.ppf(0.975, len(v) - 1) * np.std(v, ddof=1) / math.sqrt(len(v)))
    return mean, mean - half, mean + half


def top_trials(spec: SweepSpec, rows: list[dict], n: int) -> list[dict]:
    """The n completed trials best by the first objective, one per configuration: TPE over a small
    discrete space draws the same values again, and a repeat has the same run_id (the config hash)
    and the same score, so confirming it twice would spend seeds on one configuration."""
    key, mode = "obj_" + spec.metrics[0], spec.modes[0]
    ok = [r for r in rows if r.get(key) is not None and r["status"] == "completed"]
    best, seen = [], set()
    for r in sorted(ok, key=lambda r: r[key], reverse=(mode == "max")):
        same = r.get("run_id") or r["trial_id"]  # a row without a run id is its own configuration
        if same not in seen:
            seen.add(same)
            best.append(r)
    return best[:n]


def run_one(spec: SweepSpec, params: dict, seed: int, root: str) -> dict:
    """One run of a trial's sampled values with another seed: its objective values and advantages."""
    from rtl_sweep.engine import Run
    from rtl_sweep.methods import reported
    from rtl_sweep.sweep import objectives
    cfg = dataclasses.replace(spec.trial_config(params), seed=seed)
    t0 = time.perf_counter()
    run = Run(cfg, root, threads=1)
    result = run.execute()
    rows = [r for rec in result["records"] for r in rec["rounds"]] + run.late
    hist = objectives.history(run.ctx.task, reported(cfg).name, rows)
    out = objectives.report(spec, hist)
    return {"run_id": cfg.hash(), "status": result["status"], "wall_s": time.perf_counter() - t0,
            **{k: out.get(k, math.nan) for k in out}}


def confirm(sweep_dir: str, top: int, seeds: int, address: str | None = None) -> list[dict]:
    """Run the top trials with the derived seeds (skipping rows already written); return all rows."""
    from rtl_sweep.sweep.folder import absolute, load_sweep, trial_rows
    from rtl_sweep.sweep.tables import confirm_file, confirm_rows, write_confirm
    sweep_dir = absolute(sweep_dir)
    spec, store = load_sweep(sweep_dir), Store(sweep_dir)
    chosen = top_trials(spec, trial_rows(store), top)
    params = _params(sweep_dir, spec, chosen)
    todo = [(t, s) for t in chosen for s in derived_seeds(spec.seed, seeds)
            if not store.exists(confirm_file(t["trial_id"], s))]
    if todo:
        import torch  # noqa: F401  (torch in the driver first, before Ray starts threads)
        import ray
        from rtl_sweep.distributed.ray_init import init_ray
        init_ray(address)
        remote = ray.remote(num_cpus=1)(run_one)
        refs = {remote.remote(spec, params[t["trial_id"]], s, f"{sweep_dir}/confirm/runs"): (t, s)
                for t, s in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            t, s = refs[ready[0]]
            write_confirm(store, spec, t, s, ray.get(ready[0]))
    return confirm_rows(store)


def _params(sweep_dir: str, spec: SweepSpec, chosen: list[dict]) -> dict[str, dict]:
    """Each chosen trial's sampled values, typed as Optuna holds them."""
    st = study.load(sweep_dir, spec.name)
    numbers = study.trial_numbers(st)
    trials = st.get_trials(deepcopy=False) if st is not None else []
    by_number = {t.number: t for t in trials}
    return {t["trial_id"]: dict(by_number[numbers[t["trial_id"]]].params) for t in chosen}


def confirm_table(spec: SweepSpec, rows: list[dict], trials: list[dict]) -> str:
    """Per trial: the sweep's score, the confirmed mean and 95% interval, and the absolute scores."""
    from rtl_sweep.text import number, table
    key = spec.metrics[0]
    body = []
    for t in trials:
        mine = [r for r in rows if r["trial_id"] == t["trial_id"]]
        mean, lo, hi = interval([r["obj_" + key] if r["obj_" + key] is not None else math.nan for r in mine])
        scores = [interval([r[c] if r.get(c) is not None else math.nan for r in mine])[0]
                  for c in ("score_rtl", "score_single_equal", "score_multiple", "score_dense")]
        failed = sum(1 for r in mine if r.get("baseline_failed") == 1.0)
        body.append([t["trial_id"], number(t.get("trial_number")), number(t["obj_" + key], "+.4f"),
                     number(mean, "+.4f"), f"[{number(lo, '+.4f')}, {number(hi, '+.4f')}]", str(len(mine)),
                     *[number(s, ".4f") for s in scores], str(failed)])
    head = (f"confirmed {key} of the {len(trials)} best trials of sweep {spec.name} "
            f"(mean and t-based 95% interval over the seeds):")
    return head + "\n" + table(["trial", "number", "sweep", "confirmed", "95% interval", "seeds", "RTL",
                                "single@equal", "multiple", "dense", "failed baselines"], body)
