"""Settings: defaults < closedloop.yaml < CLOSEDLOOP_* env < explicit overrides."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from closedloop.config import (
    CONFIG_FILE,
    WORKSPACE_DIR,
    Settings,
    find_workspace_root,
    load_settings,
    read_config_file,
)
from closedloop.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's CLOSEDLOOP_* variables out of every test."""
    for key in list(os.environ):
        if key.startswith("CLOSEDLOOP_"):
            monkeypatch.delenv(key)


def _workspace(root: Path, yaml_text: str | None = None) -> Path:
    """A folder with ``.closedloop/`` and optionally a ``closedloop.yaml``."""
    state = root / WORKSPACE_DIR
    state.mkdir(parents=True)
    if yaml_text is not None:
        (state / CONFIG_FILE).write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    return root.resolve()


# defaults ---------------------------------------------------------------------------------------
def test_defaults_without_workspace_file_or_env(outside: Path) -> None:
    s = load_settings(environ={}, cwd=outside)
    assert s == Settings()
    assert s.workspace is None
    assert s.metadata_uri is None
    assert s.artifact_uri is None
    assert s.key_file is None
    assert s.encrypt_artifacts is True
    assert s.metric_flush_interval == 5.0
    assert s.metric_buffer_size == 10_000
    assert s.synchronous_logging is False
    assert s.gc_grace_seconds == 3600.0
    assert s.storage_options == {}


def test_found_workspace_is_recorded_in_settings(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    s = load_settings(environ={}, cwd=root)
    assert s.workspace == str(root)
    # nothing else changes: there is no config file
    assert s.model_dump(exclude={"workspace"}) == Settings().model_dump(exclude={"workspace"})


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.metric_buffer_size = 3  # type: ignore[misc]


# the file ---------------------------------------------------------------------------------------
def test_yaml_values_apply(tmp_path: Path) -> None:
    root = _workspace(
        tmp_path / "ws",
        """\
        metric_buffer_size: 50
        metric_flush_interval: 0.5
        synchronous_logging: true
        encrypt_artifacts: false
        gc_grace_seconds: 10
        storage_options:
          anon: true
        """,
    )
    s = load_settings(environ={}, cwd=root)
    assert s.metric_buffer_size == 50
    assert s.metric_flush_interval == 0.5
    assert s.synchronous_logging is True
    assert s.encrypt_artifacts is False
    assert s.gc_grace_seconds == 10.0
    assert s.storage_options == {"anon": True}


def test_empty_yaml_file_means_defaults(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "# only a comment\n")
    s = load_settings(environ={}, cwd=root)
    assert s.metric_buffer_size == 10_000
    assert read_config_file(root / WORKSPACE_DIR / CONFIG_FILE) == {}


def test_yaml_is_read_from_the_workspace_found_from_a_nested_folder(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: 42\n")
    nested = root / "src" / "deep"
    nested.mkdir(parents=True)
    s = load_settings(environ={}, cwd=nested)
    assert s.workspace == str(root)
    assert s.metric_buffer_size == 42


def test_yaml_of_the_named_workspace_is_used_not_the_cwd_one(tmp_path: Path) -> None:
    here = _workspace(tmp_path / "here", "metric_buffer_size: 1\n")
    there = _workspace(tmp_path / "there", "metric_buffer_size: 2\n")
    s = load_settings({"workspace": str(there)}, environ={}, cwd=here)
    assert s.metric_buffer_size == 2
    assert s.workspace == str(there)


def test_workspace_given_as_its_state_dir_reads_the_yaml(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: 7\n")
    s = load_settings({"workspace": str(root / WORKSPACE_DIR)}, environ={}, cwd=tmp_path)
    assert s.metric_buffer_size == 7


def test_env_workspace_selects_the_yaml(tmp_path: Path, outside: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: 9\n")
    s = load_settings(environ={"CLOSEDLOOP_WORKSPACE": str(root)}, cwd=outside)
    assert s.workspace == str(root)
    assert s.metric_buffer_size == 9


def test_uri_workspace_ignores_the_cwd_workspace_file(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: 5\n")
    uri = f"sqlite:///{tmp_path / 'team.db'}"
    s = load_settings({"workspace": uri}, environ={}, cwd=root)
    assert s.workspace == uri
    assert s.metric_buffer_size == 10_000


# precedence -------------------------------------------------------------------------------------
def test_env_overrides_yaml(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: 50\ngc_grace_seconds: 10\n")
    env = {"CLOSEDLOOP_METRIC_BUFFER_SIZE": "70"}
    s = load_settings(environ=env, cwd=root)
    assert s.metric_buffer_size == 70
    assert s.gc_grace_seconds == 10.0  # the file still supplies what env does not


def test_overrides_beat_env_and_none_overrides_are_ignored(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: 50\n")
    env = {"CLOSEDLOOP_METRIC_BUFFER_SIZE": "70", "CLOSEDLOOP_GC_GRACE_SECONDS": "11"}
    s = load_settings({"metric_buffer_size": 90, "gc_grace_seconds": None}, environ=env, cwd=root)
    assert s.metric_buffer_size == 90
    assert s.gc_grace_seconds == 11.0


def test_workspace_override_beats_the_env_workspace(tmp_path: Path, outside: Path) -> None:
    from_env = _workspace(tmp_path / "env-ws", "metric_buffer_size: 1\n")
    given = _workspace(tmp_path / "given-ws", "metric_buffer_size: 2\n")
    s = load_settings(
        {"workspace": str(given)}, environ={"CLOSEDLOOP_WORKSPACE": str(from_env)}, cwd=outside
    )
    assert s.workspace == str(given)
    assert s.metric_buffer_size == 2


def test_load_settings_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: 50\n")
    monkeypatch.chdir(root)
    monkeypatch.setenv("CLOSEDLOOP_METRIC_BUFFER_SIZE", "123")
    assert load_settings().metric_buffer_size == 123


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("True", True), ("1", True), ("yes", True), ("false", False), ("0", False)],
)
def test_synchronous_logging_env_parses_to_bool(outside: Path, text: str, expected: bool) -> None:
    s = load_settings(environ={"CLOSEDLOOP_SYNCHRONOUS_LOGGING": text}, cwd=outside)
    assert s.synchronous_logging is expected


def test_numeric_env_values_are_parsed(outside: Path) -> None:
    env = {"CLOSEDLOOP_METRIC_FLUSH_INTERVAL": "0.25", "CLOSEDLOOP_METRIC_BUFFER_SIZE": "8"}
    s = load_settings(environ=env, cwd=outside)
    assert s.metric_flush_interval == 0.25
    assert s.metric_buffer_size == 8


def test_unrelated_closedloop_env_vars_are_ignored(outside: Path) -> None:
    env = {
        "CLOSEDLOOP_TEST_PG_URL": "postgresql://user@nowhere/db",
        "CLOSEDLOOP_STORAGE_OPTIONS": "not-a-mapping",  # cannot be set from env
        "NOT_CLOSEDLOOP_METRIC_BUFFER_SIZE": "3",
        "closedloop_metric_buffer_size": "4",
    }
    s = load_settings(environ=env, cwd=outside)
    assert s == Settings()


def test_unrelated_env_var_ignored_from_os_environ(
    outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    monkeypatch.setenv("CLOSEDLOOP_TEST_PG_URL", "postgresql://user@nowhere/db")
    assert load_settings() == Settings()


# errors -----------------------------------------------------------------------------------------
def test_unknown_key_in_yaml_is_an_error_naming_the_key(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_bufer_size: 5\n")
    with pytest.raises(ConfigurationError, match="metric_bufer_size") as info:
        load_settings(environ={}, cwd=root)
    assert info.value.hint is not None
    assert "closedloop.yaml" in info.value.hint


@pytest.mark.parametrize("value", ["-1", "0", "abc"])
def test_invalid_yaml_value_is_an_error(tmp_path: Path, value: str) -> None:
    root = _workspace(tmp_path / "ws", f"metric_flush_interval: {value}\n")
    with pytest.raises(ConfigurationError, match="metric_flush_interval") as info:
        load_settings(environ={}, cwd=root)
    assert info.value.exit_code == 7


def test_invalid_env_value_is_an_error_whose_hint_names_the_variable(outside: Path) -> None:
    env = {"CLOSEDLOOP_METRIC_BUFFER_SIZE": "0"}
    with pytest.raises(ConfigurationError, match="metric_buffer_size") as info:
        load_settings(environ=env, cwd=outside)
    assert "CLOSEDLOOP_METRIC_BUFFER_SIZE" in (info.value.hint or "")


def test_invalid_override_is_an_error(outside: Path) -> None:
    with pytest.raises(ConfigurationError, match="gc_grace_seconds"):
        load_settings({"gc_grace_seconds": -5}, environ={}, cwd=outside)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_yaml_is_an_error(tmp_path: Path, text: str) -> None:
    root = _workspace(tmp_path / "ws", text)
    with pytest.raises(ConfigurationError, match="mapping"):
        load_settings(environ={}, cwd=root)


def test_malformed_yaml_is_an_error(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "metric_buffer_size: [1, 2\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_settings(environ={}, cwd=root)


# relative paths in the file ----------------------------------------------------------------
def test_relative_paths_in_yaml_resolve_against_the_workspace_root(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "key_file: keys/team.key\nartifact_uri: blobs\n")
    nested = root / "a" / "b"
    nested.mkdir(parents=True)
    s = load_settings(environ={}, cwd=nested)
    assert s.key_file == root / "keys" / "team.key"
    assert s.artifact_uri == str(root / "blobs")


def test_absolute_paths_and_urls_in_yaml_are_kept(tmp_path: Path) -> None:
    key = tmp_path / "elsewhere" / "k.key"
    root = _workspace(tmp_path / "ws", f"key_file: {key}\nartifact_uri: memory://bucket/x\n")
    s = load_settings(environ={}, cwd=root)
    assert s.key_file == key
    assert s.artifact_uri == "memory://bucket/x"


def test_relative_key_file_from_env_is_not_rewritten(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "key_file: keys/file.key\n")
    s = load_settings(environ={"CLOSEDLOOP_KEY_FILE": "env.key"}, cwd=root)
    assert s.key_file == Path("env.key")


def test_home_relative_key_file_in_yaml_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    root = _workspace(tmp_path / "ws", "key_file: ~/keys/team.key\n")
    s = load_settings(environ={}, cwd=root)
    assert s.key_file == home / "keys" / "team.key"


# walking up -------------------------------------------------------------------------------------
def test_find_workspace_root_walks_up(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    nested = root / "a" / "b" / "c"
    nested.mkdir(parents=True)
    assert find_workspace_root(nested) == root
    assert find_workspace_root(root) == root
    assert find_workspace_root(root / WORKSPACE_DIR) == root


def test_find_workspace_root_takes_the_nearest(tmp_path: Path) -> None:
    outer = _workspace(tmp_path / "outer")
    inner = _workspace(outer / "projects" / "inner")
    (inner / "src").mkdir()
    assert find_workspace_root(inner / "src") == inner
    assert find_workspace_root(outer / "projects") == outer


def test_find_workspace_root_none_and_ignores_a_file_named_like_the_dir(outside: Path) -> None:
    assert find_workspace_root(outside) is None
    (outside / WORKSPACE_DIR).write_text("not a folder")
    assert find_workspace_root(outside) is None


def test_find_workspace_root_resolves_relative_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _workspace(tmp_path / "ws")
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    assert find_workspace_root(Path(".")) == root


# no environment at import time -------------------------------------------------------------
def test_import_does_not_read_the_environment(tmp_path: Path) -> None:
    """A bad value present at import is harmless; one set after import still applies."""
    code = textwrap.dedent(
        """\
        import os
        import closedloop.config as config
        from closedloop.errors import ConfigurationError
        try:
            config.load_settings()
        except ConfigurationError as e:
            print("bad-at-load", e.message)
        os.environ["CLOSEDLOOP_METRIC_FLUSH_INTERVAL"] = "2.5"
        print("value", config.load_settings().metric_flush_interval)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP_")}
    env["CLOSEDLOOP_METRIC_FLUSH_INTERVAL"] = "abc"
    folder = tmp_path / "run"
    folder.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("bad-at-load invalid setting metric_flush_interval")
    assert lines[1] == "value 2.5"


def test_env_set_after_import_applies(outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(outside)
    assert load_settings().metric_buffer_size == 10_000
    monkeypatch.setenv("CLOSEDLOOP_METRIC_BUFFER_SIZE", "17")
    assert load_settings().metric_buffer_size == 17
