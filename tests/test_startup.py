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


def _sdk_modules(modules: list[str]) -> list[str]:
    return [name for name in modules if name.split(".")[0] in ONLY_FOR_ENGINE_BOTOCORE]


@pytest.mark.parametrize("engine", ["fast", "botocore"])
def test_a_one_item_copy_imports_aioboto3_only_for_engine_botocore(
    sandbox: Sandbox, tmp_path: Path, engine: str
) -> None:
    ddb = sandbox.source("dynamodb")
    create_table(ddb, "startup", ("pk", "S"))
    item = {"pk": {"S": "one"}, "n": {"N": "15"}}
    ddb.put_item(TableName="startup", Item=item)
    queue_url = sandbox.dest("sqs").create_queue(QueueName="startup")["QueueUrl"]
    keys = tmp_path / "keys.txt"
    keys.write_text('{"pk": {"S": "one"}}\n', encoding="utf-8")
    listed = tmp_path / "modules.json"
    done = subprocess.run(
        [
            *(sys.executable, "-c", _RUN_AND_LIST_MODULES, str(listed)),
            *("copy", "--table", "startup", "--keys", str(keys), "--queue-url", queue_url),
            *("--engine", engine, "--json", "--no-progress", "--no-checkpoint"),
        ],
        capture_output=True,
        text=True,
        env=sandbox.env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items_sent"] == 1
    assert received_items(sandbox, queue_url) == [item]
    sdk = _sdk_modules(json.loads(listed.read_text(encoding="utf-8")))
    if engine == "fast":
        assert sdk == []
    else:  # the check above would pass on a listing that missed them
        assert "aioboto3" in sdk
        assert "aiobotocore.httpsession" in sdk
