"""The metadata store contract, once, for every SQL database.

:class:`SqlStore` answers every method of
:class:`~modelshelf.protocols.MetadataStore` with the statements of
:class:`~modelshelf.sql.statements.Statements`. A concrete store supplies
its :class:`~modelshelf.sql.dialect.Dialect` and three things only it can do
with its driver: :meth:`SqlStore._write` (one transaction, holding the locks
of the model names it is given), :meth:`SqlStore._read` and
:meth:`SqlStore._snapshot` (reads that see one state of the database).

Every write is one transaction. A write that decides a version first locks
the model name (the dialect's statement), so two writers never read the
same highest version; the unique constraint on ``(model_name, version)``
stays the last line of defence.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from modelshelf import converter
from modelshelf.errors import DuplicateVersionError, RetiredVersionError
from modelshelf.metadata import metadata_from_draft
from modelshelf.protocols import AuditEvent
from modelshelf.sql.dialect import BULK_ROWS
from modelshelf.sql.lifecycle import SqlLifecycle
from modelshelf.sql.statements import MODEL_COLUMNS, Statements

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from modelshelf.metadata import ModelDraft, ModelInfo, ModelMetadata
    from modelshelf.protocols import VersioningScheme
    from modelshelf.query import Query, Ranking
    from modelshelf.sql.dialect import Connection, Dialect

#: Fields kept in columns or side tables, so they can change without a rewrite.
MUTABLE_FIELDS = ("model_id", "stage", "description", "tags", "aliases")


def lock_names(conn: Connection, dialect: Dialect, names: Iterable[str], prefix: str = "") -> None:
    """Take the dialect's per-name lock on every name, in sorted order, so two
    transactions over the same names cannot deadlock."""
    if dialect.lock_name_sql is None:
        return
    for name in sorted(set(names)):
        conn.execute(dialect.lock_name_sql, (prefix + name,))


def decode_row(row: Sequence[Any], where: str) -> ModelMetadata:
    """A row of :attr:`Statements.select` as a version, through the converter;
    ``where`` ("in /path/registry.db") names the table in errors."""
    model_id, stage, description, data, tags, aliases = row
    return converter.metadata_from_row(
        model_id,
        data,
        stage=stage,
        description=description,
        tags=tags,
        aliases=aliases,
        location=f"row {model_id} of the models table {where}",
    )


def model_row(
    draft: ModelDraft, version: str, scheme: VersioningScheme, dialect: Dialect
) -> tuple[Any, ...]:
    """The values of :data:`MODEL_COLUMNS` for a draft recorded as ``version``."""
    provisional = metadata_from_draft(draft, model_id=1, version=version)
    payload = converter.unstructure(provisional)
    for key in MUTABLE_FIELDS:
        payload.pop(key)
    return (
        draft.model_name,
        version,
        scheme.sort_key(version),
        draft.model_type,
        draft.stage.value,
        draft.description,
        dialect.time_value(draft.created_at),
        draft.checkpoint,
        draft.training_info.is_ensemble,
        dialect.check_text("training_info.dataset", draft.training_info.dataset),
        json.dumps(payload, allow_nan=False, separators=(",", ":")),
    )


class SqlStore(SqlLifecycle):
    """The shared part of a SQL metadata store; see the module docstring."""

    dialect: Dialect
    sql: Statements
    #: Where the rows are, for messages ("in /path/registry.db", "at host/db").
    location: str

    # -- what a concrete store supplies -------------------------------------------

    @contextmanager
    def _write(self, *lock_names: str) -> Iterator[Any]:
        """One transaction holding the lock of every name given."""
        raise NotImplementedError
        yield  # pragma: no cover

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        """A connection whose reads all see one state of the database."""
        raise NotImplementedError
        yield  # pragma: no cover

    # -- rows ----------------------------------------------------------------------

    @property
    def _rows_at(self) -> str:
        """Where rows are, as a message says it: "in /path/registry.db"."""
        return f"in {self.location}"

    def _row_to_metadata(self, row: Sequence[Any]) -> ModelMetadata:
        return decode_row(row, self._rows_at)

    def _fetch(self, where: str, params: Sequence[Any], tail: str = "") -> list[ModelMetadata]:
        rows = self._read(f"{self.sql.select} WHERE {where}{tail}", params)
        return [self._row_to_metadata(row) for row in rows]

    def _check_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.dialect.check_text("tags", key)
            self.dialect.check_text("tags", value)

    def _next_version(
        self,
        conn: Connection,
        draft: ModelDraft,
        scheme: VersioningScheme,
        highest: dict[str, str | None],
        taken: set[tuple[str, str]],
    ) -> str:
        """The version ``draft`` is recorded as; ``highest`` and ``taken`` carry
        what earlier drafts of the same transaction decided."""
        name = draft.model_name
        if draft.requested_version is not None:
            version = draft.requested_version
            if (name, version) in taken or conn.execute(
                self.sql.version_taken, (name, version)
            ).fetchone():
                raise DuplicateVersionError(name, version)
            if conn.execute(self.sql.version_retired, (name, version)).fetchone():
                raise RetiredVersionError(name, version)
        else:
            if name not in highest:
                row = conn.execute(self.sql.high_water, (name,)).fetchone()
                highest[name] = None if row is None else str(row[0])
            previous = highest[name]
            version = scheme.first() if previous is None else scheme.next_after(previous)
        taken.add((name, version))
        if not draft.checkpoint:
            if name not in highest:
                row = conn.execute(self.sql.high_water, (name,)).fetchone()
                highest[name] = None if row is None else str(row[0])
            mark = highest[name]
            if mark is None or scheme.sort_key(version) > scheme.sort_key(mark):
                highest[name] = version
                conn.execute(self.sql.set_high_water, (name, version, scheme.sort_key(version)))
        return version

    # -- the contract ----------------------------------------------------------------

    def add(self, draft: ModelDraft, scheme: VersioningScheme) -> ModelMetadata:
        self._check_tags(draft.tags)
        with self._write(draft.model_name) as conn:
            version = self._next_version(conn, draft, scheme, {}, set())
            row = model_row(draft, version, scheme, self.dialect)
            found = conn.execute(self.sql.insert_model, row).fetchone()
            assert found is not None
            model_id = int(found[0])
            for sql, items in (
                (self.sql.insert_metric, draft.metrics),
                (self.sql.insert_tag, draft.tags),
            ):
                for key, value in items.items():
                    conn.execute(sql, (model_id, key, value))
        return metadata_from_draft(draft, model_id=model_id, version=version)

    def add_many(self, drafts: Iterable[ModelDraft], scheme: VersioningScheme) -> list[int]:
        """Record many drafts in one transaction; returns their ids in order.

        The bulk path for imports and benchmarks: versions are decided exactly
        as :meth:`add` decides them, under every name's lock, but rows travel
        by the dialect's bulk insert where it has one. All or nothing.
        """
        batch = list(drafts)
        if not batch:
            return []
        for draft in batch:
            self._check_tags(draft.tags)
        d, sql = self.dialect, self.sql
        with self._write(*{draft.model_name for draft in batch}) as conn:
            highest: dict[str, str | None] = {}
            taken: set[tuple[str, str]] = set()
            versions = [self._next_version(conn, x, scheme, highest, taken) for x in batch]
            rows = [model_row(x, v, scheme, d) for x, v in zip(batch, versions, strict=True)]
            ids = d.reserve_ids(conn, len(batch))
            if ids is None:
                ids = [int(conn.execute(sql.insert_model, row).fetchone()[0]) for row in rows]
            else:
                d.insert_many(
                    conn,
                    "models",
                    ("id", *MODEL_COLUMNS),
                    [(i, *r) for i, r in zip(ids, rows, strict=True)],
                )
            pairs = list(zip(ids, batch, strict=True))
            d.insert_many(
                conn,
                "metrics",
                ("model_id", "name", "value"),
                [(i, k, v) for i, draft in pairs for k, v in draft.metrics.items()],
            )
            d.insert_many(
                conn,
                "tags",
                ("model_id", d.quote("key"), "value"),
                [(i, k, v) for i, draft in pairs for k, v in draft.tags.items()],
            )
        if d.after_bulk_load is not None and len(batch) >= BULK_ROWS:
            # Its own short transaction, after the names' locks are released.
            with self._write() as conn:
                conn.execute(d.after_bulk_load)
        return ids

    def get(self, model_id: int) -> ModelMetadata | None:
        rows = self._read(self.sql.by_id(), (model_id,))
        return self._row_to_metadata(rows[0]) if rows else None

    def find_sql(self, query: Query) -> tuple[str, list[Any]]:
        """The statement :meth:`find` runs for ``query`` (tests EXPLAIN it); of a
        query sorted by a metric in two reads, the first."""
        if self.sql.metric_page_in_two_reads(query):
            return self.sql.with_metric(query)
        return self.sql.find(query)

    def find(self, query: Query) -> list[ModelMetadata]:
        if self.sql.metric_page_in_two_reads(query):
            return self._find_by_metric(query)
        return [self._row_to_metadata(row) for row in self._read(*self.find_sql(query))]

    def _find_by_metric(self, query: Query) -> list[ModelMetadata]:
        """Versions with the metric first, in metric order, then the rest by id.

        Two ordered reads in one snapshot. The first windows the narrow
        ``(id, value)`` pairs along the ``(name, value)`` index and reads the
        wide rows of that page only, so a deep page costs its own rows, not
        every row before it. The second (versions lacking the metric) runs
        only when the first did not fill the window.
        """
        limit, offset = query.limit, query.offset
        with self._snapshot() as conn:
            rows = list(conn.execute(*self.sql.with_metric(query)).fetchall())
            if limit is None or len(rows) < limit:
                # The window runs past the versions with the metric: the rest
                # starts at its beginning, unless the window began past them.
                skip = 0
                if not rows and offset:
                    (total,) = conn.execute(*self.sql.count_with_metric(query)).fetchone()
                    skip = max(0, offset - int(total))
                rest = None if limit is None else limit - len(rows)
                rows += conn.execute(*self.sql.without_metric(query, rest, skip)).fetchall()
        return [self._row_to_metadata(row) for row in rows]

    def count(self, query: Query) -> int:
        return int(self._read(*self.sql.count(query))[0][0])

    def best_sql(self, ranking: Ranking, query: Query) -> tuple[str, list[Any]]:
        """The statement and parameters :meth:`best` runs (tests EXPLAIN it)."""
        return self.sql.best(ranking, query)

    def best(self, ranking: Ranking, query: Query) -> ModelMetadata | None:
        rows = self._read(*self.best_sql(ranking, query))
        return self._row_to_metadata(rows[0]) if rows else None

    def model_names(self) -> list[str]:
        rows = self._read("SELECT DISTINCT model_name FROM models ORDER BY model_name")
        return [str(row[0]) for row in rows]

    def delete(self, model_id: int) -> ModelMetadata | None:
        with self._write() as conn:
            rows = conn.execute(self.sql.by_id(), (model_id,)).fetchall()
            if not rows:
                return None
            removed = self._row_to_metadata(rows[0])
            conn.execute(f"DELETE FROM models WHERE id = {self.sql.p}", (model_id,))
            if not removed.checkpoint:
                conn.execute(self.sql.retire, (removed.model_name, removed.version))
        return removed

    def update(
        self, model_id: int, *, description: str | None, tags: dict[str, str] | None
    ) -> ModelMetadata | None:
        if tags is not None:
            self._check_tags(tags)
        p = self.sql.p
        with self._write() as conn:
            if not conn.execute(f"SELECT 1 FROM models WHERE id = {p}", (model_id,)).fetchone():
                return None
            if description is not None:
                conn.execute(
                    f"UPDATE models SET description = {p} WHERE id = {p}", (description, model_id)
                )
            if tags is not None:
                conn.execute(f"DELETE FROM tags WHERE model_id = {p}", (model_id,))
                for key, value in tags.items():
                    conn.execute(self.sql.insert_tag, (model_id, key, value))
        return self.get(model_id)

    def _audit_values(self, event: AuditEvent) -> tuple[Any, ...]:
        check = self.dialect.check_text
        return (
            self.dialect.time_value(event.at),
            event.model_name,
            event.version,
            event.action,
            event.from_value,
            event.to_value,
            check("actor", event.actor),
            check("reason", event.reason),
            event.model_id,
        )

    def audit_log(self, model_name: str | None) -> list[AuditEvent]:
        sql = (
            "SELECT at, model_name, version, action, from_value, to_value, actor, reason, "
            "model_id FROM audit"
        )
        params: list[Any] = []
        if model_name is not None:
            sql += f" WHERE model_name = {self.sql.p}"
            params.append(model_name)
        return [
            AuditEvent(
                at=self.dialect.time_from(at),
                model_name=name,
                version=version,
                action=action,
                from_value=old,
                to_value=new,
                actor=actor,
                reason=reason,
                model_id=None if model_id is None else int(model_id),
            )
            for at, name, version, action, old, new, actor, reason, model_id in self._read(
                sql + " ORDER BY id", params
            )
        ]

    def import_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append recorded events verbatim (their times included), all or none."""
        with self._write() as conn:
            self._append_events(conn, events)

    def get_model_info(self, model_name: str) -> ModelInfo | None:
        rows = self._read(
            f"SELECT description, tags FROM model_info WHERE model_name = {self.sql.p}",
            (model_name,),
        )
        if not rows:
            return None
        description, tags = rows[0]
        return converter.model_info_from_row(model_name, description, tags, location=self.location)

    def set_model_info(self, info: ModelInfo) -> None:
        self._check_tags(info.tags)
        values = (info.model_name, info.description, json.dumps(info.tags, sort_keys=True))
        with self._write() as conn:
            conn.execute(self.sql.set_model_info, values)

    def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """The plan of a statement, for tests and benchmarks that check index use."""
        return self.dialect.plan_lines(self._read(f"{self.dialect.explain_prefix} {sql}", params))
