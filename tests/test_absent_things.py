"""One rule for things that are not there, and the deprecated near-duplicates.

docs/decisions.md states the rule: a lookup or change of one thing raises
``ModelNotFoundError``, a list comes back empty, a best/Production question
answers None, and deleting is idempotent. Every ``ModelRegistry`` method is
checked against it here on a real registry, so a method that drifts fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable  # noqa: TC003  (the Call alias needs it at run time)
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import ModelNotFoundError, ModelRegistry, Stage

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

MISSING = "nothing"

RAISES: dict[str, Callable[[ModelRegistry], object]] = {
    "get_metadata": lambda r: r.get_metadata(f"{MISSING}:1.0.0"),
    "get_metadata(model_id=)": lambda r: r.get_metadata(model_id=10_000),
    "load": lambda r: r.load(MISSING),
    "load_checkpoint": lambda r: r.load_checkpoint(MISSING),
    "get_model_info": lambda r: r.get_model_info(MISSING),
    "transition_stage": lambda r: r.transition_stage(MISSING, "1.0.0", "Staging"),
    "set_alias": lambda r: r.set_alias(f"{MISSING}:1.0.0", "champion"),
    "update_model": lambda r: r.update_model(f"{MISSING}:1.0.0", description="x"),
    "rollback": lambda r: r.rollback(MISSING),
    "set_model_info": lambda r: r.set_model_info(MISSING, description="x"),
    "promote_checkpoint": lambda r: r.promote_checkpoint(MISSING),
}

EMPTY: dict[str, Callable[[ModelRegistry], object]] = {
    "list_models": lambda r: r.list_models(model_name=MISSING),
    "count_models": lambda r: r.count_models(model_name=MISSING),
    "compare_models": lambda r: r.compare_models(MISSING),
    "get_model_versions": lambda r: r.get_model_versions(MISSING),
    "list_checkpoints": lambda r: r.list_checkpoints(MISSING),
    "list_model_names": lambda r: r.list_model_names(tags={"team": MISSING}),
    "audit_log": lambda r: r.audit_log(MISSING),
    "apply_retention": lambda r: r.apply_retention(MISSING, keep_last=1),
}

NONE: dict[str, Callable[[ModelRegistry], object]] = {
    "get_best_model": lambda r: r.get_best_model(model_name=MISSING),
    "load_best_model": lambda r: r.load_best_model(model_name=MISSING),
    "get_production_model": lambda r: r.get_production_model(MISSING),
}

FALSE: dict[str, Callable[[ModelRegistry], object]] = {
    "delete_model": lambda r: r.delete_model(10_000),
    "delete_alias": lambda r: r.delete_alias(MISSING, "champion"),
}


@pytest.fixture
def registry(
    make_registry: Callable[..., ModelRegistry], logistics: list[LogisticRegression]
) -> ModelRegistry:
    """A registry that holds other things, so "not there" is not just "empty"."""
    reg = make_registry()
    reg.save_model(logistics[0], "present", metrics={"f1": 0.7})
    reg.save_model(logistics[1], "present", metrics={"f1": 0.8})
    reg.transition_stage("present", "1.0.1", "Production")
    reg.save_checkpoint(logistics[2], "present", step=1)
    return reg


@pytest.mark.parametrize("call", RAISES.values(), ids=RAISES.keys())
def test_a_lookup_or_change_of_one_thing_raises(
    registry: ModelRegistry, call: Callable[[ModelRegistry], object]
) -> None:
    before = registry.list_models()
    with pytest.raises(ModelNotFoundError) as info:
        call(registry)
    assert isinstance(info.value, LookupError)
    assert registry.list_models() == before  # nothing written


@pytest.mark.parametrize("call", EMPTY.values(), ids=EMPTY.keys())
def test_a_list_or_count_comes_back_empty(
    registry: ModelRegistry, call: Callable[[ModelRegistry], object]
) -> None:
    assert call(registry) in ([], 0)


@pytest.mark.parametrize("call", NONE.values(), ids=NONE.keys())
def test_a_best_or_production_question_answers_none(
    registry: ModelRegistry, call: Callable[[ModelRegistry], object]
) -> None:
    assert call(registry) is None


@pytest.mark.parametrize("call", FALSE.values(), ids=FALSE.keys())
def test_deleting_what_is_not_there_is_idempotent(
    registry: ModelRegistry, call: Callable[[ModelRegistry], object]
) -> None:
    assert call(registry) is False
    assert call(registry) is False
    assert len(registry.list_models()) == 2


def test_saves_return_the_new_versions_id(
    registry: ModelRegistry, logistics: list[LogisticRegression]
) -> None:
    ids = [
        registry.save_model(logistics[3], "present"),
        registry.save_checkpoint(logistics[4], "present", step=2),
        registry.promote_checkpoint("present", 2),
    ]
    assert all(type(model_id) is int for model_id in ids)
    assert [registry.load(i).model.C for i in ids] == [
        logistics[3].C,
        logistics[4].C,
        logistics[4].C,
    ]


def test_set_model_info_refuses_a_name_nobody_saved(registry: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError, match=MISSING):
        registry.set_model_info(MISSING, tags={"team": "ml"})
    assert MISSING not in registry.list_model_names()
    info = registry.set_model_info("present", tags={"team": "ml"})
    assert registry.get_model_info("present") == info
    assert registry.list_model_names(tags={"team": "ml"}) == ["present"]


# -- deprecated near-duplicates ------------------------------------------------------

DEPRECATED: dict[
    str, tuple[Callable[[ModelRegistry], Any], Callable[[ModelRegistry], Any], str]
] = {
    "load_model": (
        lambda r: r.load_model("present:1.0.0").C,
        lambda r: r.load("present:1.0.0").model.C,
        "load(reference).model",
    ),
    "model_names": (
        lambda r: r.model_names(),
        lambda r: r.list_model_names(),
        "list_model_names()",
    ),
    "resolve": (
        lambda r: r.resolve("present/Production").model_id,
        lambda r: r.get_metadata("present/Production").model_id,
        "get_metadata(reference)",
    ),
    "promote": (
        lambda r: r.promote("present:1.0.0", Stage.STAGING).stage,
        lambda r: r.transition_stage("present", "1.0.0", Stage.STAGING).stage,
        "transition_stage(model_name, version, stage)",
    ),
}


@pytest.mark.parametrize("name", DEPRECATED)
def test_a_deprecated_alias_warns_and_answers_as_the_documented_method(
    registry: ModelRegistry, name: str
) -> None:
    old, new, replacement = DEPRECATED[name]
    with pytest.deprecated_call(match=rf"ModelRegistry\.{name} is deprecated") as caught:
        answer = old(registry)
    message = str(caught[0].message)
    assert replacement in message
    assert caught[0].filename == __file__  # the warning points at the caller
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert new(registry) == answer


def test_load_model_keeps_its_lenient_answer(registry: ModelRegistry) -> None:
    """The one exception to the rule, kept for code written against it."""
    with pytest.deprecated_call():
        assert registry.load_model(f"{MISSING}:1.0.0") is None
    with pytest.deprecated_call(), pytest.raises(ModelNotFoundError):
        registry.load_model(f"{MISSING}:1.0.0", strict=True)
