"""Gate configuration: `midcore.toml` or `[tool.midcore]` in `pyproject.toml`, checked precisely."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from midcore.errors import ConfigurationError

CONFIG_FILE = "midcore.toml"
PYPROJECT_FILE = "pyproject.toml"


class GateConfigError(ConfigurationError):
    """A configuration that cannot be used; the message names file, gate and key."""


class _Gate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[str] | None = None  # globs of the files this gate reads; default per kind
    timeout_seconds: float = Field(default=600, gt=0)
    required: bool = True
    env: dict[str, str] = Field(default_factory=dict)
    run: list[str] | None = None  # replaces the tool's executable and base arguments
    args: list[str] = Field(default_factory=list)  # appended to the default command


class PytestGate(_Gate):
    kind: Literal["pytest"]
    retries: int = Field(default=0, ge=0, le=5)


class RuffGate(_Gate):
    kind: Literal["ruff"]


class MypyGate(_Gate):
    kind: Literal["mypy"]


class BanditGate(_Gate):
    kind: Literal["bandit"]
    min_severity: Literal["low", "medium", "high"] = "medium"
    exclude: list[str] = Field(default_factory=list)


class SecretsGate(_Gate):
    kind: Literal["secrets"]
    exclude: list[str] = Field(default_factory=list)
    min_entropy: float = Field(default=4.0, gt=0)


class CoverageGate(_Gate):
    kind: Literal["coverage"]
    min_percent: float = Field(default=80, ge=0, le=100)
    report: str | None = None  # read this coverage.py JSON report instead of running the tests


class DiffPolicyGate(_Gate):
    kind: Literal["diff-policy"]
    base: str | None = None
    max_changed_lines: int | None = Field(default=None, ge=0)
    max_changed_files: int | None = Field(default=None, ge=0)
    protected_paths: list[str] = Field(default_factory=list)
    check_bypass: bool = True


class CommandGate(_Gate):
    kind: Literal["command"]
    run: list[str] = Field(min_length=1)


GateConfig = Annotated[
    PytestGate
    | RuffGate
    | MypyGate
    | BanditGate
    | SecretsGate
    | CoverageGate
    | DiffPolicyGate
    | CommandGate,
    Field(discriminator="kind"),
]
KINDS = ("pytest", "ruff", "mypy", "bandit", "secrets", "coverage", "diff-policy", "command")
TEST_KINDS = ("pytest",)
_ADAPTER: TypeAdapter[GateConfig] = TypeAdapter(GateConfig)


class GateSpec(BaseModel):
    """A gate by name, with where it came from."""

    name: str
    config: GateConfig
    source: str  # config file name, or "detected"
    reason: str | None = None  # why detection chose it

    @property
    def kind(self) -> str:
        return self.config.kind

    def config_sha256(self) -> str:
        return sha256_json(self.config.model_dump(mode="json"))


class GateSet(BaseModel):
    gates: list[GateSpec]
    source: str  # "midcore.toml", "pyproject.toml" or "detected"
    raw: dict[str, Any] = Field(default_factory=dict)

    def config_sha256(self) -> str:
        return sha256_json({g.name: g.config.model_dump(mode="json") for g in self.gates})


def sha256_json(data: Any) -> str:
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _key_path(loc: tuple[int | str, ...], kind: object) -> str:
    # Drop the discriminator tag pydantic puts first for tagged unions.
    parts = [str(p) for p in loc]
    if parts and parts[0] == kind:
        parts = parts[1:]
    return ".".join(parts)


def _gate_error(file: str, name: str, table: Any, error: ValidationError) -> GateConfigError:
    first = error.errors()[0]
    kind = table.get("kind") if isinstance(table, dict) else None
    key = _key_path(first["loc"], kind)
    if first["type"] == "union_tag_invalid":
        return GateConfigError(
            f"{file}: gate '{name}': key 'kind': unknown kind {kind!r} (expected one of "
            f"{', '.join(KINDS)})"
        )
    if first["type"] == "union_tag_not_found":
        return GateConfigError(f"{file}: gate '{name}': key 'kind' is missing")
    if first["type"] == "extra_forbidden":
        return GateConfigError(f"{file}: gate '{name}': key '{key}' is not a {kind} gate setting")
    message = first["msg"]
    if first["type"] == "missing":
        return GateConfigError(f"{file}: gate '{name}': key '{key}' is required")
    return GateConfigError(f"{file}: gate '{name}': key '{key}': {message}")


def parse_gates(data: Any, file: str, prefix: str = "") -> GateSet:
    """Validate the `gates` table; `prefix` names where it sits (e.g. `tool.midcore.`)."""
    if not isinstance(data, dict):
        raise GateConfigError(f"{file}: key '{prefix}gates' must be a table")
    if not data:
        raise GateConfigError(f"{file}: key '{prefix}gates' has no gates")
    specs = []
    for name, table in data.items():
        if not isinstance(table, dict):
            raise GateConfigError(f"{file}: key '{prefix}gates.{name}' must be a table")
        try:
            config = _ADAPTER.validate_python(table)
        except ValidationError as exc:
            raise _gate_error(file, name, table, exc) from None
        specs.append(GateSpec(name=name, config=config, source=file))
    return GateSet(gates=specs, source=file, raw=data)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GateConfigError(f"{path.name}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise GateConfigError(f"{path.name}: not UTF-8 text") from None


def load_config(workspace: Path) -> GateSet | None:
    """The configured gate set, or None when the workspace configures none."""
    own = workspace / CONFIG_FILE
    if own.is_file():
        data = _read_toml(own)
        if "gates" not in data:
            raise GateConfigError(f"{CONFIG_FILE}: key 'gates' is missing")
        unknown = sorted(set(data) - {"gates"})
        if unknown:
            raise GateConfigError(f"{CONFIG_FILE}: key '{unknown[0]}' is not a Midcore setting")
        return parse_gates(data["gates"], CONFIG_FILE)
    pyproject = workspace / PYPROJECT_FILE
    if pyproject.is_file():
        data = _read_toml(pyproject)
        section = data.get("tool", {}).get("midcore")
        if section is None:
            return None
        if not isinstance(section, dict) or "gates" not in section:
            raise GateConfigError(f"{PYPROJECT_FILE}: key 'tool.midcore.gates' is missing")
        return parse_gates(section["gates"], PYPROJECT_FILE, "tool.midcore.")
    return None


def config_from_text(text: str, file: str = CONFIG_FILE) -> dict[str, Any]:
    """The gates table of a config file's text (used to compare against the base revision)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    if file == PYPROJECT_FILE:
        data = data.get("tool", {}).get("midcore", {})
    gates = data.get("gates", {}) if isinstance(data, dict) else {}
    return gates if isinstance(gates, dict) else {}
