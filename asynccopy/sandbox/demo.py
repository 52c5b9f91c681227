"""`make demo`: the whole job on the local sandbox, step by step, failing loudly.

1. start the sandbox (two accounts on one local AWS emulator)
2. seed 10,000 items of every DynamoDB type in the source account
3. deploy deploy/template.yaml in the destination account with CloudFormation: the queue, its
   dead-letter queue and the consumer Lambda (it prints the same deployment's AWS commands)
4. copy every key from the source account into the stack's queue, with live progress, and
   with `copy --wait` watch the write side until the Lambda has drained the queue
5. verify the destination table against the source, item by item

The sandbox keeps running afterwards so the tables can be explored; `make sandbox-down` stops it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import Final

from asynccopy.sandbox.deploy import STACK_NAME, stack_outputs
from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE, write_profiles
from asynccopy.sandbox.seed import TABLE_NAME
from asynccopy.sandbox.server import DEFAULT_PORT, ServerConfig

ITEMS: Final = 10_000
# 10,000 items of about 1 KB cost 0.5 RCU each with BatchGetItem (eventually consistent reads
# round each item up to 4 KB): 5,000 RCU, so 250 RCU/s copies them in about 20 s.
RATE_RCU_PER_S: Final = 250
DRAIN_TIMEOUT_S: Final = 300


class DemoFailed(Exception):
    pass


def _run(step: str, argv: list[str], env: dict[str, str]) -> None:
    print(f"\n==> {step}\n$ asynccopy {shlex.join(argv)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "asynccopy", *argv], env=env, check=False)
    if done.returncode != 0:
        raise DemoFailed(f"step '{step}' failed with exit code {done.returncode}")


def run_demo() -> None:
    port = int(os.environ.get("ASYNCCOPY_SANDBOX_PORT", DEFAULT_PORT))
    server = ServerConfig(port=port)
    endpoint = server.endpoint_url
    profiles = write_profiles(server.profiles_dir, endpoint_url=endpoint)
    # Every command runs as a named profile, the way it would against real accounts.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(profiles.env(), ASYNCCOPY_SANDBOX_PORT=str(port))
    keys = server.state_dir / "demo-keys.txt"

    _run("start the local sandbox", ["sandbox", "up"], env)
    _run(
        f"seed {ITEMS:,} items in the source account ({SOURCE_PROFILE})",
        ["sandbox", "seed", "--items", str(ITEMS), "--keys-out", str(keys)],
        env,
    )
    _run(
        f"deploy deploy/template.yaml with CloudFormation in the destination account"
        f" ({DEST_PROFILE})",
        ["sandbox", "deploy-consumer", "--stack-name", STACK_NAME],
        env,
    )
    outputs = stack_outputs(STACK_NAME, endpoint_url=endpoint)
    queue_url = outputs["QueueUrl"]
    # --wait: the copy then watches the queue until the Lambda has drained it, and fails
    # (exit 1) if the dead-letter queue grew or the drain took longer than the timeout.
    _run(
        f"copy every key at {RATE_RCU_PER_S} RCU/s into the stack's queue and wait until the"
        " consumer Lambda has drained it",
        [
            "copy",
            "--profile",
            SOURCE_PROFILE,
            "--table",
            TABLE_NAME,
            "--keys",
            str(keys),
            "--queue-url",
            queue_url,
            "--rate",
            str(RATE_RCU_PER_S),
            "--wait",
            "--wait-timeout",
            str(DRAIN_TIMEOUT_S),
        ],
        env,
    )
    _run(
        "verify the destination table against the source",
        [
            "verify",
            "--profile",
            SOURCE_PROFILE,
            "--dest-profile",
            DEST_PROFILE,
            "--table",
            TABLE_NAME,
            "--keys",
            str(keys),
            "--rate",
            "max",
        ],
        env,
    )
    print(
        f"\ndemo: done. The sandbox is still running at {endpoint}; explore it with"
        f" AWS_CONFIG_FILE={profiles.config} AWS_SHARED_CREDENTIALS_FILE={profiles.credentials}"
        f" and --profile {SOURCE_PROFILE} or {DEST_PROFILE}; stop it with `make sandbox-down`."
    )


def main() -> None:
    try:
        run_demo()
    except DemoFailed as failure:
        sys.exit(f"\ndemo: FAILED: {failure}")


if __name__ == "__main__":
    main()
