"""The benchmarks' sandbox life cycle, subprocess measurement and the `asynccopy copy` driver.

One `BenchSandbox` starts its own ministack server on a free port and stops it on exit. Every
program under test runs as a child process measured with `os.wait4`, which returns the child's
own CPU time and peak resident set size: no sampling, no psutil.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from asynccopy.sandbox import DEST_ACCOUNT, SOURCE_ACCOUNT, SandboxServer, ServerConfig, account_env
from asynccopy.sandbox.seed import KEY_NAME, TABLE_NAME, SeedConfig, SeedResult, client, seed
from tests.sandbox_helpers import clean_env, free_port

PROJECT_DIR: Final = Path(__file__).resolve().parents[1]
RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"


def log(line: str) -> None:
    print(f"bench: {line}", file=sys.stderr, flush=True)


# ---- child processes ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class Measured:
    """One finished child process: its output, wall time, CPU time and peak memory."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    max_rss_kib: int  # ru_maxrss is in KiB on Linux

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    def json(self) -> dict[str, Any]:
        """The last line of stdout that parses as a JSON object."""
        for line in reversed(self.stdout.strip().splitlines()):
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    return value
        raise ChildFailedError(self, "printed no JSON summary")

    def check(self) -> Measured:
        if self.returncode != 0:
            raise ChildFailedError(self, f"exited with code {self.returncode}")
        return self


class ChildFailedError(RuntimeError):
    def __init__(self, measured: Measured, problem: str) -> None:
        self.measured = measured
        tail = " | ".join(measured.stderr.strip().splitlines()[-6:])
        super().__init__(f"`{' '.join(measured.argv[:6])} ...` {problem}: {tail}")


def run_measured(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    timeout_s: float = 600.0,
    on_tick: Callable[[float], None] | None = None,
    tick_s: float = 0.25,
) -> Measured:
    """Run `argv` to completion; `on_tick(seconds since start)` is called every `tick_s`."""
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as out,
        tempfile.TemporaryFile("w+", encoding="utf-8") as err,
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=PROJECT_DIR
        )
        next_tick = started + tick_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            now = time.perf_counter()
            if now - started > timeout_s:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            if on_tick is not None and now >= next_tick:
                on_tick(now - started)
                next_tick += tick_s
            time.sleep(min(0.01, max(0.0, next_tick - time.perf_counter())))
        wall_s = time.perf_counter() - started
        # wait4 reaped the child: tell Popen so it does not try (and warn) again.
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            argv=tuple(argv),
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
            wall_s=wall_s,
            cpu_user_s=usage.ru_utime,
            cpu_sys_s=usage.ru_stime,
            max_rss_kib=usage.ru_maxrss,
        )


class Background:
    """A child process left running while others are measured; `stop` measures it as
    `run_measured` does (os.wait4: its own CPU time and peak memory)."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str]) -> None:
        self.argv = tuple(argv)
        # Closed by stop(): the child outlives this call.
        self._out = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._err = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._started = time.perf_counter()
        self._proc = subprocess.Popen(
            list(argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            cwd=PROJECT_DIR,
        )

    def stop(self, *, signum: int = signal.SIGINT, timeout_s: float = 30.0) -> Measured:
        """Send `signum` (unless it exited already) and reap it; SIGKILL after `timeout_s`."""
        pid, status, usage = os.wait4(self._proc.pid, os.WNOHANG)
        if pid != self._proc.pid:
            self._proc.send_signal(signum)
            deadline = time.perf_counter() + timeout_s
            while True:
                pid, status, usage = os.wait4(self._proc.pid, os.WNOHANG)
                if pid == self._proc.pid:
                    break
                if time.perf_counter() > deadline:
                    self._proc.kill()
                    _, status, usage = os.wait4(self._proc.pid, 0)
                    break
                time.sleep(0.02)
        wall_s = time.perf_counter() - self._started
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        with self._out, self._err:
            self._out.seek(0)
            self._err.seek(0)
            return Measured(
                argv=self.argv,
                returncode=self._proc.returncode,
                stdout=self._out.read(),
                stderr=self._err.read(),
                wall_s=wall_s,
                cpu_user_s=usage.ru_utime,
                cpu_sys_s=usage.ru_stime,
                max_rss_kib=usage.ru_maxrss,
            )


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def asynccopy_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "asynccopy", *args]


# ---- the sandbox ----------------------------------------------------------------------------
@dataclass
class BenchSandbox:
    """A ministack server of the benchmarks' own, on a free port, stopped on exit."""

    port: int = field(default_factory=free_port)
    quiet: bool = True
    server: SandboxServer = field(init=False)
    seeded: SeedResult | None = field(init=False, default=None)
    owns_server: bool = field(init=False, default=True)

    def __post_init__(self) -> None:
        say: Callable[[str], None] = (lambda _line: None) if self.quiet else log
        self.server = SandboxServer(ServerConfig(port=self.port), say=say)

    @classmethod
    def attach(cls, server: SandboxServer) -> BenchSandbox:
        """Use a server someone else started (the tests' fixture); leave it running on exit."""
        box = cls(port=server.config.port)
        box.server = server
        box.owns_server = False
        return box

    def __enter__(self) -> BenchSandbox:
        if self.owns_server:
            self.server.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.owns_server:
            self.server.down()

    @property
    def endpoint_url(self) -> str:
        return self.server.config.endpoint_url

    def env(self, account: str = SOURCE_ACCOUNT) -> dict[str, str]:
        """This process's environment without the caller's AWS_* settings, acting as `account`."""
        env = clean_env()
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_DIR), env.get("PYTHONPATH", "")) if p
        )
        env.update(account_env(account, self.endpoint_url))
        env["ASYNCCOPY_SANDBOX_PORT"] = str(self.port)
        return env

    def client(self, service: str, account: str = SOURCE_ACCOUNT) -> Any:
        return client(service, account, self.endpoint_url)

    def seed(self, *, items: int, item_bytes: int, keys_out: Path) -> SeedResult:
        self.seeded = seed(
            SeedConfig(items=items, item_bytes=item_bytes, keys_out=keys_out),
            endpoint_url=self.endpoint_url,
        )
        return self.seeded

    @property
    def queue_url(self) -> str:
        if self.seeded is None:
            raise RuntimeError("seed the sandbox first")
        return self.seeded.queue_url

    def queue_depth(self, queue_url: str | None = None) -> int:
        sqs = self.client("sqs", DEST_ACCOUNT)
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def purge(self, queue_url: str | None = None) -> None:
        """Empty the queue so that the next run starts against a small one."""
        url = queue_url or self.queue_url
        self.client("sqs", DEST_ACCOUNT).purge_queue(QueueUrl=url)
        deadline = time.monotonic() + 30
        while self.queue_depth(url) and time.monotonic() < deadline:
            time.sleep(0.2)

    @property
    def emulator_pid(self) -> int | None:
        """The ministack server's process, whose CPU the benchmarks read from /proc."""
        return self.server.status().pid

    def empty_destination(self) -> None:
        """Recreate the destination table empty, so that its item count measures one run."""
        ddb = self.client("dynamodb", DEST_ACCOUNT)
        ddb.delete_table(TableName=TABLE_NAME)
        ddb.get_waiter("table_not_exists").wait(TableName=TABLE_NAME, WaiterConfig={"Delay": 1})
        ddb.create_table(
            TableName=TABLE_NAME,
            KeySchema=[{"AttributeName": KEY_NAME, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": KEY_NAME, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.get_waiter("table_exists").wait(TableName=TABLE_NAME, WaiterConfig={"Delay": 1})

    def table_count(self, account: str = DEST_ACCOUNT, table: str = TABLE_NAME) -> int:
        ddb = self.client("dynamodb", account)
        count = 0
        kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
        while True:
            page = ddb.scan(**kwargs)
            count += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return count
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---- key files ------------------------------------------------------------------------------
def read_keys(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_keys(path: Path, keys: Iterator[str] | Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for key in keys:
            out.write(key + "\n")
    return path


# ---- asynccopy copy -------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class CopyRun:
    """One `asynccopy copy --json` run: its own summary and the OS's view of the process."""

    summary: dict[str, Any]
    measured: Measured

    @property
    def elapsed_s(self) -> float:
        return float(self.summary["elapsed_s"])

    @property
    def items_sent(self) -> int:
        return int(self.summary["items_sent"])

    @property
    def items_per_s(self) -> float:
        return self.items_sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def copy_args(
    *,
    keys: Path,
    queue_url: str,
    rate: str = "max",
    concurrency: int | None = None,
    table: str = TABLE_NAME,
    endpoint_url: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = ["copy", "--table", table, "--keys", str(keys), "--queue-url", queue_url]
    args += ["--rate", rate, "--json", "--no-progress"]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    if endpoint_url is not None:
        args += ["--endpoint-url", endpoint_url]
    return [*args, *extra]


def run_copy(
    box: BenchSandbox,
    *,
    keys: Path,
    rate: str = "max",
    concurrency: int | None = None,
    endpoint_url: str | None = None,
    queue_url: str | None = None,
    extra: Sequence[str] = (),
    extra_env: dict[str, str] | None = None,
    on_tick: Callable[[float], None] | None = None,
    tick_s: float = 0.25,
    timeout_s: float = 600.0,
) -> CopyRun:
    argv = asynccopy_argv(
        *copy_args(
            keys=keys,
            queue_url=queue_url or box.queue_url,
            rate=rate,
            concurrency=concurrency,
            endpoint_url=endpoint_url,
            extra=extra,
        )
    )
    env = {**box.env(), **(extra_env or {})}
    measured = run_measured(
        argv, env=env, on_tick=on_tick, tick_s=tick_s, timeout_s=timeout_s
    ).check()
    return CopyRun(summary=measured.json(), measured=measured)


__all__ = [
    "DEST_ACCOUNT",
    "KEY_NAME",
    "RESULTS_DIR",
    "SOURCE_ACCOUNT",
    "TABLE_NAME",
    "Background",
    "BenchSandbox",
    "ChildFailedError",
    "CopyRun",
    "Measured",
    "asynccopy_argv",
    "log",
    "python_argv",
    "read_keys",
    "run_copy",
    "run_measured",
    "write_keys",
]
