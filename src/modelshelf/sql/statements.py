"""A :class:`~modelshelf.query.Query` or :class:`~modelshelf.query.Ranking` as SQL.

Only fixed fragments are joined here; every value a caller gave, metric and
tag names included, travels as a bound parameter. The statements are shaped
for the indexes of :mod:`modelshelf.sql.schema`: a filter on a column uses
its index, a metric bound or tag filter is an ``EXISTS`` probe of the side
table's primary key, the best version by one metric walks ``metrics_by_value``
from its best end, and a page sorted by a metric windows the narrow
``(id, value)`` pairs before it reads the wide rows of that page only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelshelf.query import Query, Ranking
    from modelshelf.sql.dialect import Dialect

#: Columns a query may order by; the only text ever put into ORDER BY.
ORDER_COLUMNS = {
    "model_id": "models.id",
    "model_name": "models.model_name",
    "model_type": "models.model_type",
    "version": "models.version_key",
    "created_at": "models.created_at",
    "stage": "models.stage",
}

#: The columns of a models row as :data:`Statements.select` reads them.
ROW_COLUMNS = ("id", "stage", "description", "data", "tags", "aliases")

#: The columns written when a version is recorded, in the order of its row.
MODEL_COLUMNS = (
    "model_name",
    "version",
    "version_key",
    "model_type",
    "stage",
    "description",
    "created_at",
    "checkpoint",
    "is_ensemble",
    "dataset",
    "data",
)

Statement = tuple[str, list[Any]]


class Statements:
    """Every statement of the shared store code, in one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = d = dialect
        p = d.placeholder
        self.p = p
        #: Everything a reader needs to rebuild a version, in one row.
        self.select = (
            "SELECT models.id, models.stage, models.description, models.data, "
            f"(SELECT {d.tags_json('t')} FROM tags t WHERE t.model_id = models.id), "
            f"(SELECT {d.aliases_json('a')} FROM aliases a WHERE a.model_id = models.id) "
            "FROM models"
        )
        self.insert_model = (
            f"INSERT INTO models ({', '.join(MODEL_COLUMNS)}) "
            f"VALUES ({d.params(len(MODEL_COLUMNS))}) RETURNING id"
        )
        self.insert_metric = f"INSERT INTO metrics (model_id, name, value) VALUES ({d.params(3)})"
        self.insert_tag = (
            f"INSERT INTO tags (model_id, {d.quote('key')}, value) VALUES ({d.params(3)})"
        )
        #: The highest release version a name ever had: one row, never a scan.
        self.high_water = f"SELECT version FROM version_high_water WHERE model_name = {p}"
        self.set_high_water = d.upsert(
            "version_high_water", ("model_name", "version", "version_key"), ("model_name",)
        )
        self.version_taken = f"SELECT 1 FROM models WHERE model_name = {p} AND version = {p}"
        self.version_retired = (
            f"SELECT 1 FROM retired_versions WHERE model_name = {p} AND version = {p}"
        )
        self.retire = d.insert_ignore("retired_versions", ("model_name", "version"))
        self.insert_audit = (
            "INSERT INTO audit (at, model_name, version, action, from_value, to_value, "
            f"actor, reason, model_id) VALUES ({d.params(9)})"
        )
        self.set_alias = d.upsert(
            "aliases", ("model_name", "alias", "model_id"), ("model_name", "alias")
        )
        self.set_model_info = d.upsert(
            "model_info", ("model_name", "description", "tags"), ("model_name",)
        )

    # -- filters ---------------------------------------------------------------

    def where(self, query: Query) -> Statement:
        """The WHERE clause of a query's filters and its bound values."""
        p, d = self.p, self.dialect
        clauses = [f"models.checkpoint = {p}"]
        params: list[Any] = [query.checkpoints]
        for column, value in (
            ("models.model_name", query.model_name),
            ("models.model_type", query.model_type),
            ("models.version", query.version),
            ("models.stage", query.stage.value if query.stage is not None else None),
            ("models.dataset", query.dataset),
            ("models.is_ensemble", query.is_ensemble),
        ):
            if value is not None:
                clauses.append(f"{column} = {p}")
                params.append(value)
        # Without an equality on an indexed column, the first side-table filter
        # drives the query: its index gives the ids (``IN``) instead of every
        # row being probed (``EXISTS``).
        drive = not self.has_column_filter(query)
        if query.alias is not None:
            clauses.append(self._side("aliases", "a", "a.alias = {p}", drive))
            params.append(query.alias)
            drive = False
        for key, value in query.tags.items():
            clauses.append(
                self._side("tags", "t", f"t.{d.quote('key')} = {{p}} AND t.value = {{p}}", drive)
            )
            params += [key, value]
            drive = False
        for bound in query.bounds:
            condition = "m.name = {p}"
            params.append(bound.name)
            if bound.minimum is not None:
                condition += " AND m.value >= {p}"
                params.append(bound.minimum)
            if bound.maximum is not None:
                condition += " AND m.value <= {p}"
                params.append(bound.maximum)
            clauses.append(self._side("metrics", "m", condition, drive))
            drive = False
        if query.created_after is not None:
            clauses.append(f"models.created_at >= {p}")
            params.append(d.time_value(query.created_after))
        if query.created_before is not None:
            clauses.append(f"models.created_at < {p}")
            params.append(d.time_value(query.created_before))
        return " AND ".join(clauses), params

    @staticmethod
    def has_column_filter(query: Query) -> bool:
        """Whether an equality on an indexed models column narrows the query."""
        return any((query.model_name, query.model_type, query.version, query.stage, query.dataset))

    def metric_page_in_two_reads(self, query: Query) -> bool:
        """Whether a query sorted by a metric is read as :meth:`with_metric` then
        :meth:`without_metric`: always where the dialect says so, and for a page
        of the whole registry, which the metric's index then gives in order."""
        if not query.orders_by_metric:
            return False
        if self.dialect.metric_order_in_two_reads:
            return True
        return query.limit is not None and not self.has_column_filter(query)

    def _side(self, table: str, alias: str, condition: str, drive: bool) -> str:
        """A filter on a side table: ``IN`` its index when it drives, else ``EXISTS``."""
        condition = condition.format(p=self.p)
        if drive:
            return f"models.id IN (SELECT {alias}.model_id FROM {table} {alias} WHERE {condition})"
        correlated = f"{alias}.model_id = models.id AND {condition}"
        return f"EXISTS (SELECT 1 FROM {table} {alias} WHERE {correlated})"

    def window(self, limit: int | None, offset: int) -> Statement:
        p = self.p
        return f" LIMIT {p} OFFSET {p}", [self.dialect.no_limit if limit is None else limit, offset]

    # -- reading ---------------------------------------------------------------

    def by_id(self) -> str:
        return f"{self.select} WHERE models.id = {self.p}"

    def count(self, query: Query) -> Statement:
        where, params = self.where(query)
        return f"SELECT count(*) FROM models WHERE {where}", params

    def find(self, query: Query) -> Statement:
        """One statement answering ``query``: versions lacking an ordering metric come last."""
        where, params = self.where(query)
        direction = "DESC" if query.descending else "ASC"
        windowed = query.limit is not None or query.offset
        window, window_params = self.window(query.limit, query.offset) if windowed else ("", [])
        if not query.orders_by_metric:
            column = ORDER_COLUMNS[query.order_by]
            tail = f" ORDER BY {column} {direction}, models.id {direction}{window}"
            return f"{self.select} WHERE {where}{tail}", [*params, *window_params]
        join = f"LEFT JOIN metrics o ON o.model_id = models.id AND o.name = {self.p}"
        order = f"o.value IS NULL, o.value {direction}, models.id {direction}"
        if not windowed:
            return f"{self.select} {join} WHERE {where} ORDER BY {order}", [query.order_by, *params]
        # A page: order and window the narrow (id, value) pairs first, then
        # read the wide rows of that page only. Sorting whole rows (the data
        # column with them) made a deep page of a big name take seconds.
        sql = (
            f"{self.select} JOIN (SELECT models.id AS id, o.value AS value FROM models "
            f"{join} WHERE {where} ORDER BY {order}{window}) AS page "
            "ON page.id = models.id "
            f"ORDER BY page.value IS NULL, page.value {direction}, page.id {direction}"
        )
        return sql, [query.order_by, *params, *window_params]

    def with_metric(self, query: Query) -> Statement:
        """A page of the versions that have the ordering metric, along its index."""
        where, params = self.where(query)
        direction = "DESC" if query.descending else "ASC"
        window, window_params = self.window(query.limit, query.offset)
        sql = (
            f"{self.select} JOIN (SELECT models.id AS id, o.value AS value FROM models "
            f"JOIN metrics o ON o.model_id = models.id AND o.name = {self.p} WHERE {where} "
            f"ORDER BY o.value {direction}, o.model_id {direction}{window}) AS page "
            f"ON page.id = models.id ORDER BY page.value {direction}, page.id {direction}"
        )
        return sql, [query.order_by, *params, *window_params]

    def count_with_metric(self, query: Query) -> Statement:
        where, params = self.where(query)
        sql = (
            "SELECT count(*) FROM models JOIN metrics o ON o.model_id = models.id "
            f"AND o.name = {self.p} WHERE {where}"
        )
        return sql, [query.order_by, *params]

    def without_metric(self, query: Query, limit: int | None, offset: int) -> Statement:
        where, params = self.where(query)
        direction = "DESC" if query.descending else "ASC"
        window, window_params = self.window(limit, offset)
        sql = (
            f"{self.select} WHERE {where} AND NOT EXISTS (SELECT 1 FROM metrics n "
            f"WHERE n.model_id = models.id AND n.name = {self.p}) "
            f"ORDER BY models.id {direction}{window}"
        )
        return sql, [*params, query.order_by, *window_params]

    def best(self, ranking: Ranking, query: Query) -> Statement:
        """The best version under ``ranking`` among those ``query`` selects."""
        where, params = self.where(query)
        p = self.p
        if len(ranking.terms) == 1 and ranking.required == (ranking.terms[0].metric,):
            # One metric: walk the (name, value, model_id) index from the best
            # end; ordering ties by r.model_id (not models.id) lets the index
            # give the whole order, so no sort is needed.
            term = ranking.terms[0]
            direction = "DESC" if term.weight >= 0 else "ASC"
            return (
                f"{self.select} JOIN metrics r ON r.model_id = models.id AND r.name = {p} "
                f"WHERE {where} ORDER BY r.value {direction}, r.model_id DESC LIMIT 1",
                [term.metric, *params],
            )
        name, weight = self.dialect.cast("KEY"), self.dialect.cast("FLOAT")
        weights_sql = " UNION ALL ".join(
            f"SELECT {name} AS name, {weight} AS weight" for _ in ranking.terms
        )
        weights = [item for term in ranking.terms for item in (term.metric, term.weight)]
        required = "".join(
            f" AND EXISTS (SELECT 1 FROM metrics q WHERE q.model_id = models.id AND q.name = {p})"
            for _ in ranking.required
        )
        # One grouped join: an aggregate over the selected versions, or a few
        # index probes when the filter picks out a name; then one wide row.
        sql = (
            f"{self.select} JOIN (SELECT models.id AS id FROM models "
            f"LEFT JOIN (metrics s JOIN ({weights_sql}) w ON w.name = s.name) "
            f"ON s.model_id = models.id WHERE {where}{required} GROUP BY models.id, "
            "models.is_ensemble ORDER BY coalesce(sum(w.weight * s.value), 0.0) "
            f"* (CASE WHEN models.is_ensemble THEN {weight} ELSE 1.0 END) DESC, "
            "models.id DESC LIMIT 1) AS best ON best.id = models.id"
        )
        return sql, [*weights, *params, *ranking.required, ranking.ensemble_multiplier]
