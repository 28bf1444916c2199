"""Run config: the golden hash, YAML + --set loading, coercion, and one clear error per bad input."""

from __future__ import annotations

import dataclasses

import pytest

from rtl_sweep.config import RunConfig
from rtl_sweep.errors import ConfigError

# Golden values: a change here renames every existing run folder. Change them only on purpose.
DEFAULT_HASH = "44136fa355b3"          # sha256 of "{}": the all-default config has no fields in it
FRACTION_SEED_HASH = "20a8b0cc016b"    # prune.fraction=0.3, seed=7: pins the serialisation itself


def test_golden_hash_of_the_default_config():
    assert RunConfig().hash() == DEFAULT_HASH
    assert RunConfig().with_overrides(["prune.fraction=0.3", "seed=7"]).hash() == FRACTION_SEED_HASH


def test_hash_follows_what_the_run_computes_not_its_label():
    base = RunConfig()
    assert base.with_overrides(["prune.fraction=0.3"]).hash() != base.hash()
    assert base.with_overrides(["joint.variant=summed"]).hash() != base.hash()
    renamed = dataclasses.replace(base, name="another-label")
    assert renamed.hash() == base.hash()
    assert renamed.folder_name() == f"another-label-{base.hash()}"


def test_default_valued_override_keeps_the_hash():
    base = RunConfig()
    same = base.with_overrides(["prune.fraction=0.5", "prune.lr=1.0e-3", "model.name=cnn",
                                "baselines=[imp_single, imp_multiple, imp_single_equal]"])
    assert same == base and same.hash() == base.hash()
    # another spelling of a default value is the same value, so the same run
    assert base.with_overrides(["signal.threshold=5.0e-1", "prune.target_sparsity=0.980",
                                "joint.lr=1e-3"]).hash() == base.hash()


def test_yaml_file_plus_set_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("name: study\nseed: 3\nprune:\n  fraction: 0.3\n  epochs: 2\n"
                    "partition:\n  method: groups\n  groups: '0,1,2,3,4;5,6,7,8,9'\n")
    cfg = RunConfig.load(path, ["prune.epochs=4", "joint.variant=summed", "model.width=8"])
    assert (cfg.name, cfg.seed) == ("study", 3)
    assert cfg.prune.fraction == 0.3 and cfg.prune.epochs == 4      # --set wins over the file
    assert cfg.joint.variant == "summed" and cfg.model.width == 8
    assert cfg.partition.groups == "0,1,2,3,4;5,6,7,8,9"
    assert cfg.prune.lr == RunConfig().prune.lr                      # untouched keys keep defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 4  # type: ignore[misc]


def test_no_file_means_defaults_and_empty_file_too(tmp_path):
    assert RunConfig.load(None) == RunConfig()
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert RunConfig.load(empty) == RunConfig()


def test_yaml_1e4_string_is_coerced_to_float(tmp_path):
    path = tmp_path / "lr.yaml"
    path.write_text("prune:\n  lr: 1e-4\njoint:\n  lr: 3\n")   # YAML 1.1 reads 1e-4 as a string
    cfg = RunConfig.load(path, ["signal.threshold=2e-1"])
    assert isinstance(cfg.prune.lr, float) and cfg.prune.lr == 1e-4
    assert isinstance(cfg.joint.lr, float) and cfg.joint.lr == 3.0
    assert isinstance(cfg.signal.threshold, float) and cfg.signal.threshold == 0.2


def test_str_fields_keep_the_text_as_typed():
    # YAML reads these as int / bool / None; a str field must keep the string (config/loading.py, split_set)
    cfg = RunConfig().with_overrides(["name=2024", "data.path=123", "partition.groups=null"])
    assert cfg.name == "2024" and cfg.data.path == "123" and cfg.partition.groups == "null"


def test_list_field_from_comma_string():
    cfg = RunConfig().with_overrides(["baselines=imp_single, imp_multiple"])
    assert cfg.baselines == ["imp_single", "imp_multiple"]


@pytest.mark.parametrize("override, wrong, suggestion", [
    ("prune.fractoin=0.3", "prune.fractoin", "prune.fraction"),
    ("prnue.fraction=0.3", "prnue.fraction", "prune.fraction"),
    ("seeed=1", "seeed", "seed"),
])
def test_unknown_set_key_names_it_and_suggests_the_nearest(override, wrong, suggestion):
    with pytest.raises(ConfigError) as e:
        RunConfig().with_overrides([override])
    assert repr(wrong) in e.value.problem
    assert suggestion in e.value.fix.split("?")[0].split(",")[0]  # the nearest comes first


def test_unknown_yaml_key_names_its_dotted_path(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("prune:\n  fractoin: 0.3\n")
    with pytest.raises(ConfigError) as e:
        RunConfig.load(path)
    assert "'prune.fractoin'" in e.value.problem and "prune.fraction" in e.value.fix


@pytest.mark.parametrize("override, key", [
    ("prune.epochs=abc", "prune.epochs"),
    ("prune.epochs=1.5", "prune.epochs"),
    ("prune.epochs=true", "prune.epochs"),     # a bool is not an int here
    ("prune.fraction=half", "prune.fraction"),
    ("data.download=maybe", "data.download"),
    ("prune=3", "prune"),                      # a section given a scalar
])
def test_wrong_type_is_a_config_error_naming_the_key(override, key):
    with pytest.raises(ConfigError) as e:
        RunConfig().with_overrides([override])
    assert key in e.value.problem and e.value.fix


def test_set_without_equals_sign():
    with pytest.raises(ConfigError, match="no '='"):
        RunConfig().with_overrides(["prune.fraction"])


@pytest.mark.parametrize("value", [1.5, 1.0, -0.1])
def test_target_sparsity_outside_unit_interval_is_rejected(value):
    cfg = RunConfig().with_overrides([f"prune.target_sparsity={value}"])
    with pytest.raises(ConfigError) as e:
        cfg.validate()
    assert "target_sparsity" in e.value.problem and e.value.fix


def test_target_sparsity_edges_inside_are_valid():
    assert RunConfig().with_overrides(["prune.target_sparsity=0"]).validate().prune.target_sparsity == 0.0
    RunConfig().with_overrides(["prune.target_sparsity=0.999"]).validate()


@pytest.mark.parametrize("overrides", [["prune.mode=halving"], ["prune.fraction=1.0"],
                                       ["prune.mode=count", "prune.count=0"], ["prune.ranking=random"],
                                       ["protocol=regression"], ["joint.variant=parallel"],
                                       ["signal.watch=loss"], ["baselines=dense"],
                                       ["baselines=imp_single_equal"]])
def test_validate_rejects_impossible_values(overrides):
    with pytest.raises(ConfigError):
        RunConfig().with_overrides(overrides).validate()


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_outside_what_numpy_torch_and_sklearn_take_is_rejected(seed):
    with pytest.raises(ConfigError, match=rf"seed={seed} is not an integer in \[0, 2\*\*32\)"):
        RunConfig().with_overrides([f"seed={seed}"]).validate()
    assert RunConfig().with_overrides([f"seed={2**32 - 1}"]).validate().seed == 2**32 - 1


def test_malformed_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("prune: [unclosed\n  fraction: 0.3\n")
    with pytest.raises(ConfigError) as e:
        RunConfig.load(path)
    assert "not valid YAML" in e.value.problem


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        RunConfig.load(path)


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as e:
        RunConfig.load(missing)
    assert str(missing) in e.value.problem and "does not exist" in e.value.problem


def test_round_trip_through_dict_is_identity():
    cfg = RunConfig().with_overrides(["prune.fraction=0.3", "partition.method=kmeans", "partition.k=4"])
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.hash() == cfg.hash()


def test_manual_config_table_is_current():
    """The manual's config-keys table is generated from the dataclasses: it cannot drift."""
    from pathlib import Path
    from rtl_sweep.config import keys_markdown
    page = (Path(__file__).resolve().parents[1] / "docs" / "config_keys.md").read_text()
    start = page.index("<!-- config-keys")
    table = page[page.index("\n", start) + 1:page.index("<!-- /config-keys -->")]
    assert table.strip() == keys_markdown().strip(), "regenerate the table in docs/config_keys.md: " \
        "python -m rtl_sweep.config"


def test_multiclass_over_the_class_partition_warns_that_the_oracle_is_the_label(tmp_path):
    from rtl_sweep.engine import Run
    tiny = ["data.name=digits", "model.name=mlp", "data.max_per_class=10"]
    with pytest.warns(UserWarning, match="oracle routes each test input by its own label"):
        Run(RunConfig().with_overrides(tiny + ["protocol=multiclass"]), str(tmp_path), device="cpu")
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*own label")  # grouped classes, or ovr: no warning
        for extra in (["protocol=multiclass", "partition.method=kmeans", "partition.k=3"], []):
            Run(RunConfig().with_overrides(tiny + extra), str(tmp_path / "ok"), device="cpu")
