"""The one settings model: read from a JSON config file, then `TOWN_*` environment variables.

Precedence (highest first): explicit overrides (command-line flags), environment variables
(`TOWN_PORT=9000`, nested with `__`: `TOWN_LLM__MODEL=gpt-4o-mini`), the config file, defaults.
An unknown key or a wrong value stops start-up with a message naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class LLMProfile(BaseModel):
    """How to reach one model. `provider` "scripted" is the offline model; "openai" is any
    OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, DeepSeek, DashScope) via `base_url`."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["scripted", "openai"] = "scripted"
    model: str = "scripted"
    base_url: str | None = None
    api_key: str | None = None
    # one HTTP attempt, from sending to the whole answer (a wait in our own queue is not in it)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    # how many requests the server takes at once (llama.cpp: its slots, `--parallel`; 1 for
    # llama-cpp-python's server); None: only `llm_limits.concurrency`. Profiles with one base_url
    # share the server's slots.
    concurrency: int | None = Field(default=None, ge=1)
    # how the answer's JSON schema is sent (agent/llm/structured.py): "auto" (json_schema, then
    # what the server takes), "json_schema" (OpenAI, vLLM, Ollama, llama-server),
    # "json_object_schema" (llama-cpp-python's server), "json_object", "off"
    structured_output: Literal["auto", "json_schema", "json_object_schema", "json_object", "off"] = "auto"
    temperature: float = Field(default=0.0, ge=0, le=2)
    embedding_model: str | None = None  # set to use the OpenAI embeddings API for `stream` memory
    # how a plain-http base_url is spoken to: "streams", our HTTP/1.1 over asyncio streams
    # (agent/llm/http11.py, a fraction of the CPU per call), or "httpx", the SDK's own transport;
    # https always goes over httpx
    transport: Literal["streams", "httpx"] = "streams"
    # prices in US dollars per million tokens, for the cost figures (ticks, llm_calls, report);
    # 0 leaves calls unpriced. A call replayed from the cache costs nothing.
    prompt_usd_per_mtok: float = Field(default=0.0, ge=0)
    completion_usd_per_mtok: float = Field(default=0.0, ge=0)


class Limits(BaseModel):
    """Protective limits. Every refusal is an error frame naming the limit."""

    model_config = ConfigDict(extra="forbid")

    max_frame_bytes: int = Field(default=65536, ge=256)  # UTF-8 bytes of one websocket frame
    commands_per_second: float = Field(default=50.0, gt=0)
    command_burst: int = Field(default=100, ge=1)
    # an admin's connection (after login with the token): drivers tick as fast as the town answers
    admin_commands_per_second: float = Field(default=1000.0, gt=0)
    admin_command_burst: int = Field(default=1000, ge=1)
    connections_per_address: int = Field(default=64, ge=1)  # websockets from one address
    agents_per_town: int = Field(default=2000, ge=1)
    agents_per_player: int = Field(default=10, ge=0)  # agents one player may own (the admin: any)
    # plain HTTP connections from one address (pages, reports, a websocket not yet upgraded)
    http_connections_per_address: int = Field(default=64, ge=1)
    http_idle_timeout_s: float = Field(default=30.0, gt=0)  # idle keep-alive, or headers unfinished
    http_body_timeout_s: float = Field(default=30.0, gt=0)  # a request body still arriving
    # accept() failing for want of file descriptors: wait this long before accepting again
    accept_backoff_s: float = Field(default=0.5, gt=0)
    send_queue_frames: int = Field(default=256, ge=1)  # a client further behind than this is dropped


class LLMLimits(BaseModel):
    """The model limiter shared by all agents."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(default=64, ge=1)
    requests_per_minute: int = Field(default=0, ge=0)  # 0 = unlimited
    tokens_per_minute: int = Field(default=0, ge=0)  # 0 = unlimited
    step_timeout_s: float = Field(default=120.0, gt=0)  # one agent's whole step
    cache_dir: str | None = None  # record/replay cache; None = off
    cache_mode: Literal["off", "record", "replay", "auto"] = "off"


class RunSettings(BaseModel):
    """Named runs (docs/runs.md): checkpoints of the open run, for forks at an earlier tick."""

    model_config = ConfigDict(extra="forbid")

    checkpoint_every: int = Field(default=100, ge=0)  # keep a copy of the open run every K ticks; 0 = never
    keep_checkpoints: int = Field(default=10, ge=1)  # per run; the oldest go first


class Settings(BaseSettings):
    """Server settings. See the configuration table of docs/operations.md for every key."""

    model_config = SettingsConfigDict(env_prefix="TOWN_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    db: str = "sqlite:///var/town.sqlite3"
    # MySQL batch writes quote values in our own code and overlap building a statement with the
    # server running the one before (server/db/mysql_literals.py); false: the driver binds them
    db_fast_literals: bool = True
    town: str = "buildings/town.json"
    agents: str | None = "config/agents.json"  # preset agents created in a new town; None = none
    seed: int = 42
    tick_seconds: int = Field(default=10, ge=1)  # game seconds per tick
    move_tiles_per_tick: int = Field(default=4, ge=1)
    sight_tiles: int = Field(default=8, ge=1)
    admin_token: str | None = None  # generated and printed at first start when unset
    allowed_origins: list[str] = Field(default_factory=lambda: ["*"])
    llm: LLMProfile = Field(default_factory=LLMProfile)
    llms: dict[str, LLMProfile] = Field(default_factory=dict)  # named profiles agents may choose
    llm_limits: LLMLimits = Field(default_factory=LLMLimits)
    limits: Limits = Field(default_factory=Limits)
    runs: RunSettings = Field(default_factory=RunSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _llm_consistent(self) -> Settings:
        """An agent's step must outlast one model call, and one server has one slot count."""
        step = self.llm_limits.step_timeout_s
        slots: dict[str, tuple[str, int | None]] = {}
        for name, p in [("llm", self.llm), *((f"llms.{k}", v) for k, v in self.llms.items())]:
            if p.provider != "openai":
                continue
            if p.timeout_s >= step:
                raise ValueError(
                    f"llm_limits.step_timeout_s ({step:g}s) must be longer than {name}.timeout_s "
                    f"({p.timeout_s:g}s), or every slow call is cut by the step's timeout before its "
                    f"own: raise step_timeout_s (an agent's calls per step x timeout_s is safe) or "
                    f"lower timeout_s"
                )
            server = p.base_url or "(default OpenAI)"
            other = slots.setdefault(server, (name, p.concurrency))
            if other[1] != p.concurrency:
                raise ValueError(
                    f"{name}.concurrency ({p.concurrency}) differs from {other[0]}.concurrency "
                    f"({other[1]}) for the same server {server}: set one value on both"
                )
        return self

    @field_validator("db")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "mysql://", "mysql+aiomysql://", "sqlite+aiosqlite://")):
            raise ValueError("db must be a sqlite:///path or mysql://user:pass@host:port/db URL")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    def profile(self, name: str | None) -> LLMProfile:
        """The LLM profile an agent names; "" or None means the town default."""
        if not name or name == "default":
            return self.llm
        if name in self.llms:
            return self.llms[name]
        if name == "scripted":
            return LLMProfile()
        raise KeyError(name)

    def llm_names(self) -> list[str]:
        """The LLM profile names an agent may choose."""
        return sorted({"default", "scripted", *self.llms})

    def path(self, p: str) -> Path:
        """A path from the config, relative to the project root."""
        q = Path(p)
        return q if q.is_absolute() else ROOT / q


class ConfigError(Exception):
    """The configuration is wrong; the message names the key."""


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from the config file (JSON), then the environment, then `overrides` (flags)."""
    data: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as e:
            raise ConfigError(f"config file {path} does not exist") from e
        except json.JSONDecodeError as e:
            raise ConfigError(f"config file {path} is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
    try:
        from_env = Settings().model_dump(exclude_unset=True)
        merged = _deep_merge(
            _deep_merge(data, from_env), {k: v for k, v in overrides.items() if v is not None}
        )
        return Settings(**merged)
    except ValidationError as e:
        raise ConfigError(_describe(e, config_file)) from e


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _describe(e: ValidationError, source: str | Path | None) -> str:
    where = f" in {source}" if source else ""
    lines = [f"invalid configuration{where}:"]
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(root)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)
