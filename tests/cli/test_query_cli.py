"""``kubevents query`` and ``kubevents stats`` on real stores, in-process and as the real CLI."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click
import pytest
from click.testing import CliRunner, Result

from export.factories import make_occurrence, write_store
from kubevents.cli import main
from kubevents.cli._query import parse_when, query
from kubevents.cli._stats import stats
from kubevents.export import Occurrence
from kubevents.export._document import encode_lines
from kubevents.export.sinks.sqlite import SQLiteSink

KUBEVENTS = Path(sys.executable).parent / "kubevents"


def history(now: datetime) -> list[Occurrence]:
    """In time order; every age is >= 10 min, where kubectl's age format counts whole minutes,
    so the expected tables do not depend on how long a test takes."""

    def ago(minutes: float) -> datetime:
        return now - timedelta(minutes=minutes)

    return [
        make_occurrence(count=1, first=ago(180)),  # shop pod/web-0 BackOff Warning
        make_occurrence(count=2, first=ago(180), last=ago(50)),
        make_occurrence(
            kind="Deployment", object_name="web", reason="ScalingReplicaSet", type="Normal",
            message="Scaled up replica set web-5d4 to 3", component="deployment-controller",
            first=ago(31), last=ago(30), count=2, series=True,
        ),
        make_occurrence(
            namespace="kube-system", kind="Node", object_name="node-1", object_namespace="",
            reason="NodeNotReady", message="Node node-1 status is now: NodeNotReady\nline 2",
            component="node-controller", first=ago(12), cluster="prod",
        ),
    ]  # fmt: skip


# The export document's keys, in order: the JSON Lines schema of `query -o json`.
KEYS = [
    "id", "uid", "count", "time", "cluster", "namespace", "name", "involvedObject", "type",
    "reason", "message", "source", "reportingController", "reportingInstance", "action",
    "firstTimestamp", "lastTimestamp", "eventTime", "resourceVersion", "event",
]  # fmt: skip


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def hist(now: datetime) -> list[Occurrence]:
    return history(now)


@pytest.fixture
def db(tmp_path: Path, hist: list[Occurrence]) -> Path:
    path = tmp_path / "kubevents.db"
    write_store(path, hist)
    return path


def run(db: Path | str, *args: str, command: Any = query, **env: str) -> Result:
    return CliRunner().invoke(command, ["--db", str(db), *args], env=env or None)


def ids_of(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


def test_table_like_kubectl_events(db: Path) -> None:
    result = run(db)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "NAMESPACE", "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE",
    ]  # fmt: skip
    assert [r.split()[:6] for r in rows] == [
        ["shop", "3h", "Warning", "BackOff", "pod/web-0", "1"],
        ["shop", "50m", "Warning", "BackOff", "pod/web-0", "2"],
        ["shop", "30m", "Normal", "ScalingReplicaSet", "deployment/web", "2"],
        ["kube-system", "12m", "Warning", "NodeNotReady", "node/node-1", "1"],
    ]
    assert rows[3].endswith("NodeNotReady line 2")  # one line per event
    # Columns line up: every row starts its MESSAGE where the header does.
    at = header.index("MESSAGE")
    assert all(r[at - 3 : at] == "   " and r[at] != " " for r in rows)

    namespaced = run(db, "-n", "shop").stdout.splitlines()
    assert namespaced[0].split()[:2] == ["LAST", "SEEN"] and len(namespaced) == 4


def test_wide_adds_source_first_seen_cluster_and_id(db: Path, hist: list[Occurrence]) -> None:
    result = run(db, "-o", "wide", "-n", "shop", "--reason", "BackOff")
    header, *rows = result.stdout.splitlines()
    for column in ("SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "CLUSTER", "ID", "MESSAGE"):
        assert column in header
    assert len(rows) == 2 and "kubelet, node-1" in rows[1] and hist[1].id in rows[1]
    assert rows[1].split("   ")[0] == "50m" and "3h" in rows[1]  # last seen, first seen


def test_json_lines_are_the_export_document(
    db: Path, hist: list[Occurrence], now: datetime
) -> None:
    result = run(db, "-o", "json")
    assert result.exit_code == 0, result.output
    # Byte for byte what the JSON Lines sink writes for the same occurrences.
    assert result.stdout_bytes == encode_lines(hist)
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(d) for d in docs[:2]] == [KEYS, KEYS]
    assert list(docs[2]) == [*KEYS[:-2], "series", *KEYS[-2:]]  # series only when present
    node = docs[3]
    assert node["involvedObject"] == {
        "kind": "Node", "name": "node-1", "uid": hist[3].event.involved_object.uid,
        "apiVersion": "v1",
    }  # fmt: skip
    assert node["source"] == {"component": "node-controller", "host": "node-1"}
    when = (now - timedelta(minutes=12)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert (node["cluster"], node["time"]) == ("prod", when)
    assert json.dumps(node["event"], separators=(",", ":")).encode() == hist[3].raw
    assert run(db, "-o", "json").stdout_bytes == result.stdout_bytes  # stable


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-n", "kube-system"], [3]),
        (["-A"], [0, 1, 2, 3]),
        (["--for", "pod/web-0"], [0, 1]),
        (["--for", "deploy/web"], [2]),
        (["--for", "deployments.apps/web"], [2]),
        (["--kind", "no"], [3]),
        (["--name", "web"], [2]),
        (["--reason", "backoff"], [0, 1]),
        (["--type", "warning"], [0, 1, 3]),
        (["--source", "deployment-controller"], [2]),
        (["--cluster", "prod"], [3]),
        (["--grep", "REPLICA set"], [2]),
        (["--since", "1h"], [1, 2, 3]),
        (["--since", "40m"], [2, 3]),
        (["--since", "2h59m"], [1, 2, 3]),
        (["--since", "20m"], [3]),
        (["--since", "1d", "--until", "20m"], [0, 1, 2]),
        (["--until", "AGO30"], [0, 1]),  # exclusive: the 30-minute-old one is not before it
        (["--since", "AGO30"], [2, 3]),
        (["--limit", "2"], [2, 3]),
        (["--limit", "1", "-n", "shop", "--type", "Warning"], [1]),
        (["-n", "nowhere"], []),
    ],
)
def test_filters(
    db: Path, hist: list[Occurrence], now: datetime, args: list[str], expected: list[int]
) -> None:
    thirty = (now - timedelta(minutes=30)).isoformat()  # RFC 3339 with +00:00
    args = [thirty if a == "AGO30" else a for a in args]
    assert ids_of(run(db, "-o", "json", *args)) == [hist[i].id for i in expected]


def test_nothing_found_says_so(db: Path) -> None:
    result = run(db, "-n", "nowhere")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        "No events found in namespace nowhere.\n",
    )


def test_db_from_the_environment(db: Path, hist: list[Occurrence]) -> None:
    result = CliRunner().invoke(query, ["-o", "json"], env={"KUBEVENTS_DB": str(db)})
    assert ids_of(result) == [o.id for o in hist]


def test_bad_input_exits_2_with_a_clear_message(db: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE t (x)")
    for target, args, words in [
        (db, ["--since", "yesterday"], "neither a duration"),
        (db, ["--since", "5"], "neither a duration"),
        (db, ["--until", "2024-05-01T12:00:00"], "neither a duration"),  # no zone
        (db, ["--for", "web-0"], "expected KIND/NAME"),
        (db, ["--for", "pod/web-0", "--name", "x"], "drop --kind/--name"),
        (db, ["-n", "a", "-A"], "not both"),
        (db, ["--limit", "0"], "--limit"),
        (db, ["--type", "Fatal"], "--type"),
        (db, ["-o", "yaml"], "--output"),
        (tmp_path / "missing.db", [], "no kubevents store at"),
        (text, [], "not a SQLite database"),
        (foreign, [], "not a kubevents store"),
    ]:
        result = run(target, *args)
        assert (result.exit_code, words in result.output) == (2, True), (args, result.output)
    assert run(tmp_path / "missing.db", command=stats).exit_code == 2


def test_parse_when() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_when("90s", now) == now - timedelta(seconds=90)
    assert parse_when("1h30m", now) == now - timedelta(minutes=90)
    assert parse_when("2d", now) == now - timedelta(days=2)
    assert parse_when("1w", now) == now - timedelta(days=7)
    assert parse_when("500ms", now) == now - timedelta(milliseconds=500)
    assert parse_when("2024-04-30", now) == datetime(2024, 4, 30, tzinfo=UTC)
    assert parse_when("2024-05-01T14:00:00+02:00", now) == now
    assert parse_when("2024-05-01T12:00:00.5Z", now) == now + timedelta(milliseconds=500)
    for bad in ("", "1x", "-5m", "1h 30m", "12:00", "2024-13-01"):
        with pytest.raises(ValueError, match="neither"):
            parse_when(bad, now)
    with pytest.raises(ValueError, match="too far back"):
        parse_when("99999999999d", now)


def test_stats(db: Path) -> None:
    result = run(db, "--top", "1", command=stats)
    assert result.exit_code == 0, result.output
    summary, reasons, objects, namespaces = result.stdout.strip().split("\n\n")
    assert "Occurrences:  4 (3 Warning)" in summary
    assert [r.split() for r in reasons.splitlines()] == [
        ["REASON", "COUNT", "WARNINGS"], ["BackOff", "2", "2"],
    ]  # fmt: skip
    assert objects.splitlines()[1].split() == ["shop/pod/web-0", "2", "2"]
    assert namespaces.splitlines()[1].split() == ["shop", "3", "2"]

    doc = json.loads(run(db, "--since", "1h", "-o", "json", command=stats).stdout)
    assert list(doc) == [
        "windowStart", "windowEnd", "total", "warnings", "first", "last", "reasons", "objects",
        "namespaces",
    ]  # fmt: skip
    assert (doc["total"], doc["warnings"], doc["windowEnd"]) == (3, 2, None)
    assert [r["reason"] for r in doc["reasons"]] == ["BackOff", "NodeNotReady", "ScalingReplicaSet"]
    # Ties by kind, namespace, name.
    assert [(o["kind"], o["name"]) for o in doc["objects"]] == [
        ("Deployment", "web"), ("Node", "node-1"), ("Pod", "web-0"),
    ]  # fmt: skip
    assert doc["objects"][2] == {
        "kind": "Pod", "namespace": "shop", "name": "web-0", "count": 1, "warnings": 1,
    }  # fmt: skip


def test_registered_in_the_kubevents_group() -> None:
    ctx = click.Context(main)
    assert main.get_command(ctx, "query") is query and main.get_command(ctx, "stats") is stats
    assert {"query", "stats"} <= set(main.list_commands(ctx))


def test_query_reads_while_a_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    write_store(path, [])
    batches = [[make_occurrence(object_name=f"p{b}-{i}") for i in range(100)] for b in range(30)]
    failure: list[BaseException] = []

    async def write_all() -> None:  # one exporter-like sink, batch after batch
        sink = SQLiteSink(path, retention_days=None)
        await sink.start()
        try:
            for batch in batches:
                await sink.write(batch)
        finally:
            await sink.close()

    def writer() -> None:
        try:
            asyncio.run(write_all())  # its own loop, in its own thread
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[int] = []
    while True:
        writing = thread.is_alive()
        ids = ids_of(run(path, "-o", "json"))
        assert len(ids) == len(set(ids))
        assert len(ids) % 100 == 0  # only whole batches: each is one transaction
        assert not seen or len(ids) >= seen[-1]
        seen.append(len(ids))
        if not writing:
            break
    thread.join()
    assert failure == []
    assert seen[-1] == 3_000 and len(seen) > 1


def kubevents(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBEVENTS), *args], capture_output=True, text=True, timeout=60, check=False, **kwargs
    )


def test_the_real_console_script(db: Path, hist: list[Occurrence]) -> None:
    result = kubevents("query", "--db", str(db), "-o", "json", "--since", "1h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == encode_lines(hist[1:])
    bad = kubevents("query", "--db", str(db), "--since", "soon")
    assert bad.returncode == 2 and "Invalid value for '--since'" in bad.stderr
    missing = kubevents("query", env={**os.environ, "KUBEVENTS_DB": str(db.with_name("x.db"))})
    assert missing.returncode == 2 and "no kubevents store at" in missing.stderr
    assert "all namespaces are shown by default" in kubevents("query", "--help").stdout
    assert kubevents("stats", "--db", str(db)).returncode == 0


def read_lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_follow_prints_new_rows_until_ctrl_c(db: Path, hist: list[Occurrence]) -> None:
    proc = subprocess.Popen(
        [
            str(KUBEVENTS),
            "query",
            "--db",
            str(db),
            "-o",
            "json",
            "-f",
            "-n",
            "shop",
            "--poll-interval",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it: an ignored or blocked SIGINT is inherited across
        # exec, and the full suite's process can be in that state when this test starts.
        preexec_fn=_default_sigint,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, out), daemon=True).start()
    try:
        backlog = [json.loads(out.get(timeout=30))["id"] for _ in range(3)]
        assert backlog == [o.id for o in hist[:3]]
        # Arrival order, not time order: a backfill of old events shows up as it arrives.
        new = [make_occurrence(object_name=f"n{i}", first=hist[0].time) for i in range(3)]
        other = make_occurrence(namespace="elsewhere", object_name="x")
        write_store(db, [new[0], other])
        write_store(db, new[1:])
        assert [json.loads(out.get(timeout=30))["id"] for _ in range(3)] == [o.id for o in new]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert proc.stderr.read() == ""
    assert out.empty()  # the other namespace's row never came
