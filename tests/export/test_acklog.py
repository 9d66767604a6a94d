from __future__ import annotations

from kubevents.export import AckLog


def test_checkpoint_follows_the_longest_acknowledged_prefix() -> None:
    log = AckLog("1")
    a = log.append("2", 2)
    b = log.append("3", 2)
    c = log.append("4", 1)
    log.ack(b)
    log.ack(b)
    log.ack(c)
    assert log.resource_version == "1"  # "2" is not stored yet, so nothing after it counts
    log.ack(a)
    assert log.resource_version == "1"  # one of two sinks
    log.ack(a)
    assert log.resource_version == "4"
    assert len(log) == 0


def test_list_items_carry_no_resume_point_until_the_marker() -> None:
    log = AckLog(None)
    items = [log.append(None, 1) for _ in range(3)]
    log.append("100", 0)  # the list's resourceVersion marker
    for ticket in items[:2]:
        log.ack(ticket)
    assert log.resource_version is None
    log.ack(items[2])
    assert log.resource_version == "100"


def test_done_markers_coalesce_behind_a_stuck_head() -> None:
    log = AckLog("1")
    head = log.append("2", 1)
    for rv in range(3, 1000):
        log.append(str(rv), 0)
    assert len(log) == 2  # the pending head and one coalesced marker
    log.ack(head)
    assert log.resource_version == "999"


def test_skipped_entries_advance_at_once_when_nothing_is_pending() -> None:
    log = AckLog("1")
    log.append("5", 0)
    assert log.resource_version == "5"
