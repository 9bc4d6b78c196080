"""Studio configuration: where data lives, who may connect, what each plan allows.

Defaults suit one person on their own machine: loopback only, no token, the `free` plan. A TOML
file (`citywalk serve --config studio.toml`) overrides any field; `--host`, `--port`,
`--data-dir`, `--token` override the file. Tokens can carry a plan (`[tokens] abc = "pro"`).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import StudioError

TOKEN_ENV = "CITYWALK_STUDIO_TOKEN"
MAX_CONFIG_BYTES = 1_000_000
MIB = 1 << 20


class Plan(BaseModel):
    """What one plan may order: clip length, frame size and rate, extras."""

    model_config = ConfigDict(extra="forbid")
    max_duration_s: float = Field(gt=0, le=600)
    max_width_px: int = Field(ge=16, le=3840)
    max_height_px: int = Field(ge=16, le=2160)
    max_fps: int = Field(30, ge=1, le=60)
    max_queued_jobs: int = Field(20, ge=1, le=10_000)


def default_plans() -> dict[str, Plan]:
    return {
        "free": Plan(max_duration_s=10, max_width_px=1280, max_height_px=720, max_fps=30, max_queued_jobs=10),
        "pro": Plan(max_duration_s=120, max_width_px=1920, max_height_px=1080, max_fps=60, max_queued_jobs=100),
    }


class UploadLimits(BaseModel):
    """Largest accepted upload per kind, in bytes."""

    model_config = ConfigDict(extra="forbid")
    likeness_bytes: int = Field(200 * MIB, ge=1024)
    capture_bytes: int = Field(2048 * MIB, ge=1024)
    world_bytes: int = Field(512 * MIB, ge=1024)
    capture_photos: int = Field(400, ge=1, le=2000)


class StudioConfig(BaseModel):
    """Every setting of `citywalk serve` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".citywalk" / "studio")
    catalog_dir: Path | None = None  # captured scenes; None: $CITYWALK_CATALOG or <data_dir>/captures
    token: str | None = None
    tokens: dict[str, str] = Field(default_factory=dict)  # extra tokens → plan name
    default_plan: str = "free"
    plans: dict[str, Plan] = Field(default_factory=default_plans)
    uploads: UploadLimits = Field(default_factory=UploadLimits)
    render_workers: int = Field(1, ge=1, le=64)
    capture_workers: int = Field(1, ge=1, le=16)
    max_attempts: int = Field(3, ge=1, le=20)  # a job whose worker keeps dying fails after this
    quota_bytes: int = Field(50 * 1024 * MIB, ge=MIB)  # the data folder may not grow past this
    min_free_bytes: int = Field(512 * MIB, ge=0)  # and must leave this much free on its disk
    cors_origins: list[str] = Field(default_factory=list)  # closed by default
    allowed_hosts: list[str] = Field(default_factory=list)  # Host headers accepted besides loopback/bound
    preview_size_px: tuple[int, int] = (480, 270)
    preview_timeout_s: float = Field(60.0, gt=0)
    capture_iterations: int = Field(2500, ge=1)
    capture_budget_s: float = Field(1200.0, gt=0)

    @model_validator(mode="after")
    def _plans_known(self) -> "StudioConfig":
        names = set(self.plans)
        if self.default_plan not in names:
            raise ValueError(f"default_plan '{self.default_plan}' is not one of the plans {sorted(names)}")
        for token, plan in self.tokens.items():
            if plan not in names:
                raise ValueError(f"tokens: token …{token[-4:]} names plan '{plan}', not one of {sorted(names)}")
        return self

    def catalog_root(self) -> Path:
        """Where captured scenes are kept (the same catalog the CLI uses when $CITYWALK_CATALOG is set)."""
        if self.catalog_dir is not None:
            return self.catalog_dir
        env = os.environ.get("CITYWALK_CATALOG")
        return Path(env) if env else self.data_dir / "captures"

    def all_tokens(self) -> dict[str, str]:
        """Every accepted token → its plan (the main token gets the default plan)."""
        out = dict(self.tokens)
        if self.token:
            out[self.token] = self.default_plan
        return out

    def needs_token(self) -> bool:
        return bool(self.all_tokens())

    def check_can_start(self) -> "StudioConfig":
        """Refuse to listen beyond loopback without a token (anyone on the network could render)."""
        if not is_loopback(self.host) and not self.needs_token():
            raise StudioError(f"--host {self.host} is reachable from other machines: give a token with "
                              f"--token or ${TOKEN_ENV} (every request then needs it), or bind 127.0.0.1")
        if self.token is not None and len(self.token) < 16:
            raise StudioError("--token: use at least 16 characters (e.g. python -c 'import secrets; "
                              "print(secrets.token_urlsafe(24))')")
        return self


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_config(path: str | os.PathLike[str] | None = None, **overrides) -> StudioConfig:
    """Defaults ← the TOML file (if given) ← overrides that are not None ← $CITYWALK_STUDIO_TOKEN
    when no token was given."""
    data: dict = {}
    if path is not None:
        p = Path(path)
        try:
            if p.stat().st_size > MAX_CONFIG_BYTES:
                raise StudioError(f"{p}: a config file over {MAX_CONFIG_BYTES} bytes is not a Studio config")
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StudioError(f"--config {p}: no such file") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise StudioError(f"--config {p}: cannot read ({exc})") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    if not data.get("token") and os.environ.get(TOKEN_ENV):
        data["token"] = os.environ[TOKEN_ENV]
    try:
        return StudioConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "config"
        raise StudioError(f"studio config {loc}: {first['msg'].removeprefix('Value error, ')}") from None
