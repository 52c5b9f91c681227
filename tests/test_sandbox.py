"""Every `asynccopy sandbox` command, against real ministack servers."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from asynccopy.sandbox import SandboxServer, ServerConfig
from asynccopy.sandbox.server import BOTO3_VERSION, _descendants
from tests.sandbox_helpers import DEST_ACCOUNT, SOURCE_ACCOUNT, Sandbox, clean_env, free_port

ALL_TYPES = {"S", "N", "B", "SS", "NS", "BS", "L", "M", "NULL", "BOOL"}


def _tags(value: dict[str, object], found: set[str]) -> None:
    for tag, inner in value.items():
        found.add(tag)
        if tag == "M" and isinstance(inner, dict):
            for child in inner.values():
                _tags(child, found)
        if tag == "L" and isinstance(inner, list):
            for child in inner:
                _tags(child, found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_up_is_idempotent_status_reports_and_down_leaves_no_process(sandbox: Sandbox) -> None:
    port = free_port()
    env = clean_env()
    up = sandbox.run_cli("sandbox", "up", "--port", str(port), env=env)
    assert up.returncode == 0, up.stderr
    assert f"http://127.0.0.1:{port}" in up.stderr
    try:
        again = sandbox.run_cli("sandbox", "up", "--port", str(port), env=env)
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr
        status = sandbox.run_cli("sandbox", "status", "--port", str(port), env=env)
        assert status.returncode == 0
        assert f"running at http://127.0.0.1:{port}" in status.stdout
        pid = int(ServerConfig(port=port).pid_file.read_text())
        family = [pid, *_descendants(pid)]
        assert _alive(pid)
    finally:
        down = sandbox.run_cli("sandbox", "down", "--port", str(port), env=env)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(p) for p in family)
    assert not ServerConfig(port=port).pid_file.exists()
    stopped = sandbox.run_cli("sandbox", "status", "--port", str(port), env=env)
    assert stopped.returncode == 1
    assert "not running" in stopped.stdout


_HELLO = """
import boto3
import botocore


def handler(event, context):
    return {"ok": True, "boto3": boto3.__version__, "botocore": botocore.__version__}
"""


def _hello_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.py", _HELLO)
    return buffer.getvalue()


@pytest.mark.timeout(180)
def test_down_stops_the_lambda_workers_the_server_started() -> None:
    server = SandboxServer(ServerConfig(port=free_port()), say=lambda _line: None)
    server.up()
    try:
        box = Sandbox(server=server)
        lam = box.dest("lambda")
        lam.create_function(
            FunctionName="hello",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{DEST_ACCOUNT}:role/hello",
            Handler="hello.handler",
            Code={"ZipFile": _hello_zip()},
        )
        reply = lam.invoke(FunctionName="hello", Payload=b"{}")
        # The functions' runtime has boto3, as AWS's Python runtime does, paired with the
        # emulator's own botocore: the consumer's zip needs no layer.
        assert json.loads(reply["Payload"].read()) == {
            "ok": True,
            "boto3": BOTO3_VERSION,
            "botocore": BOTO3_VERSION,
        }
        pid = server.status().pid
        assert pid is not None
        family = [pid, *_descendants(pid)]
        assert len(family) > 1, "the invoke should have left a warm Lambda worker"
    finally:
        server.down()
    assert not any(_alive(p) for p in family)


def test_reset_empties_both_accounts(sandbox: Sandbox) -> None:
    sandbox.source("sqs").create_queue(QueueName="q")
    sandbox.dest("sqs").create_queue(QueueName="q")
    reset = sandbox.run_cli("sandbox", "reset", "--port", str(sandbox.port))
    assert reset.returncode == 0, reset.stderr
    assert sandbox.source("sqs").list_queues().get("QueueUrls", []) == []
    assert sandbox.dest("sqs").list_queues().get("QueueUrls", []) == []


@pytest.mark.timeout(240)
def test_seed_fills_source_and_prepares_destination(sandbox: Sandbox, tmp_path: Path) -> None:
    keys = tmp_path / "k.txt"
    seeded = sandbox.run_cli(
        "sandbox", "seed", "--items", "1000", "--keys-out", str(keys), "--port", str(sandbox.port)
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "queue for `asynccopy consume`: http://" in seeded.stdout
    assert f"AWS_ACCESS_KEY_ID={SOURCE_ACCOUNT}" in seeded.stdout
    assert f"AWS_ACCESS_KEY_ID={DEST_ACCOUNT}" in seeded.stdout

    lines = keys.read_text().splitlines()
    assert len(lines) == 1000
    assert len(set(lines)) == 1000

    source = sandbox.source("dynamodb")
    items = []
    for page in source.get_paginator("scan").paginate(TableName="users"):
        items.extend(page["Items"])
    assert len(items) == 1000
    assert {item["userid"]["S"] for item in items} == set(lines)
    found: set[str] = set()
    for item in items[:50]:
        for value in item.values():
            _tags(value, found)
    assert found >= ALL_TYPES
    assert any(value.get("S") == "" for value in items[0].values())
    assert any(len(value.get("N", "")) >= 38 for value in items[0].values())

    # The source's global index, which README's `copy --index byAge` example reads through.
    (index,) = source.describe_table(TableName="users")["Table"]["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["Projection"]) == ("byAge", {"ProjectionType": "KEYS_ONLY"})
    aged = source.query(
        TableName="users", IndexName="byAge", KeyConditionExpression="age = :a",
        ExpressionAttributeValues={":a": {"N": "42"}},
    )["Items"]  # fmt: skip
    assert aged
    assert len(aged) == sum(item["age"] == {"N": "42"} for item in items)

    dest = sandbox.dest("dynamodb")
    assert dest.scan(TableName="users", Select="COUNT")["Count"] == 0
    described = dest.describe_table(TableName="users")["Table"]
    assert described["KeySchema"] == [{"AttributeName": "userid", "KeyType": "HASH"}]
    assert "GlobalSecondaryIndexes" not in described
    queues = sandbox.dest("sqs").list_queues()["QueueUrls"]
    assert {url.rsplit("/", 1)[1] for url in queues} == {
        "asynccopy-users",
        "asynccopy-users-dlq",
    }
    # Nothing of one account is visible from the other.
    assert sandbox.source("sqs").list_queues().get("QueueUrls", []) == []
    sandbox.dest("dynamodb").delete_table(TableName="users")
    assert source.describe_table(TableName="users")["Table"]["ItemCount"] == 1000


def test_the_tests_keep_their_state_out_of_the_users_sandbox(tmp_path: Path) -> None:
    """Pid files, logs and profiles go to the state directory, which the tests point at a
    temporary folder; the emulator's install stays shared."""
    project_sandbox = Path(__file__).resolve().parents[1] / ".sandbox"
    state = Path(os.environ["ASYNCCOPY_SANDBOX_STATE_DIR"])
    assert not state.is_relative_to(project_sandbox)
    config = ServerConfig(port=1234)
    assert config.state_dir == state
    assert config.pid_file.is_relative_to(state)
    assert config.log_file.is_relative_to(state)
    assert config.profiles_dir.is_relative_to(state)
    assert config.venv_dir == project_sandbox / "venv"


def test_sandbox_commands_default_to_the_tests_server_not_4566(sandbox: Sandbox) -> None:
    status = sandbox.run_cli("sandbox", "status", env=clean_env())
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"http://127.0.0.1:{sandbox.port}" in status.stdout
    assert sandbox.port != 4566


@pytest.mark.timeout(120)
def test_seed_writes_its_profiles_to_the_state_directory(sandbox: Sandbox, tmp_path: Path) -> None:
    seeded = sandbox.run_cli(
        "sandbox", "seed", "--items", "10", "--keys-out", str(tmp_path / "k.txt"), env=clean_env()
    )
    assert seeded.returncode == 0, seeded.stderr
    state = os.environ["ASYNCCOPY_SANDBOX_STATE_DIR"]
    assert f"AWS_CONFIG_FILE={state}/aws/config" in seeded.stdout


@pytest.mark.timeout(120)
def test_seed_refuses_to_drop_a_table_holding_items_it_did_not_write(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    keys = str(tmp_path / "k.txt")
    first = sandbox.run_cli("sandbox", "seed", "--items", "20", "--keys-out", keys)
    assert first.returncode == 0, first.stderr
    # Items the seed wrote (and copies of them) may go: a second seed says so and drops them.
    again = sandbox.run_cli("sandbox", "seed", "--items", "20", "--keys-out", keys)
    assert again.returncode == 0, again.stderr
    assert "dropping table 'users' in account 111111111111 (20 items)" in again.stderr
    mine = {"userid": {"S": "precious"}, "note": {"S": "not from the seed"}}
    sandbox.dest("dynamodb").put_item(TableName="users", Item=mine)

    refused = sandbox.run_cli("sandbox", "seed", "--items", "20", "--keys-out", keys)
    assert refused.returncode == 2
    assert (
        "table 'users' in account 222222222222 holds 1 of 1 items the seed did not write"
        in refused.stderr
    )
    assert "--replace" in refused.stderr
    assert "dropping" not in refused.stderr
    assert (
        sandbox.dest("dynamodb").get_item(TableName="users", Key={"userid": mine["userid"]})["Item"]
        == mine
    )
    assert sandbox.source("dynamodb").scan(TableName="users", Select="COUNT")["Count"] == 20

    replaced = sandbox.run_cli("sandbox", "seed", "--items", "20", "--keys-out", keys, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert "dropping table 'users' in account 222222222222 (1 items)" in replaced.stderr
    assert sandbox.dest("dynamodb").scan(TableName="users", Select="COUNT")["Count"] == 0


def test_deploy_consumer_needs_the_seeded_table(sandbox: Sandbox) -> None:
    done = sandbox.run_cli(
        "sandbox", "deploy-consumer", "--port", str(sandbox.port), account=DEST_ACCOUNT
    )
    assert done.returncode == 2
    assert "the destination account has no table 'users'" in done.stderr
    assert "asynccopy sandbox seed" in done.stderr
