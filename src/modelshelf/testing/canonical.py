"""A metadata store wrapper that fails loudly when handed a non-canonical value.

The registry parses every id and version once, at its public boundary
(:mod:`modelshelf.selectors`), so a store only ever sees an ``int`` model id
and a ``str`` version. A store that happened to coerce ``"1"`` to ``1`` (as
SQLite's type affinity does) and one that did not (a dict keyed by int) would
otherwise answer the same call differently. The conformance suite runs a real
registry on the store under test through this wrapper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from modelshelf.metadata import ModelMetadata
    from modelshelf.protocols import Changes, MetadataStore, NameState
    from modelshelf.query import Query, Ranking


def _check_id(method: str, model_id: object) -> None:
    if type(model_id) is not int:
        raise AssertionError(
            f"the registry handed store.{method} the model id {model_id!r}; "
            "it must parse ids to int before any store sees them"
        )


def _check_query(method: str, query: Query) -> None:
    if query.version is not None and type(query.version) is not str:
        raise AssertionError(
            f"the registry handed store.{method} the version {query.version!r}; "
            "it must parse versions to str before any store sees them"
        )


class CanonicalInputsOnly:
    """Passes every call to ``store``, after checking its ids and versions are canonical."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get(self, model_id: int) -> ModelMetadata | None:
        _check_id("get", model_id)
        return self._store.get(model_id)

    def delete(self, model_id: int) -> ModelMetadata | None:
        _check_id("delete", model_id)
        return self._store.delete(model_id)

    def transition(
        self,
        model_name: str,
        plan: Callable[[NameState], Changes],
        *,
        model_ids: Sequence[int] = (),
        aliases: Sequence[str] = (),
    ) -> Changes:
        for model_id in model_ids:
            _check_id("transition", model_id)
        return self._store.transition(model_name, plan, model_ids=model_ids, aliases=aliases)

    def update(
        self, model_id: int, *, description: str | None, tags: dict[str, str] | None
    ) -> ModelMetadata | None:
        _check_id("update", model_id)
        return self._store.update(model_id, description=description, tags=tags)

    def find(self, query: Query) -> list[ModelMetadata]:
        _check_query("find", query)
        return self._store.find(query)

    def count(self, query: Query) -> int:
        _check_query("count", query)
        return self._store.count(query)

    def best(self, ranking: Ranking, query: Query) -> ModelMetadata | None:
        _check_query("best", query)
        return self._store.best(ranking, query)
