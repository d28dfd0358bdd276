"""The monitoring section of closedloop.yaml: MonitorConfig.from_settings."""

from __future__ import annotations

import pytest

from closedloop.errors import ConfigurationError
from closedloop.monitoring._alert_rules import default_rules, rules_from_config
from closedloop.monitoring._config import MonitorConfig


def test_alert_rules_may_keep_the_defaults_by_name() -> None:
    extra = {"name": "share", "metric": "drift.share", "op": ">=", "threshold": 0.5}
    config = MonitorConfig.from_settings({"alerts": ["defaults", extra]})
    assert config.alerts == ("defaults", extra)
    rules = rules_from_config(list(config.alerts))
    names = [r.name for r in rules]
    assert names == [*(r.name for r in default_rules()), "share"]


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"alerts": ["everything"]}, "monitoring.alerts must be a list of mappings or the word"),
        ({"alerts": {"name": "x"}}, "monitoring.alerts must be a list"),
        ({"sinks": ["defaults"]}, "monitoring.sinks must be a list of mappings"),
    ],
)
def test_other_words_are_refused_with_the_format(section: dict, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words) as info:
        MonitorConfig.from_settings(section)
    assert "docs/monitoring.md" in (info.value.hint or "")
