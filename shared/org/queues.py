"""Queues that people work: who deals or claims a queue's leads (`queues:` in the org
file). A queue worked by a team is dealt to that team's reps like its fallback queue; a
queue worked by named reps is theirs to claim by hand."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from shared.org.base import _Model
from shared.org.durations import Name
from shared.org.teams import QueueOrder


class WorkedBy(_Model):
    """Exactly one of a team (its reps are dealt the queue's leads) or a list of reps."""

    team: Name | None = None
    reps: list[Name] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_item_list(cls, value: Any) -> Any:
        # `worked_by: [team: managers]` reads as a one-item list of a mapping.
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            return value[0]
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> WorkedBy:
        if (self.team is None) == (self.reps is None):
            raise ValueError("give exactly one of team or reps")
        if self.reps is not None and not self.reps:
            raise ValueError("reps must name at least one rep")
        return self


class Queue(_Model):
    id: Name
    worked_by: WorkedBy
    # How a team-worked queue is dealt; default: the working team's `queue_order`.
    queue_order: QueueOrder | None = None
    description: str | None = Field(None, max_length=500)
