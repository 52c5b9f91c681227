"""asynccopy.botosession: botocore's own session behaves as the aioboto3 session it replaces on
the fast engine (the profile read at opening, its region and ca_bundle, the standard chain), and
its sessions share one data loader."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ProfileNotFound

from asynccopy.aws import AwsTarget, open_session, session_ca_bundle
from asynccopy.botosession import ThreadedSession
from asynccopy.choices import Engine
from asynccopy.errors import CredentialsError, ProfileNotFoundError


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    config.write_text(
        "[profile west]\nregion = eu-west-1\nca_bundle = /etc/west.pem\n"
        "[profile bare]\naws_access_key_id = AKBARE\naws_secret_access_key = bare\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env")
    return config


@pytest.mark.usefixtures("profiles")
def test_an_unknown_profile_is_refused_at_opening() -> None:
    with pytest.raises(ProfileNotFound):
        ThreadedSession(profile="ghost")
    with pytest.raises(ProfileNotFoundError, match="'ghost' was not found"):
        anyio.run(lambda: open_session(AwsTarget(profile="ghost"), engine=Engine.FAST))


@pytest.mark.usefixtures("profiles")
def test_region_and_ca_bundle_come_from_the_profile_unless_given() -> None:
    west = ThreadedSession(profile="west")
    assert west.region_name == "eu-west-1"
    assert session_ca_bundle(west) == "/etc/west.pem"
    assert ThreadedSession(profile="west", region="us-west-2").region_name == "us-west-2"
    assert ThreadedSession().region_name is None
    opened = anyio.run(lambda: open_session(AwsTarget(), engine=Engine.FAST))
    assert opened.region_name == "us-east-1"  # asynccopy.aws.DEFAULT_REGION


@pytest.mark.usefixtures("profiles")
def test_credentials_come_from_the_standard_chain() -> None:
    async def key_ids() -> list[str | None]:
        seen: list[str | None] = []
        for profile in (None, "bare", "west"):
            credentials = await ThreadedSession(profile=profile).get_credentials()
            seen.append(
                None
                if credentials is None
                else (await credentials.get_frozen_credentials()).access_key
            )
        return seen

    # As botocore (and the AWS CLI) decide: AWS_* variables without a profile; a profile named
    # explicitly uses its own keys, and has none if it sets none.
    assert anyio.run(key_ids) == ["AKENV", "AKBARE", None]
    with pytest.raises(CredentialsError):
        anyio.run(lambda: open_session(AwsTarget(profile="west"), engine=Engine.FAST))
    bare = ThreadedSession(profile="bare", credentials=("AKROLE", "role", "token"))
    frozen = anyio.run(_frozen, bare)
    assert (frozen.access_key, frozen.token) == ("AKROLE", "token")


async def _frozen(session: ThreadedSession) -> ReadOnlyCredentials:
    credentials = await session.get_credentials()
    assert credentials is not None
    return await credentials.get_frozen_credentials()


@pytest.mark.usefixtures("profiles")
def test_sessions_share_one_data_loader() -> None:
    first, second = ThreadedSession(profile="west"), ThreadedSession(profile="bare")
    assert first.core.get_component("data_loader") is second.core.get_component("data_loader")
