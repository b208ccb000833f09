"""The org file as a whole: its sections checked against each other, lookups by id, and
its versions."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import (
    Field,
    PrivateAttr,
    model_validator,
)

from shared.conditions import (
    OrgError,
)
from shared.org.base import _Model
from shared.org.queues import Queue
from shared.org.routing import Routing
from shared.org.scoring import Scoring
from shared.org.sla import Sla
from shared.org.sources import Sources
from shared.org.teams import Rep, Team

if TYPE_CHECKING:
    pass


# --- the file --------------------------------------------------------------------------

class OrgFile(_Model):
    scoring: Scoring
    teams: list[Team] = Field(default_factory=list)
    routing: Routing
    sla: Sla = Field(default_factory=Sla)
    sources: Sources = Field(default_factory=Sources)
    queues: list[Queue] = Field(default_factory=list)

    _teams: dict[str, Team] = PrivateAttr(default_factory=dict)
    _reps: dict[str, Rep] = PrivateAttr(default_factory=dict)
    _rep_team: dict[str, Team] = PrivateAttr(default_factory=dict)
    _queues: dict[str, Queue] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> OrgFile:
        teams: dict[str, int] = {}
        reps: dict[str, str] = {}
        for i, team in enumerate(self.teams):
            if team.id in teams:
                raise OrgError(f"teams[{i}].id",
                               f"team {team.id!r} is already defined at teams[{teams[team.id]}]")
            teams[team.id] = i
            for j, rep in enumerate(team.reps):
                where = f"teams[{i}].reps[{j}]"
                if rep.id in reps:
                    raise OrgError(f"{where}.id",
                                   f"rep {rep.id!r} is already defined at {reps[rep.id]}")
                reps[rep.id] = where
        _check_overflow(self.teams, teams)
        _check_queues(self.queues, teams, reps)
        destinations = [(f"routing.rules[{i}].to", r.to) for i, r in enumerate(self.routing.rules)]
        if self.sla.escalate is not None and self.sla.escalate.then is not None:
            destinations.append(("sla.escalate.then", self.sla.escalate.then))
        for path, dest in destinations:
            if dest.team is not None and dest.team not in teams:
                raise OrgError(f"{path}.team", f"no team {dest.team!r} in teams")
            if dest.rep is not None and dest.rep not in reps:
                raise OrgError(f"{path}.rep", f"no rep {dest.rep!r} in any team")
        return self

    def model_post_init(self, _context: Any, /) -> None:
        self._teams = {t.id: t for t in self.teams}
        self._reps = {r.id: r for t in self.teams for r in t.reps}
        self._rep_team = {r.id: t for t in self.teams for r in t.reps}
        self._queues = {q.id: q for q in self.queues}

    # Straight from the private dict: read per lead, pydantic's __getattr__ costs more.
    def team(self, team_id: str) -> Team | None:
        teams: dict[str, Team] = self.__pydantic_private__["_teams"]  # type: ignore[index]
        return teams.get(team_id)

    def rep(self, rep_id: str) -> Rep | None:
        reps: dict[str, Rep] = self.__pydantic_private__["_reps"]  # type: ignore[index]
        return reps.get(rep_id)

    def team_of(self, rep_id: str) -> Team | None:
        """The team a rep belongs to."""
        teams: dict[str, Team] = self.__pydantic_private__["_rep_team"]  # type: ignore[index]
        return teams.get(rep_id)

    def queue(self, queue_id: str) -> Queue | None:
        """The `queues:` entry for a queue, when the org file names who works it."""
        queues: dict[str, Queue] = self.__pydantic_private__["_queues"]  # type: ignore[index]
        return queues.get(queue_id)

    def dealer(self, queue_id: str, team_id: str | None) -> Team | None:
        """The team whose reps a lead waiting in `queue_id` is dealt to: the team the
        `queues:` entry names, else (for a queue no entry names) the lead's own team when
        this is its fallback queue. None: the queue's leads are claimed by hand."""
        entry = self.queue(queue_id)
        if entry is not None:
            return self.team(entry.worked_by.team) if entry.worked_by.team else None
        team = self.team(team_id) if team_id else None
        return team if team is not None and team.queue == queue_id else None

    def queue_order(self, queue_id: str, dealer: Team) -> str:
        entry = self.queue(queue_id)
        return (entry.queue_order if entry is not None and entry.queue_order
                else dealer.queue_order)

    def known_queues(self) -> list[str]:
        """Every queue the org file can send a lead to, in a stable order: each team's
        fallback queue, the `queues:` entries, rule, rejection and escalation queues,
        and `unrouted` (no rule matched)."""
        names = [t.queue for t in self.teams] + [q.id for q in self.queues]
        names += [r.to.queue for r in self.routing.rules if r.to.queue]
        if self.routing.rejected.queue:
            names.append(self.routing.rejected.queue)
        if self.sla.escalate is not None and self.sla.escalate.then is not None \
                and self.sla.escalate.then.queue:
            names.append(self.sla.escalate.then.queue)
        names.append("unrouted")
        return list(dict.fromkeys(names))

    # cached_property keeps the value in the instance dict: read per lead, it must not go
    # through pydantic's private-attribute lookup.
    @cached_property
    def version(self) -> str:
        """First 12 hex digits of the SHA-256 of the whole parsed file, canonical JSON."""
        return _digest(self.model_dump(mode="json", by_alias=True))

    @cached_property
    def scoring_version(self) -> str:
        """As `version`, over the scoring section only: the score's `model`."""
        return _digest(self.scoring.model_dump(mode="json", by_alias=True))


def _check_overflow(team_list: list[Team], index: dict[str, int]) -> None:
    """Every overflow names another known team, and no chain of overflows comes back to a
    team it started from (a lead would go round for ever)."""
    by_id = {t.id: t for t in team_list}
    for i, team in enumerate(team_list):
        for k, target in enumerate(team.overflow):
            path = f"teams[{i}].overflow[{k}]"
            if target not in by_id:
                raise OrgError(path, f"no team {target!r} in teams")
            if target == team.id:
                raise OrgError(path, f"team {team.id!r} cannot overflow to itself")
    for team in team_list:
        # Depth first from each team; a path that reaches a team already on it is a cycle.
        stack: list[tuple[str, list[str]]] = [(team.id, [team.id])]
        while stack:
            current, chain = stack.pop()
            for k, target in enumerate(by_id[current].overflow):
                if target in chain:
                    at = index[current]
                    raise OrgError(f"teams[{at}].overflow[{k}]",
                                   f"overflow cycle: {' -> '.join([*chain, target])}")
                stack.append((target, [*chain, target]))


def _check_queues(queues: list[Queue], teams: dict[str, int], reps: dict[str, str]) -> None:
    seen: dict[str, int] = {}
    for i, queue in enumerate(queues):
        if queue.id in seen:
            raise OrgError(f"queues[{i}].id",
                           f"queue {queue.id!r} is already defined at queues[{seen[queue.id]}]")
        seen[queue.id] = i
        worked_by = queue.worked_by
        if worked_by.team is not None and worked_by.team not in teams:
            raise OrgError(f"queues[{i}].worked_by.team", f"no team {worked_by.team!r} in teams")
        for k, rep_id in enumerate(worked_by.reps or []):
            if rep_id not in reps:
                raise OrgError(f"queues[{i}].worked_by.reps[{k}]",
                               f"no rep {rep_id!r} in any team")


def _digest(document: Any) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
