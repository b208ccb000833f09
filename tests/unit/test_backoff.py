"""The one backoff: doubling from its start, capped, jittered into the upper half."""

from __future__ import annotations

import random

import pytest

from shared.backoff import Backoff, backoff_delay


@pytest.mark.parametrize(("attempt", "low", "high"), [
    (1, 0.05, 0.1), (2, 0.1, 0.2), (3, 0.2, 0.4), (7, 2.5, 5.0), (50, 2.5, 5.0),
])
def test_delay_doubles_per_attempt_up_to_the_cap_and_never_below_half(
    attempt: int, low: float, high: float,
) -> None:
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, 0.1, 5.0, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert max(delays) - min(delays) > (high - low) / 2  # jittered, not constant


def test_replicas_failing_together_do_not_retry_in_lockstep() -> None:
    a, b = Backoff(0.1, 5.0, random.Random(1)), Backoff(0.1, 5.0, random.Random(2))
    assert [a.next() for _ in range(5)] != [b.next() for _ in range(5)]


def test_reset_after_a_success_starts_the_schedule_again() -> None:
    backoff = Backoff(1.0, 60.0, random.Random(0))
    for _ in range(6):
        backoff.next()
    assert backoff.next() >= 32
    backoff.reset()
    assert backoff.next() <= 1.0
