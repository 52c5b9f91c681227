"""Serving the engine: `FaultProxy` on a background thread (tests, benchmarks) or `serve`
until a signal (the standalone process).

In (the upstream URL, a `FaultConfig`) -> out (the proxy's URL; stats and config at run time).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Final

from aiohttp import web

from benchmarks.faultproxy.config import FaultConfig
from benchmarks.faultproxy.engine import Engine
from benchmarks.faultproxy.meter import Clock
from benchmarks.faultproxy.stats import ProxyStats

DEFAULT_POOL_SIZE: Final = 128


@contextlib.asynccontextmanager
async def _serving(engine: Engine, host: str, port: int) -> AsyncIterator[str]:
    await engine.open()
    server = web.Server(engine.handle, access_log=None)
    runner = web.ServerRunner(server, shutdown_timeout=1.0)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        yield f"http://{host}:{bound[1]}"
    finally:
        await runner.cleanup()
        await engine.close()


class FaultProxy:
    """The proxy on a background thread with its own event loop: `with FaultProxy(url) as p:`."""

    def __init__(
        self,
        upstream_url: str,
        config: FaultConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        pool_size: int = DEFAULT_POOL_SIZE,
        clock: Clock = time.monotonic,
        start_timeout_s: float = 10.0,
    ) -> None:
        self._engine = Engine(
            upstream_url, config or FaultConfig(), pool_size=pool_size, clock=clock
        )
        self._host = host
        self._port = port
        self._start_timeout_s = start_timeout_s
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the proxy is not running; use `with FaultProxy(...) as proxy:`")
        return self._url

    @property
    def config(self) -> FaultConfig:
        return self._engine.config

    def configure(self, **changes: Any) -> FaultConfig:
        """Change the config at run time (thread-safe); returns the new config."""
        return self._engine.configure(changes)

    def stats(self) -> ProxyStats:
        return self._engine.recorder.snapshot()

    def reset(self) -> None:
        """Zero the counters and refill every capacity bucket."""
        self._engine.reset()

    def start(self) -> FaultProxy:
        if self._thread is not None:
            raise RuntimeError("the proxy is already started")
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            raise RuntimeError(f"the proxy did not start within {self._start_timeout_s} s")
        if self._failure is not None:
            self._thread.join()
            raise RuntimeError(f"the proxy failed to start: {self._failure!r}") from self._failure
        return self

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15.0)
        self._thread = None
        self._url = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with _serving(self._engine, self._host, self._port) as url:
            self._url = url
            self._ready.set()
            await self._stop.wait()


async def serve(
    upstream_url: str,
    config: FaultConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    pool_size: int = DEFAULT_POOL_SIZE,
    on_ready: Callable[[str], None] = lambda _url: None,
) -> None:
    """Serve until SIGTERM or SIGINT (the standalone process)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    engine = Engine(upstream_url, config, pool_size=pool_size, clock=time.monotonic)
    async with _serving(engine, host, port) as url:
        on_ready(url)
        await stop.wait()
