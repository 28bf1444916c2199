"""Routing tables: disjoint, covering, label-free k-means routing, the paper's CIFAR-100 groups, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rtl_sweep.config import DataConfig, PartitionConfig
from rtl_sweep.data import Dataset, load_dataset
from rtl_sweep.errors import ConfigError, DataError
from rtl_sweep.partition import (CIFAR100_CLASSES, NAMED_GROUP_NAMES, NAMED_GROUPS, PARTITIONS,
                                 Partition, build_partition)


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    return load_dataset(DataConfig(max_per_class=60), seed=0)


def _assert_disjoint_cover(p: Partition, n_train: int, n_test: int) -> None:
    all_idx = np.concatenate([p.indices(k) for k in range(p.k)])
    assert np.array_equal(np.sort(all_idx), np.arange(n_train))  # each index exactly once
    assert sum(p.sizes()) == n_train and len(p.sizes()) == p.k == len(p.names)
    assert all(np.array_equal(p.indices(k), np.sort(p.indices(k))) for k in range(p.k))
    assert len(p.test_ids) == n_test and p.test_ids.min() >= 0 and p.test_ids.max() < p.k
    assert p.train_ids.dtype == np.int64 and p.test_ids.dtype == np.int64


@pytest.mark.parametrize("cfg", [
    PartitionConfig(method="class"),
    PartitionConfig(method="groups", groups="0,1,2;3,4;5,6,7,8,9"),
    PartitionConfig(method="kmeans", k=5, embedding="raw"),
    PartitionConfig(method="kmeans", k=3, embedding="pca", pca_dim=8),
])
def test_partitions_are_disjoint_and_cover(mnist, cfg):
    p = build_partition(cfg, mnist, seed=0)
    _assert_disjoint_cover(p, len(mnist.y_train), len(mnist.y_test))


def test_class_partition_is_the_labels(mnist):
    p = build_partition(PartitionConfig(method="class"), mnist, seed=0)
    assert p.k == 10 and p.names == mnist.class_names
    assert np.array_equal(p.train_ids, mnist.y_train.numpy())
    assert np.array_equal(p.class_to_subset, np.arange(10)) and p.centroids is None


def test_groups_inline_by_index_and_name(mnist):
    p = build_partition(PartitionConfig(method="groups", groups="0,1,2;3,4; 5,6,7,8,9"), mnist, 0)
    assert p.k == 3 and p.class_to_subset.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    assert np.array_equal(p.train_ids, p.class_to_subset[mnist.y_train.numpy()])
    assert np.array_equal(p.test_ids, p.class_to_subset[mnist.y_test.numpy()])
    named = dataclasses.replace(mnist, class_names=[f"c{i}" for i in range(10)])
    q = build_partition(PartitionConfig(method="groups", groups="c0,c1,2;c3,c4;5,6,7,8,9"), named, 0)
    assert np.array_equal(p.train_ids, q.train_ids)


@pytest.mark.parametrize("spec, key", [
    ("0,1,2;3,4;5,6,7,8", "'9'"),      # a class left out
    ("0,1,2;2,3,4;5,6,7,8,9", "'2'"),  # a class twice
    ("0,1;2,3,4,5,6,7,8,99", "99"),    # not a class
    ("", "partition.groups"),
])
def test_groups_errors_name_the_classes(mnist, spec, key):
    with pytest.raises(ConfigError) as e:
        build_partition(PartitionConfig(method="groups", groups=spec), mnist, seed=0)
    assert key in str(e.value) and e.value.fix


def test_cifar100_paper_groups_sizes_and_coverage():
    groups = NAMED_GROUPS["cifar100_paper"]
    sizes = dict(zip(NAMED_GROUP_NAMES["cifar100_paper"], map(len, groups)))
    assert sizes == {"aquatic": 9, "people and objects": 28, "mammals": 22,
                     "reptiles and insects": 15, "vehicles": 8, "natural scenes": 9,
                     "fruits": 4, "flowers": 5}
    members = [c for g in groups for c in g]
    assert len(CIFAR100_CLASSES) == 100 == len(set(CIFAR100_CLASSES))
    assert sorted(members) == sorted(CIFAR100_CLASSES)  # every class exactly once
    assert CIFAR100_CLASSES == sorted(CIFAR100_CLASSES)  # torchvision's order is alphabetical


def test_cifar100_paper_groups_build_on_cifar100_names():
    n, rng = 400, np.random.default_rng(0)
    y = torch.from_numpy(np.arange(n) % 100)
    x = torch.from_numpy(rng.normal(size=(n, 3)).astype(np.float32))
    fake = Dataset("cifar100", x, y, x[:100], y[:100], None, None, 100, (3,), list(CIFAR100_CLASSES))
    p = build_partition(PartitionConfig(method="groups", groups="cifar100_paper"), fake, seed=0)
    assert p.k == 8 and p.names[0] == "aquatic"
    assert p.sizes() == [4 * s for s in (9, 28, 22, 15, 8, 9, 4, 5)]
    assert p.names[p.class_to_subset[CIFAR100_CLASSES.index("maple_tree")]] == "natural scenes"


@pytest.mark.parametrize("embedding", ["raw", "pca"])
def test_kmeans_routes_test_without_labels(mnist, embedding):
    cfg = PartitionConfig(method="kmeans", k=4, embedding=embedding, pca_dim=8)
    p = build_partition(cfg, mnist, seed=0)
    shuffled = dataclasses.replace(mnist, y_test=mnist.y_test[torch.randperm(len(mnist.y_test))],
                                   y_train=torch.zeros_like(mnist.y_train))
    q = build_partition(cfg, shuffled, seed=0)
    assert np.array_equal(p.test_ids, q.test_ids) and np.array_equal(p.train_ids, q.train_ids)
    assert p.centroids.shape[0] == 4 and p.class_to_subset is None
    assert p.names == [f"cluster{i}" for i in range(4)]
    # the test set is routed to the nearest centroid in the embedding
    if embedding == "raw":
        z = mnist.x_test.reshape(len(mnist.x_test), -1).numpy()
        nearest = ((z[:, None, :] - p.centroids[None]) ** 2).sum(-1).argmin(1)
        assert (nearest == p.test_ids).mean() > 0.99  # float32 ties aside


def test_kmeans_is_seeded(mnist):
    cfg = PartitionConfig(method="kmeans", k=4, embedding="pca", pca_dim=8)
    assert np.array_equal(build_partition(cfg, mnist, 3).train_ids,
                          build_partition(cfg, mnist, 3).train_ids)


def test_kmeans_dense_uses_embed(mnist):
    cfg = PartitionConfig(method="kmeans", k=2, embedding="dense")
    calls = []

    def embed(x: torch.Tensor) -> np.ndarray:
        calls.append(len(x))
        return x.reshape(len(x), -1)[:, 300:316].numpy()  # centre pixels vary

    p = build_partition(cfg, mnist, seed=0, embed=embed)
    assert calls == [len(mnist.x_train), len(mnist.x_test)] and p.centroids.shape == (2, 16)
    with pytest.raises(ConfigError, match="dense"):
        build_partition(cfg, mnist, seed=0)


@pytest.mark.parametrize("k", [0, 1, 10_000])
def test_kmeans_k_bounds(mnist, k):
    with pytest.raises(ConfigError) as e:
        build_partition(PartitionConfig(method="kmeans", k=k), mnist, seed=0)
    assert "partition.k" in str(e.value) and str(len(mnist.y_train) // 2) in str(e.value)


def test_kmeans_unknown_embedding(mnist):
    with pytest.raises(ConfigError, match="partition.embedding"):
        build_partition(PartitionConfig(method="kmeans", k=2, embedding="clip"), mnist, seed=0)


def _group_file(tmp_path, groups) -> Dataset:
    n = len(groups)
    rng = np.random.default_rng(0)
    path = tmp_path / "g.npz"
    np.savez(path, X=rng.normal(size=(n, 3)), y=np.arange(n) % 2, group=np.asarray(groups))
    return load_dataset(DataConfig(name="file", path=str(path)), seed=0)


def test_group_partition_uses_group_ids(tmp_path):
    data = _group_file(tmp_path, np.array(["indoor", "outdoor", "transport"])[np.arange(90) % 3])
    p = build_partition(PartitionConfig(method="group"), data, seed=0)
    assert p.k == 3 and p.names == ["indoor", "outdoor", "transport"]
    assert np.array_equal(p.train_ids, data.g_train.numpy())
    assert np.array_equal(p.test_ids, data.g_test.numpy())
    _assert_disjoint_cover(p, len(data.y_train), len(data.y_test))


def test_group_partition_errors(tmp_path, mnist):
    with pytest.raises(DataError, match="no group column"):
        build_partition(PartitionConfig(method="group"), mnist, seed=0)
    with pytest.raises(DataError, match="single group"):
        build_partition(PartitionConfig(method="group"), _group_file(tmp_path, [5] * 40), seed=0)


def test_empty_or_tiny_subset_is_named():
    with pytest.raises(DataError, match="cluster1"):
        Partition("kmeans", 2, ["cluster0", "cluster1"], np.array([0, 0, 0, 1]), np.array([0]))
    with pytest.raises(DataError, match=r"b \(0\)"):
        Partition("class", 2, ["a", "b"], np.array([0, 0, 0]), np.array([1]))


def test_unknown_method_lists_valid_names(mnist):
    with pytest.raises(ConfigError, match="spectral") as e:
        build_partition(PartitionConfig(method="spectral"), mnist, seed=0)
    assert all(name in e.value.fix for name in PARTITIONS)
