from __future__ import annotations

import secrets
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"
# Values that were ever documented or shipped as a default: a token signed with one of them must
# never verify, in any environment.
KNOWN_SECRETS = frozenset({PLACEHOLDER_SECRET, "changeme", "change_me", "secret", "duban", ""})
# Development and tests without DUBAN_SECRET_KEY sign with a key nobody knows: fresh per process,
# the same for every Settings() built in it (tests rebuild settings mid-test). `make run` keeps a
# generated key in var/secret_key so tokens survive a restart.
_PROCESS_SECRET = secrets.token_urlsafe(32)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUBAN_", extra="ignore")

    # --- general
    environment: str = "development"
    database_url: str = "sqlite:///./duban.db"
    secret_key: str = Field(default_factory=lambda: _PROCESS_SECRET)
    timezone: str = "Asia/Shanghai"
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True
    # FastAPI's native OpenTelemetry spans and metrics, for an installation that configures
    # OpenTelemetry providers. Off, each request skips the check for them (≈ 30 µs of CPU).
    opentelemetry: bool = False
    # How soon a calendar change made by another process is seen here (one PK read per interval).
    calendar_check_seconds: float = 5.0

    # --- database connections (PostgreSQL; SQLite uses only the pool size)
    # One pool per process (an api worker, the notifier): it holds at most size + overflow.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    # A request that finds every connection busy waits this long, then answers 503.
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # Opening a connection (TCP, TLS, start-up, authentication); whole seconds, at least 2.
    db_connect_timeout_seconds: int = Field(default=3, ge=0)
    # The server cancels a statement running longer (0: no limit).
    db_statement_timeout_seconds: float = Field(default=5.0, ge=0)
    # The client closes a connection on which the server has answered nothing for this long (a
    # silent partition) and the request answers 503; longer than the statement timeout, so a slow
    # statement is cancelled by the server first (0: wait forever).
    db_response_timeout_seconds: float = Field(default=7.0, ge=0)
    # The server ends a transaction left idle this long (its client vanished), releasing its locks.
    db_idle_in_transaction_timeout_seconds: float = Field(default=60.0, ge=0)
    # TCP keepalive on idle connections: the first probe after this many seconds (0: the OS's).
    db_keepalive_seconds: int = Field(default=10, ge=0)
    # GET /readyz answers 503 when the database has not answered within this.
    readyz_timeout_seconds: float = Field(default=2.0, gt=0)

    # --- auth
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "duban"
    jwt_audience: str = "duban-api"
    access_token_minutes: int = 30
    refresh_token_days: int = 14
    # Per account: after this many failures each further guess waits login_backoff_seconds,
    # doubling per failure up to login_backoff_max_seconds (see docs/security.md).
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_backoff_seconds: int = 30
    login_backoff_max_seconds: int = 900
    # Per address: much higher, an office behind one NAT shares it.
    login_address_max_failures: int = 200
    # Peers (CIDR list, comma-separated) whose X-Forwarded-For/-Proto are believed; empty: nobody.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    idempotency_ttl_hours: int = 24

    # --- storage
    storage_dir: Path = Path("./var/attachments")
    max_upload_bytes: int = 20 * 1024 * 1024
    # Every other request body (JSON, forms): refused with 413 before it is read in full.
    max_body_bytes: int = 1024 * 1024

    # --- notifier
    webhook_allow_private: bool = False
    # Networks (CIDR list, comma-separated) a webhook may reach although they are private, e.g. the
    # county's on-premises OA server; narrower than DUBAN_WEBHOOK_ALLOW_PRIVATE (everything).
    webhook_allowed_cidrs: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # An endpoint whose deliveries have all failed for this long is disabled (the office is told).
    webhook_disable_after_hours: float = 120.0
    # After a secret rotation the old secret keeps signing (a second signature) for this long.
    webhook_secret_overlap_hours: float = 24.0
    notifier_poll_seconds: float = 10.0
    # A pass that finds the database unreachable waits this long before the next, doubling per
    # failed pass up to the max, jittered over [d/2, d); one log line when the database goes
    # away, one when it is back.
    notifier_db_backoff_seconds: float = Field(default=1.0, gt=0)
    notifier_db_backoff_max_seconds: float = Field(default=60.0, gt=0)
    notifier_batch_size: int = 100
    notifier_lease_seconds: int = 120
    notifier_max_attempts: int = 8
    notifier_http_timeout_seconds: float = 10.0
    notifier_workers: int = 8
    # A full reminder pass spreads its statements over this many connections (PostgreSQL), one
    # core of the database each; incremental passes, and SQLite, use one.
    notifier_scan_connections: int = Field(default=2, ge=1, le=16)
    # At most this many sends in flight to one endpoint (or to the SMTP server), so one slow
    # receiver cannot take every worker; the others keep the rest of the queue moving.
    notifier_endpoint_concurrency: int = Field(default=4, ge=1)
    # 0 disables the notifier's own /metrics listener.
    notifier_metrics_port: int = 0
    notifier_metrics_host: str = "127.0.0.1"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_from: str = "duban@localhost"
    dingtalk_base_url: str = "https://oapi.dingtalk.com/robot/send"
    wecom_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies", "webhook_allowed_cidrs", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for item in value:
            ip_network(item)  # a typo (or host bits in a CIDR) fails at start-up, not silently
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"不支持的数据库“{scheme}”：只支持 sqlite:/// 与 postgresql://")
        return value

    @model_validator(mode="after")
    def _response_outlasts_statement(self) -> Settings:
        response, statement = self.db_response_timeout_seconds, self.db_statement_timeout_seconds
        if response and (not statement or response <= statement):
            raise ValueError(
                "DUBAN_DB_RESPONSE_TIMEOUT_SECONDS 须大于 DUBAN_DB_STATEMENT_TIMEOUT_SECONDS"
                "（否则正常的慢查询会被当作断线）"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.secret_key.strip().lower() in KNOWN_SECRETS:
            raise ValueError("DUBAN_SECRET_KEY 是公开的占位值，请生成自己的密钥（make run 会自动生成）")
        if self.environment not in ("development", "test") and "secret_key" not in self.model_fields_set:
            raise ValueError("生产环境必须设置 DUBAN_SECRET_KEY（至少 32 个随机字符）")
        return self

    @property
    def webhook_networks(self) -> tuple[Any, ...]:
        """webhook_allowed_cidrs as ip_network objects (duban.urlsafety takes these)."""
        return tuple(ip_network(c) for c in self.webhook_allowed_cidrs)


@lru_cache
def get_settings() -> Settings:
    return Settings()
