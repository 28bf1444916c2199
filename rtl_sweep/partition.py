"""Routing tables: which subset (and so which ticket) each sample belongs to (RTL step 1).

    python -c "from rtl_sweep.config import DataConfig, PartitionConfig; \
from rtl_sweep.data import load_dataset; from rtl_sweep.partition import build_partition; \
print(build_partition(PartitionConfig(method='kmeans', k=4), load_dataset(DataConfig(), 0), 0).sizes())"

Routing is "by context", as in the paper: class and group partitions route a test sample by its
label or group id; k-means routes it to the nearest centroid and never looks at a label.
Every builder returns one id per sample, so subsets are disjoint and cover the data by construction;
`Partition` checks the rest (ids in range, no subset with fewer than 2 train samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from rtl_sweep.config import PartitionConfig
from rtl_sweep.data import Dataset
from rtl_sweep.errors import ConfigError, DataError

Embed = Callable[[torch.Tensor], np.ndarray]


@dataclass
class Partition:
    """Subset ids of the train and test samples; a value type that validates itself."""

    method: str
    k: int
    names: list[str]                       # one per subset: class, group or "cluster<i>" names
    train_ids: np.ndarray                  # int64 [N_train]
    test_ids: np.ndarray                   # int64 [N_test]
    centroids: np.ndarray | None = None    # kmeans only, [k, embedding_dim]
    class_to_subset: np.ndarray | None = None  # int64 [C] when subsets are unions of classes

    def __post_init__(self) -> None:
        self.train_ids = np.asarray(self.train_ids, dtype=np.int64)
        self.test_ids = np.asarray(self.test_ids, dtype=np.int64)
        if self.k < 2:
            raise ConfigError(f"partition {self.method!r} has k={self.k} subsets",
                              "a routing table needs at least 2 subsets")
        if len(self.names) != self.k:
            raise ConfigError(f"partition {self.method!r} has {len(self.names)} names for "
                              f"{self.k} subsets", "give one name per subset")
        for split, ids in (("train", self.train_ids), ("test", self.test_ids)):
            if ids.size and (ids.min() < 0 or ids.max() >= self.k):
                raise DataError(f"partition {self.method!r}: {split} subset ids leave 0..{self.k - 1}",
                                "check the group column or the class groups")
        sizes = self.sizes()
        small = [f"{self.names[i]} ({n})" for i, n in enumerate(sizes) if n < 2]
        if small:
            raise DataError(f"partition {self.method!r}: subset(s) {', '.join(small)} have fewer "
                            "than 2 train samples",
                            "use fewer subsets (partition.k / partition.groups), more data "
                            "(data.max_per_class) or a smaller data.test_fraction")

    def indices(self, k: int) -> np.ndarray:
        """Sorted train indices of subset k."""
        return np.flatnonzero(self.train_ids == k).astype(np.int64)

    def sizes(self) -> list[int]:
        """Train samples per subset."""
        return [int(n) for n in np.bincount(self.train_ids, minlength=self.k)[: self.k]]


# ---- class-derived partitions ---------------------------------------------------------------
def class_partition(cfg: PartitionConfig, data: Dataset, seed: int, embed: Embed | None) -> Partition:
    """One subset per class (the paper's CIFAR-10 setting)."""
    return _from_class_map("class", np.arange(data.num_classes), list(data.class_names), data)


def class_groups_partition(cfg: PartitionConfig, data: Dataset, seed: int, embed: Embed | None) -> Partition:
    """One subset per group of classes: a NAMED_GROUPS name or an inline 'a,b;c,d' spec."""
    groups, names = parse_groups(cfg.groups, data.class_names)
    class_to_subset = np.empty(data.num_classes, dtype=np.int64)
    for i, members in enumerate(groups):
        class_to_subset[members] = i
    return _from_class_map("class_groups", class_to_subset, names, data)


def _from_class_map(method: str, class_to_subset: np.ndarray, names: list[str], data: Dataset) -> Partition:
    c2s = np.asarray(class_to_subset, dtype=np.int64)
    return Partition(method=method, k=len(names), names=names,
                     train_ids=c2s[data.y_train.numpy()], test_ids=c2s[data.y_test.numpy()],
                     class_to_subset=c2s)


def parse_groups(spec: str, class_names: list[str]) -> tuple[list[list[int]], list[str]]:
    """Class indices per group and group names; every class in exactly one group.

    An inline token is matched to a class name first, then read as a class index, so
    "cat,dog;3" works for named classes and "0,1;2" for numbered ones.
    """
    if not spec.strip():
        raise ConfigError("partition.method=class_groups needs partition.groups",
                          f"name one of {list(NAMED_GROUPS)} or write e.g. '0,1,2;3,4'")
    if spec in NAMED_GROUPS:
        raw, names = NAMED_GROUPS[spec], list(NAMED_GROUP_NAMES[spec])
    else:
        raw = [[t.strip() for t in part.split(",") if t.strip()] for part in spec.split(";")]
        raw = [g for g in raw if g]
        names = [f"group{i}" for i in range(len(raw))]
    index = {name: i for i, name in enumerate(class_names)}
    groups, unknown = [], []
    for tokens in raw:
        members = []
        for t in tokens:
            if t in index:
                members.append(index[t])
            elif t.lstrip("-").isdigit() and 0 <= int(t) < len(class_names):
                members.append(int(t))
            else:
                unknown.append(t)
        groups.append(members)
    if unknown:
        raise ConfigError(f"partition.groups names unknown class(es) {unknown}",
                          f"use class indices 0..{len(class_names) - 1} or names such as "
                          f"{class_names[:3]}")
    counts = np.bincount(np.concatenate([np.asarray(g, dtype=np.int64) for g in groups]),
                         minlength=len(class_names))
    missing = [class_names[c] for c in np.flatnonzero(counts == 0)]
    repeated = [class_names[c] for c in np.flatnonzero(counts > 1)]
    if missing or repeated:
        raise ConfigError(f"partition.groups must hold every class exactly once: "
                          f"missing {missing}, in several groups {repeated}",
                          "add each missing class to one group and keep each class in one group")
    return groups, names


# ---- label-free partitions ------------------------------------------------------------------
def kmeans_partition(cfg: PartitionConfig, data: Dataset, seed: int, embed: Embed | None) -> Partition:
    """k-means on a train embedding; test samples go to the nearest centroid (no labels used)."""
    from sklearn.cluster import KMeans  # lazy: sklearn costs a second to import

    n_train = len(data.y_train)
    if not 2 <= cfg.k <= n_train // 2:
        raise ConfigError(f"partition.k={cfg.k} is outside 2..{n_train // 2} "
                          f"(2 <= k <= N_train // 2, N_train={n_train})",
                          "set --set partition.k=<a value in that range>")
    z_train, z_test = embed_samples(cfg, data, seed, embed)
    km = KMeans(n_clusters=cfg.k, random_state=seed, n_init=3).fit(z_train)
    return Partition(method="kmeans", k=cfg.k, names=[f"cluster{i}" for i in range(cfg.k)],
                     train_ids=km.labels_, test_ids=km.predict(z_test),
                     centroids=km.cluster_centers_.astype(np.float32))


EMBEDDINGS = ("raw", "pca", "dense")


def embed_samples(cfg: PartitionConfig, data: Dataset, seed: int,
                  embed: Embed | None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) embeddings, float32 [N, D]; any fitting (PCA) sees the train set only."""
    to_embedding = embedder(cfg, data, seed, embed)
    return to_embedding(data.x_train), to_embedding(data.x_test)


def embedder(cfg: PartitionConfig, data: Dataset, seed: int, embed: Embed | None) -> Embed:
    """The map from inputs to the partition's embedding (float32 [N, D]), fitted on the train set
    only; centroid routing (rtl_sweep/routing.py) embeds new inputs with it."""
    if cfg.embedding == "dense":
        if embed is None:
            raise ConfigError("partition.embedding=dense needs the trained dense model's features",
                              "pass embed= to build_partition, or use embedding=raw or pca")
        return lambda x: np.asarray(embed(x), dtype=np.float32).reshape(len(x), -1)
    flat = lambda x: x.reshape(len(x), -1).numpy()  # noqa: E731
    if cfg.embedding == "raw":
        return flat
    if cfg.embedding == "pca":
        from sklearn.decomposition import PCA
        if cfg.pca_dim < 1:
            raise ConfigError(f"partition.pca_dim={cfg.pca_dim} must be >= 1", "use e.g. 32")
        flat_train = flat(data.x_train)
        dim = min(cfg.pca_dim, flat_train.shape[1], flat_train.shape[0])
        pca = PCA(n_components=dim, random_state=seed).fit(flat_train)
        return lambda x: pca.transform(flat(x)).astype(np.float32)
    raise ConfigError(f"partition.embedding={cfg.embedding!r} is unknown",
                      f"choose one of {', '.join(EMBEDDINGS)}")


def group_partition(cfg: PartitionConfig, data: Dataset, seed: int, embed: Embed | None) -> Partition:
    """One subset per value of the data's group column (e.g. the acoustic scene)."""
    if data.g_train is None or data.g_test is None:
        raise DataError(f"dataset {data.name!r} has no group column",
                        "use a user file with a group array/column (data.group_column), "
                        "or another partition.method")
    k = int(max(data.g_train.max(), data.g_test.max())) + 1
    names = list(data.group_names) if data.group_names else [f"group{i}" for i in range(k)]
    k = len(names)  # a group the cap or split emptied stays a (failing) subset, not a silent drop
    if k < 2:
        raise DataError(f"dataset {data.name!r} has a single group ({names[0]})",
                        "the group column needs at least 2 distinct values")
    return Partition(method="group", k=k, names=names,
                     train_ids=data.g_train.numpy(), test_ids=data.g_test.numpy())


PARTITIONS: dict[str, Callable[[PartitionConfig, Dataset, int, Embed | None], Partition]] = {
    "class": class_partition,
    "class_groups": class_groups_partition,
    "kmeans": kmeans_partition,
    "group": group_partition,
}


def build_partition(cfg: PartitionConfig, data: Dataset, seed: int,
                    embed: Embed | None = None) -> Partition:
    """The routing table for `data` under `cfg.method`; `embed` is needed for kmeans+dense only."""
    if cfg.method not in PARTITIONS:
        raise ConfigError(f"unknown partition.method={cfg.method!r}",
                          f"choose one of {', '.join(PARTITIONS)}")
    return PARTITIONS[cfg.method](cfg, data, seed, embed)


# ---- the paper's CIFAR-100 groups -----------------------------------------------------------
# torchvision's CIFAR100.classes, in order; hard-coded so the groups can be checked offline.
CIFAR100_CLASSES = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
]

# The paper (CLIP + UMAP + HDBSCAN on class names) publishes the group names and sizes, not the
# members; this assignment follows the names and matches every size exactly.
_CIFAR100_PAPER = {
    "aquatic": ["aquarium_fish", "dolphin", "flatfish", "ray", "sea", "seal", "shark", "trout",
                "whale"],
    "people and objects": ["baby", "bed", "bottle", "bowl", "boy", "bridge", "can", "castle",
                           "chair", "clock", "couch", "cup", "girl", "house", "keyboard", "lamp",
                           "lawn_mower", "man", "mushroom", "plate", "road", "rocket",
                           "skyscraper", "table", "telephone", "television", "wardrobe", "woman"],
    "mammals": ["bear", "beaver", "camel", "cattle", "chimpanzee", "elephant", "fox", "hamster",
                "kangaroo", "leopard", "lion", "mouse", "otter", "porcupine", "possum", "rabbit",
                "raccoon", "shrew", "skunk", "squirrel", "tiger", "wolf"],
    "reptiles and insects": ["bee", "beetle", "butterfly", "caterpillar", "cockroach", "crab",
                             "crocodile", "dinosaur", "lizard", "lobster", "snail", "snake",
                             "spider", "turtle", "worm"],
    "vehicles": ["bicycle", "bus", "motorcycle", "pickup_truck", "streetcar", "tank", "tractor",
                 "train"],
    "natural scenes": ["cloud", "forest", "maple_tree", "mountain", "oak_tree", "palm_tree",
                       "pine_tree", "plain", "willow_tree"],
    "fruits": ["apple", "orange", "pear", "sweet_pepper"],
    "flowers": ["orchid", "poppy", "rose", "sunflower", "tulip"],
}

NAMED_GROUPS: dict[str, list[list[str]]] = {"cifar100_paper": list(_CIFAR100_PAPER.values())}
NAMED_GROUP_NAMES: dict[str, list[str]] = {"cifar100_paper": list(_CIFAR100_PAPER)}
