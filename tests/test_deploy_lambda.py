"""The consumer as a real Lambda in the sandbox: `asynccopy sandbox deploy-consumer`, then
ministack's own SQS event source mapping invokes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox
from tests.test_consumer_support import (
    assert_same_items,
    count_items,
    queue_counts,
    scan_all,
    seed_and_send,
    shorten_redrive,
    wait_for,
)


def deploy(sandbox: Sandbox, *extra: str) -> str:
    done = sandbox.run_cli(
        "sandbox", "deploy-consumer", "--port", str(sandbox.port), *extra, account=DEST_ACCOUNT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def copy_with_lambda(sandbox: Sandbox, tmp_path: Path, *, items: int, timeout_s: float) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=items)
    out = deploy(sandbox, "--max-concurrency", "4")
    assert "asynccopy-consumer" in out
    dest = sandbox.dest("dynamodb")
    wait_for(lambda: count_items(dest) >= items, timeout_s=timeout_s, what=f"{items} items")
    assert_same_items(seeded.items, scan_all(dest))
    wait_for(
        lambda: queue_counts(sandbox, seeded.queue_url) == (0, 0),
        timeout_s=30,
        what="the mapping to delete every message",
    )


@pytest.mark.timeout(180)
def test_the_deployed_lambda_writes_every_seeded_item(sandbox: Sandbox, tmp_path: Path) -> None:
    copy_with_lambda(sandbox, tmp_path, items=1500, timeout_s=90)


@pytest.mark.timeout(180)
def test_the_mapping_redrives_a_poison_message_to_the_dlq(sandbox: Sandbox, tmp_path: Path) -> None:
    poison = "definitely not an asynccopy message"
    seeded = seed_and_send(sandbox, tmp_path, items=500, extra=[poison])
    shorten_redrive(sandbox, seeded, visibility_s=2, max_receives=2)
    deploy(sandbox)
    sqs = sandbox.dest("sqs")
    wait_for(
        lambda: queue_counts(sandbox, seeded.dlq_url)[0] == 1,
        timeout_s=90,
        what="the poison message in the DLQ",
    )
    (dead,) = sqs.receive_message(QueueUrl=seeded.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert dead["Body"] == poison
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
    assert queue_counts(sandbox, seeded.queue_url) == (0, 0)


def test_deploy_consumer_configures_the_mapping_like_the_template(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seed_and_send(sandbox, tmp_path, items=0)
    deploy(
        sandbox, "--mode", "newer-wins:updatedAt", "--batch-size", "50", "--max-concurrency", "3"
    )
    lam = sandbox.dest("lambda")
    function = lam.get_function_configuration(FunctionName="asynccopy-consumer")
    assert function["Handler"] == "consumer.handler.lambda_handler"
    variables = function["Environment"]["Variables"]
    assert variables.pop("DEAD_LETTER_QUEUE_URL").endswith("/222222222222/asynccopy-users-dlq")
    assert variables == {"TABLE_NAME": "users", "WRITE_MODE": "newer-wins:updatedAt"}
    (mapping,) = lam.list_event_source_mappings(FunctionName="asynccopy-consumer")[
        "EventSourceMappings"
    ]
    assert mapping["BatchSize"] == 50
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"].endswith(":222222222222:asynccopy-users")


def test_deploy_consumer_needs_the_seeded_queue(sandbox: Sandbox) -> None:
    done = sandbox.run_cli(
        "sandbox", "deploy-consumer", "--port", str(sandbox.port), account=DEST_ACCOUNT
    )
    assert done.returncode == 2
    assert "asynccopy sandbox seed" in done.stderr
