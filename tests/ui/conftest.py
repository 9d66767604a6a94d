"""The web UI under test: the real ``kubevents ui`` process over a seeded store, and a real
headless Chromium (Debian's ``chromium`` + ``chromedriver``, installed by scripts/dev.sh).

Nothing is downloaded at run time: Selenium is given both binaries and told to stay offline.
A missing browser fails the tests (it does not skip them): a green run means a browser ran.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from export.factories import BASE_TIME, make_occurrence, write_store
from kubevents.export import Occurrence

SCREENSHOTS_ENV = "KUBEVENTS_SCREENSHOTS"
HOSTILE = "<script>alert(1)</script>"

# A morning of a small cluster, 09:00 to 12:00 UTC: a rollout, a crash-looping pod, a node
# going away and back, and one Event whose message is markup.
T0 = BASE_TIME.replace(hour=9)


def seeded_history() -> list[Occurrence]:
    hist: list[Occurrence] = []
    for i in range(6):  # a rollout at 09:05
        hist.append(make_occurrence(
            namespace="shop", kind="Deployment", object_name="web", reason="ScalingReplicaSet",
            type="Normal", message=f"Scaled up replica set web-7f9c to {i + 1}",
            component="deployment-controller", first=T0 + timedelta(minutes=5, seconds=i),
            name=f"web.scale{i}",
        ))  # fmt: skip
    for c in range(1, 13):  # pod/web-2 crash-loops from 10:00, one count bump every 5 minutes
        hist.append(make_occurrence(
            namespace="shop", object_name="web-2", reason="BackOff", count=c,
            message="Back-off restarting failed container app in pod web-2_shop",
            first=T0 + timedelta(hours=1), last=T0 + timedelta(hours=1, minutes=5 * (c - 1)),
        ))  # fmt: skip
    for i in range(4):  # pulls for the crash-looping pod
        hist.append(make_occurrence(
            namespace="shop", object_name="web-2", reason="Pulled", type="Normal",
            message='Container image "shop/web:1.4" already present on machine',
            first=T0 + timedelta(hours=1, minutes=15 * i), name=f"web-2.pulled{i}",
        ))  # fmt: skip
    hist.append(make_occurrence(
        namespace="default", kind="Node", object_name="node-2", object_namespace="",
        reason="NodeNotReady", message="Node node-2 status is now: NodeNotReady",
        component="node-controller", first=T0 + timedelta(hours=2, minutes=10),
    ))  # fmt: skip
    hist.append(make_occurrence(
        namespace="default", kind="Node", object_name="node-2", object_namespace="",
        reason="NodeReady", type="Normal", message="Node node-2 status is now: NodeReady",
        component="kubelet", first=T0 + timedelta(hours=2, minutes=25),
    ))  # fmt: skip
    hist.append(make_occurrence(
        namespace="billing", object_name="api-0", reason="Failed", message=HOSTILE,
        first=T0 + timedelta(hours=2, minutes=40),
    ))  # fmt: skip
    return hist


@dataclass
class UI:
    url: str
    db: Path
    history: list[Occurrence]


def start_ui(db: Path, *args: str) -> tuple[subprocess.Popen[str], str, str]:
    """``kubevents ui`` on a free loopback port (``args`` can override it): its process, the
    URL it printed once it listened, and what it printed before."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubevents.cli", "ui", "--db", str(db),
         "--listen", "127.0.0.1:0", *args],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    before = ""
    for line in proc.stderr:
        match = re.search(r"http://\S+/", line)
        if match is not None:
            return proc, match[0].rstrip("/"), before
        before += line
    proc.kill()
    raise AssertionError(f"kubevents ui did not start: {before}")


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    db = tmp_path_factory.mktemp("ui") / "kubevents.db"
    history = seeded_history()
    write_store(db, history)
    proc, url, _ = start_ui(db, "--poll-interval", "0.2")
    try:
        yield UI(url=url, db=db, history=history)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail(
            "the web UI tests need Debian's chromium and chromium-driver "
            "(scripts/dev.sh test installs them: apt-get install chromium chromium-driver)"
        )
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def screenshot(browser: webdriver.Chrome, tmp_path: Path) -> Callable[[str], Path]:
    """``screenshot(name)``: the current page, kept in ``$KUBEVENTS_SCREENSHOTS`` if set
    (``make screenshots`` sets it to docs/img), else in the test's temporary directory."""
    target = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    target.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = target / f"ui-{name}.png"
        assert browser.save_screenshot(str(path)), f"no screenshot of {name}"
        return path

    return take
