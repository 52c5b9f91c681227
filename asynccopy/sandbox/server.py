"""The ministack server's life cycle: install, up, down, status, reset.

ministack pins a botocore that conflicts with aioboto3's, so it lives in a virtual environment
of its own under the sandbox directory. ministack runs Python functions with its own
interpreter, so that environment also gets the boto3 released with ministack's botocore: the
consumer's zip then finds what the Lambda Python runtime ships, and nothing more.

The install is shared; what a running server leaves behind (pid file, log, the named profiles)
goes to the state directory, which tests point elsewhere (ASYNCCOPY_SANDBOX_STATE_DIR) so that
they never touch the user's sandbox.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from asynccopy.errors import SandboxError

MINISTACK_VERSION: Final = "1.5.33"
# ministack 1.5.33 pins botocore==1.43.106, and boto3 is released in lockstep with botocore
# (same version number): this is the boto3 the Lambda runtime would pair with that botocore.
BOTO3_VERSION: Final = "1.43.106"
DEFAULT_PORT: Final = 4566
HEALTH_PATH: Final = "/_ministack/health"
RESET_PATH: Final = "/_ministack/reset"


def default_sandbox_dir() -> Path:
    """`.sandbox` beside the project's pyproject.toml, or the user's cache for an installed copy."""
    override = os.environ.get("ASYNCCOPY_SANDBOX_DIR")
    if override:
        return Path(override)
    project = Path(__file__).resolve().parents[2]
    if (project / "pyproject.toml").is_file():
        return project / ".sandbox"
    return Path.home() / ".cache" / "asynccopy" / "sandbox"


def default_state_dir() -> Path:
    """Where a server's pid file, log and the named profiles go: the sandbox directory unless
    ASYNCCOPY_SANDBOX_STATE_DIR names another (the tests' own temporary folder)."""
    override = os.environ.get("ASYNCCOPY_SANDBOX_STATE_DIR")
    return Path(override) if override else default_sandbox_dir()


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerConfig:
    port: int = DEFAULT_PORT
    sandbox_dir: Path = field(default_factory=default_sandbox_dir)
    state_dir: Path = field(default_factory=default_state_dir)
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 10.0
    host: str = "127.0.0.1"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def venv_dir(self) -> Path:
        return self.sandbox_dir / "venv"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def profiles_dir(self) -> Path:
        return self.state_dir / "aws"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"ministack-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"ministack-{self.port}.log"


@dataclass(frozen=True, kw_only=True, slots=True)
class SandboxStatus:
    running: bool
    endpoint_url: str
    pid: int | None
    log_file: Path

    def describe(self) -> str:
        if not self.running:
            return f"sandbox: not running (would serve {self.endpoint_url})"
        pid = f", pid {self.pid}" if self.pid else ""
        return f"sandbox: running at {self.endpoint_url}{pid}; log {self.log_file}"


class SandboxServer:
    """Starts and stops one ministack server bound to 127.0.0.1."""

    def __init__(self, config: ServerConfig, *, say: Callable[[str], None] = print) -> None:
        self.config = config
        self._say = say
        # Held so that the Popen is not garbage collected (and warned about) while it runs.
        self._proc: subprocess.Popen[bytes] | None = None

    # ---- install -------------------------------------------------------------------------
    @property
    def _python(self) -> Path:
        return self.config.venv_dir / "bin" / "python"

    @property
    def _stamp(self) -> Path:
        return self.config.venv_dir / f".ministack-{MINISTACK_VERSION}-boto3-{BOTO3_VERSION}"

    def install(self) -> None:
        """Create the emulator's own virtual environment with ministack and the boto3 of its
        Lambda runtime pinned; idempotent."""
        if self._stamp.exists():
            return
        self._say(
            f"installing ministack {MINISTACK_VERSION} and boto3 {BOTO3_VERSION} into"
            f" {self.config.venv_dir} ..."
        )
        self.config.venv_dir.parent.mkdir(parents=True, exist_ok=True)
        self._run([sys.executable, "-m", "venv", "--clear", str(self.config.venv_dir)])
        self._run(
            [
                str(self._python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"ministack=={MINISTACK_VERSION}",
                f"boto3=={BOTO3_VERSION}",
            ]
        )
        self._stamp.touch()

    @staticmethod
    def _run(argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise SandboxError(
                f"`{' '.join(argv)}` failed with exit code {done.returncode}: {' | '.join(tail)}",
                hint="check that the package registry is reachable, then run `asynccopy sandbox up`"
                " again",
            )

    # ---- up / down -----------------------------------------------------------------------
    def up(self) -> SandboxStatus:
        """Start the server unless it already runs, and wait until it is healthy."""
        current = self.status()
        if current.running:
            self._say(f"already running: {current.describe()}")
            return current
        if self._healthy():
            # Something else already serves on this port; do not start a second server.
            self._say(f"a ministack server already answers at {self.config.endpoint_url}")
            return current
        self.install()
        self.config.run_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            BIND_HOST=self.config.host,
            GATEWAY_PORT=str(self.config.port),
            LOG_LEVEL=env.get("ASYNCCOPY_SANDBOX_LOG_LEVEL", "WARNING"),
            # ministack's documentation asks for a Python on PATH for Python functions; 1.5.33
            # runs them with its own interpreter (where `install` puts boto3) all the same.
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        )
        for name in [n for n in env if n.startswith("AWS_")]:
            # The server's Lambda workers must not inherit a caller's real credentials.
            del env[name]
        with self.config.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [str(self._python), "-m", "ministack"],
                cwd=self.config.run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._proc = proc
        self.config.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + self.config.start_timeout_s
        while not self._healthy():
            if proc.poll() is not None:
                self.config.pid_file.unlink(missing_ok=True)
                raise SandboxError(
                    f"ministack exited with code {proc.returncode} before it became healthy:"
                    f" {self._log_tail()}",
                    hint=f"read {self.config.log_file}; is port {self.config.port} free?"
                    " (`--port` picks another)",
                )
            if time.monotonic() > deadline:
                self._stop_tree(proc.pid)
                raise SandboxError(
                    f"ministack did not become healthy within {self.config.start_timeout_s:.0f} s",
                    hint=f"read {self.config.log_file}",
                )
            time.sleep(0.1)
        status = self.status()
        self._say(status.describe())
        return status

    def down(self) -> bool:
        """Stop the server and every process it started (Lambda workers); True if one ran."""
        pid = self._read_pid()
        if pid is None:
            self._say(f"sandbox: not running on port {self.config.port}")
            return False
        self._stop_tree(pid)
        if self._proc is not None:
            self._proc.wait()
            self._proc = None
        self.config.pid_file.unlink(missing_ok=True)
        self._say(f"sandbox: stopped (pid {pid} and its workers)")
        return True

    def status(self) -> SandboxStatus:
        pid = self._read_pid()
        running = pid is not None and self._healthy()
        return SandboxStatus(
            running=running,
            endpoint_url=self.config.endpoint_url,
            pid=pid,
            log_file=self.config.log_file,
        )

    def reset(self) -> None:
        """Drop every table, queue and function in both accounts."""
        # urllib.request costs http.client, email and ssl: imported when used, not by `--help`.
        import urllib.request

        request = urllib.request.Request(self.config.endpoint_url + RESET_PATH, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
        except OSError as exc:
            raise SandboxError(
                f"could not reset the sandbox at {self.config.endpoint_url}: {exc}",
                hint="start it with `asynccopy sandbox up`",
            ) from exc

    # ---- helpers -------------------------------------------------------------------------
    def _healthy(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(
                self.config.endpoint_url + HEALTH_PATH, timeout=2
            ) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _read_pid(self) -> int | None:
        try:
            pid = int(self.config.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            self.config.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def _log_tail(self) -> str:
        try:
            lines = self.config.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-5:])

    def _stop_tree(self, pid: int) -> None:
        # Collect the descendants first: once the server dies its Lambda workers are
        # re-parented to init and can no longer be found from its PID.
        victims = [pid, *_descendants(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_timeout_s
        while time.monotonic() < deadline and any(_alive(v) for v in victims):
            _reap(victims)
            time.sleep(0.05)
        for victim in victims:
            if _alive(victim):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(victim, signal.SIGKILL)
        _reap(victims)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # A zombie has exited; only its parent's wait() is missing.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reap(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _descendants(root: int) -> list[int]:
    """Every process below `root`, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
