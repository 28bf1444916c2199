"""The sweep's Tune callback: prints progress, and writes each trial's row as soon as the trial ends.

    python -c "import rtl_sweep.sweep.writer as w; help(w.TableWriter)"
"""

from __future__ import annotations

import math
import time

from ray.tune import Callback

from rtl_sweep.store import Store
from rtl_sweep.sweep import study
from rtl_sweep.sweep.space import SweepSpec
from rtl_sweep.sweep.tables import ended_row, write_trial


class TableWriter(Callback):
    """Tune tells its searcher (and so the Optuna study) before its callbacks: when a row is written,
    the study already holds the trial's end."""

    def __init__(self, spec: SweepSpec, store: Store, sweep_dir: str, quiet: bool):
        self.spec, self.store, self.sweep_dir, self.quiet = spec, store, sweep_dir, quiet
        self.best: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def on_trial_start(self, iteration, trials, trial, **info):
        self.started.setdefault(trial.trial_id, time.time())

    def on_trial_result(self, iteration, trials, trial, result, **info):
        b = result.get("balanced_accuracy", math.nan)
        if not math.isnan(b):
            self.best[trial.trial_id] = max(self.best.get(trial.trial_id, -1.0), b)
        if not self.quiet:
            flag = "  COLLAPSE" if result.get("collapse") else ""
            main = result.get("main_score", "balanced_accuracy")  # the trial's task's score
            print(f"trial {trial.trial_id} level {int(result['level'])}/{int(result['levels_total']) - 1}"
                  f"  sparsity {result['sparsity']:.3f}  {result.get('main_label', 'bal.acc')} "
                  f"{result.get(main, math.nan):.3f}  mean J {result['mean_jaccard']:.3f}{flag}", flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._write(trial, None)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._write(trial, getattr(trial, "error_msg", None) or "the trial raised an error")

    def _write(self, trial, error: str | None):
        wall = time.time() - self.started.get(trial.trial_id, time.time())
        numbers = study.trial_numbers(study.load(self.sweep_dir, self.spec.name))
        row = ended_row(self.spec, trial.trial_id, trial.config, dict(trial.last_result or {}), error,
                        self.best.get(trial.trial_id, math.nan), wall, numbers)
        if write_trial(self.store, self.spec, row) and not self.quiet:
            print(f"trial {trial.trial_id}: {row['status']}" + (f" ({row['error']})" if row["error"] else ""),
                  flush=True)
