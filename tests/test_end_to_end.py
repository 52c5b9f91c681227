"""The whole job, as the demo runs it: `asynccopy copy` from the source account into the
destination's queue, the consumer (the deployed Lambda, or `asynccopy consume`) writing the
table, and `asynccopy verify` comparing both tables item by item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE
from asynccopy.sandbox.seed import SeedConfig, seed
from tests.consumer_helpers import count_items, wait_for
from tests.sandbox_helpers import Sandbox


def _copy_then_verify(sandbox: Sandbox, tmp_path: Path, *, items: int, consumer: str) -> None:
    keys = tmp_path / "keys.txt"
    seeded = seed(SeedConfig(items=items, keys_out=keys), endpoint_url=sandbox.endpoint_url)
    env = sandbox.profile_env
    queue_url = seeded.queue_url
    if consumer == "lambda":
        # The stack's own queue, from its outputs, as the demo does.
        queue_url = sandbox.deploy_stack()["QueueUrl"]

    copied = sandbox.run_cli(
        *("copy", "--profile", SOURCE_PROFILE, "--table", "users", "--keys", str(keys)),
        *("--queue-url", queue_url, "--rate", "max", "--json", "--no-progress"),
        *("--checkpoint", str(tmp_path / "cp.json")),
        env=env,
    )
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["items_sent"] == items

    if consumer == "lambda":
        dest = sandbox.dest("dynamodb")
        wait_for(lambda: count_items(dest) >= items, timeout_s=240, what=f"{items} items")
    else:
        consumed = sandbox.run_cli(
            *("consume", "--profile", DEST_PROFILE, "--queue-url", seeded.queue_url),
            *("--table", "users", "--until-empty", "--json", "--no-progress"),
            env=env,
        )
        assert consumed.returncode == 0, consumed.stderr
        assert json.loads(consumed.stdout)["items_written"] == items

    verified = sandbox.run_cli(
        *("verify", "--profile", SOURCE_PROFILE, "--dest-profile", DEST_PROFILE),
        *("--table", "users", "--keys", str(keys), "--rate", "max", "--no-progress"),
        env=env,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{items} of {items} items identical" in verified.stdout


@pytest.mark.timeout(240)
def test_copy_consume_verify(sandbox: Sandbox, tmp_path: Path) -> None:
    _copy_then_verify(sandbox, tmp_path, items=2_000, consumer="runner")


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_copy_lambda_verify_ten_thousand_items(sandbox: Sandbox, tmp_path: Path) -> None:
    """The demo's own numbers: 10,000 items through the deployed Lambda, then verified."""
    _copy_then_verify(sandbox, tmp_path, items=10_000, consumer="lambda")
