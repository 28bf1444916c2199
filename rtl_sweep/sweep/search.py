"""Tune's OptunaSearch, made safe to resume after the driver was killed, from any folder.

    python -c "import rtl_sweep.sweep.search as s; help(s.ResumableOptunaSearch)"

Tune saves the searcher with its experiment state every few seconds, while the Optuna study (SQLite)
is written at once. After a kill the restored searcher can lag the study in three ways, and each would
lose or double-count a trial:
- a trial finished (told to the study) after the last save is rerun by Tune: its results and its
  completion must not be told again (Optuna refuses to update a finished trial);
- a trial asked from the study after the last save is unknown to the restored searcher and would
  stay RUNNING forever while a new trial replaces it: the searcher adopts it instead of asking anew
  (and samples the parameters it lacks when the kill came between creating it and sampling them);
- the saved sampler's random state predates that asked trial, so it would draw the same parameters
  again: a searcher on a study that already holds trials (restored, or restarted after a kill
  before Tune's first save) gets a sampler seeded by their number.
Its pickles (Tune's tuner.pkl and searcher state) hold no path to the study: a restored searcher keeps
the study of the sweep folder it was built for, so a moved or copied folder resumes against its own
study.db. `SweepGenerator` does the same for the trials Tune creates after a restore.
On a bucket the study is a local SQLite copy the driver uploads (sweep/study.py): `persist` runs
after every change the searcher makes to it, so the bucket's study is never behind the searcher
state Tune saves after it.
The searcher also records trials stopped before their target sparsity as PRUNED rather than telling
Optuna the value of the level where they stopped, and names each Optuna trial's Tune trial in the
user attribute `tune_trial_id`.
"""

from __future__ import annotations

import pickle
from typing import Callable

import optuna
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search import ConcurrencyLimiter, SearchGenerator
from ray.tune.search.optuna import OptunaSearch
from ray.tune.utils.util import unflatten_dict

from rtl_sweep.sweep.tables import ended_early

_RUNNING = optuna.trial.TrialState.RUNNING
TRIAL_ATTR = "tune_trial_id"


class ResumableOptunaSearch(OptunaSearch):
    def __init__(self, *, sampler_for: Callable[[int], optuna.samplers.BaseSampler],
                 persist: Callable[[], None] = lambda: None, **kw):
        self._sampler_for = sampler_for  # the sweep's sampler for a study that holds n trials
        self._persist = persist  # after each change to the study (uploads a bucket's copy)
        super().__init__(sampler=sampler_for(0), **kw)
        self._reseed()

    def _reseed(self) -> None:
        self._ot_study.sampler = self._sampler_for(len(self._ot_study.get_trials(deepcopy=False)))

    # ---- pickles without the study's path ------------------------------------------------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__, _storage=None, _ot_study=None, _sampler=None, _persist=None)
        state["_ot_trials"] = {tid: t._trial_id for tid, t in self._ot_trials.items()}
        return state

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)
        for key in ("_storage", "_ot_study", "_sampler", "_persist"):  # this searcher's own study stays
            state.pop(key, None)
        ids = state.pop("_ot_trials")
        self.__dict__.update(state)
        storage = self._ot_study._storage
        self._ot_trials = {}
        for tid, sid in ids.items():
            sid = getattr(sid, "_trial_id", sid)  # a state saved before paths were left out
            if storage.get_trial(sid).state.is_finished():
                self._completed_trials.add(tid)
            else:
                self._ot_trials[tid] = optuna.trial.Trial(self._ot_study, sid)
        self._reseed()

    # ---- asking ----------------------------------------------------------------------------------
    def suggest(self, trial_id: str):
        config = self._suggest(trial_id)
        self._persist()
        return config

    def _suggest(self, trial_id: str):
        if trial_id not in self._ot_trials and not callable(self._space):
            orphan = self._orphan()
            if orphan is not None:
                ot_trial = self._ot_trials[trial_id] = optuna.trial.Trial(self._ot_study, orphan._trial_id)
                for name, dist in self._space.items():  # what study.ask(fixed_distributions) does
                    ot_trial._suggest(name, dist)
                ot_trial.set_user_attr(TRIAL_ATTR, trial_id)
                return unflatten_dict(dict(ot_trial.params))
        config = super().suggest(trial_id)
        if trial_id in self._ot_trials:
            self._ot_trials[trial_id].set_user_attr(TRIAL_ATTR, trial_id)
        return config

    def _orphan(self):
        owned = {t._trial_id for t in self._ot_trials.values()}
        for t in self._ot_study.get_trials(deepcopy=False, states=(_RUNNING,)):
            if t._trial_id not in owned and set(t.params) <= set(self._space):
                return t
        return None

    # ---- telling ---------------------------------------------------------------------------------
    def _frozen(self, trial_id: str):
        ot_trial = self._ot_trials.get(trial_id)
        return None if ot_trial is None else self._ot_study._storage.get_trial(ot_trial._trial_id)

    def _finished(self, trial_id: str, frozen) -> bool:
        return trial_id in self._completed_trials or (frozen is not None and frozen.state.is_finished())

    def on_trial_result(self, trial_id: str, result: dict):
        frozen = self._frozen(trial_id)
        if self._finished(trial_id, frozen):
            return
        if frozen is not None and result.get(TRAINING_ITERATION) in frozen.intermediate_values:
            return  # a resumed trial reports its finished levels again: Optuna has them
        super().on_trial_result(trial_id, result)
        self._persist()

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False):
        if self._finished(trial_id, self._frozen(trial_id)):
            self._completed_trials.add(trial_id)
            return
        if result and ended_early(result):
            # Stopped before the target sparsity (collapse stopper, ASHA): its last value is not
            # comparable with finished trials', so Optuna records it PRUNED, with no value.
            result = None
        super().on_trial_complete(trial_id, result, error)
        self._persist()


class SweepGenerator(SearchGenerator):
    """Tune's wrapper of a searcher (what Tune builds itself from a searcher and max_concurrent), whose
    trials created after a restore go to this command's sweep folder: Tune restores the experiment
    it saved, and with it the absolute folder the sweep had then, where a moved sweep is not."""

    def __init__(self, searcher: ResumableOptunaSearch, max_concurrent: int, sweep_dir: str):
        super().__init__(ConcurrencyLimiter(searcher, max_concurrent=max_concurrent))
        self._sweep_dir = sweep_dir

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _sweep_dir=None)  # a restore gets this command's folder

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        if self._experiment is not None and self._sweep_dir:
            # In place, as Tune rebases its restored trials: the experiment's spec holds this object.
            self._experiment.storage.storage_fs_path = self._sweep_dir
