"""The CDNOW order dashboard from your own code: the same run as `pw-duckdb-sink demo`.

    python examples/cdnow_dashboard.py            # live, 5 purchase days a second, port 3000
    python examples/cdnow_dashboard.py --once     # the whole log as fast as it goes, no dashboard

Stop it with Ctrl-C and start it again: it continues where it stopped, and the dashboard at
http://localhost:3000 shows the totals and charts so far right away. The figures land in
$PATHWAYVIZ_DATA_DIR/cdnow.duckdb (default ./data); see them with `pw-duckdb-sink inspect`.
"""

import sys

from pw_duckdb_sink.demo import DemoConfig, run_demo, stored_all_time


def main() -> None:
    once = "--once" in sys.argv
    config = DemoConfig(speed=None if once else 5.0, exit_at_end=once, dashboard=not once)
    result = run_demo(
        config,
        on_ready=lambda preloaded: print("\n".join(f"pre-filled {r}" for r in preloaded)),
        on_day=lambda index, total, day: print(f"\r{day} ({index + 1}/{total})", end=""),
    )
    figures = stored_all_time(config.database)
    print(f"\nthis run replayed {result.days_sent} of {result.days_total} days")
    if figures:
        print(f"all-time revenue ${figures['revenue']:,.2f} from {figures['orders']:,} orders "
              f"(average ${figures['avg_order_value']:.2f})")


if __name__ == "__main__":
    main()
