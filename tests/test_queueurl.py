"""The queue URL against the queue side's settings: region, endpoint, FIFO. Pure functions;
the CLI's refusals are rows of tests/test_bad_input.py, run against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynccopy.aws import AwsTarget
from asynccopy.errors import FifoQueueError, InputError
from asynccopy.send.queueurl import (
    QueueUrl,
    check_queue_url,
    parse_queue_url,
    profile_region,
    queue_endpoint,
    queue_target_for,
)

EU = "https://sqs.eu-west-1.amazonaws.com/222222222222/orders"
EMULATOR = "http://127.0.0.1:4566/222222222222/orders"
DEFAULT_EU = "https://sqs.eu-west-1.amazonaws.com"


def url(text: str) -> QueueUrl:
    parsed = parse_queue_url(text)
    assert parsed is not None, text
    return parsed


@pytest.mark.parametrize(
    ("text", "host", "port", "region"),
    [
        (EU, "sqs.eu-west-1.amazonaws.com", 443, "eu-west-1"),
        (EMULATOR, "127.0.0.1", 4566, None),
        (
            "https://SQS.us-east-2.amazonaws.com:443/123456789012/q/",
            "sqs.us-east-2.amazonaws.com",
            443,
            "us-east-2",
        ),
        (
            "https://vpce-0a1-b2.sqs.us-east-2.vpce.amazonaws.com/123456789012/q",
            "vpce-0a1-b2.sqs.us-east-2.vpce.amazonaws.com",
            443,
            "us-east-2",
        ),
        (
            "https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/q",
            "sqs-fips.us-gov-west-1.amazonaws.com",
            443,
            "us-gov-west-1",
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
            "sqs.cn-north-1.amazonaws.com.cn",
            443,
            "cn-north-1",
        ),
        (
            "https://eu-west-1.queue.amazonaws.com/123456789012/q",
            "eu-west-1.queue.amazonaws.com",
            443,
            "eu-west-1",
        ),
        ("https://queue.amazonaws.com/123456789012/q", "queue.amazonaws.com", 443, "us-east-1"),
        (
            "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/q",
            "sqs.us-east-1.localhost.localstack.cloud",
            4566,
            "us-east-1",
        ),
    ],
)
def test_a_queue_url_is_parsed_with_the_region_its_host_names(
    text: str, host: str, port: int, region: str | None
) -> None:
    parsed = url(text)
    assert (parsed.host, parsed.port, parsed.region) == (host, port, region)


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/q",
        "sqs.eu-west-1.amazonaws.com/222222222222/q",
        "ftp://h/222222222222/q",
        "https://h/22222222222/q",  # 11 digits
        "https://h:notaport/222222222222/q",
        "https://user:pw@h/222222222222/q",
        "https://h/222222222222/a/b",
        "",
    ],
)
def test_what_is_not_a_queue_url_is_refused(text: str) -> None:
    assert parse_queue_url(text) is None
    with pytest.raises(InputError, match="is not an SQS queue URL"):
        check_queue_url(text)


def test_a_fifo_queue_url_is_refused_by_its_name() -> None:
    with pytest.raises(FifoQueueError, match="is a FIFO queue; asynccopy needs a standard queue"):
        check_queue_url("http://127.0.0.1:4566/222222222222/orders.fifo")
    assert check_queue_url(EU).name == "orders"


# --- the region ------------------------------------------------------------------------------
def test_the_urls_region_wins_over_an_inherited_one() -> None:
    target = queue_target_for(
        url(EU), explicit=AwsTarget(), inherited=AwsTarget(region="us-east-1", profile="src")
    )
    assert target == AwsTarget(region="eu-west-1", profile="src")


def test_a_url_without_a_region_keeps_the_inherited_one() -> None:
    target = queue_target_for(url(EMULATOR), explicit=AwsTarget(), inherited=AwsTarget(region="x"))
    assert target.region == "x"


def test_queue_region_must_agree_with_the_url() -> None:
    same = queue_target_for(url(EU), explicit=AwsTarget(region="eu-west-1"), inherited=AwsTarget())
    assert same.region == "eu-west-1"
    with pytest.raises(InputError, match="is in region eu-west-1, but --queue-region says"):
        queue_target_for(url(EU), explicit=AwsTarget(region="us-east-1"), inherited=AwsTarget())


def test_the_queue_profiles_own_region_must_agree_with_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile dest-us]\nregion = us-east-1\n[profile dest-eu]\nregion = eu-west-1\n"
        "[profile no-region]\noutput = json\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # not the profile's own region
    assert profile_region("dest-us") == "us-east-1"
    assert profile_region("no-region") is None
    assert profile_region("ghost") is None  # opening its session says it does not exist
    with pytest.raises(InputError, match="but --queue-profile dest-us says us-east-1"):
        queue_target_for(url(EU), explicit=AwsTarget(profile="dest-us"), inherited=AwsTarget())
    for fine in ("dest-eu", "no-region"):
        target = queue_target_for(url(EU), explicit=AwsTarget(profile=fine), inherited=AwsTarget())
        assert target.region == "eu-west-1"
    # --queue-region overrides the profile's region, as it does for every call.
    overridden = AwsTarget(profile="dest-us", region="eu-west-1")
    assert queue_target_for(url(EU), explicit=overridden, inherited=AwsTarget()).region == (
        "eu-west-1"
    )


# --- the endpoint ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "resolved", "configured_by", "expected"),
    [
        # The URL's own host:port: kept.
        (EMULATOR, "http://127.0.0.1:4566", "AWS_ENDPOINT_URL", None),
        (EMULATOR, "http://127.0.0.1:4566/", "--queue-endpoint-url", None),
        ("http://[::1]:4566/222222222222/q", "http://[::1]:4566", "AWS_ENDPOINT_URL", None),
        # This machine's loopback under another name (an emulator's stack outputs say localhost
        # where its endpoint says 127.0.0.1): the same server.
        ("http://localhost:4566/222222222222/q", "http://127.0.0.1:4566", "AWS_ENDPOINT_URL", None),
        ("http://[::1]:4566/222222222222/q", "http://127.0.0.2:4566", "--endpoint-url", None),
        (EU, DEFAULT_EU, None, None),
        (EU, "https://sqs.eu-west-1.amazonaws.com:443", "--endpoint-url", None),
        # Nothing configured, an AWS URL on another host: the URL's host.
        (
            "https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com/222222222222/q",
            DEFAULT_EU,
            None,
            "https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com",
        ),
        ("https://eu-west-1.queue.amazonaws.com/222222222222/q", DEFAULT_EU, None, None),
        # A configured AWS endpoint (FIPS, VPC) in the URL's region.
        (EU, "https://sqs-fips.eu-west-1.amazonaws.com", "the profile's endpoint_url", None),
        (EU, "https://vpce-9.sqs.eu-west-1.vpce.amazonaws.com", "--queue-endpoint-url", None),
    ],
)
def test_the_queue_client_calls_where_the_url_says(
    text: str, resolved: str, configured_by: str | None, expected: str | None
) -> None:
    assert (
        queue_endpoint(
            url(text), resolved=resolved, default=DEFAULT_EU, configured_by=configured_by
        )
        == expected
    )


@pytest.mark.parametrize(
    ("text", "resolved", "configured_by", "said"),
    [
        ("http://127.0.0.1:9/222222222222/q", "http://127.0.0.1:4566", "AWS_ENDPOINT_URL",
         "is on 127.0.0.1:9, but the queue's calls would go to http://127.0.0.1:4566, set by "
         "AWS_ENDPOINT_URL"),
        (EMULATOR, "http://localhost:4567", "--queue-endpoint-url", "set by --queue-endpoint-url"),
        ("http://[::1]:4566/222222222222/q", "http://10.0.0.1:4566", "--endpoint-url",
         "is on [::1]:4566, but the queue's calls would go to http://10.0.0.1:4566, set by "
         "--endpoint-url (pass --queue-endpoint-url http://[::1]:4566 to send there"),
        (EMULATOR, DEFAULT_EU, None, "would go to https://sqs.eu-west-1.amazonaws.com, the "
         "region's default (pass --queue-endpoint-url http://127.0.0.1:4566 to send there"),
        (EU, "http://127.0.0.1:4566", "the profile's endpoint_url", "set by the profile's"),
        (EU, "https://sqs.us-east-1.amazonaws.com", "--queue-endpoint-url", "is on sqs.eu-west-1"),
        (EU, "https://vpce-1.dynamodb.eu-west-1.vpce.amazonaws.com", "--endpoint-url",
         "would go to https://vpce-1.dynamodb.eu-west-1.vpce.amazonaws.com, set by --endpoint-url"),
    ],
)  # fmt: skip
def test_a_url_the_queue_client_would_not_call_is_refused(
    text: str, resolved: str, configured_by: str | None, said: str
) -> None:
    with pytest.raises(InputError) as caught:
        queue_endpoint(
            url(text), resolved=resolved, default=DEFAULT_EU, configured_by=configured_by
        )
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)
