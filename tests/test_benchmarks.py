"""The permuted / rotated / split MNIST builders: real bundled images, user-file format, and a split
that never puts one source image on both sides."""

import numpy as np
import pytest

from rtl_sweep.config import DataConfig
from rtl_sweep.data import load_dataset
from rtl_sweep.data.benchmarks import main, permuted, rotated, split, write
from rtl_sweep.errors import DataError


def test_permuted_rows_are_pixel_permutations_of_their_source():
    a = permuted(k=3)
    x, src, g = a["X"].reshape(len(a["y"]), -1), a["source"], a["group"]
    assert len(np.unique(g)) == 3 and len(a["y"]) == 3 * len(np.unique(src))
    base = x[g == "perm0"]
    for env in ("perm1", "perm2"):
        rows = x[g == env]
        assert (np.sort(rows, axis=1) == np.sort(base, axis=1)).all()  # same pixels, moved
        assert (rows != base).any()
        # one fixed permutation per environment: every pixel column of it is a column of the base
        base_cols = {base[:, i].tobytes() for i in range(base.shape[1])}
        assert all(rows[:, j].tobytes() in base_cols for j in range(rows.shape[1]))


def test_rotated_keeps_labels_and_turns_images():
    a = rotated(k=2, max_angle=180.0)
    g, x = a["group"], a["X"][:, 0].astype(int)
    up, turned = x[g == "rot0"], x[g == "rot90"]
    assert np.array_equal(a["y"][g == "rot0"], a["y"][g == "rot90"])
    assert np.abs(np.rot90(up[:50], k=1, axes=(1, 2)) - turned[:50]).mean() < \
        np.abs(up[:50] - turned[:50]).mean() / 2


def test_split_pairs_have_per_subset_labels():
    a = split(k=5)
    assert set(np.unique(a["y"])) == {0, 1}
    assert sorted(np.unique(a["group"])) == ["0v1", "2v3", "4v5", "6v7", "8v9"]
    assert len(np.unique(a["source"])) == len(a["y"])
    with pytest.raises(DataError, match="1 to 5 class pairs"):
        split(k=6)


def test_file_split_never_shares_a_source_image_between_train_and_test(tmp_path, capsys):
    path = tmp_path / "pm.npz"
    assert main(["permuted", str(path), "--k", "2"]) == 0
    assert "10000 samples from 5000 MNIST images" in capsys.readouterr().out
    ds = load_dataset(DataConfig(name="file", path=str(path)), seed=0)
    with np.load(path) as z:
        source = z["source"]
    train_rows = np.setdiff1d(np.arange(len(source)), ds.test_rows)
    assert not set(source[ds.test_rows]) & set(source[train_rows])
    assert abs(len(ds.test_rows) / len(source) - 0.2) < 0.01
    assert ds.group_names == ["perm0", "perm1"] and ds.g_test is not None


def test_bad_output_name_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="not a .npz"):
        write("permuted", str(tmp_path / "x.csv"))
    assert main(["split", str(tmp_path / "s.npz"), "--k", "9"]) == 2
    assert not (tmp_path / "s.npz").exists()


def test_permuted_mnist_runs_end_to_end_routed_by_environment(tmp_path, capsys):
    from rtl_sweep.cli import main as cli
    path = write("permuted", str(tmp_path / "pm.npz"), k=2)
    code = cli(["run", "-o", str(tmp_path / "runs"), "-q", "--set", "data.name=file",
                "--set", f"data.path={path}", "--set", "partition.method=group",
                "--set", "protocol=multiclass", "--set", "model.name=mlp", "--set", "data.max_per_class=40",
                "--set", "prune.epochs=1", "--set", "joint.epochs=1", "--set", "prune.target_sparsity=0.5"])
    out = capsys.readouterr().out
    assert code == 0 and "At equal total parameters" in out


def test_per_digit_keeps_the_first_images_of_each_digit(tmp_path, capsys):
    full, small = permuted(k=2), permuted(k=2, per_digit=30)
    assert np.bincount(small["y"][small["group"] == "perm0"]).tolist() == [30] * 10
    # the same images in every environment, and the same as the full file's first 30 per digit
    src = small["source"]
    assert np.array_equal(np.unique(src[small["group"] == "perm0"]), np.unique(src[small["group"] == "perm1"]))
    first = full["X"][full["group"] == "perm1"][full["y"][full["group"] == "perm0"] == 3][:30]
    mine = small["X"][small["group"] == "perm1"][small["y"][small["group"] == "perm0"] == 3]
    assert np.array_equal(first, mine)  # same permutation, same images
    assert main(["split", str(tmp_path / "s.npz"), "--per-digit", "-1"]) == 2
    assert "negative" in capsys.readouterr().out and not (tmp_path / "s.npz").exists()
