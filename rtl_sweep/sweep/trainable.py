"""The Tune trainable: one trial = one RTL run through a coordinator and its ticket actors.

    python -c "import rtl_sweep.sweep.trainable as t; help(t.rtl_trial)"

The trial process is the coordinator (bundle 0 of the trial's placement group); its ticket actors
take bundles 1..N. It reports the RTL row after every pruning level, so a stopper or ASHA can end
it between levels. Its run folder lives under the sweep's `trials/`, named by the config hash: a
trial rerun after a crash (or resume) skips every unit already computed. `sweep_dir` is absolute:
Tune runs each trial in its own working directory, where a relative path would name another folder.
"""

from __future__ import annotations

import math

from ray import tune

from rtl_sweep.schema import ROUTED_TICKET
from rtl_sweep.sweep import objectives
from rtl_sweep.sweep.space import REPORTED_METRICS, Resources, SweepSpec
from rtl_sweep.sweep.stopper import CollapseStopper
from rtl_sweep.sweep.tables import ended_early, row_file



def rtl_trial(config: dict, spec: SweepSpec, sweep_dir: str) -> None:
    from rtl_sweep.distributed.ray_executor import ray_executor
    from rtl_sweep.engine import Run
    from rtl_sweep.store import Store

    ctx = tune.get_context()
    trial_id = ctx.get_trial_id()
    if Store(sweep_dir).exists(row_file(trial_id)):
        # Finished before the driver died, after Tune's last save: Tune resumes it as unfinished,
        # but its row and its Optuna state are final. Nothing to run or report.
        return
    cfg = spec.trial_config(config)
    run = Run(cfg, f"{sweep_dir}/trials", executor=ray_executor(),
              trial={"trial_id": trial_id, "sweep": spec.name})
    collapse_sparsity = math.nan
    stopper = CollapseStopper(int(spec.stopper.get("min_level", 0))) if spec.stopper.get("collapse") else None
    done, recorded, rows = 0, False, []
    try:
        for rec in run.levels():
            row, done = rec["rtl"], rec["level"] + 1
            rows += rec["rounds"]
            if row.get("collapse") and math.isnan(collapse_sparsity):
                collapse_sparsity = row["sparsity"]
            metrics = _metrics(spec, run, rows)
            metrics.update(routed_metrics(spec, rec))
            metrics.update(collapse=float(bool(row.get("collapse"))), collapse_sparsity=collapse_sparsity,
                           k=run.ctx.K, ticket_rounds=run.ctx.K * done,
                           levels_total=run.ctx.levels, run_id=cfg.hash(),
                           main_score=run.ctx.task.main_score, main_label=run.ctx.task.main_label)
            if stopper and stopper.fires(metrics) and ended_early(metrics):
                # The stopper will end this trial on this report (Tune then stops the process):
                # record the run's status first, as a plain `rtl-sweep run` would.
                run.record_status("stopped_collapse", done)
                recorded = True
            tune.report(metrics)  # when Tune stops the trial, this raises in the trial
        if run.late:  # the last level's equal-parameter baseline: its advantage, before the run ends
            metrics.update(_metrics(spec, run, rows + run.late))
            tune.report(metrics)
        run.finish("completed", run.ctx.levels)
    except BaseException:
        try:
            if not recorded:
                run.record_status("failed", done)
        finally:
            run.executor.close()
        raise

def _metrics(spec: SweepSpec, run, rows: list[dict]) -> dict:
    from rtl_sweep.methods import reported
    hist = objectives.history(run.ctx.task, reported(run.cfg).name, rows)
    out = objectives.report(spec, hist)
    return {k: out.get(k, math.nan) for k in [*REPORTED_METRICS, *spec.metrics]}

def routed_metrics(spec: SweepSpec, rec: dict) -> dict:
    """Objectives read from another routing's row of the reported RTL method (ticket -2)."""
    out = {}
    for o in spec.objectives:
        if o.routing != "oracle":
            row = next(r for r in rec["rounds"] if r["method"] == rec["rtl"]["method"]
                       and r["ticket"] == ROUTED_TICKET and r.get("routing") == o.routing)
            out[o.key] = float(row[o.metric]) if row.get(o.metric) is not None else math.nan
    return out


def trial_resources(spec: SweepSpec, k_of: callable):
    """Placement-group bundles that follow each trial's own K and device settings."""
    r: Resources = spec.resources

    def bundles(config: dict) -> tune.PlacementGroupFactory:
        k = k_of(spec.trial_config(config))
        n = min(k, r.actors) if r.actors > 0 else k
        ticket = {"CPU": r.ticket_cpus}
        if r.ticket_gpus > 0:
            ticket["GPU"] = r.ticket_gpus
        coordinator = {"CPU": r.coordinator_cpus}
        if r.coordinator_gpus > 0:  # joint retraining runs in the coordinator: give it a device too
            coordinator["GPU"] = r.coordinator_gpus
        return tune.PlacementGroupFactory([coordinator] + [ticket] * n)
    return bundles
