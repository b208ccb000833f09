"""SLA tiers per temperature (within, clock, reminders) and what happens when an
assignment lapses (reassign, then escalate)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import (
    field_validator,
)

from shared.org.base import _Model
from shared.org.durations import NonNegativeInt, PositiveDuration
from shared.org.routing import Destination

if TYPE_CHECKING:
    pass


# --- SLA -------------------------------------------------------------------------------

class SlaTier(_Model):
    within: PositiveDuration
    clock: Literal["always", "business"] = "always"
    # Reminders (`sla.warning`) at fractions of `within`: 0.8, or a ladder [0.5, 0.8].
    warn_at: float | list[float] | None = None

    @field_validator("warn_at")
    @classmethod
    def _fraction(cls, value: float | list[float] | None) -> float | list[float] | None:
        fractions = value if isinstance(value, list) else [] if value is None else [value]
        for fraction in fractions:
            if not 0 < fraction < 1:
                raise ValueError("must be a fraction of `within` between 0 and 1, like 0.8, "
                                 "or a list of them")
        if len(set(fractions)) != len(fractions):
            raise ValueError("the same fraction is listed twice")
        return value

    @property
    def warn_fractions(self) -> tuple[float, ...]:
        value = self.warn_at
        return tuple(sorted(value)) if isinstance(value, list) else (
            () if value is None else (value,))


class Escalate(_Model):
    reassign_times: NonNegativeInt = 0
    then: Destination | None = None


class Sla(_Model):
    hot: SlaTier | None = None
    warm: SlaTier | None = None
    cold: SlaTier | None = None
    escalate: Escalate | None = None

    def tier(self, temperature: str) -> SlaTier | None:
        return {"hot": self.hot, "warm": self.warm, "cold": self.cold}.get(temperature)
