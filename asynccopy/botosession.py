"""A plain botocore session whose calls are awaited in a worker thread.

The fast engine's commands call AWS before their first item (DescribeTable, DescribeTimeToLive,
GetQueueAttributes, STS AssumeRole and GetCallerIdentity) and, with --max-queue-depth, poll
GetQueueAttributes: a handful of calls, which need no async SDK (importing aioboto3 and
aiobotocore cost a copy about 0.1 s, with botocore already loaded). This session offers the
part of aioboto3.Session's interface asynccopy uses, on botocore's own session and clients:

    ThreadedSession(profile=..., region=...)     botocore.session.Session with the profile
        .region_name                              as botocore resolves it (None: none set)
        await .get_credentials()                  the standard chain, in a worker thread
        async with .client(name, endpoint_url=, config=) as client:
            await client.describe_table(...)      the botocore client's method, in a worker thread
            client.meta                           the botocore client's own

The profile's endpoint_url, ca_bundle and every other setting apply as they do for aioboto3's
sessions, since both resolve them through botocore.

Why botocore's clients and not the fast engine's own signed JSON (asynccopy.engine): that
would start about 0.1 s sooner (DescribeTable and GetQueueAttributes from a fresh process:
0.28 s against 0.38 s on the sandbox), but only by not resolving endpoints as botocore does
(the profile's endpoint_url and `services` sections, FIPS and dual-stack settings, partitions),
which is what reading the endpoints file costs; and STS answers in XML.

Sessions share one botocore data loader (per `data_path`): a client's first creation reads the
endpoints file and the service's model and rule set (about 0.1 s of JSON), which the loader
keeps, so the second side of a copy or a verify (another profile, region or role) pays nothing
for it again.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import botocore.session

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.credentials import Credentials, ReadOnlyCredentials
    from botocore.loaders import Loader

# The data loader of the first session for each `data_path` setting, shared by the later ones.
_LOADERS: dict[object, Loader] = {}


async def in_thread(call: Callable[[], Any]) -> Any:
    """`call()` in a worker thread; a cancelled caller stops waiting at once (the call itself
    ends on its own, within the client's timeouts), as an aiobotocore call would stop."""
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


class ThreadedClient:
    """A botocore client whose operations are coroutines, as aiobotocore's are."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        async def call(**kwargs: Any) -> Any:
            return await in_thread(partial(method, **kwargs))

        return call

    def close(self) -> None:
        self._client.close()


class ThreadedCredentials:
    """botocore's credentials, frozen in a worker thread (a refresh may call STS or SSO)."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        frozen: ReadOnlyCredentials = await in_thread(self._credentials.get_frozen_credentials)
        return frozen


class ThreadedSession:
    """botocore's session for `profile` (None: the default chain), in `region` if given.

    Raises botocore's ProfileNotFound, as aioboto3.Session does, when the profile does not
    exist.
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        credentials: tuple[str, str, str] | None = None,  # key id, secret, session token
    ) -> None:
        core = botocore.session.Session(profile=profile)
        core.get_scoped_config()  # reads the profile now: ProfileNotFound, as aioboto3 raises it
        _share_loader(core)
        if region is not None:
            core.set_config_variable("region", region)
        if credentials is not None:
            core.set_credentials(*credentials)
        self.core = core

    @property
    def region_name(self) -> str | None:
        region = self.core.get_config_variable("region")
        return region if isinstance(region, str) and region else None

    async def get_credentials(self) -> ThreadedCredentials | None:
        credentials = await in_thread(self.core.get_credentials)
        return None if credentials is None else ThreadedCredentials(credentials)

    @contextlib.asynccontextmanager
    async def client(
        self, service: str, *, endpoint_url: str | None = None, config: Config | None = None
    ) -> AsyncIterator[ThreadedClient]:
        """botocore's client, created in a worker thread (it reads the service's model) and
        closed on exit."""
        created = await in_thread(
            partial(self.core.create_client, service, endpoint_url=endpoint_url, config=config)
        )
        client = ThreadedClient(created)
        try:
            yield client
        finally:
            client.close()


def _share_loader(core: botocore.session.Session) -> None:
    """Gives `core` the data loader of the first session with its `data_path` (botocore's
    loader caches what it has read, for the life of the loader)."""
    data_path = core.get_config_variable("data_path")
    shared = _LOADERS.get(data_path)
    if shared is None:
        _LOADERS[data_path] = core.get_component("data_loader")
    else:
        core.register_component("data_loader", shared)
