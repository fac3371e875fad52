"""Atomic writes: the new file appears whole, with the usual mode, or not at all."""

import os

import pytest

from aether import io


def test_outputs_get_the_usual_file_mode(tmp_path):
    path = io.write_text(tmp_path / "out.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = io.write_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(RuntimeError), io.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
