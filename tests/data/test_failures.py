"""Bad inputs: each gives one clear error and leaves earlier prepared outputs untouched."""

import dataclasses
import hashlib
import os
import pickle
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from aether.data import (
    DATASETS,
    ChecksumMismatchError,
    DataError,
    MalformedDataError,
    MissingSourceError,
    convert,
    fetch,
    fetch_file,
    get,
    mirror_dir,
    prepare,
    safe_pickle,
)

NAME = "ss_west0067"
FILE = "sparse/suitesparse/west0067.mtx"


@pytest.fixture
def earlier(tmp_path: Path, mirror: Path, snapshot) -> tuple[Path, Path, Callable[[], None]]:
    """A prepared west0067: (raw dir, out dir, a check that its output is still intact)."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    prepare(NAME, raw, out, mirror=mirror, allow_download=False)
    before = snapshot(out / NAME)

    def assert_intact() -> None:
        assert snapshot(out / NAME) == before
        assert [p.name for p in out.iterdir()] == [NAME], "a temporary folder was left behind"

    return raw, out, assert_intact


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/west0067.mtx"


def with_file(monkeypatch: pytest.MonkeyPatch, name: str, **changes: str) -> None:
    """Re-register dataset `name` with its file at `FILE`-like path changed as given."""
    dataset = get(name)
    files = tuple(
        dataclasses.replace(f, **changes) if f.path == changes.get("path", FILE) else f
        for f in dataset.files
    )
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(dataset, files=files))


def test_tampered_mirror_file(earlier, tmp_path: Path, mirror: Path) -> None:
    _, out, assert_intact = earlier
    fake_mirror = tmp_path / "mirror"
    (fake_mirror / FILE).parent.mkdir(parents=True)
    data = (mirror / FILE).read_bytes()
    (fake_mirror / FILE).write_bytes(data.replace(b"-.8", b"-.9", 1))
    new_raw = tmp_path / "raw2"
    with pytest.raises(ChecksumMismatchError) as info:
        prepare(NAME, new_raw, out, mirror=fake_mirror, allow_download=False)
    message = str(info.value)
    assert str(fake_mirror / FILE) in message and get(NAME).files[0].sha256 in message
    assert "restore the mirror file" in message
    assert not any(p.is_file() for p in new_raw.rglob("*")), "a bad copy was left in raw"
    assert_intact()


def test_truncated_raw_file_is_refused_then_repaired(earlier, mirror: Path) -> None:
    raw, out, assert_intact = earlier
    path = raw / FILE
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ChecksumMismatchError, match=f"delete {path}"):
        convert(NAME, raw, out)
    with pytest.raises(ChecksumMismatchError, match="could not be re-fetched"):
        fetch(NAME, raw, mirror=None, allow_download=False)
    assert_intact()
    fetch(NAME, raw, mirror=mirror, allow_download=False)  # the mirror repairs it
    assert path.read_bytes() == (mirror / FILE).read_bytes()


def test_missing_mirror_file_with_downloads_disabled(
    earlier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, assert_intact = earlier
    empty_mirror = tmp_path / "empty"
    empty_mirror.mkdir()
    monkeypatch.setenv("AETHER_OFFLINE", "1")
    with pytest.raises(MissingSourceError) as info:
        prepare(NAME, tmp_path / "raw2", out, mirror=empty_mirror)
    message = str(info.value)
    assert FILE in message and "AETHER_DATA_MIRROR" in message and "AETHER_OFFLINE" in message
    assert get(NAME).files[0].url in message
    assert_intact()


def test_unreachable_download(earlier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, assert_intact = earlier
    url = closed_port_url()
    with_file(monkeypatch, NAME, url=url)
    new_raw = tmp_path / "raw2"
    with pytest.raises(MissingSourceError, match=r"downloading http://127\.0\.0\.1") as info:
        prepare(NAME, new_raw, out, mirror=None, allow_download=True)
    assert url in str(info.value)
    assert not any(p.is_file() for p in new_raw.rglob("*")), "a partial download was left"
    assert_intact()


def test_garbled_file_with_matching_checksum(earlier, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, out, assert_intact = earlier
    path = raw / FILE
    garbled = path.read_bytes().replace(b"5 1 -.2788416", b"5 x -.2788416")
    path.write_bytes(garbled)
    with_file(monkeypatch, NAME, sha256=hashlib.sha256(garbled).hexdigest())
    with pytest.raises(MalformedDataError, match=str(path)):
        convert(NAME, raw, out)
    assert_intact()


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_pickle(marker: Path) -> bytes:
    payload = _Evil()
    payload.marker = marker
    return pickle.dumps(payload, protocol=2)


def test_unpickler_refuses_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "ind.cora.graph"
    path.write_bytes(evil_pickle(marker))
    with pytest.raises(MalformedDataError, match="refusing to unpickle"):
        safe_pickle.load(path)
    assert not marker.exists()


def test_malicious_planetoid_file_is_refused_and_outputs_kept(
    tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch, snapshot
) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    prepare("cora", raw, out, mirror=mirror, allow_download=False)
    before = snapshot(out / "cora")
    marker = tmp_path / "pwned"
    graph = "sparse/planetoid/ind.cora.graph"
    data = evil_pickle(marker)
    (raw / graph).write_bytes(data)
    with_file(monkeypatch, "cora", path=graph, sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(MalformedDataError, match=r"(posix|os|nt)\.system"):
        convert("cora", raw, out)
    assert not marker.exists()
    assert snapshot(out / "cora") == before


def test_mirror_env_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHER_DATA_MIRROR", str(tmp_path / "nope"))
    with pytest.raises(DataError, match="AETHER_DATA_MIRROR"):
        mirror_dir()
    monkeypatch.setenv("AETHER_DATA_MIRROR", str(tmp_path))
    assert mirror_dir() == tmp_path


def test_bad_test_fraction(earlier) -> None:
    raw, out, assert_intact = earlier
    with pytest.raises(ValueError, match="test_fraction"):
        convert(NAME, raw, out, test_fraction=1.0)
    assert_intact()


def test_fetch_file_returns_valid_raw_file_without_copying(earlier, mirror: Path) -> None:
    raw, _, _ = earlier
    src = get(NAME).files[0]
    mtime = (raw / FILE).stat().st_mtime_ns
    assert fetch_file(src, raw, None, allow_download=False) == raw / FILE
    assert (raw / FILE).stat().st_mtime_ns == mtime
    shutil.rmtree(raw)
    assert (
        fetch_file(src, raw, mirror, allow_download=False).read_bytes()
        == (mirror / FILE).read_bytes()
    )
