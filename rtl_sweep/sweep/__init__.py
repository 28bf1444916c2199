"""Sweeps: search-space files (space), the sweep folder (folder), K of a trial (facts), the Optuna study
(study, search), the Tune trainable and stopper, the trial rows (tables) and their writer (writer),
and the Tuner set-up (tuner)."""
