"""Prometheus metrics; their names and labels are part of the contract (DESIGN.md s.8).

Labels are bounded: never a lead id, an email or free text.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
TOUCH_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400)
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

SPEED_TO_LEAD = Histogram(
    "leadflow_speed_to_lead_seconds",
    "Time from capture accepting a lead to its routing decision.",
    ["provider", "temperature", "kind"],
    buckets=LATENCY_BUCKETS,
)
FIRST_TOUCH = Histogram(
    "leadflow_first_touch_seconds",
    "Time from routing to the first touch by a rep.",
    ["team", "temperature"],
    buckets=TOUCH_BUCKETS,
)
SLA_MET = Counter("leadflow_sla_met_total", "Assignments touched before their SLA deadline.",
                  ["team", "temperature"])
SLA_BREACHES = Counter("leadflow_sla_breaches_total", "Assignments whose SLA deadline passed.",
                       ["team", "temperature"])
LEADS_RECEIVED = Counter(
    "leadflow_leads_received_total",
    "Lead submissions received by capture, by outcome "
    "(accepted, duplicate, invalid, unauthorized, unavailable).",
    ["provider", "outcome"],
)
ASSIGNMENTS = Counter("leadflow_assignments_total", "Rep assignments made.", ["team", "strategy"])
EVENTS = Counter(
    "leadflow_events_total",
    "Records consumed, by outcome (ok, retried, dead_lettered).",
    ["service", "topic", "outcome"],
)
STAGE_SECONDS = Histogram(
    "leadflow_stage_seconds",
    "Per batch, from consuming it to its outputs acknowledged by the broker.",
    ["service"],
    buckets=STAGE_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "leadflow_consumer_lag_messages",
    "Records behind the partition's high watermark.",
    ["service", "topic", "partition"],
)
BATCH_RECORDS = Histogram(
    "leadflow_batch_records",
    "Records per consumed batch.",
    ["service"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
ENRICHMENT_LOOKUPS = Counter(
    "leadflow_enrichment_lookups_total",
    "Firmographics lookups by provider and outcome (found, not_found, cached, error, "
    "garbage, circuit_open, over_budget).",
    ["provider", "outcome"],
)
ENRICHMENT_STATUS = Counter(
    "leadflow_enrichment_total", "Leads enriched, by enrichment status.", ["status"])
NOTIFICATIONS = Counter(
    "leadflow_notifications_total",
    "Team webhook notifications by kind (assigned, warning, breached) and outcome (sent, "
    "retried, failed).",
    ["team", "kind", "outcome"],
)
SLA_WARNINGS = Counter(
    "leadflow_sla_warnings_total", "SLA reminders sent (sla.warning).", ["team", "temperature"])
QUEUE_DEPTH = Gauge(
    "leadflow_queue_depth",
    "Leads waiting in each queue, read from the database (the same on every route replica: "
    "aggregate with max, not sum).", ["queue"])
QUEUE_OLDEST_AGE = Gauge(
    "leadflow_queue_oldest_age_seconds",
    "Age of the oldest lead waiting in each queue (0 when empty), read from the database.",
    ["queue"])
QUEUE_WAIT = Histogram(
    "leadflow_queue_wait_seconds", "Time a lead waited in a queue: queued to dealt or claimed.",
    ["queue"], buckets=(1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 16 * 3600,
                        86400, 3 * 86400))
QUEUE_DEALT = Counter(
    "leadflow_queue_dealt_total", "Queued leads given to a rep, by how (dealt, claimed, "
    "assigned by hand).", ["queue", "how"])
QUEUE_DEALABLE = Gauge(
    "leadflow_queue_dealable",
    "Leads waiting in each queue that an eligible rep of the team working it could be dealt "
    "now (dealing takes them within a tick; a lasting figure means dealing is stuck).",
    ["queue"])
QUEUE_DEALT_BY_TEAM = Gauge(
    "leadflow_queue_dealt_by_team",
    "1 for a queue a team deals (a fallback queue, or one the org file says a team works), "
    "0 for a queue whose leads are claimed by hand.", ["queue"])
OUTBOX_OLDEST_AGE = Gauge(
    "leadflow_outbox_oldest_age_seconds",
    "Age of the oldest committed assignment (dealt, claimed, moved by hand) whose event the "
    "broker has not acknowledged yet (0 when none), read from the database.")
