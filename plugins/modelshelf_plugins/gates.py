"""Promotion gates: no version enters a stage unless its metrics qualify.

Configured in ``modelshelf.toml``::

    [gates.Production]
    f1 = 0.7          # f1 >= 0.7
    rmse = 0.3        # rmse <= 0.3 (lower is better, so the bound is a maximum)

or in code, for one registry: ``ModelRegistry(plugins=[MetricGate({"Production":
{"f1": 0.7}})])``. A version lacking a gated metric is refused too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf import hookimpl
from modelshelf.errors import VetoError
from modelshelf.metadata import Stage, check_metric_name, check_metric_value
from modelshelf.query import lower_is_better

if TYPE_CHECKING:
    from collections.abc import Mapping

    from modelshelf.metadata import ModelMetadata
    from modelshelf.protocols import RegistryView


def check_gate(
    thresholds: Mapping[str, Mapping[str, float]], metadata: ModelMetadata, to_stage: Stage
) -> None:
    """Raise VetoError listing every threshold ``metadata`` misses for ``to_stage``."""
    required = {
        metric: bound
        for stage, bounds in thresholds.items()
        if Stage.parse(stage) is to_stage
        for metric, bound in bounds.items()
    }
    failures = []
    for metric, bound in sorted(required.items()):
        value = metadata.metrics.get(metric)
        if value is None:
            failures.append(f"no {metric!r} metric")
        elif lower_is_better(metric) and value > bound:
            failures.append(f"{metric} {value:g} > {bound:g}")
        elif not lower_is_better(metric) and value < bound:
            failures.append(f"{metric} {value:g} < {bound:g}")
    if failures:
        raise VetoError(
            f"gate refused {metadata.model_name}:{metadata.version} -> {to_stage.value}: "
            + "; ".join(failures)
        )


class MetricGate:
    """A gate given in code; thresholds per stage, as in the configuration file."""

    def __init__(self, thresholds: Mapping[str, Mapping[str, float]]) -> None:
        self.thresholds = {
            Stage.parse(stage).value: {
                check_metric_name(m): check_metric_value(m, v) for m, v in bounds.items()
            }
            for stage, bounds in thresholds.items()
        }

    @hookimpl
    def modelshelf_before_stage_transition(self, metadata: ModelMetadata, to_stage: Stage) -> None:
        check_gate(self.thresholds, metadata, to_stage)


@hookimpl
def modelshelf_before_stage_transition(
    registry: RegistryView, metadata: ModelMetadata, to_stage: Stage
) -> None:
    """Apply the ``[gates]`` of the registry's configuration."""
    check_gate(registry.settings.gates, metadata, to_stage)
