"""Start-up (issue 12): the help screens import only what the option declarations need.

Each check runs in a fresh interpreter (a module imported by another test would hide a slow
import) and lists the modules loaded, so nothing here is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# What only a running command needs: the AWS SDKs and HTTP stacks, the event loop, the cores.
NOT_FOR_HELP = (
    "aioboto3",
    "aiobotocore",
    "aiohttp",
    "anyio",
    "botocore",
    "boto3",
    "http.client",
    "orjson",
    "ssl",
    "urllib.request",
    "asynccopy.aws",
    "asynccopy.config",
    "asynccopy.retry",
    "asynccopy.read.keys",
    "asynccopy.consume.config",
    "consumer.retry",
)

_LIST_MODULES = """
import json, sys
from asynccopy.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_loaded_by(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("copy", "--help"),
        ("verify", "--help"),
        ("bench", "--help"),
        ("consume", "--help"),
        ("schema", "--help"),
        ("sandbox", "--help"),
    ],
)
def test_help_imports_no_sdk_and_no_core(argv: tuple[str, ...]) -> None:
    loaded = _modules_loaded_by(*argv)
    assert sorted(loaded.intersection(NOT_FOR_HELP)) == []
