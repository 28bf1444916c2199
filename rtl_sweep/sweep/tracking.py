"""Experiment tracking for a sweep: each Tune trial as an MLflow run (optional extra `tracking`).

    rtl-sweep sweep search_spaces/default.yaml --mlflow sqlite:///mlflow.db   # then: mlflow ui --backend-store-uri sqlite:///mlflow.db

Ray Tune's own MLflowLoggerCallback, run by the driver: one MLflow run per trial in the experiment
named after the sweep, its params the trial's sampled config, its metrics every reported value at
each level (step = Tune's training_iteration = level + 1). The tracking URI is taken from the
command line or MLFLOW_TRACKING_URI and is written nowhere by rtl_sweep (it may hold a password);
`rtl-sweep resume` needs it again to go on logging.
"""

from __future__ import annotations

import os

from rtl_sweep.errors import ConfigError


def callbacks(tracking_uri: str | None, sweep_name: str) -> list:
    """The tracking callbacks for `tracking_uri` (or MLFLOW_TRACKING_URI when it is "env"); none
    when no URI is given."""
    if not tracking_uri:
        return []
    if tracking_uri == "env":
        tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not tracking_uri:
            raise ConfigError("--mlflow env, but MLFLOW_TRACKING_URI is not set",
                              "export MLFLOW_TRACKING_URI=... or pass --mlflow sqlite:///mlflow.db")
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise ConfigError("--mlflow needs MLflow, which is not installed",
                          "pip install 'rtl-sweep[tracking]'") from None
    from ray.air.integrations.mlflow import MLflowLoggerCallback
    return [MLflowLoggerCallback(tracking_uri=tracking_uri, experiment_name=sweep_name,
                                 tags={"rtl_sweep.sweep": sweep_name}, save_artifact=False)]
