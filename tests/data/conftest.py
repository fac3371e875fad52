"""Fixtures for the data tests: the read-only mirror, datasets prepared once per session,
and a throwaway HTTP server for the download paths."""

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aether.data import mirror_dir, prepare


@pytest.fixture(autouse=True)
def _no_user_data_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests choose mirror and network explicitly; the caller's environment must not leak."""
    for var in ("AETHER_OFFLINE", "AETHER_PYPI_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def mirror() -> Path:
    found = mirror_dir()
    if found is None:
        pytest.skip("no dataset mirror: set AETHER_DATA_MIRROR or place shared/datasets beside")
    return found


@pytest.fixture(scope="session")
def prepared(
    tmp_path_factory: pytest.TempPathFactory, mirror: Path
) -> Callable[[str], tuple[Path, dict]]:
    """``prepared(name)`` -> (out_dir/name, stats), converting each dataset once per session."""
    root = tmp_path_factory.mktemp("prepared")
    done: dict[str, tuple[Path, dict]] = {}

    def get(name: str) -> tuple[Path, dict]:
        if name not in done:
            stats = prepare(name, root / "raw", root / "out", mirror=mirror, allow_download=False)
            done[name] = (root / "out" / name, stats)
        return done[name]

    return get


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def snapshot() -> Callable[[Path], dict[str, bytes]]:
    """``snapshot(dir)``: every file under dir by relative path, to compare outputs bytewise."""
    return _snapshot


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A temporary directory served on 127.0.0.1 (ephemeral port): (directory, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
