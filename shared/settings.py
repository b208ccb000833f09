"""Every setting leadflow reads from the environment, validated in one place.

`LEADFLOW_*` variables configure leadflow itself; `KAFKA_BOOTSTRAP_SERVERS` and
`DATABASE_URL` keep the names operators already use for those systems. Empty values for
the two connection settings mean "use the embedded stack" (see `leadflow.embedded`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("capture", "enrich", "score", "route")
DEFAULT_PORTS = {"capture": 8001, "enrich": 8002, "score": 8003, "route": 8004}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore")

    kafka_bootstrap_servers: str = Field("", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: str = Field("", validation_alias="DATABASE_URL")

    data_dir: Path = Path(".leadflow")
    org_file: Path = Path("deploy/demo/org.yaml")
    api_key: str = ""
    admin_key: str = ""
    topic_prefix: str = ""
    topic_partitions: int = Field(6, ge=1)
    broker_port: int = Field(19092, ge=1, le=65535)
    host: str = "127.0.0.1"

    capture_port: int = DEFAULT_PORTS["capture"]
    enrich_port: int = DEFAULT_PORTS["enrich"]
    score_port: int = DEFAULT_PORTS["score"]
    route_port: int = DEFAULT_PORTS["route"]

    # The consume loop (STYLE.md): a batch is what one poll returns, up to this many.
    max_batch: int = Field(500, ge=1)
    # Tansu does not wake a waiting fetch when data arrives, so this bounds per-hop
    # latency; below ~20 ms the broker burns CPU polling.
    fetch_max_wait_ms: int = Field(40, ge=1)
    poll_timeout_ms: int = Field(200, ge=1)
    session_timeout_ms: int = Field(6000, ge=1000)
    rebalance_timeout_ms: int = Field(5000, ge=1000)
    max_attempts: int = Field(3, ge=1)  # before a poison record is dead-lettered
    shutdown_grace_s: float = 10.0

    linger_ms: int = Field(2, ge=0)
    capture_linger_ms: int = Field(5, ge=0)
    max_body_bytes: int = Field(1_000_000, ge=1024)
    sla_tick_s: float = Field(0.25, gt=0)
    # How often route looks for queued leads a rep could now be dealt (and refreshes the
    # queue gauges).
    queue_tick_s: float = Field(1.0, gt=0)
    log_level: str = "INFO"

    # Capture's lead sources (DESIGN.md section 7). Secrets come only from the environment;
    # a provider whose secret is unset answers 503 saying which setting is missing.
    facebook_app_secret: str = ""
    facebook_verify_token: str = ""
    facebook_access_token: str = ""
    facebook_graph_url: str = "https://graph.facebook.com/v25.0"
    google_ads_key: str = ""
    linkedin_client_secret: str = ""
    linkedin_access_token: str = ""
    linkedin_api_url: str = "https://api.linkedin.com"
    linkedin_version: str = "202510"
    typeform_secret: str = ""
    hubspot_client_secret: str = ""
    webflow_secret: str = ""
    unbounce_token: str = ""
    # The public base URL senders call (https://leads.example.com): HubSpot signs the
    # full URL it called, which a proxy in front of capture hides from the request.
    public_url: str = ""
    # Calls to the Graph and LinkedIn APIs for a lead's answers: per-call timeout and
    # retries before the delivery is answered 503 (the sender retries it later).
    provider_timeout_s: float = Field(5.0, gt=0)
    provider_retries: int = Field(2, ge=0)
    # How far a signed timestamp may lag (HubSpot v3, Webflow: 5 minutes, as documented).
    signature_max_age_s: int = Field(300, ge=1)
    # Raw bodies of accepted deliveries are kept this long (receipts, which answer
    # redeliveries as duplicates, are kept for good). A duration: 90s, 5m, 4h, 30d.
    delivery_retention: str = "30d"
    max_import_bytes: int = Field(20_000_000, ge=1024)
    max_import_rows: int = Field(100_000, ge=1)

    # Enrich's firmographics (company domain -> name, industry, employees, country).
    # `local` reads a CSV (empty path: the bundled, clearly labelled demo dataset);
    # `http` calls a commercial enrichment API; `none` looks nothing up.
    firmographics_provider: Literal["local", "http", "none"] = "local"
    firmographics_csv: str = ""
    # `http`: a URL with `{domain}` in it, a header carrying the credential
    # ("Authorization: Bearer ..." or "X-Api-Key: ..."), and which path of the JSON
    # answer holds each field ("name=name,industry=category.industry,...").
    firmographics_url: str = ""
    firmographics_auth_header: str = ""
    firmographics_fields: str = ("name=name,industry=industry,employees=employees,"
                                 "country=country")
    firmographics_timeout_s: float = Field(0.8, gt=0)
    firmographics_cache_ttl: str = "30d"
    firmographics_miss_ttl: str = "1d"  # a domain the provider does not know
    firmographics_breaker_failures: int = Field(5, ge=1)  # in a row, to open the circuit
    firmographics_breaker_cooldown_s: float = Field(30.0, gt=0)
    # Each lead's total time for lookups: past it the lead goes on, enrichment partial.
    enrich_budget_s: float = Field(1.5, gt=0)
    # How often score's decay pass re-scores people whose behaviour points have cooled.
    decay_every_s: float = Field(3600.0, gt=0)

    @field_validator("delivery_retention", "firmographics_cache_ttl", "firmographics_miss_ttl")
    @classmethod
    def _duration(cls, value: str) -> str:
        from shared.org import parse_duration

        parse_duration(value)  # ValueError names the accepted forms
        return value

    @property
    def delivery_retention_td(self) -> timedelta:
        return self.duration("delivery_retention")

    def duration(self, name: str) -> timedelta:
        """A duration setting (`30d`, `4h`) as a timedelta."""
        from shared.org import parse_duration

        return parse_duration(getattr(self, name))

    def port(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
