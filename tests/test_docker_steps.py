"""The image's build and start steps (docker/install.sh, docker/start.sh) in a fresh virtual environment.

Docker itself cannot run here; the Dockerfile runs exactly these scripts, so this is what it does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.__main__ import DEVTOOLS_MISSING
from core.i18n import LANGUAGES
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="the image is Linux")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the sources installed by docker/install.sh into a new virtual environment.

    Removed afterwards: its thousands of files would otherwise be left for a later run's clean-up.
    """
    work = tmp_path_factory.mktemp("image")
    source = work / "src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()  # fmt: skip
    for name in files:
        target = source / name
        if (ROOT / name).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((ROOT / name).read_bytes())
    venv = work / "venv"
    subprocess.run(["sh", str(source / "docker/install.sh"), str(source), str(venv)], check=True, timeout=900)
    yield venv
    shutil.rmtree(work)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/data/survey.sqlite3", **extra}


def test_install_compiles_the_catalogs(installed: Path) -> None:
    compiled = list(installed.glob("lib/python*/site-packages/locales/*/LC_MESSAGES/messages.mo"))
    assert sorted(p.parent.parent.name for p in compiled) == sorted(LANGUAGES)


def test_the_image_holds_no_development_package(installed: Path) -> None:
    """devtools/ (the emulator, the sandbox), tests/ and bench/ stay out of what the image installs."""
    [site] = installed.glob("lib/python*/site-packages")
    assert (site / "bot").is_dir() and (site / "research").is_dir()
    assert [name for name in ("devtools", "tests", "bench") if (site / name).exists()] == []


def test_the_development_commands_say_they_are_not_installed(installed: Path, tmp_path: Path) -> None:
    """Without a token `python -m bot` is the sandbox: in the image that is one line and exit 2."""
    result = subprocess.run([str(installed / "bin/python"), "-m", "bot"], env=_env(tmp_path), cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"sandbox: {DEVTOOLS_MISSING}"


def test_start_migrates_and_the_health_check_passes_while_updates_arrive(
    installed: Path, tmp_path: Path
) -> None:
    """Unhealthy before the migration, and then until the bot's receiver beats (data/heartbeat)."""
    python = str(installed / "bin/python")
    env = _env(tmp_path)

    def health() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, "-m", "bot", "health"], env=env, cwd=tmp_path, capture_output=True, text=True
        )

    unhealthy = health()
    assert unhealthy.returncode == 1 and unhealthy.stderr.startswith(
        "unhealthy: the database is at revision none"
    )
    migrated = subprocess.run(
        [python, "-m", "bot", "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    not_receiving = health()
    assert not_receiving.returncode == 1
    assert not_receiving.stderr.startswith("unhealthy: not receiving updates: no heartbeat")
    (tmp_path / "data/heartbeat").write_text(f"{time.time()}\n")  # as the running bot's receiver writes it
    healthy = health()
    assert healthy.returncode == 0, healthy.stderr


def test_start_script_refuses_to_run_without_a_token(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(["sh", str(ROOT / "docker/start.sh"), str(installed)], env=_env(tmp_path),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "configuration error: BOT_TOKEN: not set"
