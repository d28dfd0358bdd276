"""Alert rules: a condition on monitored values, parsed from ``monitoring.alerts``.

A monitor run reduces each window to flat *monitored values*, a mapping of dotted keys to
numbers, for example::

    drift.share                       share of columns that drifted (0..1)
    drift.column.<column>.statistic   a column's drift statistic (also .p_value, .psi)
    estimated.<metric>                a metric estimated without labels (estimated.accuracy)
    performance.<metric>              a metric on the labelled rows (performance.accuracy)
    reference.<metric>                the metric on the reference data
    quality.missing_rate              share of missing input cells
    quality.refused_rate              share of requests refused for their schema (bad input)
    rows (or window.rows)             rows in the window
    performance.labelled (or .rows)   labelled rows in it

A rule names a key, or a glob over keys (``*`` matches any text, dots included), an
operator and a threshold. Each matching key is a *subject* (what the globs matched, such as
a column name, or ``dataset`` for a plain key) and has its own alert.

``<family>.<metric>_drop`` is derived when the values hold ``reference.<metric>`` and
``<family>.<metric>`` but no drop: ``reference - current``, positive when the metric fell
(so it suits metrics where higher is better; watch error metrics such as
``performance.log_loss`` directly).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from closedloop.errors import ConfigurationError, InvalidArgumentError

__all__ = [
    "OPERATORS",
    "SEVERITIES",
    "AlertRule",
    "check_severity",
    "default_rules",
    "derived_values",
    "parse_duration",
    "rules_from_config",
]

#: Comparison operators a rule may use.
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}

#: Alert severities, least severe first.
SEVERITIES = ("info", "warning", "critical")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_KEYS = ("name", "metric", "op", "threshold", "severity", "cooldown", "min_rows")
_HOW = "see docs/monitoring.md, section Alerts"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A condition on monitored values that raises an alert while it holds.

    Attributes:
        name: Unique among the rules; part of each alert's de-duplication key.
        metric: A monitored value's key, or a glob over keys (``drift.column.*.statistic``).
        op: ``>=``, ``>``, ``<=`` or ``<``: the alert fires while ``value op threshold``.
        threshold: The value compared with.
        severity: ``info``, ``warning`` or ``critical``.
        cooldown: Seconds: an open alert seen again is re-notified at most once per
            cool-down period (counted from when it fired); in between it only counts.
        min_rows: Windows with fewer rows (see :meth:`row_count`) are not judged: the rule
            neither fires nor resolves on them. ``None``: every window is judged.
    """

    name: str
    metric: str
    op: str
    threshold: float
    severity: str = "warning"
    cooldown: float = 3600.0
    min_rows: int | None = None
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"alert rule {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigurationError(
                f"alert rule name {self.name!r} is not a name",
                hint="use 1-64 letters, digits, '_', '-' or '.'",
            )
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise ConfigurationError(
                f"{where}: 'metric' must be a key or a glob such as drift.column.*.statistic",
                hint=_HOW,
            )
        if self.op not in OPERATORS:
            raise ConfigurationError(
                f"{where}: 'op' is {self.op!r}, not one of {', '.join(OPERATORS)}",
                hint="write op: '>=' (quote it in YAML)",
            )
        if not _is_number(self.threshold) or not math.isfinite(self.threshold):
            raise ConfigurationError(
                f"{where}: 'threshold' is {self.threshold!r}, not a finite number",
                hint="write threshold: 0.5",
            )
        if self.severity not in SEVERITIES:
            raise ConfigurationError(
                f"{where}: 'severity' is {self.severity!r}, not one of {', '.join(SEVERITIES)}",
                hint="write severity: warning",
            )
        if not _is_number(self.cooldown) or not 0 <= self.cooldown < math.inf:
            raise ConfigurationError(
                f"{where}: 'cooldown' is {self.cooldown!r}, not a duration",
                hint="write cooldown: 15m (or 90, 90s, 1h, 1d)",
            )
        if self.min_rows is not None and (
            isinstance(self.min_rows, bool)
            or not isinstance(self.min_rows, int)
            or self.min_rows < 0
        ):
            raise ConfigurationError(
                f"{where}: 'min_rows' is {self.min_rows!r}, not a whole number of rows",
                hint="write min_rows: 100, or leave it out",
            )
        if "*" in self.metric:
            parts = (re.escape(p) for p in self.metric.split("*"))
            object.__setattr__(self, "_pattern", re.compile("^" + "(.+)".join(parts) + "$"))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AlertRule:
        """A rule from one entry of ``monitoring.alerts``.

        Args:
            config: ``name``, ``metric``, ``op``, ``threshold`` and optionally ``severity``
                (default ``warning``), ``cooldown`` (a duration: ``90``, ``"90s"``, ``"15m"``,
                ``"1h"``, ``"1d"``; default ``1h``) and ``min_rows``.

        Raises:
            ConfigurationError: A key is unknown or missing, or a value is out of range;
                the message names the rule and the key.
        """
        if not isinstance(config, Mapping):
            raise ConfigurationError(
                f"an entry of monitoring.alerts is {type(config).__name__}, not a mapping",
                hint="write each rule as a mapping with name, metric, op and threshold",
            )
        name = config.get("name")
        where = f"alert rule {name!r}" if name is not None else "an alert rule"
        unknown = sorted(str(k) for k in config if k not in _KEYS)
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown key {', '.join(repr(k) for k in unknown)}",
                hint=f"a rule takes {', '.join(_KEYS)}",
            )
        missing = [k for k in ("name", "metric", "op", "threshold") if k not in config]
        if missing:
            raise ConfigurationError(
                f"{where}: missing {', '.join(repr(k) for k in missing)}",
                hint="a rule needs name, metric, op and threshold, e.g. "
                "{name: drift, metric: drift.share, op: '>=', threshold: 0.5}",
            )
        try:
            cooldown = parse_duration(config.get("cooldown", 3600.0))
        except ConfigurationError as e:
            raise ConfigurationError(f"{where}: 'cooldown': {e.message}", hint=e.hint) from None
        threshold = config["threshold"]
        return cls(
            name=str(name),
            metric=config["metric"],
            op=config["op"],
            threshold=float(threshold) if _is_number(threshold) else threshold,
            severity=config.get("severity", "warning"),
            cooldown=cooldown,
            min_rows=config.get("min_rows"),
        )

    def matches(self, values: Mapping[str, float]) -> Iterator[tuple[str, str]]:
        """The keys of ``values`` this rule watches, each with its subject, sorted by key."""
        if self._pattern is None:
            if self.metric in values:
                yield self.metric, "dataset"
            return
        for key in sorted(values):
            found = self._pattern.match(key)
            if found is not None:
                yield key, ".".join(found.groups())

    def holds(self, value: float) -> bool:
        """Whether ``value`` crosses the threshold (NaN never does)."""
        return not math.isnan(value) and OPERATORS[self.op](value, self.threshold)

    def row_count(self, key: str, values: Mapping[str, float]) -> float | None:
        """Rows behind ``key``'s value, or ``None`` when the values do not say.

        The first of ``<family>.rows``, ``<family>.labelled``, ``window.rows`` and ``rows``
        found: ``performance.labelled`` (labelled rows) thus gates ``performance.*`` rules.
        """
        family = key.split(".", 1)[0]
        for candidate in (f"{family}.rows", f"{family}.labelled", "window.rows", "rows"):
            if candidate in values:
                return values[candidate]
        return None

    def judged(self, key: str, values: Mapping[str, float]) -> bool:
        """Whether the window is big enough for this rule (``min_rows``)."""
        if self.min_rows is None:
            return True
        rows = self.row_count(key, values)
        return rows is not None and not math.isnan(rows) and rows >= self.min_rows

    def describe(self) -> dict[str, Any]:
        """The rule as a plain mapping (for evidence and webhook bodies)."""
        return {
            "name": self.name,
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "severity": self.severity,
            "cooldown": self.cooldown,
            "min_rows": self.min_rows,
        }


def default_rules() -> list[AlertRule]:
    """The rules used when ``monitoring.alerts`` is not set.

    * ``dataset_drift``: ``drift.share >= 0.5`` (half the columns drifted), warning.
    * ``estimated_accuracy_drop``: ``estimated.accuracy_drop >= 0.05`` (the label-free
      estimate fell 5 points below the reference), warning, windows of 100 rows or more.
    * ``accuracy_drop``: ``performance.accuracy_drop >= 0.05`` (realised accuracy 5 points
      below the reference), critical, 100 labelled rows or more.
    * ``missing_values``: ``quality.missing_rate >= 0.1``, warning.
    * ``schema_violations``: ``quality.refused_rate >= 0.05`` (requests refused for their
      schema), critical.

    All re-notify at most hourly while they stay open.
    """
    return [
        AlertRule("dataset_drift", "drift.share", ">=", 0.5, "warning"),
        AlertRule(
            "estimated_accuracy_drop",
            "estimated.accuracy_drop",
            ">=",
            0.05,
            "warning",
            min_rows=100,
        ),
        AlertRule(
            "accuracy_drop", "performance.accuracy_drop", ">=", 0.05, "critical", min_rows=100
        ),
        AlertRule("missing_values", "quality.missing_rate", ">=", 0.1, "warning"),
        AlertRule("schema_violations", "quality.refused_rate", ">=", 0.05, "critical"),
    ]


def rules_from_config(config: Any) -> list[AlertRule]:
    """The rules of ``monitoring.alerts``.

    Args:
        config: ``None`` (not set): :func:`default_rules`. Otherwise a list whose entries
            are rule mappings or the word ``defaults`` (the default rules at that place);
            an empty list turns alerts off.

    Raises:
        ConfigurationError: Not a list, a bad rule, or two rules with one name.
    """
    if config is None:
        return default_rules()
    if not isinstance(config, list | tuple):
        raise ConfigurationError(
            f"monitoring.alerts is {type(config).__name__}, not a list of rules",
            hint="write monitoring.alerts as a YAML list ('- defaults' keeps the default rules)",
        )
    rules: list[AlertRule] = []
    for entry in config:
        if entry == "defaults":
            rules.extend(default_rules())
        else:
            rules.append(AlertRule.from_config(entry))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ConfigurationError(
                f"two alert rules are named {rule.name!r}",
                hint="give each rule its own name (the defaults use dataset_drift, "
                "estimated_accuracy_drop, accuracy_drop, missing_values, schema_violations)",
            )
        seen.add(rule.name)
    return rules


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"`` or ``"1d"``.

    Raises:
        ConfigurationError: Not a duration, or negative.
    """
    if _is_number(value):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        seconds = float(found[1]) * _UNITS[found[2] or "s"]
    else:
        raise ConfigurationError(
            f"{value!r} is not a duration", hint="write seconds (90) or 90s, 15m, 1h, 1d"
        )
    if not 0 <= seconds < math.inf:
        raise ConfigurationError(
            f"{value!r} is not a duration of zero or more",
            hint="write seconds (90) or 90s, 15m, 1h, 1d",
        )
    return seconds


def derived_values(values: Mapping[str, float]) -> dict[str, float]:
    """``values`` as floats, with each missing ``<family>.<metric>_drop`` derived.

    The drop is ``reference.<metric> - <family>.<metric>`` for the families
    ``estimated`` and ``performance``.

    Raises:
        InvalidArgumentError: A value is not a number.
    """
    out: dict[str, float] = {}
    for key, value in values.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"the monitored value {key!r} is {value!r}, not a number",
                hint="pass numbers (NaN for a value that could not be computed)",
            ) from None
    prefix = "reference."
    for key, reference in list(out.items()):
        if not key.startswith(prefix):
            continue
        metric = key[len(prefix) :]
        for family in ("estimated", "performance"):
            current = out.get(f"{family}.{metric}")
            drop = f"{family}.{metric}_drop"
            if current is not None and drop not in out:
                out[drop] = reference - current
    return out


def check_severity(severity: str, name: str) -> None:
    """Refuse a sink's ``min_severity`` that is not a severity (naming the sink ``name``)."""
    if severity not in SEVERITIES:
        raise ConfigurationError(
            f"sink {name!r}: min_severity is {severity!r}, not one of {', '.join(SEVERITIES)}",
            hint="write min_severity: warning",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
