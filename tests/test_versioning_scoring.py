from __future__ import annotations

import pytest

from modelshelf import InvalidVersionError
from modelshelf.query import lower_is_better
from modelshelf_plugins.semver import IntegerScheme, SemverScheme


def test_semver_order_and_bump() -> None:
    scheme = SemverScheme()
    ordered = [
        "0.9.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "10.0.0",
    ]
    assert sorted(ordered, key=scheme.sort_key) == ordered
    assert scheme.next_after("1.0.9") == "1.0.10"
    assert scheme.next_after("2.0.0-rc.1") == "2.0.0"


@pytest.mark.parametrize("bad", ["1", "1.0", "01.0.0", "1.0.0.0", "v1.0.0", "", "1.0.0-", "a.b.c"])
def test_semver_rejects(bad: str) -> None:
    with pytest.raises(InvalidVersionError, match="semver"):
        SemverScheme().validate(bad)


def test_integer_scheme() -> None:
    scheme = IntegerScheme()
    assert sorted(["10", "9", "100"], key=scheme.sort_key) == ["9", "10", "100"]
    assert scheme.next_after("9") == "10"
    for bad in ["0", "-1", "1.0", "01", "x"]:
        with pytest.raises(InvalidVersionError):
            scheme.validate(bad)


@pytest.mark.parametrize(
    "name", ["loss", "val_loss", "rmse", "mae", "mse", "log_loss", "test/error"]
)
def test_lower_is_better(name: str) -> None:
    assert lower_is_better(name)


@pytest.mark.parametrize("name", ["f1", "accuracy", "roc_auc", "precision", "glossary"])
def test_higher_is_better(name: str) -> None:
    assert not lower_is_better(name)
