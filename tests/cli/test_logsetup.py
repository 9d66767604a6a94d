"""Console log lines cannot carry terminal control sequences or forge extra lines."""

from __future__ import annotations

import logging

from kubevents.cli._logsetup import ConsoleFormatter, JSONFormatter


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("kubevents.test", logging.WARNING, __file__, 1, message, args, None)


def test_console_lines_escape_control_characters_in_the_message() -> None:
    record = _record("sink %s refused: %s", "webhook", "\x1b]0;owned\x07\n12:00:00 INFO fake")
    line = ConsoleFormatter("%(levelname)s %(message)s").format(record)
    assert line == "WARNING sink webhook refused: \\x1b]0;owned\\x07\\x0a12:00:00 INFO fake"
    assert record.getMessage().startswith("sink webhook refused: \x1b")  # the record is untouched


def test_json_lines_keep_the_text_escaped_by_json() -> None:
    line = JSONFormatter().format(_record("%s", "\x1b]0;owned\x07"))
    assert "\\u001b]0;owned\\u0007" in line and "\x1b" not in line
