"""exposure=passes|final: the key, its place in the hash, in every row and in the summary's header."""

import glob

import pyarrow.parquet as pq
import pytest

from rtl_sweep import methods
from rtl_sweep.config import RunConfig
from rtl_sweep.errors import ConfigError


def test_passes_is_todays_rule_and_keeps_the_hash():
    # The bundled default's hash before the key existed (main at 94cf4c6).
    assert RunConfig().hash() == "44136fa355b3"
    assert RunConfig().with_overrides(["exposure=passes"]).hash() == "44136fa355b3"
    final = RunConfig().with_overrides(["exposure=final", "prune.epochs=3", "joint.epochs=2"])
    assert final.hash() != RunConfig().with_overrides(["prune.epochs=3", "joint.epochs=2"]).hash()
    with pytest.raises(ConfigError, match="exposure='same' is unknown"):
        RunConfig().with_overrides(["exposure=same"]).validate()


def test_final_trains_every_deployed_model_the_same_epochs():
    cfg = RunConfig().with_overrides(["prune.epochs=3", "joint.epochs=2"])
    passes = {m.name: m.epochs(cfg) for m in methods.METHODS.values()}
    assert passes["rtl_tickets"] == 3 and passes["imp_single"] == 5 and methods.joint_epochs(cfg) == 2
    final = cfg.with_overrides(["exposure=final"])
    assert {m.epochs(final) for m in methods.METHODS.values()} == {5}
    assert methods.joint_epochs(final) == 5


def test_exposure_is_in_every_row_and_the_summary_header(tmp_path, capsys):
    from rtl_sweep.cli import main
    common = ["-q", "--set", "data.name=digits", "--set", "data.max_per_class=20", "--set", "model.name=mlp",
              "--set", "prune.epochs=1", "--set", "joint.epochs=1", "--set", "prune.target_sparsity=0.5",
              "--set", "baselines=imp_single"]
    for rule in ("passes", "final"):
        out_dir = tmp_path / rule
        assert main(["run", "-o", str(out_dir), *common, "--set", f"exposure={rule}"]) == 0
        assert f"exposure {rule}):" in capsys.readouterr().out
        rows = [r for f in glob.glob(str(out_dir / "*" / "tables" / "rounds" / "*.parquet"))
                for r in pq.read_table(f).to_pylist()]
        assert rows and {r["exposure"] for r in rows} == {rule}
        tickets = {r["epochs"] for r in rows if r["method"] == "rtl_tickets"}
        assert tickets == ({1} if rule == "passes" else {2})
