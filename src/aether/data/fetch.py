"""Getting a dataset's source files into a local raw directory, each verified by sha256.

Order of preference: a valid file already in the raw dir, then the read-only mirror, then the
canonical URL. New bytes go to a temporary file beside the target and are moved into place only
once their checksum is right, so an interrupted or corrupt fetch never leaves a bad file behind.
"""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Literal

from aether.data.download import download
from aether.data.errors import ChecksumMismatchError, DataError, MissingSourceError
from aether.data.registry import SourceFile, get

MIRROR_ENV = "AETHER_DATA_MIRROR"
OFFLINE_ENV = "AETHER_OFFLINE"


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (sources run to several MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_dir() -> Path | None:
    """The dataset mirror: $AETHER_DATA_MIRROR, else a ``shared/datasets`` beside the checkout.

    Looks beside the working directory and beside the source checkout (the folder holding
    pyproject.toml above this file), since CI clones the project next to a copy of shared/.
    """
    env = os.environ.get(MIRROR_ENV)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise DataError(
                f"{MIRROR_ENV}={env} is not a directory; point it at the dataset mirror "
                "(the folder holding SHA256SUMS) or unset it to download from the sources"
            )
        return path
    candidates = [Path.cwd().parent / "shared" / "datasets"]
    root = next(
        (p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file()), None
    )
    if root is not None:
        candidates.append(root.parent / "shared" / "datasets")
    return next((c for c in candidates if c.is_dir()), None)


def downloads_allowed() -> bool:
    """False when $AETHER_OFFLINE is set to 1/true/yes (machines with no network)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in {"1", "true", "yes"}


def fetch_file(
    src: SourceFile,
    raw_dir: Path,
    mirror: Path | None,
    *,
    allow_download: bool = True,
    timeout: float = 30,
) -> Path:
    """Ensure ``raw_dir/src.path`` holds the verified file and return that path."""
    dest = raw_dir / src.path
    accepted = {src.sha256} | ({src.download_sha256} if src.download_sha256 else set())
    stale = None
    if dest.is_file():
        stale = sha256_file(dest)
        if stale in accepted:
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)

    mirrored = mirror / src.path if mirror is not None else None
    if mirrored is not None and mirrored.is_file():
        fix = f"delete {dest} and re-run, or restore the mirror file {mirrored}"
        with mirrored.open("rb") as f:
            _install(dest, src.sha256, lambda out: shutil.copyfileobj(f, out), mirrored, fix)
        return dest

    why = f"{mirrored} does not exist" if mirrored is not None else "no dataset mirror was found"
    if allow_download and downloads_allowed():
        expected = src.download_sha256 or src.sha256
        fix = f"the source at {src.url} has changed; restore {src.path} into the mirror"
        try:
            _install(dest, expected, lambda out: download(src.url, out, timeout), src.url, fix)
            return dest
        except (OSError, ValueError) as e:  # unreachable host, HTTP error, bad archive, ...
            why += f", and downloading {src.url} failed ({e})"
    else:
        why += f", and downloads are disabled ({OFFLINE_ENV}=1 or allow_download=False)"

    if stale is not None:
        raise ChecksumMismatchError(
            dest, src.sha256, stale, f"delete {dest} and re-run; it could not be re-fetched: {why}"
        )
    raise MissingSourceError(
        f"source file {src.path} is unavailable: {why}. Set {MIRROR_ENV} to a directory holding "
        f"{src.path}, or allow network access to {src.url}"
    )


def fetch(
    name: str,
    raw_dir: Path,
    mirror: Path | Literal["auto"] | None = "auto",
    *,
    allow_download: bool = True,
    timeout: float = 30,
) -> dict[str, Path]:
    """Fetch every file of dataset `name`; maps each registered path to its local file.

    `mirror="auto"` uses `mirror_dir()`; None skips the mirror.
    """
    dataset = get(name)
    root = mirror_dir() if mirror == "auto" else mirror
    return {
        f.path: fetch_file(f, raw_dir, root, allow_download=allow_download, timeout=timeout)
        for f in dataset.files
    }


def _install(
    dest: Path,
    expected: str,
    fill: Callable[[IO[bytes]], object],
    origin: Path | str,
    fix: str,
) -> None:
    """Write via `fill` to a temp file beside `dest`; move it into place only if verified."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
        actual = sha256_file(tmp)
        if actual != expected:
            raise ChecksumMismatchError(origin, expected, actual, fix)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
