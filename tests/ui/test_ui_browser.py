"""``kubevents ui`` in a real headless Chromium: the issue's acceptance tests.

The timeline shows the seeded counts, filters narrow the table through shareable URLs, an
object's history runs in order, a new occurrence appears without a reload, and an Event
whose message is markup is shown as text. Each view is screenshotted (``make screenshots``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from export.factories import make_occurrence, write_store
from kubevents.export.sinks import format_time

from .conftest import HOSTILE, T0, UI

Shot = Callable[[str], Path]
WAIT = 15.0


def rows(browser: webdriver.Chrome, table: str = "events") -> list[dict[str, str]]:
    """The table's rows as {column: text}, read in the page (one round trip)."""
    got: list[dict[str, str]] = browser.execute_script(
        """
        const t = document.getElementById(arguments[0]);
        const heads = [...t.querySelectorAll("thead th")].map(th => th.textContent);
        return [...t.querySelectorAll("tbody tr")].map(tr => Object.fromEntries(
            [...tr.children].map((td, i) => [heads[i], td.textContent])));
        """,
        table,
    )
    return got


def bars(browser: webdriver.Chrome) -> dict[str, tuple[int, int]]:
    """The timeline's buckets: start time -> (normal, warning)."""
    return {
        b.get_attribute("data-start") or "": (
            int(b.get_attribute("data-normal") or 0),
            int(b.get_attribute("data-warning") or 0),
        )
        for b in browser.find_elements(By.CSS_SELECTOR, "svg.timeline a.bar")
    }


def no_alert(browser: webdriver.Chrome) -> bool:
    try:
        browser.switch_to.alert  # noqa: B018
    except NoAlertPresentException:
        return True
    return False


def test_the_timeline_shows_the_seeded_counts_and_zooms(
    ui: UI, browser: webdriver.Chrome, screenshot: Shot
) -> None:
    since, until = T0, T0 + timedelta(hours=3)
    browser.get(f"{ui.url}/?since={format_time(since)}&until={format_time(until)}")
    svg = browser.find_element(By.CSS_SELECTOR, "svg.timeline")
    assert svg.get_attribute("data-total") == str(len(ui.history))
    # 3 hours in at most 60 round buckets: 5 minutes each. Counted here from what was seeded.
    step = timedelta(minutes=5)
    expected: Counter[tuple[datetime, str]] = Counter(
        (since + step * ((o.filing_time - since) // step), o.event.type) for o in ui.history
    )
    starts = {s for s, _ in expected}
    assert bars(browser) == {
        format_time(s): (expected[s, "Normal"], expected[s, "Warning"]) for s in sorted(starts)
    }
    screenshot("timeline")

    # Zoom: a bar links to the same view narrowed to its bucket.
    busiest = max(starts, key=lambda s: expected[s, "Normal"] + expected[s, "Warning"])
    browser.find_element(
        By.CSS_SELECTOR, f'svg.timeline a.bar[data-start="{format_time(busiest)}"]'
    ).click()
    WebDriverWait(browser, WAIT).until(lambda b: "until=" in b.current_url)
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["since"] == [format_time(busiest)]
    assert query["until"] == [format_time(busiest + step)]
    assert len(rows(browser)) == expected[busiest, "Normal"] + expected[busiest, "Warning"]


def test_filters_narrow_the_table_and_the_url_is_shareable(
    ui: UI, browser: webdriver.Chrome, screenshot: Shot
) -> None:
    browser.get(ui.url + "/")
    assert len(rows(browser)) == len(ui.history)
    form = browser.find_element(By.CSS_SELECTOR, "form.filters")
    form.find_element(By.NAME, "namespace").send_keys("shop")
    form.find_element(By.NAME, "type").send_keys("warning")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, WAIT).until(lambda b: "namespace=shop" in b.current_url)
    expected = [
        o for o in ui.history if o.event.metadata.namespace == "shop" and o.event.type == "Warning"
    ]
    got = rows(browser)
    assert len(got) == len(expected) == 12
    assert {(r["namespace"], r["type"], r["reason"]) for r in got} == {
        ("shop", "Warning", "BackOff")
    }
    assert browser.find_element(By.ID, "total").text == "12"
    screenshot("table")

    # The URL is the state: opened afresh, it shows the same rows; --for narrows further.
    shared = browser.current_url
    browser.get(ui.url + "/top")
    browser.get(shared)
    assert rows(browser) == got
    browser.get(f"{ui.url}/?for=deploy/web&grep=TO%205")
    assert [r["message"] for r in rows(browser)] == ["Scaled up replica set web-7f9c to 5"]


def test_the_object_view_lists_occurrences_in_order(
    ui: UI, browser: webdriver.Chrome, screenshot: Shot
) -> None:
    browser.get(f"{ui.url}/?for=pod/web-2&reason=BackOff")
    browser.find_element(By.CSS_SELECTOR, "#events td.object a").click()
    WebDriverWait(browser, WAIT).until(lambda b: "/object?" in b.current_url)
    got = rows(browser, "history")
    mine = sorted(
        (o for o in ui.history if o.event.involved_object.name == "web-2"),
        key=lambda o: o.filing_time,
    )
    assert [(r["time (UTC)"], r["reason"], r["count"]) for r in got] == [
        (format_time(o.filing_time), o.event.reason, str(o.count)) for o in mine
    ]
    # The BackOff Event's counts climb in order, between the pulls.
    assert [int(r["count"]) for r in got if r["reason"] == "BackOff"] == list(range(1, 13))
    screenshot("object")


def test_top_lists_what_stats_prints(ui: UI, browser: webdriver.Chrome, screenshot: Shot) -> None:
    browser.get(ui.url + "/top")
    first = browser.find_element(By.CSS_SELECTOR, "table.top tbody tr")
    assert [td.text for td in first.find_elements(By.TAG_NAME, "td")] == ["BackOff", "12", "12"]
    screenshot("top")


def test_markup_in_a_message_is_shown_as_text(ui: UI, browser: webdriver.Chrome) -> None:
    browser.get(f"{ui.url}/?namespace=billing")
    [row] = rows(browser)
    assert row["message"] == HOSTILE
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0
    assert no_alert(browser)


def test_a_new_occurrence_appears_without_a_reload(ui: UI, browser: webdriver.Chrome) -> None:
    browser.get(f"{ui.url}/?namespace=live")
    assert rows(browser) == []
    WebDriverWait(browser, WAIT).until(lambda b: b.find_element(By.ID, "live-state").text == "live")
    browser.execute_script("window.kubeventsMarker = 'same page'")
    hostile = '<img src=x onerror="alert(2)">'
    write_store(ui.db, [
        make_occurrence(namespace="live", object_name="web-9", message=hostile,
                        first=T0 + timedelta(hours=2, minutes=59)),
        make_occurrence(namespace="elsewhere", object_name="web-9",
                        first=T0 + timedelta(hours=2, minutes=59)),
    ])  # fmt: skip
    WebDriverWait(browser, WAIT).until(lambda b: len(rows(b)) == 1)
    [row] = rows(browser)
    assert (row["namespace"], row["object"], row["message"]) == ("live", "pod/web-9", hostile)
    assert browser.find_element(By.ID, "total").text == "1"
    assert browser.execute_script("return window.kubeventsMarker") == "same page"
    assert browser.execute_script("return document.querySelectorAll('#events img').length") == 0
    # The timeline follows: it now holds the new occurrence.
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_element(By.CSS_SELECTOR, "svg.timeline").get_attribute("data-total") == "1"
    )
    assert no_alert(browser)
