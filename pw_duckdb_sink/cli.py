"""`pw-duckdb-sink`: the command line, each command a thin shell over one library call."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(stderr=True)


@click.group()
def main() -> None:
    """A license-free DuckDB sink for Pathway: the demo dashboard and database inspection."""


@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="PATHWAYVIZ_DATA_DIR", default="data", show_default=True,
              help="Folder for the DuckDB file and Pathway's persistence ($PATHWAYVIZ_DATA_DIR).")
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="DuckDB file to write  [default: <data-dir>/cdnow.duckdb]")
@click.option("--port", type=int, default=3000, show_default=True, help="Dashboard port.")
@click.option("--speed", type=float, default=5.0, show_default=True,
              help="Replay speed in purchase days per second (the log spans 546 days).")
@click.option("--once", is_flag=True,
              help="Replay the rest of the log as fast as possible, then exit.")
@click.option("--no-dashboard", is_flag=True, help="Do not serve the dashboard.")
@click.option("--reset", is_flag=True,
              help="Start over: delete the demo's database and persistence in the data folder.")
def demo(data_dir: Path, database: Path | None, port: int, speed: float, once: bool,
         no_dashboard: bool, reset: bool) -> None:
    """Replay the CDNOW order log into DuckDB and serve a live dashboard.

    Stop it any time (Ctrl-C) and run it again: it continues where it stopped, and the
    dashboard comes back with the totals and charts so far.
    """
    from .demo import DemoConfig, run_demo
    from .demo.app import DemoStartError

    logging.basicConfig(level=logging.WARNING)
    try:
        # --speed is checked even with --once (which replays at full speed): a bad value is
        # a mistake to report, not to ignore.
        config = DemoConfig(data_dir=data_dir, database=database, port=port, speed=speed,
                            dashboard=not no_dashboard, exit_at_end=once)
        if once:
            config = dataclasses.replace(config, speed=None)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if reset:
        _reset(config)

    progress = Progress(TextColumn("[bold]replaying CDNOW[/bold] {task.description}"),
                        BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                        TimeElapsedColumn(), console=console)
    task = progress.add_task("", total=None)

    def on_ready(preloaded: list) -> None:
        if config.dashboard:
            console.print(f"dashboard: [link]http://localhost:{config.port}[/link]")
        for report in preloaded:
            console.print(f"  pre-filled {report}")
        console.print(f"database: {config.database}  (inspect: pw-duckdb-sink inspect "
                      f"{config.database})")

    def on_day(index: int, total: int, day) -> None:
        progress.update(task, total=total, completed=index + 1, description=str(day))

    try:
        with progress:
            result = run_demo(config, on_day=on_day, on_ready=on_ready)
    except DemoStartError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.stopped:
        console.print(f"stopped after day {result.first_day + result.days_sent} of "
                      f"{result.days_total}; run the same command again to continue")
    elif result.days_sent == 0:
        console.print("the whole log was already replayed; use --reset to start over")
    else:
        console.print(f"replayed days {result.first_day + 1}..{result.first_day + result.days_sent}"
                      f" of {result.days_total}")


def _reset(config) -> None:
    for path in (config.database, Path(f"{config.database}.wal")):
        if path.exists():
            path.unlink()
    if config.persistence_dir.exists():
        shutil.rmtree(config.persistence_dir)
    console.print(f"reset: removed the demo's state in {config.data_dir}")


@main.command()
@click.argument("database", type=click.Path(dir_okay=False, path_type=Path))
def inspect(database: Path) -> None:
    """List the tables the sink wrote into DATABASE: kind, keys, rows, last commit."""
    from ._inspect import describe_tables

    try:
        infos = describe_tables(database)
    except (ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = Console() if sys.stdout.isatty() else Console(width=200)  # no wrapping in pipes
    if not infos:
        out.print(f"{database}: no tables written by pw-duckdb-sink")
        return
    table = Table(title=str(database))
    for column, justify in (("table", "left"), ("kind", "left"), ("key", "left"),
                            ("writer", "left"), ("rows", "right"), ("changes written", "right"),
                            ("last commit (UTC)", "left")):
        table.add_column(column, justify=justify)
    for info in infos:
        last = info.last_time_utc
        table.add_row(info.table_name, info.kind, ", ".join(info.primary_key or []) or "-",
                      info.writer_name or "-", f"{info.rows:,}", f"{info.rows_written:,}",
                      last.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if last else "-")
    out.print(table)


if __name__ == "__main__":
    sys.exit(main())
