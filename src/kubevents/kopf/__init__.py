"""kopf's Event posting, through client-go's correlator: ``kubevents.kopf``.

Drop-in replacements for ``kopf.event``, ``kopf.info``, ``kopf.warn`` and ``kopf.exception``
(same signatures, same object forms: kopf bodies, dicts, lists of them) that record through a
``kubevents.record`` broadcaster, so repeats are deduplicated by ``count`` patches, similar
messages aggregated and floods spam-filtered, exactly as a Go controller's Events are::

    import kopf
    import kubevents.kopf

    @kopf.on.startup()
    async def startup(settings: kopf.OperatorSettings, **_):
        kubevents.kopf.install(settings, route_logging=True)

    @kopf.on.cleanup()
    async def cleanup(**_):
        await kubevents.kopf.cleanup()

    @kopf.on.create("widgets")
    def create(body, **_):
        kubevents.kopf.warn(body, reason="SyncFailed", message="backend unreachable")

kopf itself is optional (``pip install kubevents[kopf]``): this package reads kopf's settings and
log records without importing kopf. See ``docs/operators.md``.
"""

from kubevents.kopf._install import Installation, cleanup, current, install
from kubevents.kopf._posting import event, exception, info, warn

__all__ = [
    "Installation",
    "cleanup",
    "current",
    "event",
    "exception",
    "info",
    "install",
    "warn",
]
