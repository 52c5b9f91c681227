"""Credentials never leak: not in stdout or stderr (logs, progress, summaries, errors), not in any
file asynccopy writes; the files it writes are private (0600); a crash prints no locals.

The sandbox accepts any secret, so every run here uses recognisable fake ones.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE
from asynccopy.sandbox.seed import SeedConfig, seed
from tests.consumer_helpers import received_items
from tests.sandbox_helpers import DEST_ACCOUNT, SOURCE_ACCOUNT, Sandbox
from tests.test_bad_input import make_world

SECRET = "FAKEsecretKEY0do0not0print0wJalrXUtnFEMI"
TOKEN = "FAKEsessionTOKEN0do0not0print0IQoJb3JpZ2luX2VjEOr"
SECRETS = (SECRET, TOKEN)


def secret_env(sandbox: Sandbox, account: str = SOURCE_ACCOUNT) -> dict[str, str]:
    env = sandbox.env(account)
    env["AWS_SECRET_ACCESS_KEY"] = SECRET
    env["AWS_SESSION_TOKEN"] = TOKEN
    return env


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a credential leaked into {where}"
        assert secret[:16] not in text, f"part of a credential leaked into {where}"


def assert_files_clean(directory: Path, *, inputs: set[Path]) -> list[Path]:
    """Every file under `directory` but the inputs: no secret; returns those files."""
    written = [p for p in directory.rglob("*") if p.is_file() and p not in inputs]
    for path in written:
        assert_no_secret(str(path), path.read_bytes().decode("utf-8", "replace"))
    return written


@pytest.mark.timeout(180)
def test_no_credential_in_any_output_or_file_and_written_files_are_private(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    result = seed(
        SeedConfig(items=60, item_bytes=400, keys_out=keys), endpoint_url=sandbox.endpoint_url
    )
    tiny_queue = add_tiny_queue_and_big_item(sandbox)
    out = tmp_path / "out"
    out.mkdir()
    checkpoint = ["--checkpoint", str(out / "copy.checkpoint.json")]
    copy = ("copy", "--table", "users", "--keys", str(keys), "--queue-url", result.queue_url)
    bad_keys = tmp_path / "bad-keys.txt"
    bad_keys.write_text("user-0000001\n{not json\n", encoding="utf-8")
    tiny_keys = tmp_path / "tiny-keys.txt"
    tiny_keys.write_text("user-0\nuser-big\n", encoding="utf-8")
    runs: dict[str, tuple[tuple[str, ...], int]] = {
        "copy": ((*copy, *checkpoint), 0),
        "copy --json": ((*copy, "--json", *checkpoint), 0),
        "copy --dry-run": ((*copy, "--dry-run"), 0),
        "copy with a bad key line": (
            ("copy", "--table", "users", "--keys", str(bad_keys), "--queue-url", result.queue_url),
            2,
        ),
        "copy with a missing table": (
            ("copy", "--table", "nope", "--keys", str(keys), "--queue-url", result.queue_url),
            2,
        ),
        "copy --failed-out": (
            (
                *("copy", "--table", "users", "--keys", str(tiny_keys)),
                *("--queue-url", tiny_queue, "--failed-out", str(out / "failed.txt"), *checkpoint),
            ),
            1,
        ),
    }
    for name, (args, expected) in runs.items():
        done = sandbox.run_cli(*args, env=secret_env(sandbox))
        assert done.returncode == expected, f"{name}: {done.stderr}"
        assert_no_secret(f"{name}'s stdout", done.stdout)
        assert_no_secret(f"{name}'s stderr", done.stderr)

    consumed = sandbox.run_cli(
        *("consume", "--queue-url", result.queue_url, "--table", "users", "--until-empty"),
        *("--wait-time-seconds", "1", "--json"),
        env=secret_env(sandbox, DEST_ACCOUNT),
    )
    assert consumed.returncode == 0, consumed.stderr
    assert json.loads(consumed.stdout)["items_written"] == 2 * 60  # two copies of 60 items
    assert_no_secret("consume's stdout", consumed.stdout)
    assert_no_secret("consume's stderr", consumed.stderr)

    written = assert_files_clean(tmp_path, inputs={keys, bad_keys, tiny_keys})
    failed = out / "failed.txt"
    assert failed in written
    assert failed.read_text(encoding="ascii") == '{"userid":{"S":"user-big"}}\n'
    assert Path(checkpoint[1]).exists()
    for path in (failed, Path(checkpoint[1])):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def add_tiny_queue_and_big_item(sandbox: Sandbox) -> str:
    """Items user-0 and user-big (3 KB) in the source table; the URL of a queue whose
    MaximumMessageSize (1024) is too small for user-big."""
    ddb = sandbox.source("dynamodb")
    ddb.put_item(TableName="users", Item={"userid": {"S": "user-0"}, "v": {"S": "x"}})
    ddb.put_item(TableName="users", Item={"userid": {"S": "user-big"}, "v": {"S": "y" * 3000}})
    sqs = sandbox.dest("sqs")
    reply = sqs.create_queue(QueueName="tiny", Attributes={"MaximumMessageSize": "1024"})
    url: str = reply["QueueUrl"]
    return url


_CRASH = textwrap.dedent(
    """
    import os, sys
    import asynccopy.cli.copy as copy_cli
    from asynccopy.cli import main

    async def crash(config, *, runtime):
        secret_here = os.environ["AWS_SECRET_ACCESS_KEY"]
        token_here = os.environ["AWS_SESSION_TOKEN"]
        raise RuntimeError("an unexpected bug")

    copy_cli.copy = crash
    sys.argv = ["asynccopy", *sys.argv[1:]]
    main()
    """
)


def test_a_crash_prints_a_traceback_without_locals(sandbox: Sandbox, tmp_path: Path) -> None:
    world = make_world(sandbox)
    keys = tmp_path / "keys.txt"
    keys.write_text("user-0\n", encoding="utf-8")
    done = subprocess.run(
        [
            *(sys.executable, "-c", _CRASH, "copy", "--table", "users", "--keys", str(keys)),
            *("--queue-url", world.queue_url, "--no-progress"),
        ],
        capture_output=True,
        text=True,
        env=secret_env(sandbox),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "RuntimeError: an unexpected bug" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr  # a bug is shown as such
    assert_no_secret("a crash's stderr", done.stderr)
    assert_no_secret("a crash's stdout", done.stdout)
    assert "╭" not in done.stderr  # no rich traceback panel (it can show locals)


def test_typer_pretty_exceptions_are_off() -> None:
    from asynccopy.cli import app

    assert app.pretty_exceptions_enable is False
    assert app.pretty_exceptions_show_locals is False or not app.pretty_exceptions_enable


def test_a_netrc_entry_for_the_endpoint_is_never_used(sandbox: Sandbox, tmp_path: Path) -> None:
    """aiohttp's trust_env would send ~/.netrc's password for the AWS host; beside the SigV4
    Authorization header that made aiohttp refuse every read and crash every send."""
    world = make_world(sandbox)
    keys = tmp_path / "keys.txt"
    keys.write_text("user-0\nuser-1\nuser-2\n", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login netrc-user password {SECRET}\n", encoding="ascii")
    netrc.chmod(0o600)
    env = {**secret_env(sandbox), "HOME": str(home)}
    env.pop("NETRC", None)
    code, summary, stderr = sandbox.run_json(
        *("copy", "--table", "users", "--keys", str(keys), "--queue-url", world.queue_url),
        *("--engine", "fast", "--json", "--no-progress", "--no-checkpoint"),
        env=env,
    )
    assert code == 0, stderr
    assert (summary["items_sent"], summary["items_failed"]) == (3, 0)
    assert_no_secret("stderr", stderr)
    received = sorted(item["userid"]["S"] for item in received_items(sandbox, world.queue_url))
    assert received == ["user-0", "user-1", "user-2"]


def test_an_assumed_role_keeps_the_profiles_endpoint_and_region(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """--role-arn and --queue-role-arn replace only the credentials: the profiles' endpoint_url
    (the sandbox here, a VPC or FIPS endpoint in real life) still applies."""
    world = make_world(sandbox)
    keys = tmp_path / "keys.txt"
    keys.write_text("user-0\nuser-1\n", encoding="utf-8")
    env = sandbox.profile_env
    assert "AWS_ENDPOINT_URL" not in env  # only the profiles know where the sandbox is
    code, summary, stderr = sandbox.run_json(
        *("copy", "--table", "users", "--keys", str(keys), "--queue-url", world.queue_url),
        *("--profile", SOURCE_PROFILE, "--role-arn", f"arn:aws:iam::{SOURCE_ACCOUNT}:role/reader"),
        *("--queue-profile", DEST_PROFILE),
        *("--queue-role-arn", f"arn:aws:iam::{DEST_ACCOUNT}:role/sender"),
        *("--json", "--no-progress", "--no-checkpoint"),
        env=env,
        timeout_s=120,
    )
    assert code == 0, stderr
    assert summary["items_sent"] == 2
    received = sorted(item["userid"]["S"] for item in received_items(sandbox, world.queue_url))
    assert received == ["user-0", "user-1"]


def test_a_queue_url_the_profiles_endpoint_does_not_serve_is_refused(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Sends go to the queue client's endpoint whatever the URL's host: a copy to a URL on
    port 9 used to "succeed" through the profile's endpoint_url. Now nothing is read or sent."""
    world = make_world(sandbox)
    keys = tmp_path / "keys.txt"
    keys.write_text("user-0\n", encoding="utf-8")
    elsewhere = world.queue_url.replace(sandbox.endpoint_url, "http://127.0.0.1:9")
    done = sandbox.run_cli(
        *("copy", "--table", "users", "--keys", str(keys), "--queue-url", elsewhere),
        *("--profile", SOURCE_PROFILE, "--queue-profile", DEST_PROFILE, "--no-checkpoint"),
        env=sandbox.profile_env,
        timeout_s=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"asynccopy: error: --queue-url {elsewhere} is on 127.0.0.1:9")
    assert f"would go to {sandbox.endpoint_url}, set by the profile's endpoint_url" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert received_items(sandbox, world.queue_url) == []
