"""``MonitorConfig``: how ``closedloop monitor run`` watches a model version.

Read from the ``monitoring:`` section of ``closedloop.yaml`` (``ws.settings.monitoring``),
then overridden by the SDK's or the command line's arguments::

    monitoring:
      windows: [count:1000, time:1d]     # default: [count:1000]
      alpha: 0.05                        # level of the drift tests
      drift_share: 0.5                   # dataset drift: this share of columns drifted
      columns:                           # per-column drift rules (default: automatic)
        age: wasserstein:0.2
        city: {method: jensenshannon, threshold: 0.15}
      sensitive: [sex]                   # fairness per window by these input columns
      min_group_size: 30
      profile: default                   # the reference profile monitoring compares with
      interval: 60s                      # --follow: seconds between rounds
      alerts: [...]                      # alert rules (closedloop.monitoring alerts)
      sinks: [...]                       # where alerts go

Every key is checked; an unknown or invalid one is a ``ConfigurationError`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from closedloop.errors import ClosedLoopError, ConfigurationError
from closedloop.monitoring._rules import (
    DEFAULT_ALPHA,
    DEFAULT_DRIFT_SHARE,
    ColumnRule,
    check_alpha,
    check_drift_share,
    parse_rule,
)
from closedloop.monitoring._windows import WindowSpec, parse_duration

__all__ = ["DEFAULT_WINDOWS", "MonitorConfig"]

DEFAULT_WINDOWS = ("count:1000",)
_KEYS = {
    "windows",
    "alpha",
    "drift_share",
    "columns",
    "sensitive",
    "min_group_size",
    "profile",
    "interval",
    "alerts",
    "sinks",
}


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """What a monitor run does (see the module docstring).

    Attributes:
        windows: The window specs.
        alpha: Level of the drift tests.
        drift_share: Share of drifted columns at which the dataset drifted.
        rules: Per-column drift rules.
        sensitive: Input columns fairness is computed by, per window.
        min_group_size: Groups smaller than this are reported but left out of disparities.
        profile: The reference profile's name.
        interval_ms: Milliseconds between rounds of ``--follow``.
        alerts: The raw alert rules (parsed by the alerts module).
        sinks: The raw sinks (parsed by the alerts module).
    """

    windows: tuple[WindowSpec, ...] = tuple(WindowSpec.parse(w) for w in DEFAULT_WINDOWS)
    alpha: float = DEFAULT_ALPHA
    drift_share: float = DEFAULT_DRIFT_SHARE
    rules: dict[str, ColumnRule] = field(default_factory=dict)
    sensitive: tuple[str, ...] = ()
    min_group_size: int = 30
    profile: str = "default"
    interval_ms: int = 60_000
    alerts: tuple[Mapping[str, Any] | str, ...] | None = None
    sinks: tuple[Mapping[str, Any], ...] | None = None

    @classmethod
    def from_settings(cls, section: Mapping[str, Any] | None) -> MonitorConfig:
        """Read the ``monitoring:`` section.

        Raises:
            ConfigurationError: An unknown key or an invalid value, named.
        """
        doc = dict(section or {})
        unknown = sorted(set(doc) - _KEYS)
        if unknown:
            raise ConfigurationError(
                f"unknown monitoring setting(s) {unknown} in closedloop.yaml",
                hint=f"the monitoring section takes: {', '.join(sorted(_KEYS))}",
            )
        config = cls()
        try:
            return config.with_options(
                windows=doc.get("windows"),
                alpha=doc.get("alpha"),
                drift_share=doc.get("drift_share"),
                rules=_rules(doc.get("columns")),
                sensitive=doc.get("sensitive"),
                min_group_size=doc.get("min_group_size"),
                profile=doc.get("profile"),
                interval=doc.get("interval"),
                alerts=_list(doc.get("alerts"), "alerts"),
                sinks=_list(doc.get("sinks"), "sinks"),
            )
        except ConfigurationError:
            raise
        except ClosedLoopError as e:
            raise ConfigurationError(
                f"monitoring setting in closedloop.yaml: {e.message}", hint=e.hint
            ) from e

    def with_options(
        self,
        *,
        windows: Sequence[str | Mapping[str, Any] | WindowSpec] | None = None,
        alpha: float | None = None,
        drift_share: float | None = None,
        rules: Mapping[str, ColumnRule] | None = None,
        sensitive: Sequence[str] | str | None = None,
        min_group_size: int | None = None,
        profile: str | None = None,
        interval: Any = None,
        alerts: Sequence[Mapping[str, Any] | str] | None = None,
        sinks: Sequence[Mapping[str, Any]] | None = None,
    ) -> MonitorConfig:
        """This config with the given options replaced (``None``: kept).

        Raises:
            InvalidArgumentError: An invalid option, named.
        """
        from closedloop.errors import InvalidArgumentError

        changes: dict[str, Any] = {}
        if windows is not None:
            if isinstance(windows, str | Mapping):
                windows = [windows]
            specs = tuple(WindowSpec.parse(w) for w in windows)
            if not specs:
                raise InvalidArgumentError("monitoring needs at least one window")
            changes["windows"] = tuple(dict.fromkeys(specs))
        if alpha is not None:
            check_alpha(alpha)
            changes["alpha"] = float(alpha)
        if drift_share is not None:
            check_drift_share(drift_share)
            changes["drift_share"] = float(drift_share)
        if rules is not None:
            changes["rules"] = {**self.rules, **dict(rules)}
        if sensitive is not None:
            changes["sensitive"] = (sensitive,) if isinstance(sensitive, str) else tuple(sensitive)
        if min_group_size is not None:
            if (
                isinstance(min_group_size, bool)
                or not isinstance(min_group_size, int)
                or min_group_size < 1
            ):
                raise InvalidArgumentError(
                    f"min_group_size must be a positive integer, got {min_group_size!r}"
                )
            changes["min_group_size"] = min_group_size
        if profile is not None:
            changes["profile"] = str(profile)
        if interval is not None:
            changes["interval_ms"] = parse_duration(interval, "interval")
        if alerts is not None:
            changes["alerts"] = tuple(alerts)
        if sinks is not None:
            changes["sinks"] = tuple(sinks)
        return replace(self, **changes)


def _rules(value: Any) -> dict[str, ColumnRule] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "monitoring.columns must map column names to drift rules",
            hint="e.g. columns: {age: wasserstein:0.2, city: {method: jensenshannon}}",
        )
    out: dict[str, ColumnRule] = {}
    for column, rule in value.items():
        if isinstance(rule, str):
            out[str(column)] = parse_rule(f"{column}={rule}")[1]
        elif isinstance(rule, Mapping):
            extra = sorted(set(rule) - {"method", "threshold", "noise_floor"})
            if extra:
                raise ConfigurationError(
                    f"monitoring.columns.{column}: unknown key(s) {extra}",
                    hint="a rule has method, threshold and noise_floor",
                )
            out[str(column)] = ColumnRule(
                rule.get("method", "auto"),
                rule.get("threshold"),
                bool(rule.get("noise_floor", True)),
            )
        else:
            raise ConfigurationError(
                f"monitoring.columns.{column} is not a drift rule: {rule!r}",
                hint="write METHOD[:THRESHOLD] or {method: ..., threshold: ...}",
            )
    return out


def _list(value: Any, key: str) -> list[Any] | None:
    """A list of mappings; the alert rules may also hold the word ``defaults``."""
    if value is None:
        return None
    allowed = (lambda v: isinstance(v, Mapping) or v == "defaults") if key == "alerts" else None
    ok = isinstance(value, list) and all(
        isinstance(v, Mapping) if allowed is None else allowed(v) for v in value
    )
    if not ok:
        extra = " or the word defaults" if key == "alerts" else ""
        raise ConfigurationError(
            f"monitoring.{key} must be a list of mappings{extra}",
            hint=f"see docs/monitoring.md for the {key} format",
        )
    return list(value)
