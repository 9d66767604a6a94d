"""The wheel users install: what it holds, and that its command, exporter and recorder work.

Built from a copy of this checkout and installed with its dependencies into a fresh venv (no
editable install, no test environment), as ``pip install kubevents-*.whl`` would.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from export.factories import make_occurrence, write_store
from kubevents_testenv import LocalCluster
from support import eventually

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {"emit", "export", "query", "replay", "stats", "ui"}

RECORD = """
import sys
from kubevents.model import EventSource
from kubevents.record import EventBroadcaster, FakeRecorder, KubeEventSink

kubeconfig, namespace = sys.argv[1:]
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "wheel-0", "namespace": namespace, "uid": "0b1c"}}
fake = FakeRecorder()
fake.eventf(pod, "Normal", "Fake", "from %s", "the wheel")
print(fake.events.get_nowait())
broadcaster = EventBroadcaster()
broadcaster.start_recording_to_sink(KubeEventSink.from_kubeconfig(kubeconfig))
recorder = broadcaster.new_recorder(EventSource(component="wheel-test"))
recorder.event(pod, "Warning", "FromTheWheel", "recorded by the installed wheel")
recorder.event(pod, "Warning", "FromTheWheel", "recorded by the installed wheel")
report = broadcaster.shutdown(timeout=30)
print(report.delivered, report.dropped)
"""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            capture_output=True, text=True, cwd=cwd or self.venv, timeout=120,
        )  # fmt: skip

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                [str(self.venv / "bin" / args[0]), *args[1:]],
                cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy, so that the build's egg-info and build/ stay out of the checkout.
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "src" / "kubevents", source / "src" / "kubevents",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp), str(source)], check=True)
    (wheel,) = tmp.glob("kubevents-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--no-compile", str(wheel)],
        check=True,
    )
    return Installed(wheel, venv)


def test_the_wheel_holds_kubevents_and_no_test_environment(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = wheel.read(entry_points).decode()
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"kubevents"}
    assert [n for n in names if "testenv" in n or "workload" in n] == []
    assert "kubevents/record/__init__.py" in names
    assert "kubevents/py.typed" in names
    assert {"kubevents/cli/ui/static/ui.js", "kubevents/cli/ui/static/ui.css"} <= set(names)
    # The command, and the pytest plugin (kubevents.testing), nothing else.
    declared = configparser.ConfigParser()
    declared.read_string(scripts)
    assert {section: dict(declared[section]) for section in declared.sections()} == {
        "console_scripts": {"kubevents": "kubevents.cli:main"},
        "pytest11": {"kubevents": "kubevents.testing.pytest_plugin"},
    }
    found = installed.run("python", "-c", "import kubevents_testenv")
    assert "No module named 'kubevents_testenv'" in found.stderr
    # Not a dependency: kubevents reads kubeconfigs and talks to the API server itself, so the
    # exporter and recorder tests below run without it.
    found = installed.run("python", "-c", "import kubernetes")
    assert "No module named 'kubernetes'" in found.stderr


def test_help_lists_only_the_commands_that_work_from_the_wheel(installed: Installed) -> None:
    shown = installed.run("kubevents", "--help")
    assert shown.returncode == 0, shown.stderr
    listed = re.findall(r"^  (\S+)\s", shown.stdout.split("Commands:")[1], re.MULTILINE)
    assert set(listed) == COMMANDS
    for command in listed:
        helped = installed.run("kubevents", command, "--help")
        assert helped.returncode == 0, helped.stderr
        assert helped.stdout.startswith(f"Usage: kubevents {command} [OPTIONS]")


def test_the_ui_serves_its_pages_and_files_from_the_wheel(
    installed: Installed, tmp_path: Path
) -> None:
    db = tmp_path / "kubevents.db"
    write_store(db, [make_occurrence(message="served by the wheel")])
    server = subprocess.Popen(
        [str(installed.venv / "bin" / "kubevents"), "ui", "--db", str(db), "--listen",
         "127.0.0.1:0"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        started = server.stderr.readline()
        match = re.search(r"http://\S+/", started)
        assert match is not None, started
        with urllib.request.urlopen(match[0], timeout=30) as page:
            assert "served by the wheel" in page.read().decode()
        for name in ("ui.js", "ui.css"):
            with urllib.request.urlopen(f"{match[0]}static/{name}", timeout=30) as static:
                assert static.status == 200
                assert len(static.read()) > 500
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.cluster
async def test_exporter_recorder_and_query_run_from_the_wheel(
    installed: Installed, local_cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = str(local_cluster.kubeconfig)
    db, log = tmp_path / "kubevents.db", tmp_path / "export.log"
    exporter = installed.start(
        "kubevents", "export", "--kubeconfig", kubeconfig, "-n", namespace, "--db", str(db),
        "--no-listen", "--cluster-name", "wheel", "--log-level", "info", log=log,
    )  # fmt: skip
    stored: list[dict[str, object]] = []

    def both_stored() -> bool:
        if not db.exists():
            return False
        queried = installed.run("kubevents", "query", "--db", str(db), "-o", "json")
        stored[:] = [json.loads(line) for line in queried.stdout.splitlines()]
        return len(stored) == 2

    try:
        # Recorded once the watch is up, so that the exporter sees both writes: the create
        # (count 1) and the correlator's patch (count 2).
        await eventually(lambda: "listed 0 events" in log.read_text(), "the list", within=60)
        recorded = installed.run("python", "-c", RECORD, kubeconfig, namespace)
        assert recorded.returncode == 0, recorded.stderr
        assert recorded.stdout.splitlines() == ["Normal Fake from the wheel", "2 0"]
        await eventually(both_stored, "both occurrences in the store", within=60, interval=0.5)
    finally:
        exporter.send_signal(signal.SIGTERM)
        exited = exporter.wait(timeout=60)
    assert exited == 0, log.read_text()
    assert [(o["reason"], o["count"], o["cluster"]) for o in stored] == [
        ("FromTheWheel", 1, "wheel"),
        ("FromTheWheel", 2, "wheel"),
    ]
