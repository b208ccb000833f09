"""The project's own failure kinds, which decide what the consume loop does.

Adapters map library exceptions (aiokafka, asyncpg, httpx) to these at their boundary,
so handlers and the loop never reason about a driver's exception classes.
"""


class LeadflowError(Exception):
    """Base of leadflow's own errors."""


class RetryableError(LeadflowError):
    """A transient fault (broker or database unreachable): back off and retry; never
    dead-letter, never commit past it."""


class PermanentError(LeadflowError):
    """The record itself cannot be processed (undecodable, invalid): dead-letter it."""


class InvalidInputError(PermanentError):
    """Input leadflow refuses as it was sent: `field` says where (a path in the sender's
    body, a header, a CSV row), `reason` why. Retrying the same input cannot help: at an
    HTTP edge it is a 4xx naming the field, in a record a permanent fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ConfigError(LeadflowError):
    """Settings or files that leadflow refuses to start with; the message says why."""


class BrokerError(LeadflowError):
    """The broker refused a request in a way that retrying at once will not fix (a record
    too large, an authorization failure): the consume loop stops on it, capture answers
    503 so the sender keeps the lead and tries again later."""
