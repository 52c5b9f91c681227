"""What tests need from the sandbox server: clients per account, and the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import string
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from asynccopy.sandbox import DEST_ACCOUNT, SOURCE_ACCOUNT, SandboxServer, account_env
from asynccopy.sandbox.profiles import write_profiles
from asynccopy.sandbox.seed import client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any AWS_* setting of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Keep boto from reading the developer's ~/.aws files.
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env.update(extra or {})
    return env


def cli_argv(*args: str) -> list[str]:
    """`asynccopy ARGS` as this interpreter runs it."""
    return [sys.executable, "-m", "asynccopy", *args]


def hard_items() -> list[dict[str, Any]]:
    """Values that break careless codecs: 38-digit and tiny numbers, every byte, surrogates,
    controls and a 300 KB item, under a binary sort key (as test_copy and test_verify use)."""
    rng = random.Random(8)
    return [
        {
            "pk": {"S": "numbers"},
            "sk": {"B": b"\x00"},
            "n": {"N": "12345678901234567890123456789012345678"},
            "neg": {"N": "-9.9999999999999999999999999999999999999E+125"},
            "small": {"N": "1E-130"},
            "ns": {"NS": ["0.000123", "99999999999999999999999999999999999999"]},
        },
        {
            "pk": {"S": "bytes"},
            "sk": {"B": bytes(range(256))},
            "all": {"B": bytes(range(256))},
            "bs": {"BS": [b"\x00", b"\xff", bytes(range(128, 256))]},
        },
        {
            "pk": {"S": "text \U0001f600"},
            "sk": {"B": b"\xff\xfe"},
            "s": {"S": '\U0001f600 \U0010ffff \ufffe \u0001 \x7f \u2028 é \\ " \\\\x'},
            "ss": {"SS": ["\ufffe", "\u0001", "\U0001f600"]},
            "m": {"M": {"ключ \U0001f600": {"L": [{"S": "\x1f"}, {"NULL": True}]}}},
        },
        {
            "pk": {"S": "large"},
            "sk": {"B": b"L"},
            "text": {"S": "".join(rng.choices(string.ascii_letters, k=250_000))},
            "blob": {"B": rng.randbytes(50_000)},
        },
    ]


def create_table(ddb: Any, name: str, *keys: tuple[str, str]) -> None:
    """An on-demand table keyed on `keys`: (name, type) of the partition key, then the sort key."""
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": n, "KeyType": kind}
            for (n, _), kind in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in keys],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass
class Sandbox:
    server: SandboxServer

    @property
    def endpoint_url(self) -> str:
        return self.server.config.endpoint_url

    @property
    def port(self) -> int:
        return self.server.config.port

    def client(self, service: str, account: str = SOURCE_ACCOUNT) -> Any:
        return client(service, account, self.endpoint_url)

    def source(self, service: str) -> Any:
        return self.client(service, SOURCE_ACCOUNT)

    def dest(self, service: str) -> Any:
        return self.client(service, DEST_ACCOUNT)

    def env(self, account: str = SOURCE_ACCOUNT) -> dict[str, str]:
        return clean_env(
            {**account_env(account, self.endpoint_url), "ASYNCCOPY_SANDBOX_PORT": str(self.port)}
        )

    @cached_property
    def profile_env(self) -> dict[str, str]:
        """Both accounts as named profiles (SOURCE_PROFILE, DEST_PROFILE) and no key or endpoint
        in the environment, the way a user runs against real accounts. Do not modify it."""
        files = write_profiles(
            self.server.config.run_dir / f"aws-{self.port}", endpoint_url=self.endpoint_url
        )
        env = self.env()
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
            env.pop(name)
        env.update(files.env())
        return env

    def run_cli(
        self,
        *args: str,
        account: str = SOURCE_ACCOUNT,
        stdin: str | None = None,
        timeout_s: float = 240,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`asynccopy ARGS` in a subprocess, as a user would run it."""
        return subprocess.run(
            cli_argv(*args),
            input=stdin,
            capture_output=True,
            text=True,
            env=env if env is not None else self.env(account),
            cwd=cwd,
            timeout=timeout_s,
            check=False,
        )

    def run_json(self, *args: str, **options: Any) -> tuple[int, dict[str, Any], str]:
        """`run_cli` of a command given --json: its exit code, summary ({} if it printed none)
        and stderr."""
        done = self.run_cli(*args, **options)
        summary = json.loads(done.stdout) if done.stdout.strip() else {}
        return done.returncode, summary, done.stderr

    def deploy_stack(self, *args: str) -> dict[str, str]:
        """`asynccopy sandbox deploy-consumer ARGS` as the destination account; the stack's
        outputs it printed (QueueUrl, DeadLetterQueueUrl, QueueArn, FunctionName)."""
        done = self.run_cli(
            "sandbox", "deploy-consumer", "--port", str(self.port), *args, account=DEST_ACCOUNT
        )
        assert done.returncode == 0, done.stderr
        outputs = dict(re.findall(r"^(\w+): (\S+)$", done.stdout, re.MULTILINE))
        assert "QueueUrl" in outputs, done.stdout
        return outputs

    def start_cli(
        self, *args: str, account: str = SOURCE_ACCOUNT, output: int = subprocess.PIPE
    ) -> subprocess.Popen[str]:
        """`asynccopy ARGS` started in a subprocess, for a test that signals it mid-run; its
        stdout and stderr go to `output` (subprocess.PIPE or subprocess.DEVNULL)."""
        return subprocess.Popen(
            cli_argv(*args), env=self.env(account), stdout=output, stderr=output, text=True
        )


__all__ = [
    "DEST_ACCOUNT",
    "SOURCE_ACCOUNT",
    "Sandbox",
    "clean_env",
    "cli_argv",
    "create_table",
    "free_port",
]
