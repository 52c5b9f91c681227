"""Fixtures: one real ministack server for the session, reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asynccopy.sandbox import SandboxServer, ServerConfig
from tests.hypothesis_profiles import load_profile
from tests.sandbox_helpers import Sandbox, free_port

# Before any test module is imported: the `ci` profile (derandomized) unless
# HYPOTHESIS_PROFILE names another (`thorough`: see tests/hypothesis_profiles.py).
load_profile()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(ServerConfig(port=free_port()), say=lambda _line: None)
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
