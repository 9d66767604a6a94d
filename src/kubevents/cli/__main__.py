"""``python -m kubevents.cli`` is the ``kubevents`` command."""

from kubevents.cli import main

main()
