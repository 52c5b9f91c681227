"""The embedded local default: a two-account AWS emulator (ministack) for the demo and the tests."""

from asynccopy.sandbox.accounts import (
    DEST_ACCOUNT,
    REGION,
    SANDBOX_SECRET,
    SOURCE_ACCOUNT,
    account_env,
)
from asynccopy.sandbox.server import SandboxServer, SandboxStatus, ServerConfig

__all__ = [
    "DEST_ACCOUNT",
    "REGION",
    "SANDBOX_SECRET",
    "SOURCE_ACCOUNT",
    "SandboxServer",
    "SandboxStatus",
    "ServerConfig",
    "account_env",
]
