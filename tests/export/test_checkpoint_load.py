"""A checkpoint that cannot be used is reported and ignored (a relist), never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubevents.export import load_checkpoint

GOOD = b'{"format":1,"cluster":"c","resourceVersion":"7","events":{"u":[3,1.5]}}'


@pytest.mark.parametrize(
    ("content", "logged"),
    [
        (b"\x00\x9f garbage \xff", "unreadable checkpoint"),
        (b'{"format":1,"cluster":"\xff\xfe"}', "unreadable checkpoint"),  # invalid UTF-8
        (b'{"format":1,"events":{"u":[3,1.5]}', "unreadable checkpoint"),  # truncated
        (b"[1, 2, 3]", "unreadable checkpoint"),
        (b'{"format":2,"events":"a new shape"}', "unknown format 2"),
        (b'{"format":"1"}', "unknown format '1'"),
        (b'{"events":{}}', "unknown format None"),
        (b'{"format":1,"events":{"u":[99999999999999999999999,1]}}', "corrupt checkpoint"),
        (b'{"format":1,"events":{"u":[-1,1]}}', "corrupt checkpoint"),
        (b'{"format":1,"events":{"u":[1,1e400]}}', "unreadable checkpoint"),
        (b"[" * 100_000, "unreadable checkpoint"),
    ],
)
def test_a_bad_checkpoint_is_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, logged: str
) -> None:
    path = tmp_path / "state"
    path.write_bytes(content)
    assert load_checkpoint(path) is None
    assert logged in caplog.text


def test_something_else_at_the_path_is_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "dir").mkdir()
    assert load_checkpoint(tmp_path / "dir") is None
    assert "cannot read it: Is a directory" in caplog.text
    (tmp_path / "file").write_bytes(GOOD)
    assert load_checkpoint(tmp_path / "file" / "state") is None
    assert "cannot read it: Not a directory" in caplog.text


def test_an_unreadable_checkpoint_is_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state"
    path.write_bytes(GOOD)

    def refuse(self: Path) -> bytes:
        # What a file another user owns answers (root, who runs CI, may read everything).
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert load_checkpoint(path) is None
    assert "cannot read it: Permission denied" in caplog.text


def test_a_good_checkpoint_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(GOOD)
    loaded = load_checkpoint(path)
    assert loaded is not None and loaded.events == {"u": (3, 1.5)}
