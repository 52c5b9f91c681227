"""`asynccopy package-consumer`: the zip is the consumer package as it is, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from asynccopy.sandbox.package import build_consumer_zip
from tests.sandbox_helpers import clean_env

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import consumer.handler
mods = {n: getattr(m, "__file__", None) for n, m in sys.modules.items()
        if n.split(".")[0] in ("asynccopy", "consumer")}
print(json.dumps(mods))
"""


def test_package_consumer_writes_only_the_consumer_package(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "consumer.zip"
    done = subprocess.run(
        [sys.executable, "-m", "asynccopy", "package-consumer", "--out", str(out)],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    names = set(zipfile.ZipFile(out).namelist())
    expected = {
        f"consumer/{p.relative_to(ROOT / 'consumer').as_posix()}"
        for p in (ROOT / "consumer").rglob("*.py")
    }
    assert names == expected


def test_the_packaged_handler_imports_nothing_from_asynccopy(tmp_path: Path) -> None:
    with zipfile.ZipFile(_write(tmp_path)) as archive:
        archive.extractall(tmp_path / "code")
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(tmp_path / "code")],
        capture_output=True,
        text=True,
        env=clean_env({"TABLE_NAME": "t", "WRITE_MODE": "overwrite"}),
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert {n for n in modules if n.startswith("asynccopy")} == set()
    assert all(str(tmp_path / "code") in (path or "") for path in modules.values())


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "consumer.zip"
    path.write_bytes(build_consumer_zip().data)
    return path


def test_the_zip_is_reproducible() -> None:
    assert build_consumer_zip().data == build_consumer_zip().data
