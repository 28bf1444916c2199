"""One RTL run, level by level, resumable: the algorithm in one loop, without any Ray.

    rtl-sweep run                      # the bundled default through this module
    python -c "from rtl_sweep.engine import run; run()"

For each pruning level: prune-rewind every loop (RTL's tickets and the baselines' models), retrain
RTL's tickets jointly, evaluate every method, record the rows, and check the collapse signal. The
run folder is <root>/<name>-<config hash>/; every unit of work is a checkpoint there, so rerunning
the same command after a crash continues where it stopped. `Run.levels()` yields each level's
records as soon as they exist: the sweep's Tune trainable reports from it, and a stopper can end
the run between levels.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from typing import Callable, Iterator

import yaml

from rtl_sweep import advantages, methods
from rtl_sweep.collapse import SignalTracker
from rtl_sweep.config import LABEL_LEAK, RunConfig, dump_yaml
from rtl_sweep.context import RunContext, build_context
from rtl_sweep.errors import ConfigError, ResultsError
from rtl_sweep.executor import Executor, LocalExecutor
from rtl_sweep.records import synthetic, wave_rows
from rtl_sweep.routing import Routes
from rtl_sweep.schema import config_columns, flatten_config, mark_run_folder, to_table
from rtl_sweep.store import Store
from rtl_sweep.units import wave

DEFAULT_ROOT = "rtl_runs"


class Run:
    """One run of a config: its context, its run folder and the executor its units run on."""

    def __init__(self, cfg: RunConfig, root: str = DEFAULT_ROOT, executor: str | Callable = "local",
                 device: str = "auto", progress: Callable[[str], None] | None = None,
                 trial: dict | None = None, ctx: RunContext | None = None, threads: int | None = None,
                 watch=None):
        self.cfg = cfg.validate()
        if cfg.oracle_is_the_label:
            warnings.warn(LABEL_LEAK, stacklevel=2)
        self.root = Store(root)
        self.store = self.root.child(cfg.folder_name())
        self.progress = progress or (lambda s: None)
        self.watch = watch  # per-unit progress: start(level, total), done(unit, s), end()
        self.trial = trial or {}
        self.started = dt.datetime.now(dt.timezone.utc)
        self.ctx = ctx or build_context(cfg, device)  # bad data fails here, before any folder exists
        self._claim_folder()
        if self.ctx.K < 2:
            raise ConfigError("the partition has fewer than 2 subsets", "use K >= 2")
        if callable(executor):  # a factory (ctx, store) -> Executor, e.g. distributed.ray_executor()
            self.executor: Executor = executor(self.ctx, self.store)
        elif executor == "local":
            self.executor = LocalExecutor(self.ctx, self.store, threads)
        else:
            raise ConfigError(f"executor {executor!r} is unknown", "use local or ray")
        self.tracker = SignalTracker(self.ctx)
        self.routes = Routes(self.ctx, self.store)  # routings besides the oracle; built on first use
        self.collapse_sparsity: float | None = None
        self.seen: dict[tuple[str, int], dict] = {}  # aggregate rows so far, for the advantages
        self.late: list[dict] = []  # rows of the extra last wave (the last equal-parameter baseline)

    def _claim_folder(self) -> None:
        mark_run_folder(self.store)  # refuses a folder written by a newer rtl_sweep
        text = dump_yaml(self.cfg)
        if self.store.exists("config.yaml"):
            old = RunConfig.from_dict(yaml.safe_load(self.store.read_bytes("config.yaml")))
            if old.hash() != self.cfg.hash():  # cannot happen unless the folder was edited by hand
                raise ConfigError(f"{self.store.uri} holds another config", "use another output root")
        else:
            self.store.write_text("config.yaml", text)

    # ---- the run ---------------------------------------------------------------------------
    def levels(self) -> Iterator[dict]:
        """Run the algorithm; yield {'level', 'rounds', 'similarity', 'rtl'} after each level."""
        ctx = self.ctx
        reported = methods.reported(self.cfg).name
        # Wave L finishes level L; one extra wave finishes the equal-parameter baseline of the last
        # level, which runs a level behind (it needs the single model's weights of its level).
        for level in range(ctx.levels + 1):
            t0 = time.perf_counter()
            # Prune-rewind every loop at this level, retrain RTL's tickets jointly through their
            # masks, and retrain IMP single at RTL's parameter count of the level before.
            self._run_wave(wave(ctx, level), level)
            # Evaluate every method, write its rows, and check the collapse signal.
            rounds, sims = self._records(level)
            if level == ctx.levels:
                self.late = rounds
                break
            rtl = next(r for r in rounds if r["method"] == reported and r["ticket"] == -1)
            if rtl.get("collapse") and self.collapse_sparsity is None:
                self.collapse_sparsity = rtl["sparsity"]
            self.progress(self._line(level, rtl, time.perf_counter() - t0))
            yield {"level": level, "rounds": rounds, "similarity": sims, "rtl": rtl}

    def _run_wave(self, units: list, level: int) -> None:
        if self.watch is None:
            self.executor.run(units)
            return
        self.watch.start(level, len(units))
        try:
            self.executor.run(units, self.watch.done)
        finally:
            self.watch.end()

    def _records(self, s: int) -> tuple[list, list]:
        """Write wave s's rows once: one part per level (rows of that level only) and per table."""
        rounds, sims = wave_rows(self.ctx, self.store, s, self.tracker, self.routes)
        advantages.fill(self.ctx.task, methods.reported(self.cfg).name, rounds, self.seen)
        by_part: dict[str, list] = {}
        for r in rounds:
            # A lagging method's level (the equal-parameter baseline's s - 1) gets its own part file.
            tag = f"-{methods.IMP_SINGLE_EQUAL.name}" if r["level"] != s else ""
            by_part.setdefault(f"tables/rounds/L{r['level']:03d}{tag}", []).append(r)
        for stem, rows in by_part.items():
            self._write_rounds(stem, rows)
        rel_s = f"tables/similarity/L{s:03d}.parquet"
        if sims and not self.store.exists(rel_s):
            self.store.write_table(rel_s, to_table("similarity", sims))
        return rounds, sims

    def _write_rounds(self, stem: str, rows: list[dict]) -> None:
        """A level's part holds the routings scored when the level was first recorded; a routing a
        later rerun adds (`routes` is not in the hash) gets a part of its own beside it,
        <stem>-<routing>.parquet, so no part is ever rewritten."""
        if not self.store.exists(stem + ".parquet"):
            self.store.write_table(stem + ".parquet", to_table("rounds", rows))
            return
        first = self.store.read_table(stem + ".parquet")
        present = set(first.column("routing").to_pylist()) if "routing" in first.column_names else set()
        present = (present - {None}) | {"oracle"}  # parts written before routings held the oracle only
        for routing in dict.fromkeys(r["routing"] for r in rows):
            rel = f"{stem}-{routing}.parquet"
            if routing not in present and not self.store.exists(rel):
                self.store.write_table(rel, to_table("rounds", [r for r in rows if r["routing"] == routing]))

    def _line(self, level: int, rtl: dict, wall: float) -> str:
        flag = "  COLLAPSE" if rtl.get("collapse") else ""
        task = self.ctx.task
        score = f"{task.main_label} {rtl[task.main_score]:{task.main_format}}"
        return (f"level {level}/{self.ctx.levels - 1}  sparsity {rtl['sparsity']:.3f}  "
                f"RTL {score}  mean J {rtl['mean_jaccard']:.3f}  ({wall:.1f}s){flag}")

    def execute(self, stop: Callable[[dict], bool] | None = None) -> dict:
        """Run to the end (or until `stop(level_record)` is true); write the runs table row."""
        status, done, records = "completed", 0, []
        try:
            for rec in self.levels():
                records.append(rec)
                done = rec["level"] + 1
                if stop and stop(rec):
                    status = "stopped_collapse"
                    break
        except BaseException:
            try:
                self.finish("failed", done)
            except (OSError, ResultsError):
                # Storage that failed the run (a bucket gone) refuses its status row too: the user
                # sees the first failure, the one that stopped the run, not this one.
                self.executor.close()
            raise
        self.finish(status, done)
        return {"status": status, "folder": self.store.uri, "records": records,
                "collapse_sparsity": self.collapse_sparsity}

    def finish(self, status: str, levels: int) -> None:
        self.record_status(status, levels)
        self.executor.close()

    def record_status(self, status: str, levels: int) -> None:
        """Write this invocation's `runs` row (and where its units ran, for the Ray executor)."""
        placements = self.executor.placements()
        if placements:
            import json
            self.store.write_text("placement.json", json.dumps(placements, indent=1))
        now = dt.datetime.now(dt.timezone.utc)
        flat = flatten_config(self.cfg.to_dict())
        row = {"run_id": self.cfg.hash(), "synthetic": synthetic(self.ctx), "name": self.cfg.name,
               "status": status,
               "executor": self.executor.name, "started_at": self.started,
               "finished_at": now, "wall_s": (now - self.started).total_seconds(), "levels": levels,
               "k": self.ctx.K, "collapse_sparsity": self.collapse_sparsity,
               "trial_id": self.trial.get("trial_id"), "sweep": self.trial.get("sweep")}
        row.update(flat)
        stamp = now.strftime("%Y%m%dT%H%M%S%f")
        self.store.write_table(f"tables/runs/{stamp}.parquet", to_table("runs", [row], config_columns(flat)))


def run(cfg: RunConfig | None = None, root: str = DEFAULT_ROOT, **kw) -> dict:
    return Run(cfg or RunConfig(), root, **kw).execute()
