"""Topic names (DESIGN.md section 3); every service takes them from here."""

CAPTURED = "leads.captured"
ENRICHED = "leads.enriched"
SCORED = "leads.scored"
ROUTED = "leads.routed"
ACTIVITY = "leads.activity"
SLA = "leads.sla"
DLQ = "leads.dlq"

ALL = (CAPTURED, ENRICHED, SCORED, ROUTED, ACTIVITY, SLA, DLQ)
