"""The base of every org file model (unknown keys are errors; fields go by alias or name)
and of its rules with a `when` condition (routing and scoring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
)

from shared.conditions import (
    OrgError,
    Predicate,
    compile_condition,
    validate_condition,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Conditional(_Model):
    when: dict[str, Any] = Field(default_factory=dict)
    _predicate: Predicate = PrivateAttr()

    @field_validator("when")
    @classmethod
    def _valid_condition(cls, value: dict[str, Any]) -> dict[str, Any]:
        validate_condition(value, "")
        return value

    def model_post_init(self, _context: Any, /) -> None:
        self._predicate = compile_condition(self.when)

    def matches(self, lead: Mapping[str, Any]) -> bool:
        """Whether the rule's `when` holds for the lead (as a JSON-form dict)."""
        # Straight from the private dict: `self._predicate` goes through pydantic's
        # __getattr__, which costs more than most conditions do.
        predicate: Predicate = self.__pydantic_private__["_predicate"]  # type: ignore[index]
        return predicate(lead)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def _check_unique_names(rules: Sequence[_Named]) -> None:
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise OrgError(f"[{i}].name", f"{rule.name!r} is already the name of "
                                          f"rule [{seen[rule.name]}]")
        seen[rule.name] = i
