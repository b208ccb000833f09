"""Where a lead goes, and to whom: the routing decision, pure (DESIGN.md section 6).

Precedence, in this order:
1. The first routing rule whose `when` holds picks the destination (team, named rep,
   nurture track or queue). Every rule tried is in the trace.
2. If the destination is sales (a team or a rep) and `account_owner_first` is set, a
   lead whose account has an owner who is a known, available rep goes to that owner.
   Leads bound for nurture or a queue stay there: an owner gets no SLA clock for a
   newsletter sign-up.
2b. Else, if the destination is sales and the person is held by a rep (sticky routing:
   their rep assignment within `routing.sticky.within` is still current), an available
   holder gets them back. Neither an owner nor a holder takes a rotation turn.
3. A team destination picks a rep by the team's strategy among eligible reps (see
   `rep_problem`: not already tried for this lead, not out of office, not on dated leave,
   the team open, below capacity). No eligible rep: the team's fallback queue, reason
   `no_eligible_rep`; never an unavailable rep.

Strategies, with state kept by the caller (PostgreSQL, under a lock):
- round_robin: the eligible rep after the last one assigned, in the org file's order; a
  rep who left is replaced by position (the rep now at the departed rep's place in the
  org file is next), so the rotation does not restart from the first rep. That is the
  rep who followed them unless reps listed before them left at the same time.
- weighted: smooth weighted round robin (each turn every eligible rep gains its weight,
  the richest is chosen and pays the total). From a clean start, every cycle of
  total-weight assignments gives each rep exactly its weight, spread out rather than in
  runs. Weights are not exact over every window: while the set of eligible reps stays
  the same, each rep's count over any stretch stays close to its weighted share (the
  tests check within 2 of length * weight / total); credits carried across an absence
  shift where a rep's turns fall, and an absence is not paid back later in a burst.
- least_loaded: the eligible rep with the lowest open-assignment load relative to its
  capacity; ties go to round-robin order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.lead import AssignmentData, LeadData
from shared.org import OrgFile, Rep, Team

NO_ELIGIBLE_REP = "no_eligible_rep"


@dataclass(frozen=True)
class Rotation:
    """A team's rotation state: the last rep assigned, turns taken, weighted credits, and
    the last rep's index in the team's reps (so a rep who left is replaced by position)."""

    team_id: str
    last_rep_id: str | None = None
    turns: int = 0
    credits: dict[str, int] = field(default_factory=dict)
    last_position: int | None = None


@dataclass(frozen=True)
class Availability:
    """What route knows about reps beyond the org file."""

    unavailable: frozenset[str] = frozenset()
    open_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Decision:
    assignment: AssignmentData
    trace: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    rotation: Rotation | None = None
    # Each team tried when the rule's team had nobody eligible (follow the sun), in
    # order: `{"team_id", "candidates"}`.
    teams_tried: list[dict[str, Any]] = field(default_factory=list)

    def record(self, org_version: str) -> dict[str, Any]:
        """The decision record: enough to explain where the lead went and why."""
        return {
            "rules": self.trace,
            "candidates": self.candidates,
            **({"teams_tried": self.teams_tried} if self.teams_tried else {}),
            "rotation": None if self.rotation is None else {
                "team_id": self.rotation.team_id, "last_rep_id": self.rotation.last_rep_id,
                "turns": self.rotation.turns, "credits": self.rotation.credits,
                "last_position": self.rotation.last_position,
            },
            "org_version": org_version,
        }


def first_matching_rule(lead: Mapping[str, Any], org: OrgFile) -> tuple[Any, list[dict[str, Any]]]:
    trace: list[dict[str, Any]] = []
    for rule in org.routing.rules:
        matched = rule.matches(lead)
        trace.append({"rule": rule.name, "matched": matched})
        if matched:
            return rule, trace
    return None, trace


def rep_problem(
    rep: Rep, team: Team, avail: Availability, now: datetime, exclude: frozenset[str],
) -> str | None:
    """Why a rep cannot take a lead now, or None when eligible: the one place availability
    is decided. In order: already had this lead, out of office (`PATCH /v1/reps`), on
    dated leave (days of the team's calendar), the team closed (its hours and public
    holidays, unless the team takes leads `outside_hours: assign`), at capacity."""
    if rep.id in exclude:
        return "already_tried"
    if rep.id in avail.unavailable:
        return "out_of_office"
    if rep.on_leave(now.astimezone(ZoneInfo(team.timezone)).date()):
        return "on_leave"
    if team.outside_hours == "queue" and not team.calendar.is_open(now):
        return "off_hours"
    if rep.capacity is not None and avail.open_counts.get(rep.id, 0) >= rep.capacity:
        return "at_capacity"
    return None


def _rotation_order(team: Team, rotation: Rotation) -> list[Rep]:
    """Team reps starting with the one after the last assigned. When that rep has left the
    team, the rep now at their position is next in line."""
    reps = list(team.reps)
    ids = [r.id for r in reps]
    if rotation.last_rep_id in ids:
        start = ids.index(rotation.last_rep_id) + 1
    elif rotation.last_position is not None:
        start = rotation.last_position
    else:
        start = rotation.turns
    start %= len(reps)
    return reps[start:] + reps[:start]


def choose_rep(
    team: Team, rotation: Rotation, avail: Availability, now: datetime,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Rep | None, Rotation, list[dict[str, Any]]]:
    """Pick a rep of `team` by its strategy; returns the rep (or None), the new rotation
    state and each candidate with the reason it was passed over."""
    order = _rotation_order(team, rotation)
    candidates = []
    eligible: list[Rep] = []
    for rep in order:
        problem = rep_problem(rep, team, avail, now, exclude)
        candidates.append({"rep_id": rep.id, "passed_over": problem})
        if problem is None:
            eligible.append(rep)
    if not eligible:
        return None, rotation, candidates

    credits = dict(rotation.credits)
    if team.strategy == "weighted":
        total = sum(r.weight for r in eligible)
        for rep in eligible:
            credits[rep.id] = credits.get(rep.id, 0) + rep.weight
        # Ties go to rotation order (max keeps the first of equals).
        chosen = max(eligible, key=lambda r: credits[r.id])
        credits[chosen.id] -= total
        # Reps no longer in the team take no credit with them.
        credits = {rid: c for rid, c in credits.items() if any(r.id == rid for r in team.reps)}
    elif team.strategy == "least_loaded":
        def load(rep: Rep) -> float:
            open_now = avail.open_counts.get(rep.id, 0)
            return open_now / rep.capacity if rep.capacity else float(open_now)

        chosen = min(eligible, key=load)
    else:
        chosen = eligible[0]

    for c in candidates:
        if c["passed_over"] is None and c["rep_id"] != chosen.id:
            c["passed_over"] = "not_their_turn"
    position = next(i for i, r in enumerate(team.reps) if r.id == chosen.id)
    new_rotation = Rotation(team.id, chosen.id, rotation.turns + 1, credits, position)
    return chosen, new_rotation, candidates


def fallback_queue(team: Team | None, team_id: str | None = None) -> str:
    """The queue a team's leads wait in when none of its reps is eligible: the org file's
    `fallback_queue`, else `<team>-unassigned` (also for a team the org file dropped)."""
    return team.queue if team is not None else f"{team_id}-unassigned"


def decide_route(
    lead: LeadData,
    org: OrgFile,
    rotations: dict[str, Rotation],
    avail: Availability,
    now: datetime,
    *,
    attempt: int = 1,
    exclude: frozenset[str] = frozenset(),
    holder: str | None = None,
) -> Decision:
    """The routing decision for one lead at `now`. `holder` is the rep who already holds
    this person (sticky routing), when there is one."""
    rule, trace = first_matching_rule(lead, org)
    base: AssignmentData = {"attempt": attempt, "rule": rule.name if rule else None}
    if rule is None:
        return Decision({**base, "kind": "queue", "queue": "unrouted", "reason": "no_rule_matched"},
                        trace, [])
    dest = rule.to
    if dest.kind == "nurture":
        return Decision({**base, "kind": "nurture", "track": dest.nurture, "reason": "rule"},
                        trace, [])
    if dest.kind == "queue":
        return Decision({**base, "kind": "queue", "queue": dest.queue, "reason": "rule"},
                        trace, [])

    if org.routing.account_owner_first:
        owner_id = ((lead.get("account") or {}).get("owner_rep_id")) or None
        owner = org.rep(owner_id) if owner_id else None
        owner_team = org.team_of(owner_id) if owner_id else None
        if owner is not None and owner_team is not None:
            problem = rep_problem(owner, owner_team, avail, now, exclude)
            trace.append({"rule": "account_owner_first", "matched": problem is None,
                          "rep_id": owner.id, "passed_over": problem})
            if problem is None:
                return Decision({**base, "kind": "rep", "rep_id": owner.id,
                                 "team_id": owner_team.id, "reason": "account_owner",
                                 "strategy": "account_owner"}, trace,
                                [{"rep_id": owner.id, "passed_over": None}])

    held_by = org.rep(holder) if holder and org.routing.sticky else None
    held_team = org.team_of(holder) if held_by is not None and holder else None
    if held_by is not None and held_team is not None:
        problem = rep_problem(held_by, held_team, avail, now, exclude)
        trace.append({"rule": "sticky", "matched": problem is None, "rep_id": held_by.id,
                      "passed_over": problem})
        if problem is None:
            return Decision({**base, "kind": "rep", "rep_id": held_by.id,
                             "team_id": held_team.id, "reason": "returning_person",
                             "strategy": "sticky"}, trace,
                            [{"rep_id": held_by.id, "passed_over": None}])

    if dest.kind == "rep":
        rep = org.rep(dest.target)
        team = org.team_of(dest.target)
        assert rep is not None and team is not None  # validated by the org file
        problem = rep_problem(rep, team, avail, now, exclude)
        candidates = [{"rep_id": rep.id, "passed_over": problem}]
        if problem is None:
            return Decision({**base, "kind": "rep", "rep_id": rep.id, "team_id": team.id,
                             "reason": "named_rep", "strategy": "named"}, trace, candidates)
        return Decision({**base, "kind": "queue", "queue": fallback_queue(team),
                         "team_id": team.id, "reason": NO_ELIGIBLE_REP}, trace, candidates)

    team = org.team(dest.target)
    assert team is not None  # validated by the org file
    rotation = rotations.get(team.id) or Rotation(team.id)
    chosen, new_rotation, candidates = choose_rep(team, rotation, avail, now, exclude)
    if chosen is not None:
        return Decision({**base, "kind": "rep", "rep_id": chosen.id, "team_id": team.id,
                         "reason": "rule", "strategy": team.strategy}, trace, candidates,
                        new_rotation)
    tried = [{"team_id": team.id, "candidates": candidates}]
    for other in overflow_teams(org, team):
        rotation = rotations.get(other.id) or Rotation(other.id)
        chosen, new_rotation, passed = choose_rep(other, rotation, avail, now, exclude)
        tried.append({"team_id": other.id, "candidates": passed})
        candidates = candidates + passed
        if chosen is not None:
            return Decision({**base, "kind": "rep", "rep_id": chosen.id, "team_id": other.id,
                             "reason": "overflow", "strategy": other.strategy,
                             "overflow_from": team.id}, trace, candidates, new_rotation, tried)
    return Decision({**base, "kind": "queue", "queue": fallback_queue(team),
                     "team_id": team.id, "reason": NO_ELIGIBLE_REP,
                     "strategy": team.strategy}, trace, candidates,
                    teams_tried=tried if len(tried) > 1 else [])


def overflow_teams(org: OrgFile, team: Team) -> list[Team]:
    """The teams a team's leads overflow to, in the order tried: its `overflow` list, each
    followed by that team's own overflow (depth first), each team once."""
    order: list[Team] = []
    seen = {team.id}

    def visit(current: Team) -> None:
        for team_id in current.overflow:
            other = org.team(team_id)
            if other is None or other.id in seen:
                continue
            seen.add(other.id)
            order.append(other)
            visit(other)

    visit(team)
    return order


# --------------------------------------------------------------------------- re-scoring

Rescore = Literal["reroute", "redeliver", "ignore"]


def rescore_choice(before: Mapping[str, Any], lead: LeadData,
                   decide: Callable[[], Decision]) -> tuple[Rescore, Decision | None]:
    """What a `lead.scored` means for a lead route already decided (`before` is the data
    of its latest assignment event):

    - `reroute`: the lead waited in nurture from its first decision and its stage or
      temperature changed; `decide()` (the routing decision now) sends it somewhere other
      than nurture. A rep assignment, or a later attempt an SLA escalation or a rejection
      made, is never re-decided by a score.
    - `redeliver`: the same score again (a redelivery): the stored event is published
      again, never a second decision.
    - `ignore`: a new score that changes nothing here.
    """
    if _turned(before, lead):
        decision = decide()
        if decision.assignment["kind"] != "nurture":
            return "reroute", decision
    if _same_score(before, lead):
        return "redeliver", None
    return "ignore", None


def _same_score(before: Mapping[str, Any], lead: LeadData) -> bool:
    old, new = before.get("score") or {}, lead.get("score") or {}
    return all(old.get(k) == new.get(k) for k in ("points", "stage", "temperature", "model"))


def _turned(before: Mapping[str, Any], lead: LeadData) -> bool:
    assignment = before.get("assignment") or {}
    if assignment.get("kind") != "nurture" or int(assignment.get("attempt") or 1) != 1:
        return False
    old, new = before.get("score") or {}, lead.get("score") or {}
    return (old.get("stage"), old.get("temperature")) != (new.get("stage"),
                                                          new.get("temperature"))


# --------------------------------------------------------------------------- rejection

Rejection = Literal["rejected", "already_rejected", "not_with_a_rep", "not_this_rep"]


def rejection(org: OrgFile, current: AssignmentData, rep_id: str | None, reason: str,
              at: datetime) -> tuple[Rejection, AssignmentData | None]:
    """Where a lead a rep rejected goes: back to marketing (`routing.rejected`, a nurture
    track by default) as the next attempt, the rep, reason and time in the assignment.
    Only the rep who holds the lead can reject it (`rep_id` None: whoever holds it); a
    repeat changes nothing. Returns the outcome and, when rejected, the new assignment."""
    if current.get("reason") == "rejected":
        return "already_rejected", None
    if current.get("kind") != "rep":
        return "not_with_a_rep", None
    if rep_id is not None and rep_id != current.get("rep_id"):
        return "not_this_rep", None
    dest = org.routing.rejected
    assignment: AssignmentData = {
        "kind": "nurture" if dest.kind == "nurture" else "queue",
        "attempt": int(current.get("attempt") or 1) + 1, "rule": None,
        "reason": "rejected",
        "rejected": {"rep_id": current.get("rep_id"), "reason": reason, "at": at.isoformat()}}
    assignment["track" if dest.kind == "nurture" else "queue"] = dest.target
    return "rejected", assignment
