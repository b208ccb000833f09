"""Routing rules: where a lead goes (team, rep, nurture track or queue), sticky routing,
and where a rejected lead goes."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from shared.conditions import (
    OrgError,
)
from shared.org.base import _check_unique_names, _Conditional, _Model
from shared.org.durations import Name, PositiveDuration

if TYPE_CHECKING:
    pass


# --- routing ---------------------------------------------------------------------------

DestinationKind = Literal["team", "rep", "nurture", "queue"]


class Destination(_Model):
    """Where a lead goes: exactly one of a team, a rep, a nurture track or a queue."""

    team: str | None = None
    rep: str | None = None
    nurture: str | None = None
    queue: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Destination:
        given = [k for k in ("team", "rep", "nurture", "queue") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of team, rep, nurture or queue"
                             + (f" (got {', '.join(given)})" if given else ""))
        if not getattr(self, given[0]).strip():
            raise OrgError(given[0], "must not be empty")
        return self

    @property
    def kind(self) -> DestinationKind:
        for kind in ("team", "rep", "nurture", "queue"):
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated to have one destination")

    @property
    def target(self) -> str:
        """The team id, rep id, track or queue name."""
        return str(getattr(self, self.kind))


class RoutingRule(_Conditional):
    name: Name
    to: Destination


class Sticky(_Model):
    """A returning person goes back to the rep who holds them: a rep assignment made within
    `within` that is still the lead's current one (not breached, escalated or rejected)."""

    within: PositiveDuration = timedelta(days=30)


class Routing(_Model):
    account_owner_first: bool = False
    sticky: Sticky | None = Field(default_factory=Sticky)  # null: no stickiness
    # Where a lead a rep rejects goes (the reason is recorded): a nurture track or a queue.
    rejected: Destination = Field(default_factory=lambda: Destination(nurture="sales-rejected"))
    rules: list[RoutingRule]

    @field_validator("rejected")
    @classmethod
    def _back_to_marketing(cls, value: Destination) -> Destination:
        if value.kind not in ("nurture", "queue"):
            raise ValueError("a rejected lead goes to a nurture track or a queue, "
                             f"not a {value.kind}")
        return value

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[RoutingRule]) -> list[RoutingRule]:
        _check_unique_names(value)
        return value

