from pathlib import Path

import pytest

from aether import params as P


def test_repository_params_are_valid():
    repo = Path(__file__).resolve().parents[1] / "params.yaml"
    for section in P.SECTIONS:
        P.load(section, repo)


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"test_fraction": 1.5}, "prepare.test_fraction = 1.5"),
        ({"seed": "zero"}, "prepare.seed = 'zero'"),
        ({"datasets": ["nope"]}, "unknown dataset(s) ['nope']"),
        ({"datasets": []}, "prepare.datasets"),
        ({"colour": "red"}, "prepare.colour"),
    ],
)
def test_bad_values_name_the_key_and_the_fix(set_params, values, needle):
    path = set_params(prepare=values)
    with pytest.raises(P.ParamsError) as err:
        P.load("prepare", path)
    assert needle in str(err.value)
    assert "Fix the value in" in str(err.value)


def test_unparsable_and_missing_files(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("prepare: [unclosed\n")
    with pytest.raises(P.ParamsError, match="not valid YAML"):
        P.load("prepare", bad)
    with pytest.raises(P.ParamsError, match="not found"):
        P.load("prepare", tmp_path / "absent.yaml")
    with pytest.raises(P.ParamsError, match="no params section"):
        P.load("nonsense", bad)
