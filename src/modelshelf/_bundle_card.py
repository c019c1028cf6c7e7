"""The model card: the README.md of a version bundle.

Written for a person who finds the bundle without modelshelf at hand: what
the version is, how it was trained and how to load it, safely.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelshelf.metadata import ModelMetadata

# -- model card ------------------------------------------------------------------------


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _card_signature(m: ModelMetadata) -> list[str]:
    """The model card's "Signature" section: what the model takes, gives and runs first."""
    if m.signature is None and not m.preprocessing:
        return []
    lines = ["", "## Signature", ""]
    signature = m.signature
    if signature is not None:
        if signature.inputs.tensor is not None:
            lines.append(f"Takes a {_md(signature.inputs.describe())}.")
        else:
            lines += ["| Input column | Type |", "|---|---|"]
            lines += [f"| {_md(c.name)} | {c.dtype} |" for c in signature.inputs.columns]
        if signature.outputs is not None:
            lines += ["", f"Gives {_md(signature.outputs.describe())}."]
    if m.preprocessing:
        steps = " → ".join(f"`{_md(step)}`" for step in m.preprocessing)
        lines += ["", f"Before the model, these artifacts transform the input: {steps}."]
    return lines


def model_card(metadata: ModelMetadata, files: dict[str, str], *, source: str = "") -> str:
    """A README.md that tells a reader what this version is and how to load it."""
    m = metadata
    lines = [f"# {m.model_name} {m.version}", ""]
    if m.description:
        lines += [m.description, ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| Type | {_md(m.model_type or '-')} |",
        f"| Stage | {m.stage.value} |",
        f"| Aliases | {_md(', '.join(m.aliases) or '-')} |",
        f"| Created | {m.created_at.isoformat()} |",
        f"| Serializer | {m.artifact.serializer} |",
        f"| Size | {m.artifact.size} bytes |",
        f"| SHA-256 | `{m.artifact.sha256}` |",
        "",
        "## Metrics",
        "",
    ]
    if m.metrics:
        lines += ["| Metric | Value |", "|---|---|"]
        lines += [f"| {_md(k)} | {v:.6g} |" for k, v in sorted(m.metrics.items())]
    else:
        lines.append("No metrics were recorded.")
    lines += ["", "## Hyperparameters", ""]
    if m.hyperparameters:
        lines += ["| Name | Value |", "|---|---|"]
        lines += [
            f"| {_md(k)} | `{_md(json.dumps(v, sort_keys=True))}` |"
            for k, v in sorted(m.hyperparameters.items())
        ]
    else:
        lines.append("No hyperparameters were recorded.")
    info = m.training_info
    lines += ["", "## Training", ""]
    facts = [
        ("Dataset", info.dataset or None),
        ("Samples", info.n_samples),
        (
            "Class distribution",
            ", ".join(f"{k}: {v}" for k, v in sorted(info.class_distribution.items())) or None,
        ),
        ("Data quality score", info.data_quality_score),
        ("Ensemble", "yes" if info.is_ensemble else None),
        ("Features", ", ".join(m.feature_names) or None),
    ]
    facts += [(k, json.dumps(v, sort_keys=True)) for k, v in sorted(info.extra.items())]
    shown = [(k, v) for k, v in facts if v is not None]
    if shown:
        lines += ["| | |", "|---|---|", *(f"| {_md(k)} | {_md(v)} |" for k, v in shown)]
    else:
        lines.append("No training information was recorded.")
    lines += _card_signature(m)
    lines += ["", "## Lineage", ""]
    lines.append(f"- Exported from model id {m.model_id}" + (f" of `{source}`" if source else ""))
    lines.append(
        f"- Parent version: model id {m.parent_id}" if m.parent_id else "- No parent version"
    )
    if m.checkpoint:
        lines.append("- This version is a training checkpoint")
    if m.tags:
        lines.append("- Tags: " + ", ".join(f"`{k}={v}`" for k, v in sorted(m.tags.items())))
    if m.artifacts:
        lines += ["", "## Auxiliary artifacts", "", "| Name | File | SHA-256 |", "|---|---|---|"]
        lines += [
            f"| {_md(name)} | `{files[name]}` | `{ref.sha256}` |"
            for name, ref in sorted(m.artifacts.items())
        ]
    lines += [
        "",
        "## Loading it",
        "",
        "Check the files, then import the bundle into a registry and load it by reference:",
        "",
        "```bash",
        "sha256sum -c checksums",
        "modelshelf import . --registry data/models/registry",
        "```",
        "",
        "```python",
        "from modelshelf import ModelRegistry",
        "",
        'registry = ModelRegistry("data/models/registry")',
        f'model = registry.load("{m.reference}").model',
        "```",
        "",
        f"Or load the file directly with {m.artifact.serializer} (only from a source you trust:",
        "unpickling runs code):",
        "",
        "```python",
        f"import {m.artifact.serializer}",
        "",
        f'with open("{files[""]}", "rb") as f:',
        f"    model = {m.artifact.serializer}.load(f)",
        "```",
        "",
    ]
    return "\n".join(lines)
