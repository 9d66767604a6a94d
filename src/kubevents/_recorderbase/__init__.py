"""What both recorders stand on: private to kubevents, not part of its public API.

``kubevents.record`` (client-go's ``tools/record``) and ``kubevents.events`` (``tools/events``)
share their machinery here, above the mux (``kubevents.mux``) and below both of them:

* ``lifecycle``: ``BroadcasterBase``, the broadcaster both ``EventBroadcaster``s extend (loop
  host, mux, watcher tasks, counters, flush, the flushing shutdown, context managers);
* ``handler``: the watcher task that runs one handler;
* ``reports``: ``ShutdownReport``, ``BroadcasterStats`` and the rate-limited drop log;
* ``aio``: asyncio support (the loop host, flush barriers, the interruptible retry sleep);
* ``sinks``: ``RecordOutcome``, the API sinks' client, closing sinks at shutdown;
* ``fake``: what both ``FakeRecorder``s share;
* ``util``: client-go's ``tools/record/util`` (event names, event types, not-found);
* ``gocompat``: Go's string formatting and integer/time rules, reproduced.

The package is private (its leading underscore), so its modules have plain names: any module
of ``kubevents`` may import them, and nothing outside should (import-linter's
``private_modules`` rule, checked by ``scripts/dev.sh lint``). The public names among them
(``ShutdownReport``, ``BroadcasterStats``, ``RecordOutcome``, the defaults) are re-exported by
``kubevents.record`` and ``kubevents.events``.
"""
