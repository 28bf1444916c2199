"""Run configuration: frozen dataclasses per concern, YAML loading, --set overrides, the config hash.

    python -c "from rtl_sweep.config import RunConfig; print(RunConfig().hash())"
    python -m rtl_sweep.config      # the config keys table

Every field carries its help text. One module per concern, each importing only those above it in
this list:

    sections.py       the section dataclasses (data, partition, model, prune, joint, signal, router)
    tree.py           a config as a tree of dataclasses: dotted keys, non-default fields
    routes.py         which routings a run scores and which make sense per protocol
    task_defaults.py  the defaults a task brings for the keys a config leaves unset
    validation.py     the checks a config passes before anything runs
    hashing.py        the run hash (the run folder's name)
    loading.py        building from nested keys, YAML files and --set strings
    run.py            RunConfig: the sections plus the run's own keys; its methods call the above
    keys.py           every key with its default; the manual's keys table (docs/config_keys.md)

The names other modules use are re-exported here.
"""

from rtl_sweep.config.hashing import HASHED_AS
from rtl_sweep.config.keys import all_keys, flat_defaults, keys_markdown, nearest_keys
from rtl_sweep.config.loading import dump_yaml
from rtl_sweep.config.routes import DEFAULT_ROUTES, ROUTINGS, check_routes, routes_of
from rtl_sweep.config.run import RunConfig
from rtl_sweep.config.sections import (PARTITION_ALIASES, DataConfig, JointConfig, ModelConfig,
                                       PartitionConfig, PruneConfig, RouterConfig, SignalConfig)
from rtl_sweep.config.task_defaults import TASK_DEFAULTS, with_task_defaults
from rtl_sweep.config.validation import EXPOSURES, LABEL_LEAK, ROUTER_MODELS, VECTORIZE

__all__ = ["DEFAULT_ROUTES", "EXPOSURES", "HASHED_AS", "LABEL_LEAK", "PARTITION_ALIASES", "ROUTER_MODELS",
           "ROUTINGS", "TASK_DEFAULTS", "VECTORIZE", "DataConfig", "JointConfig", "ModelConfig",
           "PartitionConfig", "PruneConfig", "RouterConfig", "RunConfig", "SignalConfig", "all_keys",
           "check_routes", "dump_yaml", "flat_defaults", "keys_markdown", "nearest_keys", "routes_of",
           "with_task_defaults"]
