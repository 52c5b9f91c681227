"""The benchmark results as JSON (everything), markdown (the table the README includes) and a PNG
chart of target versus achieved RCU/s."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.consume_bench import ConcurrencyResult, VsRawResult
from benchmarks.consume_e2e import ConsumeEndToEndResult
from benchmarks.consumer_bench import ConsumerEnginesResult, EndToEndResult, HandlerResult
from benchmarks.cost import CostResult
from benchmarks.engines import EnginesResult
from benchmarks.profile import ProfileResult
from benchmarks.rate import RateRun
from benchmarks.startup import StartupResult
from benchmarks.throughput import RecipeComparison, ThroughputResult
from benchmarks.transform_cost import TransformCost
from benchmarks.verdict import VerdictResult


@dataclass(kw_only=True)
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    throughput: ThroughputResult | None = None
    recipe: RecipeComparison | None = None
    rate: list[RateRun] = field(default_factory=list)
    cost: CostResult | None = None
    handler: HandlerResult | None = None
    consumer_engines: ConsumerEnginesResult | None = None
    end_to_end: EndToEndResult | None = None
    consume_concurrency: ConcurrencyResult | None = None
    consume_vs_raw: VsRawResult | None = None
    consume_end_to_end: ConsumeEndToEndResult | None = None
    profile: ProfileResult | None = None
    engines: EnginesResult | None = None
    verdict: VerdictResult | None = None
    startup: StartupResult | None = None
    transform: TransformCost | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in dir(type(value)):  # derived numbers too: items_per_s, passed, ...
            if isinstance(getattr(type(value), name, None), property):
                data[name] = _plain(getattr(value, name))
        return data
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 6)
    return value


def to_json(results: Results) -> dict[str, Any]:
    plain = _plain(results)
    assert isinstance(plain, dict)
    return plain


def _verdict(ok: bool) -> str:
    return "pass" if ok else "**miss**"


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _pairs(figures: tuple[float, ...]) -> str:
    """Benchmark 4's 'median of 3 pairs, 81-123 µs; ', or nothing for a single pair."""
    if len(figures) < 2:
        return ""
    return f"median of {len(figures)} pairs, {min(figures):,.0f}-{max(figures):,.0f} µs; "


def _load(meta: dict[str, Any], when: str) -> str:
    load = meta.get(f"load_avg_at_{when}")
    return f"{load[0]:.1f}" if load else "?"


def _rounds(count: int) -> str:
    return "one round" if count == 1 else f"median of {count} rounds"


def _consume_rows(results: Results) -> list[tuple[str, str, str, str]]:
    """Benchmarks 9 and 10: `asynccopy consume` alone, and end to end with `copy --wait`."""
    rows: list[tuple[str, str, str, str]] = []
    if (k := results.consume_concurrency) is not None:
        levels = "; ".join(
            f"{c}: {_n(k.items_per_s(c))} items/s, {k.cpu_us_per_item(c):.0f} µs CPU/item"
            for c in k.concurrencies
        )
        rows.append(
            (
                f"9. `asynccopy consume` by --concurrency ({_n(k.items)} queued items of ~1 KB"
                f" in {_n(k.messages)} messages, the same each run)",
                f"{levels}; knee (smallest within {k.tolerance:.0%} of the best) at"
                f" **{k.knee}**; the default, {k.default_concurrency}, at"
                f" {k.default_share:.0%} of the best",
                "-",
                "-",
            )
        )
    if (v := results.consume_vs_raw) is not None:
        rows.append(
            (
                f"9. `asynccopy consume` (concurrency {v.consume_concurrency}) vs a minimal"
                f" aiobotocore consumer (concurrency {v.raw_concurrency}), {_n(v.items)} queued"
                f" items, {_rounds(len(v.ratios))}",
                f"consume {_n(v.median('consume', 'items_per_s'))} items/s"
                f" ({v.median('consume', 'cpu_us_per_item'):.0f} µs CPU/item, emulator"
                f" {v.median('consume', 'emulator_share'):.0%} of a core), raw"
                f" {_n(v.median('raw', 'items_per_s'))} items/s"
                f" ({v.median('raw', 'cpu_us_per_item'):.0f} µs CPU/item, emulator"
                f" {v.median('raw', 'emulator_share'):.0%}): **{v.ratio:.2f}x**",
                f">= {v.target_ratio:.2f}x",
                _verdict(v.passed),
            )
        )
    if (e := results.consume_end_to_end) is not None:
        rows.append(
            (
                f"10. end to end: `copy --wait` + `consume` vs raw producer + raw consumer,"
                f" running together ({_n(e.items)} items, producer launch to last write,"
                f" {_rounds(len(e.ratios))})",
                f"asynccopy {_n(e.median('asynccopy', 'items_per_s'))} items/s (emulator"
                f" {e.median('asynccopy', 'emulator_share'):.0%} of a core), raw pair"
                f" {_n(e.median('raw', 'items_per_s'))} items/s (emulator"
                f" {e.median('raw', 'emulator_share'):.0%}): **{e.ratio:.2f}x**",
                f">= {e.target_ratio:.2f}x",
                _verdict(e.passed),
            )
        )
    return rows


def to_markdown(results: Results) -> str:
    meta = results.meta
    rows: list[tuple[str, str, str, str]] = []
    if (t := results.throughput) is not None:
        rows.append(
            (
                f"1. throughput vs raw client ({_n(t.items)} items of ~1 KB, --rate max,"
                f" concurrency {t.concurrency}; median of {len(t.pair_ratios)} back-to-back"
                f" pairs of {_n(t.chunk_items)} items)",
                f"asynccopy {_n(t.copy_items_per_s)} items/s, raw client"
                f" {_n(t.raw_items_per_s)} items/s: **{t.ratio:.2f}x**; CPU per item"
                f" {t.cpu_per_item_ratio:.2f}x the raw client's",
                f">= {t.target_ratio:.2f}x",
                _verdict(t.passed),
            )
        )
    if (r := results.recipe) is not None and not r.copy_items_per_s:
        rows.append(
            (
                f"2. the original recipe ({_n(r.items)} items)",
                f"recipe {_n(r.recipe_items_per_s)} items/s; asynccopy not measured",
                "-",
                "-",
            )
        )
    elif r is not None:
        rows.append(
            (
                f"2. vs the original recipe (sequential get_item + send_message, {_n(r.items)}"
                " items)",
                f"recipe {_n(r.recipe_items_per_s)} items/s; asynccopy"
                f" {_n(r.copy_items_per_s)} items/s: **{r.ratio:.1f}x** faster",
                "-",
                "-",
            )
        )
    for run in results.rate:
        rows.append(
            (
                f"3. rate accuracy at {_n(run.target_rcu_per_s)} RCU/s ({_n(run.items)} items,"
                " metered by the fault proxy)",
                f"achieved {_n(run.achieved_rcu_per_s, 1)} RCU/s (**{run.ratio:.3f}x**);"
                f" worst second {_n(run.max_window_rcu, 1)} RCU (**{run.max_window_ratio:.2f}x**)",
                f"{1 - run.accuracy_limit:.2f}-{1 + run.accuracy_limit:.2f}x;"
                f" every second <= {run.window_limit:.2f}x",
                _verdict(run.accurate and run.within_windows),
            )
        )
    if (c := results.cost) is not None:
        rows.append(
            (
                f"4. producer CPU per item ({_n(c.runs[0].keys)} keys, all present)",
                f"**{c.cpu_us_per_item:,.0f} µs** per item ({_pairs(c.pair_cpu_us_per_item)}"
                f"start-up of {c.startup.cpu_s:.2f} s CPU subtracted);"
                f" {c.cpu_us_per_absent_key:,.1f} µs per absent key",
                "-",
                "-",
            )
        )
        sizes = " / ".join(_n(run.keys) for run in c.runs)
        rss = " / ".join(f"{run.max_rss_mib:.0f}" for run in c.runs)
        rows.append(
            (
                f"4. producer peak memory for {sizes} keys",
                f"{rss} MiB: **{c.rss_growth:.2f}x** smallest to largest",
                f"<= {c.rss_limit:.1f}x",
                _verdict(c.flat),
            )
        )
    if (v := results.verdict) is not None:
        recommended = (
            "no recommendation"
            if v.recommended_rcu_per_s is None
            else f"--rate {_n(v.recommended_rcu_per_s)}"
        )
        rows.append(
            (
                f"6. `asynccopy bench` on the sandbox ({_n(v.items)} keys, steps to"
                f" {_n(v.bench_base_rcu_per_s)} RCU/s, concurrency {v.concurrency}) beside"
                " `copy --rate max` of the same keys",
                f"bench: limit **{v.limit}**, {recommended}; copy read"
                f" {_n(v.copy_rcu_per_s)} RCU/s: **{v.ratio:.2f}x**",
                f">= {v.target_ratio:.2f}x",
                _verdict(v.passed),
            )
        )
    if (h := results.handler) is not None:
        rows.append(
            (
                f"5. consumer handler, in-process ({h.messages_per_invocation} messages of"
                f" {h.items_per_message} items per call, {_n(h.items)} items)",
                f"**{_n(h.items_per_s)} items/s** written",
                "-",
                "-" if not h.messages_failed else f"{h.messages_failed} messages failed",
            )
        )
    if (ce := results.consumer_engines) is not None:
        for run in ce.runs:
            rows.append(
                (
                    f"5. consumer client CPU per written item, {run.engine} engine, {run.mode}"
                    f" ({_n(run.warm_items)} items after the cold start)",
                    f"**{run.cpu_us_per_item:.0f} µs/item**; on Lambda at 512 MB (0.3 vCPU):"
                    f" {_n(run.lambda_items_per_s)} items/s per instance,"
                    f" {run.lambda_gb_s_per_million_items:.0f} GB-s per million items",
                    "-",
                    "-",
                )
            )
        rows.append(
            (
                "5. consumer fast engine's CPU per item against botocore's (overwrite;"
                f" skip-existing {ce.share('skip-existing'):.2f}x)",
                f"**{ce.overwrite_share:.2f}x**",
                f"<= {ce.target_share:.2f}x",
                _verdict(ce.passed),
            )
        )
    if (e := results.end_to_end) is not None:
        rows.append(
            (
                f"5. end to end with the sandbox's Lambda ({_n(e.items)} items)",
                f"**{_n(e.items_per_s)} items/s** first read to last write"
                f" ({e.first_read_to_last_write_s:.1f} s; the copy's own rate in that run,"
                f" beside the Lambda workers: {_n(e.copy_items_per_s)} items/s)",
                "-",
                "-",
            )
        )
    rows += _consume_rows(results)
    if (s := results.startup) is not None:
        for timing in s.timings:
            rows.append(
                (
                    f"7. start-up: `{timing.name}`, process start to exit (best of {s.runs})",
                    f"**{timing.best_s:.2f} s** (median {timing.median_s:.2f} s;"
                    f" CPU {timing.best_cpu_s:.2f} s)",
                    f"<= {timing.target_s:g} s",
                    _verdict(timing.passed),
                )
            )
    if (tc := results.transform) is not None:
        rows.append(
            (
                f"8. `copy --transform` with an identity function ({_n(tc.items)} items of"
                f" {_n(tc.item_bytes)} bytes, in process)",
                f"**+{tc.added_us_per_item:.1f} µs per item** ({tc.transform_us_per_item:.1f} µs"
                f" against {tc.plain_us_per_item:.1f} µs without)",
                "-",
                "-",
            )
        )
    lines = [
        f"Measured {meta.get('date', '?')} on {meta.get('machine', '?')}, against ministack"
        f" {meta.get('ministack', '?')} on 127.0.0.1; `make bench` took"
        f" {meta.get('total_s', 0) / 60:.1f} min; load average {_load(meta, 'start')} at the"
        f" start, {_load(meta, 'end')} at the end. Every ratio compares runs made in the same"
        " session.",
        "",
        "| benchmark | measured | target | result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c_} | {d} |" for a, b, c_, d in rows),
    ]
    if (p := results.profile) is not None:
        lines += [
            "",
            f"Where the producer's time goes (`asynccopy copy --rate max` of {_n(p.items)} items"
            f" under pyinstrument; shares of wall time, {p.idle_share:.0%} idle waiting on the"
            " emulator):",
            "",
            "| by package | share | by function (self time) | share |",
            "|---|---|---|---|",
        ]
        for i in range(min(10, max(len(p.top_packages), len(p.top_functions)))):
            pkg = p.top_packages[i] if i < len(p.top_packages) else None
            fn = p.top_functions[i] if i < len(p.top_functions) else None
            lines.append(
                f"| {pkg.name if pkg else ''} | {f'{pkg.share:.1%}' if pkg else ''} |"
                f" `{fn.name if fn else ''}` | {f'{fn.share:.1%}' if fn else ''} |"
            )
        ours = [s for s in p.top_asynccopy if not s.name.endswith("<module>")]
        if ours:
            lines += [
                "",
                "asynccopy's own functions, inclusive time: "
                + ", ".join(f"`{s.name}` {s.share:.0%}" for s in ours[:8]),
            ]
    if (g := results.engines) is not None:
        lines += [
            "",
            f"Engines (issue 8): both of asynccopy's engines and the minimal aiobotocore client,"
            f" {_n(g.items)} items from a key list at concurrency {g.concurrency}, in chunks of"
            f" {_n(g.chunk_items)} run back to back:",
            "",
            g.markdown(),
        ]
    notes = [f"- {name}: **failed**, {why}" for name, why in results.errors.items()]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def draw_rate_chart(runs: list[RateRun], path: Path) -> bool:
    """Target versus achieved RCU/s per second, one panel per target; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not runs:
        return False
    fig, axes = plt.subplots(len(runs), 1, figsize=(8, 2.6 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        edges = list(range(len(run.per_second_rcu) + 1))
        ax.stairs(run.per_second_rcu, edges, label="metered RCU in each second", color="tab:blue")
        ax.axhline(run.target_rcu_per_s, color="tab:green", linestyle="--", label="target")
        ax.axhline(
            run.target_rcu_per_s * run.window_limit,
            color="tab:red",
            linestyle=":",
            label=f"{run.window_limit:.0%} of target",
        )
        ax.axhline(
            run.achieved_rcu_per_s, color="tab:orange", linestyle="-.", label="achieved (run)"
        )
        ax.set_title(
            f"--rate {run.target_rcu_per_s:g}: achieved {run.achieved_rcu_per_s:,.1f} RCU/s"
            f" ({run.ratio:.3f}x), worst second {run.max_window_ratio:.2f}x",
            fontsize=10,
        )
        ax.set_ylabel("RCU/s")
        ax.set_ylim(0, max(max(run.per_second_rcu, default=0), run.target_rcu_per_s) * 1.3)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("seconds since the copy's first read")
    axes[0, 0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".png.tmp")
    fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def write_all(results: Results, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("latest.json", json.dumps(to_json(results), indent=2, ensure_ascii=False) + "\n"),
        ("latest.md", to_markdown(results)),
    ):
        path = out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    chart = out_dir / "rate.png"
    if draw_rate_chart(results.rate, chart):
        written.append(chart)
    return written
