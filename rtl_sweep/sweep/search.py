"""Tune's OptunaSearch, made safe to resume after the driver was killed.

    python -c "import rtl_sweep.sweep.search as s; help(s.ResumableOptunaSearch)"

Tune saves the searcher with its experiment state every few seconds, while the Optuna study (SQLite)
is written at once. After a kill the restored searcher can lag the study in two ways, and each would
lose or double-count a trial:
- a trial finished (told to the study) after the last save is rerun by Tune: its results and its
  completion must not be told again (Optuna refuses to update a finished trial);
- a trial asked from the study after the last save is unknown to the restored searcher and would
  stay RUNNING forever while a new trial replaces it: the searcher adopts it instead of asking anew.
It also records trials stopped before their target sparsity as PRUNED rather than telling Optuna
the value of the level where they stopped.
"""

from __future__ import annotations

import optuna
from ray.tune.search.optuna import OptunaSearch
from ray.tune.utils.util import unflatten_dict

from rtl_sweep.sweep.tables import ended_early

_RUNNING = optuna.trial.TrialState.RUNNING


class ResumableOptunaSearch(OptunaSearch):
    def _finished(self, trial_id: str) -> bool:
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None:
            return False
        frozen = self._ot_study._storage.get_trial(ot_trial._trial_id)
        return frozen.state.is_finished()

    def suggest(self, trial_id: str):
        if trial_id not in self._ot_trials and not callable(self._space):
            orphan = self._orphan()
            if orphan is not None:
                self._ot_trials[trial_id] = optuna.trial.Trial(self._ot_study, orphan._trial_id)
                return unflatten_dict(dict(orphan.params))
        return super().suggest(trial_id)

    def _orphan(self):
        owned = {t._trial_id for t in self._ot_trials.values()}
        for t in self._ot_study.get_trials(deepcopy=False, states=(_RUNNING,)):
            if t._trial_id not in owned and set(t.params) == set(self._space):
                return t
        return None

    def on_trial_result(self, trial_id: str, result: dict):
        if self._finished(trial_id):
            return
        super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False):
        if self._finished(trial_id):
            self._completed_trials.add(trial_id)
            return
        if result and ended_early(result):
            # Stopped before the target sparsity (collapse stopper, ASHA): its last value is not
            # comparable with finished trials', so Optuna records it PRUNED, with no value.
            result = None
        super().on_trial_complete(trial_id, result, error)
