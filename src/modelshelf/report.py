"""One self-contained HTML page that compares model versions.

``write_report`` renders the versions of one model name (or of every name)
as a sortable table and as charts: each metric across a name's versions, and
each metric by lifecycle stage. The page must open anywhere, offline and
years later, so everything is inline: CSS, a few lines of JavaScript, and
charts drawn as SVG here in Python. Nothing is fetched, no library is
vendored, and every piece of user text is HTML-escaped.

The page's script marks ``<body>`` with ``data-report-ready="yes"`` once it
ran and records any script error in ``data-js-error`` (and shows it), so a
headless browser can tell a page that rendered from one that broke.

The page, its table and its inline CSS and script are here; the SVG charts
and the colours are drawn by ``_report_charts``.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

# Names of the parts, importable from here as before.
from modelshelf._report_charts import SERIES_COLOURS as SERIES_COLOURS
from modelshelf._report_charts import STAGE_COLOURS as STAGE_COLOURS
from modelshelf._report_charts import STAGE_ORDER as STAGE_ORDER
from modelshelf._report_charts import _charts_across_versions, _charts_by_stage, _esc, _fmt
from modelshelf._report_charts import _line_chart as _line_chart
from modelshelf.errors import InvalidInputError, ModelNotFoundError
from modelshelf.metadata import Stage, check_metric_name, check_name
from modelshelf.query import lower_is_better

if TYPE_CHECKING:
    from collections.abc import Sequence

    from modelshelf.metadata import ModelMetadata
    from modelshelf.registry import ModelRegistry


__all__ = ["write_report"]

#: Written inside ``path`` when ``path`` is an existing directory.
DEFAULT_FILE_NAME = "report.html"


def write_report(
    registry: ModelRegistry,
    path: str | os.PathLike[str],
    *,
    model_name: str | None = None,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Write an HTML report comparing versions and return the file's path.

    :param registry: the registry to read (nothing is written to it).
    :param path: the file to write; an existing directory gets ``report.html``
        inside it. Parent directories are created. The file is replaced
        atomically, so a reader never sees half a report.
    :param model_name: report only this name's versions; ``None`` reports every name.
    :param metrics: the metrics to show, in this order; ``None`` shows every
        metric any reported version has.
    :param title: the page title; defaults to "modelshelf report" (and the name).
    :returns: the path of the written file.
    :raises ModelNotFoundError: ``model_name`` has no versions.
    :raises InvalidInputError: a metric no reported version has, or a bad argument.
    """
    if model_name is not None:
        check_name("model_name", model_name)
    if title is not None and not isinstance(title, str):
        raise InvalidInputError(f"title: must be a string, got {type(title).__name__}")
    names = [model_name] if model_name is not None else registry.list_model_names()
    by_name = {name: registry.list_models(model_name=name, order_by="version") for name in names}
    by_name = {name: found for name, found in by_name.items() if found}
    if model_name is not None and not by_name:
        raise ModelNotFoundError(f"no versions of model {model_name!r} to report on")
    versions = [m for found in by_name.values() for m in found]
    shown = _choose_metrics(versions, metrics)
    if title is None:
        title = "modelshelf report" + (f": {model_name}" if model_name else "")

    page = _render_page(registry, title, by_name, shown)
    target = Path(path)
    if target.is_dir():
        target = target / DEFAULT_FILE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, page)
    return target


def _choose_metrics(versions: Sequence[ModelMetadata], metrics: Sequence[str] | None) -> list[str]:
    recorded = sorted({name for m in versions for name in m.metrics})
    if metrics is None:
        return recorded
    if isinstance(metrics, str):
        raise InvalidInputError("metrics: must be a list of metric names, not one string")
    chosen = [check_metric_name(name) for name in metrics]
    if not chosen:
        raise InvalidInputError("metrics: give at least one metric name, or None for all")
    missing = [name for name in chosen if name not in recorded]
    if missing:
        raise InvalidInputError(
            f"metrics: no reported version has {', '.join(map(repr, missing))}; "
            f"recorded metrics are: {', '.join(recorded) or 'none'}"
        )
    return list(dict.fromkeys(chosen))


def _write_atomically(target: Path, text: str) -> None:
    # A sibling temporary file (created exclusively, so with the usual umask
    # permissions) then a rename: readers see the old report or the new one.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- page ----------------------------------------------------------------------------


def _render_page(
    registry: ModelRegistry,
    title: str,
    by_name: dict[str, list[ModelMetadata]],
    metrics: list[str],
) -> str:
    versions = [m for found in by_name.values() for m in found]
    colours = {name: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, name in enumerate(by_name)}
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="modelshelf">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        f"<script>{_ERROR_JS}</script>",
        "</head><body>",
        '<div id="js-errors" role="alert" hidden></div>',
        f"<header><h1>{_esc(title)}</h1>",
        f'<p class="meta">Registry <code>{_esc(registry.storage_path)}</code> · '
        f"generated {generated} · scoring policy <code>{_esc(registry.scoring.name)}</code></p>",
        "</header><main>",
    ]
    if not versions:
        parts.append('<p class="empty">No versions recorded yet.</p>')
    else:
        parts.append(_summary(registry, by_name))
        parts.append(_legend())
        parts.append(_table(registry, versions, metrics))
        parts.append(_signatures(versions))
        parts.append(_charts_across_versions(by_name, metrics, colours))
        parts.append(_charts_by_stage(versions, metrics))
    parts += ["</main>", f"<script>{_PAGE_JS}</script>", "</body></html>", ""]
    return "\n".join(parts)


def _summary(registry: ModelRegistry, by_name: dict[str, list[ModelMetadata]]) -> str:
    versions = [m for found in by_name.values() for m in found]
    production = [m for m in versions if m.stage is Stage.PRODUCTION]
    scored = [(registry.score(m), m) for m in versions]
    ranked = [(s, m) for s, m in scored if s is not None]
    best = max(ranked, key=lambda pair: (pair[0], pair[1].model_id))[1] if ranked else None
    cards = [
        ("Versions", str(len(versions))),
        ("Model names", str(len(by_name))),
        ("In Production", ", ".join(m.reference for m in production) or "none"),
        (f"Best by {registry.scoring.name}", best.reference if best else "none scored"),
    ]
    items = "".join(
        f'<div class="card"><div class="label">{_esc(label)}</div>'
        f'<div class="value">{_esc(value)}</div></div>'
        for label, value in cards
    )
    return f'<section class="summary">{items}</section>'


def _legend() -> str:
    items = "".join(
        f'<span class="badge" style="background:{STAGE_COLOURS[s]}">{_esc(s.value)}</span>'
        for s in STAGE_ORDER
    )
    return f'<p class="legend">Stages: {items}</p>'


def _table(registry: ModelRegistry, versions: list[ModelMetadata], metrics: list[str]) -> str:
    best: dict[str, float] = {}
    for metric in metrics:
        values = [m.metrics[metric] for m in versions if metric in m.metrics]
        if values:
            best[metric] = min(values) if lower_is_better(metric) else max(values)
    head = [
        ("ID", "num"),
        ("Name", "text"),
        ("Version", "num"),
        ("Stage", "text"),
        ("Aliases", "text"),
        ("Type", "text"),
        ("Created (UTC)", "text"),
    ]
    head += [(metric + (" ↓" if lower_is_better(metric) else ""), "num") for metric in metrics]
    head.append((f"Score ({registry.scoring.name})", "num"))
    cells = "".join(
        f'<th scope="col" data-type="{kind}" tabindex="0">{_esc(label)}</th>'
        for label, kind in head
    )
    rows = []
    for position, m in enumerate(versions):
        score = registry.score(m)
        row = [
            _td(m.model_id, m.model_id),
            _td(m.model_name),
            # Sort by the versioning scheme's order, which the query gave us.
            _td(m.version, position),
            f'<td data-sort="{STAGE_ORDER.index(m.stage)}"><span class="badge" '
            f'style="background:{STAGE_COLOURS[m.stage]}">{_esc(m.stage.value)}</span></td>',
            _td(", ".join(m.aliases)),
            _td(m.model_type),
            _td(m.created_at.strftime("%Y-%m-%d %H:%M:%S"), m.created_at.isoformat()),
        ]
        for metric in metrics:
            if metric in m.metrics:
                value = m.metrics[metric]
                mark = ' class="best"' if value == best.get(metric) else ""
                row.append(f'<td data-sort="{value!r}"{mark}>{_fmt(value)}</td>')
            else:
                row.append('<td data-sort="" class="missing">—</td>')
        row.append(_td(_fmt(score), repr(score)) if score is not None else _td("—", ""))
        tip = f"{m.reference}: {m.description}" if m.description else m.reference
        rows.append(f'<tr data-model-id="{m.model_id}" title="{_esc(tip)}">{"".join(row)}</tr>')
    return (
        '<section><h2>Versions</h2><p class="hint">Click a column to sort; the best value '
        "of each metric is highlighted (↓: lower is better).</p>"
        '<div class="table-wrap"><table id="versions">'
        f"<thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _signatures(versions: list[ModelMetadata]) -> str:
    """What each version takes and gives, one folded entry per version that recorded it."""
    entries = []
    for m in versions:
        signature = m.signature
        if signature is None and not m.preprocessing:
            continue
        facts = []
        items = ""
        if signature is not None:
            inputs = signature.inputs
            if inputs.tensor is not None:
                facts.append(f"takes {inputs.describe()}")
            else:
                facts.append(f"takes {len(inputs.columns)} columns")
                items = "".join(
                    f"<li><code>{_esc(c.name)}</code> {_esc(c.dtype)}</li>" for c in inputs.columns
                )
            if signature.outputs is not None:
                facts.append(f"gives {signature.outputs.describe()}")
        if m.preprocessing:
            facts.append("steps: " + " → ".join([*m.preprocessing, "model"]))
        example = ""
        if m.input_example:
            shown = json.dumps(m.input_example[0], ensure_ascii=False, allow_nan=False)
            example = f'<p class="hint">Example row: <code>{_esc(shown)}</code></p>'
        body = f'<ul class="columns">{items}</ul>' if items else ""
        entries.append(
            f'<details data-model-id="{m.model_id}"><summary><strong>{_esc(m.reference)}'
            f"</strong> · {_esc(' · '.join(facts))}</summary>{body}{example}</details>"
        )
    if not entries:
        return ""
    return (
        '<section><h2>Signatures</h2><p class="hint">What each version takes as input, as '
        "<code>predict</code> checks it, and the steps that run before the model.</p>"
        f'<div class="signatures">{"".join(entries)}</div></section>'
    )


def _td(text: object, sort: object = None) -> str:
    key = f' data-sort="{_esc(sort)}"' if sort is not None else ""
    return f"<td{key}>{_esc(text)}</td>"


# -- inline assets ---------------------------------------------------------------------

_CSS = """
:root{--fg:#1d2330;--muted:#5d6675;--line:#d9dee7;--bg:#ffffff;--card:#f5f7fa;--accent:#4e79a7}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:18px 0 8px;display:flex;align-items:center;gap:8px}
h3 small{color:var(--muted);font-weight:normal}
.meta,.hint,.legend{color:var(--muted);margin:4px 0}
code{background:var(--card);padding:1px 4px;border-radius:3px}
.summary{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px;
min-width:160px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:18px;font-weight:600;word-break:break-all}
.badge{display:inline-block;color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;
margin-right:4px}
.swatch{display:inline-block;width:14px;height:14px;border-radius:3px}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:var(--card);cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.best{font-weight:700;color:#1f7a45;background:#e8f6ee}td.missing{color:var(--muted)}
tr.highlight td{background:#fff4d6}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.chart-card{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:8px}
.chart-card figcaption{font-weight:600;margin:0 0 4px 4px}
svg.chart{width:100%;height:auto;display:block;background:#fff;border-radius:6px}
svg .grid{stroke:#e6e9ef;stroke-width:1}
svg .tick,svg .count{fill:var(--muted);font-size:11px}
svg .series{fill:none;stroke-width:2}
svg .bar{opacity:.35}
svg .point{stroke:#fff;stroke-width:1.5;cursor:pointer}
svg .point.highlight{stroke:#1d2330;stroke-width:2.5}
#js-errors{background:#fde2e1;color:#8a1c17;border:1px solid #f5b5b1;padding:8px 12px;
border-radius:6px;margin-bottom:12px;white-space:pre-wrap}
.empty{color:var(--muted);font-style:italic}
.signatures details{border:1px solid var(--line);border-radius:8px;padding:6px 12px;margin:6px 0}
.signatures summary{cursor:pointer}
.signatures ul.columns{columns:3 260px;margin:8px 0;padding-left:18px}
@media print{th{position:static}.chart-card{break-inside:avoid}}
"""

# Runs first, in <head>: any later script error is recorded in the DOM.
_ERROR_JS = """
window.onerror=function(message,source,line){
  var text=String(message)+" (line "+line+")";
  var mark=function(){
    document.body.setAttribute("data-js-error",text);
    var box=document.getElementById("js-errors");
    if(box){box.hidden=false;box.textContent="Report script error: "+text;}
  };
  if(document.body){mark();}else{document.addEventListener("DOMContentLoaded",mark);}
  return false;
};
"""

_PAGE_JS = """
(function(){
  "use strict";
  var table=document.getElementById("versions");
  function key(row,index,type){
    var cell=row.cells[index];
    var raw=cell.hasAttribute("data-sort")?cell.getAttribute("data-sort"):cell.textContent;
    if(type==="num"){var n=parseFloat(raw);return isNaN(n)?null:n;}
    return raw.toLowerCase();
  }
  function sortBy(th){
    var index=th.cellIndex,type=th.getAttribute("data-type");
    var ascending=th.getAttribute("aria-sort")!=="ascending";
    var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=key(a,index,type),y=key(b,index,type);
      if(x===null&&y===null){return 0;}
      if(x===null){return 1;}
      if(y===null){return -1;}
      var order=x<y?-1:(x>y?1:0);
      return ascending?order:-order;
    });
    rows.forEach(function(row){body.appendChild(row);});
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(cell){
      cell.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort",ascending?"ascending":"descending");
  }
  if(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
      th.addEventListener("click",function(){sortBy(th);});
      th.addEventListener("keydown",function(e){if(e.key==="Enter"){sortBy(th);}});
    });
  }
  function highlight(id,on){
    var nodes=document.querySelectorAll('[data-model-id="'+id+'"]');
    Array.prototype.forEach.call(nodes,function(node){node.classList.toggle("highlight",on);});
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-model-id]"),function(node){
    var id=node.getAttribute("data-model-id");
    node.addEventListener("mouseenter",function(){highlight(id,true);});
    node.addEventListener("mouseleave",function(){highlight(id,false);});
  });
  function box(node){
    if(!node){return null;}
    var r=node.getBoundingClientRect();
    return {x:Math.round(r.left+window.scrollX),y:Math.round(r.top+window.scrollY),
            width:Math.round(r.width),height:Math.round(r.height)};
  }
  document.body.setAttribute("data-layout",JSON.stringify({
    table:box(table),chart:box(document.querySelector("svg.chart")),
    charts:document.querySelectorAll("svg.chart").length,
    points:document.querySelectorAll("svg .point").length
  }));
  document.body.setAttribute("data-report-ready","yes");
})();
"""
