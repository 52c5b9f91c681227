"""What tests need from the sandbox server: clients per account, and the CLI as a user runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from asynccopy.sandbox import DEST_ACCOUNT, SOURCE_ACCOUNT, SandboxServer, account_env
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

    def run_cli(
        self,
        *args: str,
        account: str = SOURCE_ACCOUNT,
        stdin: str | None = None,
        timeout_s: float = 240,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`asynccopy ARGS` in a subprocess, as a user would run it."""
        return subprocess.run(
            [sys.executable, "-m", "asynccopy", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env if env is not None else self.env(account),
            timeout=timeout_s,
            check=False,
        )


__all__ = ["DEST_ACCOUNT", "SOURCE_ACCOUNT", "Sandbox", "clean_env", "free_port"]
