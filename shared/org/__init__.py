"""The org file (DESIGN.md section 6): what a valid sales org is, and how it is read.

Decides which org files are accepted, all or nothing: unknown keys, bad values,
conditions with unknown operators, destinations naming teams or reps that do not exist,
duplicate ids and impossible thresholds are errors. Every error is an `OrgError` that names
the file, the path in it and the problem (`org.yaml: teams[0].reps[1].weight: must be a
positive integer`). It also settles two things the scorer relies on: whether a scoring
rule is about fit or behaviour, and which activity type a per-activity rule counts.

The YAML is read with YAML 1.2 booleans (only `true`/`false`), so `NO` (Norway) or `on`
stay strings, and a key given twice in one mapping is an error rather than silently lost.
"""

from shared.conditions import OrgError
from shared.org.durations import format_duration, parse_duration
from shared.org.file import OrgFile
from shared.org.loading import load_org, load_org_file
from shared.org.queues import Queue, WorkedBy
from shared.org.routing import Destination, Routing, RoutingRule
from shared.org.scoring import Decay, Scoring, ScoringRule, Temperature, Threshold
from shared.org.sla import Escalate, Sla, SlaTier
from shared.org.sources import (
    FIELD_TARGETS,
    FormSource,
    ImportSource,
    Sources,
    WebhookForm,
    WebhookSource,
)
from shared.org.teams import Leave, Rep, Team

__all__ = [
    "FIELD_TARGETS",
    "Decay",
    "Destination",
    "Escalate",
    "FormSource",
    "ImportSource",
    "Leave",
    "OrgError",
    "OrgFile",
    "Queue",
    "Rep",
    "Routing",
    "RoutingRule",
    "Scoring",
    "ScoringRule",
    "Sla",
    "SlaTier",
    "Sources",
    "Team",
    "Temperature",
    "Threshold",
    "WebhookForm",
    "WebhookSource",
    "WorkedBy",
    "format_duration",
    "load_org",
    "load_org_file",
    "parse_duration",
]
