"""Datasets: shapes, counts, deterministic stratified splits, user files, and every error path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rtl_sweep.config import DataConfig
from rtl_sweep.data import DATASETS, Dataset, load_dataset
from rtl_sweep.data.split import cap_per_class, stratified_split
from rtl_sweep.errors import DataError


def _same(a: Dataset, b: Dataset) -> bool:
    return all(torch.equal(getattr(a, f), getattr(b, f))
               for f in ("x_train", "y_train", "x_test", "y_test"))


# ---- bundled data ---------------------------------------------------------------------------
def test_mnist5k_shape_counts_and_scaling():
    d = load_dataset(DataConfig(), seed=0)
    assert d.name == "mnist5k" and d.input_shape == (1, 28, 28) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_test) == 5000
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    counts = torch.bincount(torch.cat([d.y_train, d.y_test]), minlength=10)
    assert counts.tolist() == [500] * 10
    # 20% of each class held out: proportions kept exactly
    assert torch.bincount(d.y_test).tolist() == [100] * 10
    assert abs(float(d.x_train.mean())) < 1e-3 and abs(float(d.x_train.std()) - 1) < 1e-3
    assert d.g_train is None and d.g_test is None and d.class_names == [str(i) for i in range(10)]


def test_mnist5k_file_is_parsed_once_per_process():
    from rtl_sweep.data.bundled import _read_mnist_csv
    load_dataset(DataConfig(), seed=0)
    hits = _read_mnist_csv.cache_info().hits
    load_dataset(DataConfig(), seed=3)
    assert _read_mnist_csv.cache_info().hits == hits + 1


def test_same_seed_same_split_different_seed_different():
    a, b, c = (load_dataset(DataConfig(), seed=s) for s in (0, 0, 1))
    assert _same(a, b)
    assert not torch.equal(a.y_train, c.y_train) or not torch.equal(a.x_train, c.x_train)


def test_train_and_test_are_disjoint_and_cover():
    y = np.repeat(np.arange(4), [10, 7, 3, 1])
    tr, te = stratified_split(y, None, 0.3, seed=5)
    assert np.intersect1d(tr, te).size == 0
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(len(y)))
    # each class of >= 2 samples is on both sides; the single sample stays in train
    assert set(y[te]) == {0, 1, 2} and 3 in set(y[tr])


def test_stratified_split_by_group_when_possible():
    y = np.tile([0, 1], 40)
    g = np.repeat([0, 1], 40)
    tr, te = stratified_split(y, g, 0.25, seed=0)
    strata = y[te] * 2 + g[te]
    assert np.bincount(strata).tolist() == [5, 5, 5, 5]


def test_max_per_class_caps_before_split():
    d = load_dataset(DataConfig(max_per_class=20), seed=0)
    assert torch.bincount(torch.cat([d.y_train, d.y_test])).tolist() == [20] * 10
    keep = cap_per_class(np.repeat(np.arange(3), 10), 4, seed=1)
    assert np.array_equal(keep, np.sort(keep)) and len(keep) == 12
    assert np.array_equal(keep, cap_per_class(np.repeat(np.arange(3), 10), 4, seed=1))


def test_digits():
    d = load_dataset(DataConfig(name="digits"), seed=0)
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_test) == 1797
    assert d.x_train.shape[1:] == (1, 8, 8)


def test_registry_names():
    assert set(DATASETS) == {"mnist5k", "digits", "cifar10", "cifar100", "file", "synthetic"}


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DataError, match="imagenet") as e:
        load_dataset(DataConfig(name="imagenet"), seed=0)
    assert "mnist5k" in e.value.fix and "cifar10" in e.value.fix


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_missing_files_names_dir_and_fix(tmp_path, name):
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(name=name, data_dir=str(tmp_path), download=False), seed=0)
    assert str(tmp_path) in e.value.problem and "data.download=true" in e.value.fix


# ---- user files ------------------------------------------------------------------------------
def _user_arrays(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["cat", "dog", "eel"])[np.arange(n) % 3]
    g = np.array([30, 10])[(np.arange(n) // 3) % 2]  # two environments, every label in both
    x = rng.normal(size=(n, d)).astype(np.float32) * 5 + 3
    return x, y, g


def test_npz_with_group_round_trips(tmp_path):
    x, y, g = _user_arrays()
    path = tmp_path / "d.npz"
    np.savez(path, X=x, y=y, group=g)
    d = load_dataset(DataConfig(name="file", path=str(path)), seed=0)
    assert d.input_shape == (6,) and d.num_classes == 3 and d.class_names == ["cat", "dog", "eel"]
    assert d.group_names == ["10", "30"]
    assert len(d.x_train) + len(d.x_test) == 120
    assert d.g_train is not None and set(d.g_train.tolist()) == {0, 1}
    # stratified on label x group: every (label, group) cell appears in test
    assert len(set(zip(d.y_test.tolist(), d.g_test.tolist()))) == 6
    assert abs(float(d.x_train.mean())) < 1e-3


def test_npz_labels_and_groups_match_original_rows(tmp_path):
    n = 60
    x = np.arange(n, dtype=np.float32)[:, None].repeat(2, 1)  # row i holds value i: traceable
    y = np.array([7, 3, 5])[np.arange(n) % 3]
    g = np.array(["b", "a"])[np.arange(n) % 2]
    path = tmp_path / "t.npz"
    np.savez(path, X=x, y=y, group=g)
    d = load_dataset(DataConfig(name="file", path=str(path)), seed=2)
    assert d.class_names == ["3", "5", "7"] and d.group_names == ["a", "b"]
    # train and test share one increasing affine scaling, so ranks over both recover row numbers
    z = np.concatenate([d.x_train[:, 0].numpy(), d.x_test[:, 0].numpy()])
    rows = np.argsort(np.argsort(z))
    labels = [d.class_names[c] for c in torch.cat([d.y_train, d.y_test]).tolist()]
    groups = [d.group_names[c] for c in torch.cat([d.g_train, d.g_test]).tolist()]
    assert labels == [str(v) for v in y[rows]] and groups == list(g[rows])


def test_parquet_with_group_round_trips(tmp_path):
    x, y, g = _user_arrays(n=90, d=4)
    cols = {f"f{i}": x[:, i] for i in range(4)}
    table = pa.table({"label": y, "env": g.astype(str), **cols})
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    d = load_dataset(DataConfig(name="file", path=str(path), group_column="env"), seed=0)
    assert d.input_shape == (4,) and d.num_classes == 3 and d.group_names == ["10", "30"]
    assert len(d.x_train) + len(d.x_test) == 90 and d.g_test is not None
    same = load_dataset(DataConfig(name="file", path=str(path), group_column="env"), seed=0)
    assert _same(d, same)


def test_npz_images_keep_their_shape(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "img.npz"
    np.savez(path, X=rng.integers(0, 255, size=(40, 3, 5, 5)).astype(np.uint8), y=np.arange(40) % 2)
    d = load_dataset(DataConfig(name="file", path=str(path)), seed=0)
    assert d.input_shape == (3, 5, 5) and d.x_train.shape[1:] == (3, 5, 5)
    assert d.g_train is None


@pytest.mark.parametrize("case, key", [
    ("missing", "does not exist"),
    ("extension", ".csv"),
    ("no_y", "'y'"),
    ("length", "y has shape"),
    ("strings", "non-numeric"),
    ("no_label", "'target'"),
    ("text_feature", "'city'"),
    ("no_path", "data.path"),
])
def test_bad_user_files_raise_data_error(tmp_path, case, key):
    x, y, g = _user_arrays(n=30)
    cfg = DataConfig(name="file", path=str(tmp_path / "d.npz"))
    if case == "missing":
        pass
    elif case == "extension":
        (tmp_path / "d.csv").write_text("a,b\n1,2\n")
        cfg = dataclasses.replace(cfg, path=str(tmp_path / "d.csv"))
    elif case == "no_y":
        np.savez(tmp_path / "d.npz", X=x)
    elif case == "length":
        np.savez(tmp_path / "d.npz", X=x, y=y[:-1])
    elif case == "strings":
        np.savez(tmp_path / "d.npz", X=np.array([["a"]] * 30), y=y)
    elif case in ("no_label", "text_feature"):
        cols = {"label": y, "f0": x[:, 0], "city": np.array(["x"] * 30)}
        pq.write_table(pa.table(cols), tmp_path / "d.parquet")
        label = "target" if case == "no_label" else "label"
        cfg = DataConfig(name="file", path=str(tmp_path / "d.parquet"), label_column=label)
    elif case == "no_path":
        cfg = DataConfig(name="file")
    with pytest.raises(DataError) as e:
        load_dataset(cfg, seed=0)
    assert key in str(e.value) and e.value.fix


def test_bad_test_fraction():
    with pytest.raises(DataError, match="test_fraction"):
        load_dataset(DataConfig(test_fraction=1.0), seed=0)
