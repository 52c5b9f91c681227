"""The embedded local default: a two-account AWS emulator (ministack) for the demo and the tests.

server.py    the emulator's life cycle: install, up, down, status, reset
accounts.py  the two sandbox accounts and their credentials
profiles.py  AWS CLI profiles naming them
seed.py      items in the source account; an empty target and its queues in the other
deploy.py    the destination's stack (deploy/template.yaml) through CloudFormation
package.py   the consumer Lambda's zip: the `consumer` package as it is
demo.py      `make demo`: the whole job on the sandbox, step by step
"""

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
