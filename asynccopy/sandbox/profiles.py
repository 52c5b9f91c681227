"""Named AWS profiles for the sandbox's two accounts, so commands can use `--profile` the way
they would against real accounts.

    [profile asynccopy-source]   account 111111111111
    [profile asynccopy-dest]     account 222222222222

Each profile carries the sandbox's `endpoint_url` (botocore's per-profile endpoint setting), so
no `--endpoint-url` is needed. Point AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE at them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from asynccopy.sandbox.accounts import DEST_ACCOUNT, REGION, SANDBOX_SECRET, SOURCE_ACCOUNT

SOURCE_PROFILE: Final = "asynccopy-source"
DEST_PROFILE: Final = "asynccopy-dest"


@dataclass(frozen=True, kw_only=True, slots=True)
class ProfileFiles:
    config: Path
    credentials: Path

    def env(self) -> dict[str, str]:
        return {
            "AWS_CONFIG_FILE": str(self.config),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials),
        }


def write_profiles(directory: Path, *, endpoint_url: str) -> ProfileFiles:
    """Write the two profiles into `directory` (mode 0600: they hold credentials)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config"
    credentials = directory / "credentials"
    config_text = ""
    credentials_text = ""
    for profile, account in ((SOURCE_PROFILE, SOURCE_ACCOUNT), (DEST_PROFILE, DEST_ACCOUNT)):
        config_text += f"[profile {profile}]\nregion = {REGION}\nendpoint_url = {endpoint_url}\n\n"
        credentials_text += (
            f"[{profile}]\naws_access_key_id = {account}\n"
            f"aws_secret_access_key = {SANDBOX_SECRET}\n\n"
        )
    for path, text in ((config, config_text), (credentials, credentials_text)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    return ProfileFiles(config=config, credentials=credentials)
