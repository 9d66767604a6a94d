"""The acknowledgement log: which resourceVersion is safe to resume from.

Entries are appended in watch order and acknowledged out of order (several sinks, several
concurrent writes). The checkpoint resourceVersion is that of the last entry of the longest
fully acknowledged prefix: everything the server sent up to it has been stored by every sink.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["AckLog", "Ticket"]


class Ticket:
    """One dispatched entry; ``pending`` counts the sinks that have not stored it yet."""

    __slots__ = ("pending", "resource_version")

    def __init__(self, resource_version: str | None, pending: int) -> None:
        self.resource_version = resource_version
        self.pending = pending


class AckLog:
    """The acknowledgement log of one exporter (see the module docstring).

    ``append`` records each dispatched entry with the number of sinks that must store it;
    ``ack`` counts one of them. ``resource_version`` is the resume point: the newest one at or
    before the longest fully acknowledged prefix. ``on_advance`` is called when it moves.
    """

    def __init__(
        self,
        resource_version: str | None = None,
        on_advance: Callable[[], None] | None = None,
    ) -> None:
        self._log: deque[Ticket] = deque()
        self.resource_version = resource_version
        # Called whenever the resume point moves (the checkpoint is pushed, not polled).
        self.on_advance = on_advance

    def __len__(self) -> int:
        return len(self._log)

    def append(self, resource_version: str | None, pending: int) -> Ticket:
        """Record a dispatched entry that ``pending`` sinks must acknowledge.

        ``resource_version`` is the checkpoint that becomes valid once this entry and all
        before it are stored (None for list items: only the list's final marker carries one).
        """
        tail = self._log[-1] if self._log else None
        if pending == 0 and tail is not None and tail.pending == 0:
            # Coalesce done markers so a stuck head with many skipped events stays small.
            if resource_version is not None:
                tail.resource_version = resource_version
            return tail
        ticket = Ticket(resource_version, pending)
        self._log.append(ticket)
        if pending == 0:
            self._advance()
        return ticket

    def ack(self, ticket: Ticket) -> None:
        """One sink stored the entry."""
        ticket.pending -= 1
        if ticket.pending == 0 and self._log and self._log[0] is ticket:
            self._advance()

    def _advance(self) -> None:
        log = self._log
        before = self.resource_version
        while log and log[0].pending <= 0:
            head = log.popleft()
            if head.resource_version is not None:
                self.resource_version = head.resource_version
        if self.resource_version != before and self.on_advance is not None:
            self.on_advance()
