"""The README and the manual: the README stays short and links only to pages that exist, the manual
builds with `mkdocs build --strict` (a broken link, a missing anchor or a page left out of the nav
fails), and every command block marked runnable runs as written, on small settings.

    python -m pytest tests/test_docs.py -q
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNABLE = re.compile(r"<!-- runnable[^>]*-->\n```bash\n(.*?)```", re.S)
# Appended to every `rtl-sweep run` of a runnable block: the command as written, cut to seconds.
SMALL = ["--set", "data.max_per_class=20", "--set", "prune.epochs=1", "--set", "joint.epochs=1",
         "--set", "prune.target_sparsity=0.5", "-q"]


def _mkdocs(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")   # silence material's banner about MkDocs 2
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "-f", str(root / "mkdocs.yml"), "-d", str(site)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_readme_is_short_and_keeps_ci_markers():
    text = README.read_text()
    assert len(text.encode()) < 12 * 1024, f"README.md is {len(text.encode())} bytes: move detail to docs/"
    for marker in ("<!-- install -->", "<!-- test -->"):     # .ci/run reads the command after each
        lines = text.splitlines()
        i = lines.index(marker)
        assert lines[i + 1] == "```bash" and lines[i + 2].strip()


def test_readme_links_point_at_files_that_exist():
    links = re.findall(r"\]\(((?:docs|cluster|search_spaces|rtl_sweep)/[^)#\s]+)", README.read_text())
    assert links and not [p for p in links if not (ROOT / p).exists()]


def test_manual_builds_strictly(tmp_path):
    done = _mkdocs(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "config_keys" / "index.html").exists()


def test_a_broken_link_fails_the_strict_build(tmp_path):
    """The strict build is a real check: one dead link in a copy of the manual fails it."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "run.md"
    page.write_text(page.read_text() + "\nSee [a page that is not there](no_such_page.md).\n")
    done = _mkdocs(copy, tmp_path / "site")
    assert done.returncode != 0 and "no_such_page.md" in done.stdout + done.stderr


def _commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _blocks() -> list[tuple[str, str]]:
    return [(page.name, block) for page in sorted((ROOT / "docs").glob("*.md"))
            for block in RUNNABLE.findall(page.read_text())]


def test_the_manual_has_runnable_blocks():
    assert _blocks(), "no block in docs/ is marked <!-- runnable -->"


@pytest.mark.slow
@pytest.mark.parametrize("page,block", _blocks(), ids=[name for name, _ in _blocks()])
def test_runnable_block_runs(page, block, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for command in _commands(block):
        argv = command.split()
        if argv[0] == "rtl-sweep":                  # the installed script, from this checkout
            argv = [sys.executable, "-m", "rtl_sweep.cli", *argv[1:]]
            if argv[3] == "run":
                argv += SMALL
        elif argv[0] == "python":
            argv[0] = sys.executable
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, f"{page}: {command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
