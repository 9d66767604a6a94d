"""A SQLite sink starting on an old store, SIGKILLed inside its migration."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_KILLED_MIGRATION = textwrap.dedent(
    """
    import asyncio, os, signal, sqlite3, sys
    from pathlib import Path
    from kubevents.export.sinks.sqlite import SQLiteSink

    connect = sqlite3.connect

    def killing_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        def trace(statement):
            # The last statement of the first step to run (schema 3 or 4): its rows and
            # columns are in place by now, nothing is committed.
            if statement.startswith("CREATE INDEX occurrences_workload_time"):
                os.kill(os.getpid(), signal.SIGKILL)
        conn.set_trace_callback(trace)
        return conn

    sqlite3.connect = killing_connect
    asyncio.run(SQLiteSink(Path(sys.argv[1]), retention_days=None).start())
    """
)


def kill_during_migration(path: Path) -> int:
    """Start a sink on ``path`` in a child killed mid-migration; the child's return code."""
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_MIGRATION, str(path)], timeout=60, check=False
    )
    return child.returncode
