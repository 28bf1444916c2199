"""The run hash of every shipped config: each task's defaults, every rtl_sweep/resources/*.yaml, and
every search_spaces/*.yaml's base config and its trials at both ends of the space.

    python -m pytest tests/test_config_hashes.py -q

A hash names a run folder, so a change to any value below strands every run made with that config.
The literals were computed before the config module was split (issue 24); change one only on purpose,
and say why in the commit. A new shipped YAML or task fails `test_every_shipped_config_is_pinned`
until its hashes are added here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtl_sweep.config import RunConfig
from rtl_sweep.sweep.space import load_space
from rtl_sweep.tasks import TASKS

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "rtl_sweep" / "resources"
SPACES = REPO / "search_spaces"

TASK_HASHES = {"classification": "44136fa355b3", "inr": "0f46942e0aea", "speech": "91341bf8826a"}

RESOURCE_HASHES = {"paper_cifar10.yaml": "b266494956fc", "paper_cifar100.yaml": "d812fdfda7db",
                   "paper_speech.yaml": "181185bf1eda"}

# space file -> (base config, trial at every key's first choice / low bound, at its last / high)
SPACE_HASHES = {
    "collapse_study.yaml": ("1331d77a1b2b", "9a30aab310c1", "3019a7630e08"),
    "collapse_study_digits.yaml": ("36e703606e67", "506aa34623c7", "47a5ab6450ef"),
    "default.yaml": ("016d612928ab", "2cd1bad2f5d6", "a71783f773a2"),
    "inr.yaml": ("495d5060cf84", "c79d24e3a62d", "745e60bd07bf"),
    "paper_cifar10.yaml": ("89e48335594f", "5e9ff9ce1233", "102f61981c4f"),
    "paper_cifar100.yaml": ("05904e2695d9", "de7b1af53109", "e9ba7332c4d8"),
    "speech.yaml": ("cfc449864a9a", "c3efe9cd2f90", "878c5047f553"),
    "mask_family.yaml": ("4963c3a5f755", "0020830037dd", "9d97223df9bf"),
    "where_rtl_wins.yaml": ("335f25b82eac", "69c0aa867e4d", "4326054ec18a"),
}


def _end(space, end: int) -> dict:
    """A trial's sampled values with every key at one end: first choice / low (0) or last / high (-1)."""
    return {key: (d.choices[end] if hasattr(d, "choices") else (d.low if end == 0 else d.high))
            for key, d in space.items()}


def test_every_shipped_config_is_pinned():
    assert set(TASKS) == set(TASK_HASHES), "pin the hash of the new task's defaults here"
    assert {p.name for p in RESOURCES.glob("*.yaml")} == set(RESOURCE_HASHES), "pin the new resource"
    assert {p.name for p in SPACES.glob("*.yaml")} == set(SPACE_HASHES), "pin the new search space"


@pytest.mark.parametrize("task", sorted(TASK_HASHES))
def test_task_defaults_keep_their_hash(task):
    assert RunConfig.defaults(task).hash() == TASK_HASHES[task]


@pytest.mark.parametrize("name", sorted(RESOURCE_HASHES))
def test_resource_config_keeps_its_hash(name):
    assert RunConfig.load(RESOURCES / name).hash() == RESOURCE_HASHES[name]


@pytest.mark.parametrize("name", sorted(SPACE_HASHES))
def test_search_space_keeps_its_hashes(name, monkeypatch):
    # A relative data.path in a space is made absolute from the working directory (sweep/space.py,
    # absolute_paths), so the hashes are taken from a fixed one: where_rtl_wins' envs.npz is /envs.npz.
    monkeypatch.chdir("/")
    spec = load_space(SPACES / name)
    got = (spec.base_config().hash(), spec.trial_config(_end(spec.space, 0)).hash(),
           spec.trial_config(_end(spec.space, -1)).hash())
    assert got == SPACE_HASHES[name]
