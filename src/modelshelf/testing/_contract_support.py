"""Settings and helpers every conformance suite shares, so the suites agree on them."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: Hypothesis settings of the suites' property tests: few examples (many
#: with ``MODELSHELF_STRESS=1``), no deadline (a store on a slow disk is not
#: wrong), no example database.
SUITE_SETTINGS = settings(
    max_examples=1000 if os.environ.get("MODELSHELF_STRESS") == "1" else 40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _not_overridden(fixture: str, contract: str) -> NotImplementedError:
    return NotImplementedError(
        f"{contract} needs the {fixture!r} fixture: override it in your Test... subclass "
        "to return a fresh instance of your plugin (see docs/plugins.md)"
    )


__all__ = ["SUITE_SETTINGS"]
