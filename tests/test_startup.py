"""Start-up (issue 12): the help screens import only what the option declarations need, and
a copy on the default (fast) engine imports no aioboto3 or aiobotocore.

Each check runs in a fresh interpreter (a module imported by another test would hide a slow
import) and lists the modules loaded, so nothing here is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.consumer_helpers import received_items
from tests.sandbox_helpers import Sandbox, create_table

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


# What only `--engine botocore` needs: the async SDK, and aiohttp's bridge to botocore in it.
ONLY_FOR_ENGINE_BOTOCORE = ("aioboto3", "aiobotocore")

_RUN_AND_LIST_MODULES = """
import json, sys
from asynccopy.cli import main
code = 0
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""


def _run_listing_modules(
    sandbox: Sandbox, tmp_path: Path, *argv: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`asynccopy ARGV` in a fresh interpreter; what it did, and the modules of aioboto3 and
    aiobotocore it had imported when it ended."""
    listed = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES, str(listed), *argv],
        capture_output=True,
        text=True,
        env=sandbox.env(),
        timeout=60,
        check=False,
    )
    modules: list[str] = json.loads(listed.read_text(encoding="utf-8"))
    return done, [name for name in modules if name.split(".")[0] in ONLY_FOR_ENGINE_BOTOCORE]


def _one_item_table(sandbox: Sandbox, tmp_path: Path, *tables: str) -> tuple[dict[str, Any], Path]:
    """`tables` holding the same one item, and a key file naming it."""
    ddb = sandbox.source("dynamodb")
    item = {"pk": {"S": "one"}, "n": {"N": "15"}}
    for table in tables:
        create_table(ddb, table, ("pk", "S"))
        ddb.put_item(TableName=table, Item=item)
    keys = tmp_path / "keys.txt"
    keys.write_text('{"pk": {"S": "one"}}\n', encoding="utf-8")
    return item, keys


@pytest.mark.parametrize("engine", ["fast", "botocore"])
def test_a_one_item_copy_imports_aioboto3_only_for_engine_botocore(
    sandbox: Sandbox, tmp_path: Path, engine: str
) -> None:
    item, keys = _one_item_table(sandbox, tmp_path, "startup")
    queue_url = sandbox.dest("sqs").create_queue(QueueName="startup")["QueueUrl"]
    done, sdk = _run_listing_modules(
        sandbox,
        tmp_path,
        *("copy", "--table", "startup", "--keys", str(keys), "--queue-url", queue_url),
        *("--engine", engine, "--json", "--no-progress", "--no-checkpoint"),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items_sent"] == 1
    assert received_items(sandbox, queue_url) == [item]
    if engine == "fast":
        assert sdk == []
    else:  # the check above would pass on a listing that missed them
        assert "aioboto3" in sdk
        assert "aiobotocore.httpsession" in sdk


def test_verify_and_bench_on_the_fast_engine_import_no_aioboto3(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    _item, keys = _one_item_table(sandbox, tmp_path, "startup", "startup-copy")
    verified, sdk = _run_listing_modules(
        sandbox,
        tmp_path,
        *("verify", "--table", "startup", "--dest-table", "startup-copy", "--keys", str(keys)),
        *("--json", "--no-progress"),
    )
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["items_identical"] == 1
    assert sdk == []
    benched, sdk = _run_listing_modules(
        sandbox,
        tmp_path,
        *("bench", "--table", "startup", "--keys", str(keys), "--rate", "10"),
        *("--steps", "100", "--step-seconds", "0.5", "--json"),
    )
    assert benched.returncode == 0, benched.stderr
    assert sdk == []
