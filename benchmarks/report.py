"""Derived figures, targets, and the three renderings: rich table, markdown, PNG chart."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def _pct(values, q):
    return float(np.percentile(values, q) * 1000.0) if values else None  # ms


def p99_ms(commit_s):
    return _pct(commit_s, 99)


def _enrich(r: dict) -> dict:
    if r["status"] != "ok":
        return r
    r["rows_per_s"] = r["rows"] / r["seconds"] if r["seconds"] > 0 else None
    r["commit_p50_ms"] = _pct(r.get("commit_s"), 50)
    r["commit_p99_ms"] = _pct(r.get("commit_s"), 99)
    r["n_commits"] = len(r.get("commit_s") or [])
    return r


def _ratio(a, b):
    return a / b if a and b else None


def _throughput_ratio(rs: dict, name: str, base: str):
    """Throughput of `name` over that of `base`. Configurations run in rounds (run.py) are
    compared within each round, where the machine's load was the same for both, and the median
    of those ratios is kept; others by their single runs."""
    a, b = rs.get(name, {}), rs.get(base, {})
    paired = _paired_median(a.get("runs_s"), b.get("runs_s"), lambda x, y: y / x)
    return paired if paired is not None else _ratio(a.get("rows_per_s"), b.get("rows_per_s"))


def _paired_median(xs, ys, ratio):
    pairs = [(x, y) for x, y in zip(xs or [], ys or []) if x and y]
    return float(np.median([ratio(x, y) for x, y in pairs])) if len(pairs) > 1 else None


def build(results, *, scale_name, scale, machine, wall_s) -> dict:
    rs = {r["name"]: _enrich(r) for r in results}
    tp = {n: r.get("rows_per_s") for n, r in rs.items()}
    for r in rs.values():
        if r.get("group") == "main" and r.get("rows_per_s"):
            floor = "floor_upsert" if r.get("pipeline") == "upsert" else "floor"
            r["ratio_to_floor"] = _throughput_ratio(rs, r["name"], floor)
            r["floor"] = floor
    for r in rs.values():
        if r.get("group") == "minibatch" and r.get("target") == "sink" and r.get("rows_per_s"):
            r["ratio_to_floor"] = _ratio(r["rows_per_s"], tp.get(f"mb_floor_{r['batch']}"))
    keys = [r for r in rs.values() if r.get("group") == "table"]
    empty = next((r for r in keys if r["keys"] == 0), None)
    full = max(keys, key=lambda r: r["keys"]) if keys else None
    p99 = lambda r: r.get("commit_p99_ms") if r else None  # noqa: E731
    # Like throughput: p99s compared within each round, then the median of those ratios.
    p99_ratio = (_paired_median(full.get("runs_commit_p99_ms"), empty.get("runs_commit_p99_ms"),
                                lambda x, y: x / y) if full and empty else None)
    rss = lambda n: rs.get(n, {}).get("peak_rss_mb")  # noqa: E731
    targets = [
        _target("stream >= 0.9x floor", _throughput_ratio(rs, "sink_stream", "floor"), ">=", 0.9),
        _target("stream >= 1.5x sqlite stream", _throughput_ratio(rs, "sink_stream", "sqlite_stream"), ">=", 1.5),
        _target("snapshot >= 1.5x sqlite snapshot", _throughput_ratio(rs, "sink_snapshot", "sqlite_snapshot"), ">=", 1.5,
                detail=_bound_detail(_throughput_ratio(rs, "null_upsert", "sqlite_snapshot"))),
        _target("stream >= 100x per-row INSERT", _throughput_ratio(rs, "sink_stream", "per_row"), ">=", 100),
        _target(f"p99 commit, {full['keys'] if full else '?':,} keys on disk <= 2x empty table",
                p99_ratio if p99_ratio is not None else _ratio(p99(full), p99(empty)), "<=", 2.0,
                detail=f"{p99(full) or 0:.1f} ms vs {p99(empty) or 0:.1f} ms" if full and empty else ""),
        _target("max_batch_size peak RSS <= 1.5x floor", _ratio(rss("mem_sink_mbs"), rss("mem_floor")), "<=", 1.5,
                detail=f"{rss('mem_sink_mbs') or 0:.0f} MB vs {rss('mem_floor') or 0:.0f} MB"),
    ]
    return {"scale": scale_name, "sizes": {k: (list(v.items()) if isinstance(v, dict) else v) for k, v in scale.items()},
            "machine": machine, "wall_s": wall_s, "results": list(rs.values()), "targets": targets}


def _bound_detail(bound):
    # The pipeline with no output at all bounds what any sink can reach on it.
    return "" if bound is None else f"no output at all: {bound:.2f}x sqlite"


def _target(name, value, op, threshold, detail=""):
    met = None if value is None else (value >= threshold if op == ">=" else value <= threshold)
    return {"name": name, "value": value, "op": op, "threshold": threshold, "met": met, "detail": detail}


def _f(v, fmt="{:,.0f}"):
    return "—" if v is None else fmt.format(v)


def _main_rows(doc):
    for r in doc["results"]:
        if r.get("group") != "main":
            continue
        if r["status"] != "ok":
            yield [r.get("label", r["name"]), "—", "—", "—", "—", "—", r.get("note", r["status"])]
            continue
        yield [r["label"], _f(r["rows_per_s"]), _f(r.get("ratio_to_floor"), "{:.2f}x"),
               _f(r["peak_rss_mb"]), _f(r.get("commit_p50_ms"), "{:.1f}"), _f(r.get("commit_p99_ms"), "{:.1f}"),
               f"{r['rows']:,} rows, {r['batches']} minibatches" + (", groupby" if r.get("pipeline") == "upsert" else "")
               + (f", median of {len(r['runs_s'])} runs" if len(r.get("runs_s") or []) > 1 else "")]


_MAIN_HEAD = ["configuration", "rows/s", "vs floor", "peak RSS MB", "commit p50 ms", "commit p99 ms", "input"]


def _sweep_rows(doc):
    rs = {r["name"]: r for r in doc["results"]}
    mb = [["minibatch rows", "floor rows/s", "sink rows/s", "sink/floor", "commit p50 ms", "commit p99 ms"]]
    for r in doc["results"]:
        if r.get("group") == "minibatch" and r.get("target") == "sink":
            fl = rs.get(f"mb_floor_{r['batch']}", {})
            mb.append([f"{r['batch']:,}", _f(fl.get("rows_per_s")), _f(r.get("rows_per_s")),
                       _f(r.get("ratio_to_floor"), "{:.2f}x"), _f(r.get("commit_p50_ms"), "{:.2f}"),
                       _f(r.get("commit_p99_ms"), "{:.2f}")])
    tb = [["keys already in table", "upsert rows/s", "commit p50 ms", "commit p99 ms", "peak RSS MB"]]
    for r in doc["results"]:
        if r.get("group") == "table":
            tb.append([f"{r['keys']:,}", _f(r.get("rows_per_s")), _f(r.get("commit_p50_ms"), "{:.2f}"),
                       _f(r.get("commit_p99_ms"), "{:.2f}"), _f(r.get("peak_rss_mb"))])
    mem = [["one minibatch of", "configuration", "peak RSS MB", "rows/s"]]
    for r in doc["results"]:
        if r.get("group") == "memory":
            mem.append([f"{r['rows']:,} rows", r["label"], _f(r.get("peak_rss_mb")), _f(r.get("rows_per_s"))])
    return {"throughput and commit latency vs minibatch size (python connector, commit every N rows)": mb,
            "snapshot upserts in minibatches of 1,000 (10% deletions) vs keys already on disk": tb,
            "peak memory for a single large minibatch": mem}


def _target_rows(doc):
    out = [["target", "measured", "status"]]
    for t in doc["targets"]:
        status = "n/a" if t["met"] is None else ("MET" if t["met"] else "MISSED")
        val = _f(t["value"], "{:.2f}x") + (f" ({t['detail']})" if t["detail"] else "")
        out.append([t["name"], val, status])
    return out


def print_table(doc) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(Console().width, 150))
    main = Table(title=f"pw_duckdb_sink benchmarks ({doc['scale']}, {doc['wall_s']:.0f}s)")
    for h in _MAIN_HEAD:
        main.add_column(h, justify="left" if h in ("configuration", "input") else "right")
    for row in _main_rows(doc):
        main.add_row(*row)
    con.print(main)
    for title, rows in _sweep_rows(doc).items():
        t = Table(title=title)
        for h in rows[0]:
            t.add_column(h, justify="right")
        for row in rows[1:]:
            t.add_row(*row)
        con.print(t)
    t = Table(title="targets")
    for h in _target_rows(doc)[0]:
        t.add_column(h)
    for row in _target_rows(doc)[1:]:
        style = {"MET": "green", "MISSED": "red"}.get(row[2], "yellow")
        t.add_row(row[0], row[1], f"[{style}]{row[2]}[/{style}]")
    con.print(t)


def _md(rows) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def markdown(doc) -> str:
    m = doc["machine"]
    parts = [
        f"Produced by `{doc.get('command', 'python -m benchmarks.run')}` in {doc['wall_s']:.0f} s on "
        f"{m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, "
        f"pathway {m['pathway']}, duckdb {m['duckdb']}.",
        _md([_MAIN_HEAD] + list(_main_rows(doc))),
        "**Targets**\n\n" + _md(_target_rows(doc)),
    ]
    for title, rows in _sweep_rows(doc).items():
        parts.append(f"**{title[0].upper() + title[1:]}**\n\n" + _md(rows))
    return "\n\n".join(parts) + "\n"


RESULTS_END = "<!-- /benchmark-results -->"


def update_readme(doc, readme: Path) -> None:
    text = readme.read_text()
    body = (
        "## Benchmarks\n\n"
        'The sink against what a user would write instead, on the same pipeline in one run: a native\n'
        '`pw.io.csv.read` (static mode, one minibatch per 10k-row file) over int / int / float / str / bool\n'
        'columns, each configuration in its own process. The fast main configurations (all but the\n'
        'per-row pattern) and the table-size sweep run five times, the groupby ones three, interleaved in\n'
        "rounds: the table shows each one's run of median time, and their ratios are medians of the ratios\n"
        'taken within a round (this machine drifts more between runs than two configurations differ); the\n'
        'other sweeps run once. Throughput is input rows per second of `pw.run`;\n'
        '"vs floor" divides by the `pw.io.subscribe` no-op on the same pipeline (the groupby floor for\n'
        "snapshot rows). Commit latency is what one minibatch's write costs: for the sink, its job on the\n"
        'committer thread from the Arrow build to `COMMIT` (inside `on_time_end` when the run restores\n'
        "from persistence); the sum of a minibatch's INSERTs for the per-row pattern; one Arrow INSERT +\n"
        'COMMIT per file for the ceiling; "—" where Pathway\'s native Rust sinks hide it. The snapshot\n'
        'pipeline is a groupby over ~100k keys filtered on the count, so every minibatch brings updates\n'
        'and deletions; the same pipeline into `pw.io.null.write` shows what it costs with no output.\n\n'
        "Reproduce: `pip install -e '.[bench]' && python -m benchmarks.run --update-readme` "
        "(`--quick` for a ~3 minute run).\n\n"
        "![benchmarks](benchmarks/results/latest.png)\n\n" + markdown(doc) + "\n"
    )
    # Only the generated part is replaced: hand-written notes after RESULTS_END survive.
    body += RESULTS_END + "\n"
    if RESULTS_END in text:
        pattern = r"(<!-- section: benchmarks -->\n).*?" + re.escape(RESULTS_END) + r"\n?()"
    else:
        pattern = r"(<!-- section: benchmarks -->\n).*?(<!-- /section: benchmarks -->)"
    new = re.sub(pattern, lambda mt: mt.group(1) + body + mt.group(2), text, flags=re.S)
    readme.write_text(new)


def chart(doc, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = [r for r in doc["results"] if r.get("status") == "ok"]
    fig, ax = plt.subplots(2, 2, figsize=(13, 9))
    main = [r for r in rs if r.get("group") == "main"]
    colors = ["tab:orange" if r["name"].startswith("sink") else "tab:gray" for r in main]
    a = ax[0][0]
    a.barh([r["label"] for r in main], [r["rows_per_s"] for r in main], color=colors)
    a.set_xscale("log")
    a.set_xlabel("rows/s (log)")
    a.invert_yaxis()
    a.set_title("throughput, same pipeline")
    a = ax[0][1]
    mb = sorted((r for r in rs if r.get("group") == "minibatch"), key=lambda r: r["batch"])
    for target, style in (("floor", "--"), ("sink", "-")):
        pts = [r for r in mb if r["target"] == target]
        a.plot([r["batch"] for r in pts], [r["rows_per_s"] for r in pts], style, marker="o", label=f"{target} rows/s")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("minibatch rows")
    a.set_ylabel("rows/s")
    a2 = a.twinx()
    sk = [r for r in mb if r["target"] == "sink" and r.get("commit_p99_ms") is not None]
    a2.plot([r["batch"] for r in sk], [r["commit_p99_ms"] for r in sk], ":", marker="s", color="tab:red", label="sink commit p99 ms")
    a2.set_yscale("log")
    a2.set_ylabel("commit p99 ms")
    a.legend(loc="upper left", fontsize=8)
    a2.legend(loc="lower right", fontsize=8)
    a.set_title("vs minibatch size")
    a = ax[1][0]
    tb = [r for r in rs if r.get("group") == "table" and r.get("commit_p99_ms") is not None]
    x = np.arange(len(tb))
    a.bar(x - 0.2, [r["commit_p50_ms"] for r in tb], 0.4, label="p50")
    a.bar(x + 0.2, [r["commit_p99_ms"] for r in tb], 0.4, label="p99")
    a.set_xticks(x, [f"{r['keys']:,}" for r in tb])
    a.set_xlabel("keys already in the snapshot table")
    a.set_ylabel("commit ms (1,000-row minibatch)")
    a.legend()
    a.set_title("snapshot commit latency vs table size")
    a = ax[1][1]
    mem = [r for r in rs if r.get("group") == "memory"]
    a.bar([r["label"] for r in mem], [r["peak_rss_mb"] for r in mem], color="tab:blue")
    a.set_ylabel("peak RSS MB")
    a.set_title(f"one minibatch of {mem[0]['rows']:,} rows" if mem else "memory")
    a.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"pw_duckdb_sink benchmarks ({doc['scale']}); {doc['machine']['nproc']} cores, {doc['machine']['cpu']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
