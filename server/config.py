"""Gateway configuration: frozen dataclasses built once, at start-up, from YAML and environment.

Precedence: environment variables over the YAML file over defaults. Everything after start-up
reads these objects; nothing else looks at the environment.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from server.callers import CallerKey
from server.observability.usage import DEFAULT_PRICES, Price, prices_from
from server.routing.registry import ModelSpec, canonical_model_name, spec_from_entry

CREDENTIAL_SOURCES = (
    "auto",
    "adc",
    "service_account",
    "external_account",
    "impersonation",
    "api_key",
    "none",
)
EMULATOR_MODES = ("auto", "on", "off")
_LOCATION_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_LISTEN_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")
MIB = 1024 * 1024


class ConfigError(ValueError):
    """The configuration is invalid; the message names the setting."""


@dataclass(frozen=True)
class CredentialsConfig:
    """How the gateway authenticates to Vertex AI."""

    source: str = "auto"
    file: str | None = None
    json: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    impersonate_service_account: str | None = None
    delegates: tuple[str, ...] = ()
    quota_project: str | None = None


@dataclass(frozen=True)
class AccountConfig:
    """A further Vertex account (project and credentials) pooled with the primary one: calls to
    the publisher models it serves are spread over the accounts by weight, and a throttled or
    failing account hands the call to the next (quota pooling and failover)."""

    name: str
    project: str
    credentials: CredentialsConfig = field(default_factory=CredentialsConfig)
    # Share of first attempts this account gets, relative to the others' weights.
    weight: float = 1.0
    # Models (publisher/id or id) it serves; empty: every publisher model.
    models: tuple[str, ...] = ()
    # The host to call instead of Vertex's (a private endpoint, or the emulator in tests).
    base_url: str | None = None


@dataclass(frozen=True)
class VertexConfig:
    """Where and how to reach Vertex AI."""

    project: str | None = None
    location: str = "us-central1"
    base_url: str | None = None
    api_version: str = "v1"
    credentials: CredentialsConfig = field(default_factory=CredentialsConfig)
    request_timeout_seconds: float = 600.0
    connect_timeout_seconds: float = 10.0
    max_connections: int = 512
    max_request_bytes: int = 48 * MIB
    max_stream_event_bytes: int = 64 * MIB
    # ListModels also lists the project's endpoints and custom models and reads the publisher
    # catalogs; what it found is kept this long before Vertex is asked again.
    # Vertex calls in flight for one caller request that needs several (embeddings split to a
    # model's limits): enough to hide latency, few enough not to spend the quota on one caller.
    # Attempts per Vertex call for transient failures (429, 5xx, connection failures), before any
    # reply byte reached the caller; 1 turns retries off. Retries stay within the caller's
    # deadline and within `retry_budget_ratio` retries per request on average.
    max_attempts: int = 3
    retry_budget_ratio: float = 0.2
    max_concurrent_calls_per_request: int = 8
    # Calls in flight to one model across all callers; past it RESOURCE_EXHAUSTED at once. 0: none.
    max_concurrent_per_model: int = 0
    # After this many transient failures in a row for one model, fail fast (UNAVAILABLE) for
    # `circuit_cooldown_seconds`, then let one probe through. 0 turns the breaker off.
    circuit_failures: int = 20
    circuit_cooldown_seconds: float = 10.0
    # gs:// prefixes callers may have Vertex write results under (e.g. Imagen output_gcs_uri);
    # empty: none, and such requests are PERMISSION_DENIED.
    output_gcs_prefixes: tuple[str, ...] = ()
    model_discovery: bool = True
    model_discovery_ttl_seconds: float = 300.0
    # The primary account's (project, credentials) share of first attempts when `accounts`
    # pools further ones, and its name in replies' served_by and in metrics.
    weight: float = 1.0
    account_name: str = "primary"
    accounts: tuple[AccountConfig, ...] = ()


@dataclass(frozen=True)
class StorageConfig:
    """The Cloud Storage bucket and prefix the gateway keeps files and batch data under."""

    # None: FileService and BatchService answer FAILED_PRECONDITION until a bucket is set.
    bucket: str | None = None
    prefix: str = "vertex-gateway/"
    # The JSON API host; None is https://storage.googleapis.com (STORAGE_EMULATOR_HOST also
    # sets it, as Google's own clients honour it).
    base_url: str | None = None
    max_file_bytes: int = 5 * 1024 * MIB
    # Bytes sent per resumable-upload request: a multiple of 256 KiB, as Cloud Storage requires.
    upload_chunk_bytes: int = 4 * MIB
    # The largest batch input_file CreateBatch reads: the batch is validated and staged in
    # memory (several times the file's size at the peak), so the bound keeps a worker alive.
    max_batch_input_bytes: int = 256 * MIB


@dataclass(frozen=True)
class ServerConfig:
    """The gRPC listener and its transport settings."""

    listen: str = "0.0.0.0:50051"
    max_message_bytes: int = 64 * MIB
    shutdown_grace_seconds: float = 30.0
    shutdown_drain_seconds: float = 1.0
    keepalive_time_seconds: float = 60.0
    keepalive_timeout_seconds: float = 20.0
    min_ping_interval_seconds: float = 10.0
    max_connection_age_seconds: float | None = None
    # Pre-forked server processes sharing the port (SO_REUSEPORT); 1 serves in this process.
    workers: int = 1
    log_level: str = "INFO"
    log_format: str = "json"
    access_log: bool = False
    # Streams in flight across the server; past it new streams get RESOURCE_EXHAUSTED. 0: none.
    max_concurrent_streams: int = 10000
    # TLS on the listener (PEM files); with a client CA, callers must present a certificate it
    # signed (mutual TLS).
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    # Prometheus metrics at http://{metrics_host}:{metrics_port}/metrics; 0 turns them off.
    # With several workers, worker i serves on metrics_port + i.
    metrics_port: int = 9464
    metrics_host: str = "0.0.0.0"
    # OpenTelemetry traces over OTLP (OTEL_EXPORTER_OTLP_* variables say where); off by default.
    tracing: bool = False
    # The asyncio event loop: "uvloop" (libuv; measured in bench/README.md: less CPU per call
    # for the upstream sockets, timers and futures) or "asyncio" (the standard library's).
    event_loop: str = "uvloop"


@dataclass(frozen=True)
class GatewayConfig:
    """The whole configuration of one gateway process."""

    server: ServerConfig = field(default_factory=ServerConfig)
    vertex: VertexConfig = field(default_factory=VertexConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    allow_models: tuple[str, ...] = ()
    emulator: str = "auto"
    # Registry additions and overrides from the `models:` section (and VG_MODEL_LOCATIONS).
    models: tuple[ModelSpec, ...] = ()
    # Caller API keys (`callers:` section, VG_CALLER_KEYS); empty: no caller authentication.
    callers: tuple[CallerKey, ...] = ()
    # USD per million tokens by canonical model, for usage accounting (`prices:` over defaults).
    prices: Mapping[str, Price] = field(default_factory=lambda: MappingProxyType(DEFAULT_PRICES))

    def wants_emulator(self) -> bool:
        """True when no Google project or credentials are configured (or the emulator is forced)."""
        if self.emulator != "auto":
            return self.emulator == "on"
        creds = self.vertex.credentials
        has_credentials = bool(creds.file or creds.json or creds.api_key) or creds.source not in (
            "auto",
        )
        return self.vertex.project is None and not has_credentials


_ENV_SCALARS: dict[str, tuple[str, str]] = {
    # env var: (section, key)
    "VG_LISTEN": ("server", "listen"),
    "VG_MAX_MESSAGE_BYTES": ("server", "max_message_bytes"),
    "VG_SHUTDOWN_GRACE_SECONDS": ("server", "shutdown_grace_seconds"),
    "VG_SHUTDOWN_DRAIN_SECONDS": ("server", "shutdown_drain_seconds"),
    "VG_MAX_CONNECTION_AGE_SECONDS": ("server", "max_connection_age_seconds"),
    "VG_WORKERS": ("server", "workers"),
    "VG_LOG_LEVEL": ("server", "log_level"),
    "VG_LOG_FORMAT": ("server", "log_format"),
    "VG_ACCESS_LOG": ("server", "access_log"),
    "VG_MAX_CONCURRENT_STREAMS": ("server", "max_concurrent_streams"),
    "VG_TLS_CERT_FILE": ("server", "tls_cert_file"),
    "VG_TLS_KEY_FILE": ("server", "tls_key_file"),
    "VG_TLS_CLIENT_CA_FILE": ("server", "tls_client_ca_file"),
    "VG_METRICS_PORT": ("server", "metrics_port"),
    "VG_METRICS_HOST": ("server", "metrics_host"),
    "VG_TRACING": ("server", "tracing"),
    "VG_EVENT_LOOP": ("server", "event_loop"),
    "GOOGLE_CLOUD_PROJECT": ("vertex", "project"),
    "VG_PROJECT": ("vertex", "project"),
    "GOOGLE_CLOUD_LOCATION": ("vertex", "location"),
    "VG_LOCATION": ("vertex", "location"),
    "VG_VERTEX_BASE_URL": ("vertex", "base_url"),
    "VG_VERTEX_API_VERSION": ("vertex", "api_version"),
    "VG_REQUEST_TIMEOUT_SECONDS": ("vertex", "request_timeout_seconds"),
    "VG_MAX_REQUEST_BYTES": ("vertex", "max_request_bytes"),
    "VG_MAX_STREAM_EVENT_BYTES": ("vertex", "max_stream_event_bytes"),
    "VG_MAX_CONCURRENT_CALLS_PER_REQUEST": ("vertex", "max_concurrent_calls_per_request"),
    "VG_MAX_ATTEMPTS": ("vertex", "max_attempts"),
    "VG_MAX_CONCURRENT_PER_MODEL": ("vertex", "max_concurrent_per_model"),
    "VG_CIRCUIT_FAILURES": ("vertex", "circuit_failures"),
    "VG_CIRCUIT_COOLDOWN_SECONDS": ("vertex", "circuit_cooldown_seconds"),
    "VG_RETRY_BUDGET_RATIO": ("vertex", "retry_budget_ratio"),
    "VG_MODEL_DISCOVERY": ("vertex", "model_discovery"),
    "VG_MODEL_DISCOVERY_TTL_SECONDS": ("vertex", "model_discovery_ttl_seconds"),
    "VG_CREDENTIALS": ("credentials", "source"),
    "GOOGLE_APPLICATION_CREDENTIALS": ("credentials", "file"),
    "VG_CREDENTIALS_FILE": ("credentials", "file"),
    "VG_CREDENTIALS_JSON": ("credentials", "json"),
    "GOOGLE_API_KEY": ("credentials", "api_key"),
    "VG_API_KEY": ("credentials", "api_key"),
    "VG_IMPERSONATE_SERVICE_ACCOUNT": ("credentials", "impersonate_service_account"),
    "VG_QUOTA_PROJECT": ("credentials", "quota_project"),
    "VG_EMULATOR": ("", "emulator"),
    "STORAGE_EMULATOR_HOST": ("storage", "base_url"),
    "VG_STORAGE_BASE_URL": ("storage", "base_url"),
    "VG_STORAGE_BUCKET": ("storage", "bucket"),
    "VG_STORAGE_PREFIX": ("storage", "prefix"),
    "VG_MAX_FILE_BYTES": ("storage", "max_file_bytes"),
    "VG_MAX_BATCH_INPUT_BYTES": ("storage", "max_batch_input_bytes"),
}


def load_config(env: Mapping[str, str] | None = None, path: str | None = None) -> GatewayConfig:
    """Build the configuration from an optional YAML file and the environment.

    `path` defaults to the `VG_CONFIG_FILE` environment variable.
    """
    env = os.environ if env is None else env
    path = path or env.get("VG_CONFIG_FILE") or None
    raw: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        raw = dict(loaded or {})
    sections: dict[str, dict[str, Any]] = {
        "server": _section(raw, "server"),
        "vertex": _section(raw, "vertex"),
        "storage": _section(raw, "storage"),
        "": {
            k: raw.pop(k)
            for k in ("aliases", "allow_models", "emulator", "models", "callers", "prices")
            if k in raw
        },
    }
    sections["credentials"] = _section(sections["vertex"], "credentials")
    if raw:
        raise ConfigError(f"unknown top-level config keys: {', '.join(sorted(raw))}")
    # Later names in _ENV_SCALARS win over earlier ones for the same key (VG_* over GOOGLE_*).
    for var, (section, key) in _ENV_SCALARS.items():
        if env.get(var):
            sections[section][key] = env[var]
    if env.get("VG_ALIASES"):
        sections[""]["aliases"] = _parse_pairs(env["VG_ALIASES"], "VG_ALIASES")
    if env.get("VG_MODEL_LOCATIONS"):
        # model=location pairs: per-model location overrides layered over the models section.
        entries = list(sections[""].get("models") or [])
        for model, location in _parse_pairs(
            env["VG_MODEL_LOCATIONS"], "VG_MODEL_LOCATIONS"
        ).items():
            entries.append({"model": model, "location": location})
        sections[""]["models"] = entries
    if env.get("VG_OUTPUT_GCS_PREFIXES"):
        sections["vertex"]["output_gcs_prefixes"] = [
            p.strip() for p in env["VG_OUTPUT_GCS_PREFIXES"].split(",") if p.strip()
        ]
    if env.get("VG_CALLER_KEYS"):
        pairs = _parse_pairs(env["VG_CALLER_KEYS"], "VG_CALLER_KEYS")
        sections[""]["callers"] = [{"caller": c, "key_sha256": h} for c, h in pairs.items()]
    if env.get("VG_ALLOW_MODELS"):
        sections[""]["allow_models"] = [m for m in env["VG_ALLOW_MODELS"].split(",") if m.strip()]
    return _build(sections)


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.pop(name, None) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"config section '{name}' must be a mapping")
    return dict(value)


def _parse_pairs(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ConfigError(
                f"{what}: expected name=model pairs separated by commas, got {item!r}"
            )
        out[name.strip()] = target.strip()
    return out


def _coerce(cls: Any, values: dict[str, Any], section: str) -> Any:
    """Instantiate a config dataclass, converting env strings to the declared field types."""
    fields = cls.__dataclass_fields__
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"unknown keys in '{section}': {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        kind = str(fields[name].type)
        try:
            if value is None:
                kwargs[name] = None
            elif kind.startswith("bool"):
                kwargs[name] = _to_bool(value)
            elif kind.startswith("int"):
                kwargs[name] = int(value)
            elif kind.startswith("float"):
                kwargs[name] = float(value)
            elif kind.startswith("tuple"):
                kwargs[name] = tuple(str(v) for v in value)
            else:
                kwargs[name] = value if isinstance(value, str) else str(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{section}.{name}: invalid value {value!r} (expected {kind})"
            ) from None
    return cls(**kwargs)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


def _build(sections: dict[str, dict[str, Any]]) -> GatewayConfig:
    creds_values = sections["credentials"]
    if isinstance(creds_values.get("json"), dict):
        creds_values["json"] = json.dumps(creds_values["json"])
    credentials: CredentialsConfig = _coerce(CredentialsConfig, creds_values, "vertex.credentials")
    accounts = _accounts(sections["vertex"].pop("accounts", None))
    vertex: VertexConfig = _coerce(VertexConfig, sections["vertex"], "vertex")
    vertex = replace(vertex, credentials=credentials, accounts=accounts)
    server: ServerConfig = _coerce(ServerConfig, sections["server"], "server")
    storage: StorageConfig = _coerce(StorageConfig, sections["storage"], "storage")
    top = sections[""]
    aliases = top.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise ConfigError("aliases must be a mapping of alias name to model")
    allow = top.get("allow_models") or []
    if not isinstance(allow, list | tuple):
        raise ConfigError("allow_models must be a list of models")
    config = GatewayConfig(
        models=_models(top.get("models")),
        server=server,
        vertex=vertex,
        storage=storage,
        aliases=MappingProxyType({str(k): str(v) for k, v in aliases.items()}),
        allow_models=tuple(str(m).strip() for m in allow),
        emulator=str(top.get("emulator", "auto")).lower(),
        callers=_callers(top.get("callers")),
        prices=_prices(top.get("prices")),
    )
    validate(config)
    return config


def _prices(entries: Any) -> Mapping[str, Price]:
    if entries is None:
        return MappingProxyType(DEFAULT_PRICES)
    if not isinstance(entries, dict):
        raise ConfigError("prices must map models to {input, output, cached_input} USD per 1M")
    try:
        table = prices_from({canonical_model_name(str(k)): v for k, v in entries.items()})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return MappingProxyType(table)


_ACCOUNT_KEYS = {"name", "project", "credentials", "weight", "models", "base_url"}


def _accounts(entries: Any) -> tuple[AccountConfig, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError("vertex.accounts must be a list of {name, project, credentials, ...}")
    out = []
    for i, entry in enumerate(entries):
        where = f"vertex.accounts[{i}]"
        if not isinstance(entry, dict) or set(entry) - _ACCOUNT_KEYS:
            raise ConfigError(f"{where} takes only {', '.join(sorted(_ACCOUNT_KEYS))}")
        creds = entry.get("credentials") or {}
        if not isinstance(creds, dict):
            raise ConfigError(f"{where}.credentials must be a mapping")
        creds = dict(creds)
        if isinstance(creds.get("json"), dict):
            creds["json"] = json.dumps(creds["json"])
        models = entry.get("models") or []
        if not isinstance(models, list):
            raise ConfigError(f"{where}.models must be a list")
        values = {k: v for k, v in entry.items() if k not in ("credentials", "models")}
        account: AccountConfig = _coerce(
            AccountConfig,
            {**values, "name": entry.get("name", ""), "project": entry.get("project", "")},
            where,
        )
        out.append(
            replace(
                account,
                credentials=_coerce(CredentialsConfig, creds, f"{where}.credentials"),
                models=tuple(canonical_model_name(str(m)) for m in models),
            )
        )
    return tuple(out)


_CALLER_KEYS = {"caller", "key_sha256", "models", "requests_per_second", "tokens_per_minute"}


def _callers(entries: Any) -> tuple[CallerKey, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError("callers must be a list of {caller, key_sha256, ...}")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) - _CALLER_KEYS:
            raise ConfigError(
                f"callers[{i}] takes only caller, key_sha256, models, requests_per_second,"
                " tokens_per_minute"
            )
        digest = str(entry.get("key_sha256", "")).lower()
        if not re.match(r"^[0-9a-f]{64}$", digest):
            raise ConfigError(
                f"callers[{i}].key_sha256 must be the 64-hex SHA-256 of the key (never the key)"
            )
        name = str(entry.get("caller", "")).strip()
        if not name:
            raise ConfigError(f"callers[{i}].caller is required")
        rate = entry.get("requests_per_second")
        if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
            raise ConfigError(f"callers[{i}].requests_per_second must be positive")
        tokens = entry.get("tokens_per_minute")
        if tokens is not None and (type(tokens) is not int or tokens <= 0):
            raise ConfigError(f"callers[{i}].tokens_per_minute must be a positive integer")
        models = entry.get("models") or []
        if not isinstance(models, list):
            raise ConfigError(f"callers[{i}].models must be a list")
        out.append(
            CallerKey(
                name,
                digest,
                tuple(str(m).strip() for m in models),
                float(rate) if rate else None,
                tokens,
            )
        )
    return tuple(out)


def _models(entries: Any) -> tuple[ModelSpec, ...]:
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError("models must be a list of model entries")
    merged: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"models[{i}] must be a mapping")
        # Later entries for the same model (e.g. VG_MODEL_LOCATIONS) override earlier ones,
        # whether they name it by bare id or as publisher/model.
        name = canonical_model_name(str(entry.get("model", "")))
        merged[name] = {**merged.get(name, {}), **entry, "model": name}
    specs = []
    for i, entry in enumerate(merged.values()):
        try:
            spec = spec_from_entry(entry, f"models[{i}]")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        for location in (spec.location or "global", *spec.fallback_locations):
            if not _LOCATION_RE.match(location):
                raise ConfigError(f"models[{i}]: {location!r} is not a valid location")
        specs.append(spec)
    return tuple(specs)


def validate(config: GatewayConfig) -> None:
    """Reject settings that cannot work, naming the setting."""
    v, s = config.vertex, config.server
    if config.emulator not in EMULATOR_MODES:
        raise ConfigError(f"emulator must be one of {', '.join(EMULATOR_MODES)}")
    if v.credentials.source not in CREDENTIAL_SOURCES:
        raise ConfigError(
            f"vertex.credentials.source must be one of {', '.join(CREDENTIAL_SOURCES)},"
            f" got {v.credentials.source!r}"
        )
    if not _LOCATION_RE.match(v.location):
        raise ConfigError(f"vertex.location {v.location!r} is not a valid location name")
    if v.api_version not in ("v1", "v1beta1"):
        raise ConfigError("vertex.api_version must be v1 or v1beta1")
    if v.base_url is not None and not re.match(r"^https?://[^/\s]+", v.base_url):
        raise ConfigError("vertex.base_url must be an http(s) URL")
    listen = _LISTEN_RE.match(s.listen)
    if not listen:
        raise ConfigError(f"server.listen {s.listen!r} must be host:port")
    if not 1 <= s.workers <= 256:
        raise ConfigError("server.workers must be between 1 and 256")
    if s.workers > 1 and listen.group(2) == "0":
        raise ConfigError("server.workers > 1 needs a fixed port in server.listen (not :0)")
    if s.log_format not in ("json", "text"):
        raise ConfigError("server.log_format must be json or text")
    if s.event_loop not in ("uvloop", "asyncio"):
        raise ConfigError("server.event_loop must be uvloop or asyncio")
    for name in ("max_message_bytes",):
        if getattr(s, name) < MIB:
            raise ConfigError(f"server.{name} must be at least 1 MiB")
    if v.max_request_bytes < 1024:
        raise ConfigError("vertex.max_request_bytes is too small")
    tls = (s.tls_cert_file, s.tls_key_file)
    if any(tls) and not all(tls):
        raise ConfigError("server.tls_cert_file and server.tls_key_file go together")
    if s.tls_client_ca_file and not all(tls):
        raise ConfigError("server.tls_client_ca_file needs server.tls_cert_file and tls_key_file")
    for name in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
        path = getattr(s, name)
        if path and not Path(path).is_file():
            raise ConfigError(f"server.{name}: {path} is not a readable file")
    st = config.storage
    if st.bucket is not None and not re.match(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", st.bucket):
        raise ConfigError(f"storage.bucket {st.bucket!r} is not a valid bucket name")
    if st.prefix and (st.prefix.startswith("/") or not st.prefix.endswith("/")):
        raise ConfigError("storage.prefix must be a relative path ending in '/' (or empty)")
    if st.base_url is not None and not re.match(r"^https?://[^/\s]+", st.base_url):
        raise ConfigError("storage.base_url must be an http(s) URL")
    if st.upload_chunk_bytes < 256 * 1024 or st.upload_chunk_bytes % (256 * 1024):
        raise ConfigError("storage.upload_chunk_bytes must be a multiple of 256 KiB")
    if st.max_file_bytes < 1 or st.max_batch_input_bytes < 1:
        raise ConfigError("storage.max_file_bytes and max_batch_input_bytes must be positive")
    for prefix in v.output_gcs_prefixes:
        if not re.match(r"^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]/", prefix) or not (
            prefix.endswith("/")
        ):
            raise ConfigError(
                f"vertex.output_gcs_prefixes: {prefix!r} must be gs://bucket/ or gs://bucket/path/"
            )
    if not 0 <= s.metrics_port <= 65535:
        raise ConfigError("server.metrics_port must be a port number (0 turns metrics off)")
    if v.max_concurrent_per_model < 0 or s.max_concurrent_streams < 0:
        raise ConfigError("concurrency limits must not be negative (0 means none)")
    if v.circuit_failures < 0 or v.circuit_cooldown_seconds <= 0:
        raise ConfigError("vertex.circuit_failures must be >= 0 and circuit_cooldown_seconds > 0")
    if not 1 <= v.max_attempts <= 10:
        raise ConfigError("vertex.max_attempts must be between 1 and 10")
    if not 0 <= v.retry_budget_ratio <= 1:
        raise ConfigError("vertex.retry_budget_ratio must be between 0 and 1")
    if not 1 <= v.max_concurrent_calls_per_request <= 256:
        raise ConfigError("vertex.max_concurrent_calls_per_request must be between 1 and 256")
    if not re.match(r"^[a-z][a-z0-9-]{0,62}$", v.account_name):
        raise ConfigError("vertex.account_name must be lowercase letters, digits and -")
    names = [v.account_name] + [a.name for a in v.accounts]
    if len(set(names)) != len(names):
        raise ConfigError("vertex.account_name and vertex.accounts[].name must be distinct")
    for where, weight in [("vertex.weight", v.weight)] + [
        (f"vertex.accounts[{i}].weight", a.weight) for i, a in enumerate(v.accounts)
    ]:
        if not weight > 0:
            raise ConfigError(f"{where} must be positive")
    for i, account in enumerate(v.accounts):
        if not re.match(r"^[a-z][a-z0-9-]{0,62}$", account.name):
            raise ConfigError(f"vertex.accounts[{i}].name must be lowercase letters, digits, -")
        if not re.match(r"^[a-z0-9][a-z0-9.:-]*$", account.project):
            raise ConfigError(f"vertex.accounts[{i}].project {account.project!r} is not valid")
        if account.base_url is not None and not re.match(r"^https?://[^/\s]+", account.base_url):
            raise ConfigError(f"vertex.accounts[{i}].base_url must be an http(s) URL")
        if account.credentials.source not in CREDENTIAL_SOURCES:
            raise ConfigError(
                f"vertex.accounts[{i}].credentials.source must be one of"
                f" {', '.join(CREDENTIAL_SOURCES)}"
            )
    if v.accounts and v.project is None:
        raise ConfigError("vertex.accounts pool further projects with vertex.project; set it")
    if not v.model_discovery_ttl_seconds > 0:
        raise ConfigError("vertex.model_discovery_ttl_seconds must be positive")
    for alias, target in config.aliases.items():
        if not alias or not target:
            raise ConfigError("aliases need a non-empty name and model")
