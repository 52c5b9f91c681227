"""`python -m benchmarks.faultproxy`: the proxy as a process, every FaultConfig field a flag.

In (argv) -> out (a serving process until SIGTERM or SIGINT; exit code 1 if it cannot bind).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from dataclasses import fields

from benchmarks.faultproxy.config import FaultConfig
from benchmarks.faultproxy.protocol import JSONObject
from benchmarks.faultproxy.server import DEFAULT_POOL_SIZE, serve


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _split_pairs(values: Iterable[str], flag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        table, sep, units = value.rpartition("=")
        if not sep or not table:
            raise ValueError(f"{flag} takes [ACCOUNT/]TABLE=UNITS, got {value!r}")
        out[table] = float(units)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faultproxy",
        description="Fault-injection reverse proxy for the AWS sandbox.",
    )
    parser.add_argument("--upstream", required=True, help="upstream URL, e.g. the sandbox's")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument("--pool-size", type=int, default=DEFAULT_POOL_SIZE)
    for spec in fields(FaultConfig):
        kind = str(spec.type)
        helptext = spec.metadata.get("help", "")
        flag = _flag(spec.name)
        if kind == "bool":
            parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=helptext)
        elif kind.startswith(("frozenset", "Mapping")):
            parser.add_argument(
                flag, action="append", default=argparse.SUPPRESS, help=f"{helptext}; repeatable"
            )
        elif kind.startswith("int"):
            parser.add_argument(flag, type=int, default=argparse.SUPPRESS, help=helptext)
        else:
            parser.add_argument(flag, type=float, default=argparse.SUPPRESS, help=helptext)
    return parser


def config_from_args(args: argparse.Namespace) -> FaultConfig:
    kinds = {spec.name: str(spec.type) for spec in fields(FaultConfig)}
    changes: JSONObject = {}
    for name, kind in kinds.items():
        if not hasattr(args, name):
            continue
        value = getattr(args, name)
        if kind.startswith("frozenset"):
            value = frozenset(p.strip() for v in value for p in v.split(",") if p.strip())
        elif kind.startswith("Mapping"):
            value = _split_pairs(value, _flag(name))
        changes[name] = value
    return FaultConfig(**changes)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))

    def ready(url: str) -> None:
        print(f"faultproxy: listening on {url}, forwarding to {args.upstream}", flush=True)

    try:
        asyncio.run(
            serve(
                args.upstream,
                config,
                host=args.host,
                port=args.port,
                pool_size=args.pool_size,
                on_ready=ready,
            )
        )
    except OSError as exc:
        print(f"faultproxy: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print("faultproxy: stopped", flush=True)
    return 0
