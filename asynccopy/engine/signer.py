"""SigV4 for the fast engine: botocore's own signer, fed the session's current credentials.

Nothing here computes a signature: `botocore.auth.SigV4Auth` signs a `botocore.awsrequest.
AWSRequest` exactly as a botocore client would. Credentials come from the session the rest of
the command uses (asynccopy.botosession: profiles, assumed roles, refreshing credentials),
frozen and kept for a few seconds so that a refresh is seen promptly without asking for every
request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, cast

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError

# Refreshing credentials are refreshed 15 minutes before they expire (botocore's advisory
# refresh): re-reading them every few seconds is far inside that window.
CREDENTIALS_REFRESH_S: Final = 5.0


class CredentialSource:
    """The session's credentials, frozen; re-read at most every `refresh_s`."""

    def __init__(
        self,
        session: Any,  # a ThreadedSession (asynccopy.botosession)
        *,
        refresh_s: float = CREDENTIALS_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._refresh_s = refresh_s
        self._clock = clock
        self._credentials: Any = None
        self._frozen: ReadOnlyCredentials | None = None
        self._until = 0.0

    async def frozen(self) -> ReadOnlyCredentials:
        now = self._clock()
        if self._frozen is not None and now < self._until:
            return self._frozen
        if self._credentials is None:
            credentials = await cast(Awaitable[Any], self._session.get_credentials())
            if credentials is None:
                raise NoCredentialsError()
            self._credentials = credentials
        frozen = await self._credentials.get_frozen_credentials()
        self._frozen = cast(ReadOnlyCredentials, frozen)
        self._until = now + self._refresh_s
        return self._frozen


def sign(
    credentials: ReadOnlyCredentials,
    *,
    service: str,
    region: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, str]:
    """`headers` plus X-Amz-Date, X-Amz-Security-Token (if any) and Authorization for a POST."""
    request = AWSRequest(method="POST", url=url, headers=dict(headers), data=body)
    SigV4Auth(credentials, service, region).add_auth(request)
    return {name: _text(value) for name, value in request.headers.items()}


def _text(value: str | bytes) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value
