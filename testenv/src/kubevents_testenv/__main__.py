"""``python -m kubevents_testenv`` is the ``kubevents-testenv`` command."""

from kubevents_testenv.cli import main

main()
