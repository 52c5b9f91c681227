"""Fixtures: one real ministack server for the session, reset before each test that uses it.

The tests leave the user's own sandbox alone: their server listens on a free port, which every
`asynccopy sandbox` command they run defaults to (ASYNCCOPY_SANDBOX_PORT), never on 4566, and
its pid file, log and profiles go to a temporary folder (ASYNCCOPY_SANDBOX_STATE_DIR), never to
.sandbox/run or .sandbox/aws.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from asynccopy.sandbox import SandboxServer, ServerConfig
from consumer.config import ConsumerEngine
from tests.hypothesis_profiles import load_profile
from tests.sandbox_helpers import Sandbox, free_port

# Before any test module is imported: the `ci` profile (derandomized) unless
# HYPOTHESIS_PROFILE names another (`thorough`: see tests/hypothesis_profiles.py).
load_profile()

_ISOLATION = ("ASYNCCOPY_SANDBOX_STATE_DIR", "ASYNCCOPY_SANDBOX_PORT")
_saved: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    for name in _ISOLATION:
        _saved[name] = os.environ.get(name)
    os.environ["ASYNCCOPY_SANDBOX_STATE_DIR"] = tempfile.mkdtemp(prefix="asynccopy-tests-")
    os.environ["ASYNCCOPY_SANDBOX_PORT"] = str(free_port())


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ["ASYNCCOPY_SANDBOX_STATE_DIR"], ignore_errors=True)
    for name, value in _saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(
        ServerConfig(port=int(os.environ["ASYNCCOPY_SANDBOX_PORT"])), say=lambda _line: None
    )
    server.up()
    try:
        yield server
    finally:
        server.down()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Sandbox:
    """The session's sandbox server, emptied of every table, queue and function."""
    sandbox_server.reset()
    return Sandbox(server=sandbox_server)


@pytest.fixture(params=["fast", "botocore"])
def consumer_engine(request: pytest.FixtureRequest) -> ConsumerEngine:
    """Each consumer test that writes runs on both of the consumer's engines (consumer.engines)."""
    engine: ConsumerEngine = request.param
    return engine
