"""The producer's profile: `asynccopy copy --rate max` under pyinstrument, summarised.

pyinstrument samples the main thread's stack every `interval_s` of wall time. Its saved session
is read back here and each sample's time is attributed four ways:

* idle: the event loop waiting in `epoll.poll` (the emulator is answering);
* by leaf function (self time), built-ins charged to the Python function that called them;
* by package of that leaf (botocore, aiohttp, json, consumer.wire, asynccopy.send, ...);
* inclusive time of asynccopy's own functions (each counted once per sample).

Shares are of the profiled wall time. The profiler itself slows the copy down, so only the
shares, not the rate, are reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import BenchSandbox, asynccopy_argv, copy_args, log, run_measured

_IDLE_LEAVES = frozenset({"select", "poll", "epoll", "kqueue"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Share:
    name: str
    share: float  # of the profiled wall time


@dataclass(frozen=True, kw_only=True, slots=True)
class ProfileResult:
    items: int
    wall_s: float
    idle_share: float
    top_functions: tuple[Share, ...]
    top_packages: tuple[Share, ...]
    top_asynccopy: tuple[Share, ...]


@dataclass(frozen=True, slots=True)
class _Frame:
    function: str
    path: str

    @classmethod
    def parse(cls, identifier: str) -> _Frame:
        parts = identifier.split("\x00")
        function = parts[0]
        path = parts[1] if len(parts) > 1 else ""
        return cls(function=function, path=path)

    @property
    def module(self) -> str:
        """A dotted module name for a file inside site-packages or the project, else the file."""
        path = self.path.replace("\\", "/")
        for marker in ("/site-packages/", "/work/main/", "/lib/python3.11/"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        else:
            project = str(Path(__file__).resolve().parents[1]).replace("\\", "/") + "/"
            path = path.removeprefix(project)
        return path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("asynccopy", "consumer") and len(parts) > 1:
        return ".".join(parts[:2])  # asynccopy.read, consumer.wire, ...
    return parts[0]


def summarise(
    session_file: Path, *, top: int = 10
) -> tuple[float, float, list[Share], list[Share], list[Share]]:
    """(wall s, idle share, top functions, top packages, top asynccopy functions)."""
    from pyinstrument.session import Session

    session = Session.load(str(session_file))
    wall = float(session.duration) or 1.0
    idle = 0.0
    functions: dict[str, float] = defaultdict(float)
    packages: dict[str, float] = defaultdict(float)
    ours: dict[str, float] = defaultdict(float)
    for stack, seconds in session.frame_records:
        frames = [_Frame.parse(i) for i in stack[1:]]  # stack[0] is the thread
        if not frames:
            continue
        leaf = frames[-1]
        if leaf.function.rsplit(".", 1)[-1] in _IDLE_LEAVES and (
            leaf.path == "<built-in>" or leaf.path.endswith("selectors.py")
        ):
            idle += seconds
            continue
        # A built-in's time belongs to the Python code that called it.
        owner = next((f for f in reversed(frames) if not f.path.startswith("<")), leaf)
        label = leaf.function if owner is leaf else f"{leaf.function} (in {owner.function})"
        functions[f"{owner.module}.{label}"] += seconds
        packages[_package(owner.module)] += seconds
        seen: set[str] = set()
        for frame in frames:
            module = frame.module
            if module.startswith(("asynccopy.", "consumer.")) and "cli" not in module:
                name = f"{module}.{frame.function}"
                if name not in seen:
                    seen.add(name)
                    ours[name] += seconds

    def shares(times: dict[str, float]) -> list[Share]:
        ranked = sorted(times.items(), key=lambda pair: pair[1], reverse=True)[:top]
        return [Share(name=n, share=t / wall) for n, t in ranked]

    return wall, idle / wall, shares(functions), shares(packages), shares(ours)


def run_profile(
    box: BenchSandbox,
    *,
    keys: Path,
    items: int,
    concurrency: int,
    work_dir: Path,
    interval_s: float = 0.002,
) -> ProfileResult:
    session_file = work_dir / "profile.pyisession"
    box.purge()
    argv = asynccopy_argv(
        *copy_args(keys=keys, queue_url=box.queue_url, rate="max", concurrency=concurrency)
    )
    # python -m asynccopy ...  ->  python -m pyinstrument ... -m asynccopy ...
    profiled = [
        argv[0],
        "-m",
        "pyinstrument",
        "--interval",
        str(interval_s),
        "-r",
        "pyisession",
        "-o",
        str(session_file),
        *argv[1:],
    ]
    run_measured(profiled, env=box.env(), timeout_s=900).check()
    box.purge()
    wall, idle, functions, packages, ours = summarise(session_file, top=12)
    log(
        "profile: "
        + ", ".join(f"{s.name} {s.share:.0%}" for s in packages[:5])
        + f"; idle {idle:.0%}"
    )
    return ProfileResult(
        items=items,
        wall_s=wall,
        idle_share=idle,
        top_functions=tuple(functions),
        top_packages=tuple(packages),
        top_asynccopy=tuple(ours),
    )
