"""Tasks: what a run's models learn. A task supplies the data, the routing table, the models, the
training targets, the scores (its main score and its direction), its dead-ticket rule and its
pictures; the engine runs any task the same way.

    python -c "from rtl_sweep.tasks import get_task; print(get_task('classification').main_score)"

Adding a task is one module with a `Task` subclass plus one line in TASKS (the config key `task`
names it). Modules are imported on first use, so a task's heavy dependencies cost nothing to others.
"""

from __future__ import annotations

import importlib

from rtl_sweep.errors import ConfigError
from rtl_sweep.tasks.base import Task

# name -> "module:Class"
TASKS: dict[str, str] = {
    "classification": "rtl_sweep.tasks.classification:Classification",
    "inr": "rtl_sweep.tasks.inr:INR",
    "speech": "rtl_sweep.tasks.speech:Speech",
}


def get_task(name: str) -> Task:
    spec = TASKS.get(name)
    if spec is None:
        raise ConfigError(f"task={name!r} is unknown", f"use one of {', '.join(sorted(TASKS))}")
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["TASKS", "Task", "get_task"]
