"""Whether the current ``pw.run`` restores from Pathway persistence.

A named writer's committed state may carry over only into a run that restores from persistence:
any other run is a new session, in which Pathway sends everything afresh. Pathway (pinned below
0.34) tells a data sink nothing about the run's persistence (``on_persisted_run`` exists for
input connectors only), so we look for it where it lives: ``pw.run`` builds a ``GraphRunner``
holding ``persistence_config`` and stays in its ``run_*`` method on some thread while the engine
calls the sinks. Revisit when Pathway gives sinks an official way.
"""

from __future__ import annotations

import sys


def run_restores_from_persistence() -> bool:
    """True if the running GraphRunner has a persistence config that replays the input.

    Falls back to True (keep the state: the exactly-once side) if no GraphRunner is found.
    """
    try:
        from pathway.internals.graph_runner import GraphRunner
    except ImportError:  # pragma: no cover - another Pathway layout
        return True
    for frame in list(sys._current_frames().values()):
        f = frame
        while f is not None:
            if "self" in f.f_code.co_varnames[:1]:
                runner = f.f_locals.get("self")
                if isinstance(runner, GraphRunner):
                    return _replays(getattr(runner, "persistence_config", None))
            f = f.f_back
    return True


def _replays(config) -> bool:
    if config is None:
        return False
    from pathway.engine import PersistenceMode

    # UDF caching persists no input: the next run sends everything again.
    return getattr(config, "persistence_mode", None) != PersistenceMode.UDF_CACHING
