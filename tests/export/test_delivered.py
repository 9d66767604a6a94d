"""The delivered mark never passes what a spool's sink has stored, however it is thinned."""

from __future__ import annotations

from dataclasses import dataclass

from kubevents.export._delivered import MAX_NOTES, DeliveredMark


@dataclass
class Progress:
    written: int = 0
    stored: int = 0

    def written_through(self) -> int:
        return self.written

    def stored_through(self) -> int:
        return self.stored


def test_without_spools_the_mark_is_the_ack_logs() -> None:
    mark = DeliveredMark([], "5")
    assert mark.resource_version() == "5"
    mark.advanced("9")
    assert mark.resource_version() == "9"


def test_the_mark_waits_for_every_spool_to_store_what_was_written_when_it_advanced() -> None:
    a, b = Progress(), Progress()
    mark = DeliveredMark([a, b], "1")
    a.written, b.written = 3, 2
    mark.advanced("2")
    a.written = 5
    mark.advanced("3")
    assert mark.resource_version() == "1"
    a.stored = 3
    assert mark.resource_version() == "1"  # b has not stored its 2 yet
    b.stored = 2
    assert mark.resource_version() == "2"
    a.stored = 5
    assert mark.resource_version() == "3"


def test_a_backlog_from_before_the_start_hides_the_start_point() -> None:
    spool = Progress(written=7, stored=4)
    mark = DeliveredMark([spool], "100")
    assert mark.resource_version() is None
    spool.stored = 7
    assert mark.resource_version() == "100"


def test_thinning_keeps_the_newest_point_and_never_runs_ahead() -> None:
    spool = Progress()
    mark = DeliveredMark([spool], "0")
    for i in range(1, 3 * MAX_NOTES):
        spool.written = i
        mark.advanced(str(i))
    for stored in range(0, 3 * MAX_NOTES, 97):
        spool.stored = stored
        point = mark.resource_version()
        assert point is not None and int(point) <= stored
    spool.stored = 3 * MAX_NOTES - 1
    assert mark.resource_version() == str(3 * MAX_NOTES - 1)
