"""How long to wait before trying again after a transient fault: the one backoff every
retrying part of leadflow uses (the consume loop's handler, publish and commit retries,
the SLA timer and notification drains, capture's retention pass, score's decay pass, a
notification's next attempt).

Exponential, capped, with "equal jitter": half the delay is fixed, half random, so
replicas that failed together (a database restart) do not retry in lockstep, yet no
retry comes sooner than half the schedule says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


def backoff_delay(attempt: int, start: float, cap: float,
                  rng: random.Random | None = None) -> float:
    """The wait before retry number `attempt` (1 for the first retry): `start` doubled
    per earlier attempt, at most `cap`, then jittered into [half of it, all of it]."""
    base = min(cap, start * 2.0 ** max(0, attempt - 1))
    return base / 2 + (rng or random).uniform(0, base / 2)


@dataclass
class Backoff:
    """The schedule of one retrying caller: `next()` after each failure, `reset()` after
    a success."""

    start: float
    cap: float
    rng: random.Random | None = None
    attempts: int = field(default=0, init=False)

    def next(self) -> float:
        self.attempts += 1
        return backoff_delay(self.attempts, self.start, self.cap, self.rng)

    def reset(self) -> None:
        self.attempts = 0
