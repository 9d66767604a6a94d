"""``kubevents ui`` over plain HTTP: the filters match ``kubevents query``, and it is safe by
default (loopback only, security headers, clear errors, GET only)."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from kubevents.cli.ui import CSP
from kubevents.export.store import EventStore, QueryFilter

from .conftest import T0, UI, start_ui


def get(url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', page)]


@pytest.mark.parametrize(
    ("params", "flt"),
    [
        ("", QueryFilter()),
        ("namespace=shop", QueryFilter(namespace="shop")),
        ("for=po/web-2", QueryFilter(involved_kind="Pod", involved_name="web-2")),
        ("kind=deployments&name=web", QueryFilter(involved_kind="Deployment", involved_name="web")),
        ("reason=backoff&type=WARNING", QueryFilter(reason="BackOff", type="Warning")),
        ("source=node-controller", QueryFilter(source="node-controller")),
        ("grep=NODE-2", QueryFilter(text="node-2")),
        ("cluster=nope", QueryFilter(cluster="nope")),
        ("since=2024-05-01T10:00:00Z&until=2024-05-01T13:00:00%2B02:00",
         QueryFilter(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=2))),
    ],
)  # fmt: skip
def test_the_table_filters_as_query_does(ui: UI, params: str, flt: QueryFilter) -> None:
    status, _, page = get(f"{ui.url}/?{params}")
    assert status == 200
    with EventStore(ui.db) as store:
        expected = [o.seq for o in reversed(store.query(flt))]
    assert seqs(page) == expected
    assert f'<span id="total">{len(expected)}</span>' in page


def test_pages_and_sizes(ui: UI) -> None:
    _, _, first = get(f"{ui.url}/?size=5")
    assert len(seqs(first)) == 5
    older = re.search(r'<a class="older" href="([^"]+)"', first)
    assert older is not None
    _, _, second = get(ui.url + older[1].replace("&amp;", "&"))
    with EventStore(ui.db) as store:
        everything = [o.seq for o in reversed(store.query())]
    assert seqs(first) + seqs(second) == everything[:10]


def test_every_response_carries_the_security_headers(ui: UI) -> None:
    for path in ("/", "/top", "/object?kind=Pod&namespace=shop&name=web-2", "/static/ui.js",
                 "/timeline", "/nowhere", "/?type=Sometimes"):  # fmt: skip
        _, headers, _ = get(ui.url + path)
        assert headers["Content-Security-Policy"] == CSP, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP


def test_bad_filters_are_a_400_naming_the_parameter(ui: UI) -> None:
    for params, words in [
        ("type=Sometimes", "type: expected Normal or Warning"),
        ("since=yesterday-ish", "since: &#x27;yesterday-ish&#x27; is neither a duration"),
        ("for=pod", "for: expected KIND/NAME"),
        ("size=0", "size: expected 1 to 1000"),
        ("before=1;drop", "before: &#x27;1;drop&#x27; is not a page cursor"),
        ("grep=" + "x" * 1001, "grep: longer than 1000 characters"),
    ]:
        status, _, page = get(f"{ui.url}/?{params}")
        assert status == 400, params
        assert words in page, page


def test_only_loopback_host_names_are_answered(ui: UI) -> None:
    port = ui.url.rsplit(":", 1)[1]
    assert get(ui.url + "/", Host=f"localhost:{port}")[0] == 200
    # A page on another site that rebinds its name to 127.0.0.1 sends its own Host.
    status, _, page = get(ui.url + "/", Host=f"attacker.example:{port}")
    assert status == 421
    assert "Not this host" in page


def test_read_only_methods(ui: UI) -> None:
    request = urllib.request.Request(ui.url + "/", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=30)
    assert exc.value.code == 405


def ui_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubevents.cli", "ui", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_bad_command_lines_exit_2(tmp_path: Path) -> None:
    missing = ui_command("--db", str(tmp_path / "nothing.db"))
    assert missing.returncode == 2
    assert "no kubevents store at" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = ui_command("--db", str(tmp_path / "nothing.db"), "--listen", "8080")
    assert bad.returncode == 2
    assert "expected host:port" in bad.stderr


def test_a_wider_address_is_announced(ui: UI) -> None:
    proc, url, said = start_ui(ui.db, "--listen", "0.0.0.0:0")
    try:
        assert url.startswith("http://0.0.0.0:")
        status, _, _ = get(url.replace("0.0.0.0", "127.0.0.1") + "/", Host="kubevents.example")
        assert status == 200  # told to listen widely, it answers any name
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "not loopback: anyone who reaches it reads every stored Event" in said


def test_top_is_what_stats_returns(ui: UI) -> None:
    status, _, page = get(f"{ui.url}/top?namespace=default&since=2024-05-01T11:00:00Z")
    assert status == 200
    with EventStore(ui.db) as store:
        stats = store.stats(T0 + timedelta(hours=2), None, top=10, namespace="default")
    assert f"{stats.total} occurrences ({stats.warnings} Warning)" in page
    assert (stats.total, stats.warnings) == (2, 1)
    cells = re.findall(r"<tr><td>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td><td class='n'>(\d+)</td>", page)
    assert cells == [
        *((r.reason, str(r.count)) for r in stats.reasons),
        *((f"-/{o.kind.lower()}/{o.name}", str(o.count)) for o in stats.objects),
        *((n.namespace, str(n.count)) for n in stats.namespaces),
    ]
    assert 'name="reason"' not in page  # the form offers what stats narrows by, no more
