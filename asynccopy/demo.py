"""`make demo`: the whole job on the local sandbox, step by step, failing loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from asynccopy.sandbox import SOURCE_ACCOUNT, account_env
from asynccopy.sandbox.server import DEFAULT_PORT

ITEMS = 10_000


def _run(step: str, argv: list[str], env: dict[str, str]) -> None:
    print(f"\n==> {step}\n$ asynccopy {' '.join(argv)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "asynccopy", *argv], env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"demo: step '{step}' failed with exit code {done.returncode}")


def main() -> None:
    port = int(os.environ.get("ASYNCCOPY_SANDBOX_PORT", DEFAULT_PORT))
    endpoint = f"http://127.0.0.1:{port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base["ASYNCCOPY_SANDBOX_PORT"] = str(port)
    source_env = {**base, **account_env(SOURCE_ACCOUNT, endpoint)}
    keys = Path(".sandbox") / "demo-keys.txt"
    _run("start the local sandbox", ["sandbox", "up"], base)
    _run(
        f"seed {ITEMS} items in the source account",
        ["sandbox", "seed", "--items", str(ITEMS), "--keys-out", str(keys)],
        source_env,
    )
    print("\ndemo: the copy, consumer and verify steps arrive with their issues.")
    print(f"demo: the sandbox is still running at {endpoint}; stop it with `make sandbox-down`.")


if __name__ == "__main__":
    main()
