"""`asynccopy package-consumer`: the zip is the consumer package as it is, and nothing else."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from asynccopy.consume.events import lambda_event
from asynccopy.sandbox import DEST_ACCOUNT, REGION
from asynccopy.sandbox.package import build_consumer_zip
from asynccopy.verify.compare import items_equal
from consumer.wire import encode_items
from tests.sandbox_helpers import Sandbox, clean_env, create_table

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import consumer.handler
mods = {n: getattr(m, "__file__", None) for n, m in sys.modules.items()
        if n.split(".")[0] in ("asynccopy", "consumer")}
print(json.dumps(mods))
"""


def test_package_consumer_writes_only_the_consumer_package(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "consumer.zip"
    done = subprocess.run(
        [sys.executable, "-m", "asynccopy", "package-consumer", "--out", str(out)],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    names = set(zipfile.ZipFile(out).namelist())
    expected = {
        f"consumer/{p.relative_to(ROOT / 'consumer').as_posix()}"
        for p in (ROOT / "consumer").rglob("*.py")
    }
    assert names == expected


def test_the_packaged_handler_imports_nothing_from_asynccopy(tmp_path: Path) -> None:
    with zipfile.ZipFile(_write(tmp_path)) as archive:
        archive.extractall(tmp_path / "code")
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(tmp_path / "code")],
        capture_output=True,
        text=True,
        env=clean_env({"TABLE_NAME": "t", "WRITE_MODE": "overwrite"}),
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert {n for n in modules if n.startswith("asynccopy")} == set()
    assert all(str(tmp_path / "code") in (path or "") for path in modules.values())


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "consumer.zip"
    path.write_bytes(build_consumer_zip().data)
    return path


def test_the_zip_is_reproducible() -> None:
    assert build_consumer_zip().data == build_consumer_zip().data


# What the Lambda Python runtime provides besides the standard library: boto3 and what it needs.
LAMBDA_RUNTIME = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six")

RUN_FROM_ZIP = """
import importlib.util, json, sys
code, runtime, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [code, runtime]
for absent in ("asynccopy", "orjson", "aioboto3", "anyio"):
    assert importlib.util.find_spec(absent) is None, absent

class Context:
    def get_remaining_time_in_millis(self):
        return 60_000

from consumer.handler import lambda_handler
response = lambda_handler(event, Context())
loaded = sorted({
    name.split(".")[0] for name, module in sys.modules.items()
    if (getattr(module, "__file__", None) or "").startswith((code, runtime))
})
print(json.dumps({"response": response, "loaded": loaded}))
"""


def _runtime_dir(tmp_path: Path) -> Path:
    """A directory holding only the Lambda runtime's packages (links to this venv's)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in LAMBDA_RUNTIME:
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        assert spec.origin is not None, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def test_the_zip_handler_writes_a_real_sqs_message_in_a_clean_interpreter(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The zip as it is, unpacked, run by an interpreter that sees only the standard library,
    the zip and the Lambda runtime's packages (-I -S: no site-packages, no asynccopy): the
    handler imports, decodes a message SQS delivered, and writes its items."""
    with zipfile.ZipFile(_write(tmp_path)) as archive:
        archive.extractall(tmp_path / "code")
    ddb, sqs = sandbox.dest("dynamodb"), sandbox.dest("sqs")
    create_table(ddb, "zipped", ("userid", "S"))
    queue_url = sqs.create_queue(QueueName="zipped")["QueueUrl"]
    items = [
        {"userid": {"S": "u1"}, "n": {"N": "12345678901234567890123456789012345678"}},
        {"userid": {"S": "u2 \U0001f600"}, "b": {"B": bytes(range(256))}, "ss": {"SS": ["x"]}},
    ]
    sqs.send_message(QueueUrl=queue_url, MessageBody=encode_items(items))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)["Messages"]
    arn = f"arn:aws:sqs:{REGION}:{DEST_ACCOUNT}:zipped"
    event = lambda_event(messages, queue_arn=arn, region=REGION)
    code, runtime = tmp_path / "code", _runtime_dir(tmp_path)

    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            RUN_FROM_ZIP,
            str(code),
            str(runtime),
            json.dumps(event),
        ],
        capture_output=True,
        text=True,
        env={
            **sandbox.env(DEST_ACCOUNT),
            "TABLE_NAME": "zipped",
            "WRITE_MODE": "overwrite",
        },
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["response"] == {"batchItemFailures": []}
    assert set(result["loaded"]) <= {"consumer", *LAMBDA_RUNTIME}
    assert "consumer" in result["loaded"]
    for item in items:
        got = ddb.get_item(TableName="zipped", Key={"userid": item["userid"]}, ConsistentRead=True)
        assert items_equal(got["Item"], item)
