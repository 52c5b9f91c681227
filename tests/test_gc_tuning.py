"""The collector kept off what the consumer builds once: frozen after the Lambda container's
cold start (and kept so while `asynccopy consume` runs, then undone)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

import consumer.handler
from asynccopy.sandbox.accounts import DEST_ACCOUNT, account_env
from consumer.config import ConsumerEngine
from consumer.gc_tuning import GC_THRESHOLDS, settled
from tests.consumer_helpers import TABLE, FixedContext, receive_event, seed_and_send
from tests.sandbox_helpers import Sandbox


@pytest.fixture
def gc_restored() -> Iterator[None]:
    """The test process's collector as it was, whatever the test froze."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settled_freezes_while_it_runs_and_undoes_it(gc_restored: None) -> None:
    before = gc.get_threshold()
    with settled():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_the_lambda_cold_start_freezes_the_container_once(
    sandbox: Sandbox,
    tmp_path: Path,
    consumer_engine: ConsumerEngine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    gc_restored: None,
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=30)
    first = receive_event(sandbox, seeded, messages=1)
    second = receive_event(sandbox, seeded, messages=1)
    for name, value in account_env(DEST_ACCOUNT, sandbox.endpoint_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("CONSUMER_ENGINE", consumer_engine)
    monkeypatch.setattr(consumer.handler, "_container", None)  # a cold start with this env
    gc.unfreeze()

    consumer.handler.lambda_handler(first, FixedContext(30_000))

    container = consumer.handler._container
    assert container is not None
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert gc.get_threshold() == GC_THRESHOLDS

    assert consumer.handler.lambda_handler(second, FixedContext(30_000)) == {
        "batchItemFailures": []
    }
    assert gc.get_freeze_count() == frozen  # warm invocations freeze nothing more
    capsys.readouterr()
