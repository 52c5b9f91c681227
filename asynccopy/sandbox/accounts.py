"""The sandbox's two accounts and the credentials that select them.

ministack picks the account from a 12-digit access key id; the secret is not checked.
"""

from __future__ import annotations

from typing import Final

SOURCE_ACCOUNT: Final = "111111111111"
DEST_ACCOUNT: Final = "222222222222"
REGION: Final = "us-east-1"
SANDBOX_SECRET: Final = "sandbox"


def account_env(account: str, endpoint_url: str) -> dict[str, str]:
    """The AWS_* environment a process needs to act as `account` in the sandbox."""
    return {
        "AWS_ACCESS_KEY_ID": account,
        "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint_url,
    }
