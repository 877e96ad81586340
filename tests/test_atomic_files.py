"""Atomic writes: the target appears whole or not at all, and no temporary is left behind."""
import json

import pytest
from isovox.core.atomic_files import atomic_path, temporary_path, write_json, write_text


def test_file_appears_only_when_the_block_ends(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
        assert not target.exists()                      # nothing at the target while writing
        assert tmp.parent == target.parent and tmp.name.startswith(".") and tmp.name.endswith(".tmp")
    assert target.read_text() == "whole"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_folder_is_renamed_whole_or_removed(tmp_path):
    with atomic_path(tmp_path / "track") as tmp:
        tmp.mkdir()
        (tmp / "vocals.wav").write_bytes(b"x")
    assert (tmp_path / "track" / "vocals.wav").read_bytes() == b"x"
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "other") as tmp:
        tmp.mkdir()
        (tmp / "vocals.wav").write_bytes(b"x")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["track"]


def test_a_stale_temporary_of_this_process_is_replaced(tmp_path):
    target = tmp_path / "out.txt"
    temporary_path(target).write_text("left by an earlier attempt")
    write_text(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_json_keeps_non_ascii_and_ends_with_a_newline(tmp_path):
    target = tmp_path / "meta.json"
    write_json(target, {"voice": "Émilie", "minutes": 1.5})
    text = target.read_text(encoding="utf-8")
    assert text.endswith("\n") and "Émilie" in text
    assert json.loads(text) == {"voice": "Émilie", "minutes": 1.5}


def test_a_sole_writer_removes_what_a_stopped_process_left(tmp_path):
    target = tmp_path / "track"
    (tmp_path / ".track.99999999.tmp").mkdir()            # a folder a killed run left behind
    (tmp_path / ".other.99999999.tmp").write_text("not ours")
    with atomic_path(target, sole_writer=True) as tmp:
        tmp.mkdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.99999999.tmp", "track"]
