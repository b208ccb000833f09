"""The org file: what is accepted, what it means, and how a refusal names its place."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.errors import ConfigError
from shared.org import (
    Destination,
    OrgError,
    OrgFile,
    format_duration,
    load_org,
    load_org_file,
    parse_duration,
)
from tests.builders import make_org, rule, team

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "org.yaml"


def org_dict() -> dict[str, Any]:
    """A small valid org file as data; tests change one thing and dump it to YAML."""
    return {
        "scoring": {
            "mql_at": 50,
            "temperature": {
                "hot": {"points_at_least": 70, "or_any_activity": ["demo_request"]},
                "warm": {"points_at_least": 30},
            },
            "rules": [
                {"name": "vp", "when": {"title.seniority": {"eq": "vp"}}, "points": 15},
                {"name": "email-open", "when": {"activities.type": {"contains": "email_open"}},
                 "points": 1, "per_activity": True, "max": 5},
            ],
            "decay": {"behaviour_half_life": "30d"},
        },
        "teams": [
            {"id": "enterprise", "timezone": "America/New_York",
             "hours": {"mon-fri": "09:00-18:00"}, "holidays": "US",
             "reps": [{"id": "ana", "email": "ana@example.com"}, {"id": "ben", "weight": 2}]},
            {"id": "smb", "strategy": "weighted", "reps": [{"id": "finn"}]},
        ],
        "routing": {
            "account_owner_first": True,
            "rules": [
                {"name": "big", "when": {"company.employees": {"gte": 200}},
                 "to": {"team": "enterprise"}},
                {"name": "hot", "when": {"score.temperature": "hot"}, "to": {"team": "smb"}},
                {"name": "rest", "when": {}, "to": {"nurture": "newsletter"}},
            ],
        },
        "sla": {
            "hot": {"within": "5m"},
            "warm": {"within": "4h", "clock": "business", "warn_at": 0.8},
            "escalate": {"reassign_times": 2, "then": {"queue": "sales-managers"}},
        },
    }


def load(data: dict[str, Any]) -> OrgFile:
    return load_org(yaml.safe_dump(data, sort_keys=False))


def changed(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    data = copy.deepcopy(org_dict())
    change(data)
    return data


def test_the_demo_org_file_loads_with_its_teams_routing_and_sla() -> None:
    org = load_org_file(DEMO)
    assert [t.id for t in org.teams] == ["enterprise", "midmarket", "smb", "managers"]
    assert org.dealer("sales-managers", "enterprise") is org.team("managers")
    assert [r.id for r in org.team("enterprise").reps] == ["ana", "ben", "chloe"]
    assert [(r.id, r.weight) for r in org.team("smb").reps] == [("finn", 2), ("gia", 1)]
    assert org.team("smb").strategy == "weighted"
    assert org.team("midmarket").holidays == "GB"
    assert org.routing.account_owner_first is True
    assert [r.to.kind for r in org.routing.rules] == ["team", "team", "team", "nurture"]
    assert org.sla.hot.within == timedelta(minutes=5)
    assert org.sla.tier("warm").clock == "business"
    assert org.sla.cold.within == timedelta(hours=24)
    assert org.sla.escalate.then.queue == "sales-managers"
    assert org.scoring.decay.behaviour_half_life == timedelta(days=30)
    assert all(rep.email and rep.name for team in org.teams for rep in team.reps)


@pytest.mark.parametrize(
    ("lead", "rule"),
    [
        ({"score": {"temperature": "warm"}, "company": {"employees": 500}}, "enterprise"),
        ({"score": {"temperature": "hot"}, "company": {"employees": 120}}, "midmarket-hot"),
        ({"score": {"temperature": "warm"}, "company": {"employees": 120}}, "smb"),
        ({"score": {"temperature": "hot"}, "company": {}}, "smb"),
        ({"score": {"temperature": "cold"}, "company": {"employees": 5000}}, "nurture"),
    ],
)
def test_the_demo_routing_sends_cold_leads_to_nurture_and_the_rest_to_a_team(
    lead: dict[str, Any], rule: str
) -> None:
    org = load_org_file(DEMO)
    assert next(r.name for r in org.routing.rules if r.matches(lead)) == rule


@pytest.mark.parametrize(
    ("name", "kind", "activity"),
    [
        ("c-level", "fit", None),
        ("target-region", "fit", None),
        ("demo-request", "behaviour", "demo_request"),
        ("email-open", "behaviour", "email_open"),
        ("site-visit-burst", "behaviour", "site_visit"),
    ],
)
def test_demo_scoring_rules_are_fit_or_behaviour_by_what_they_refer_to(
    name: str, kind: str, activity: str | None
) -> None:
    rule = next(r for r in load_org_file(DEMO).scoring.rules if r.name == name)
    assert (rule.kind, rule.activity) == (kind, activity)


def test_versions_are_stable_short_hashes_and_scoring_has_its_own() -> None:
    org = load(org_dict())
    assert re.fullmatch(r"[0-9a-f]{12}", org.version), org.version
    assert org.version == load(org_dict()).version
    assert org.scoring_version != org.version
    more_reps = load(changed(lambda d: d["teams"][1]["reps"].append({"id": "gia"})))
    assert more_reps.version != org.version
    assert more_reps.scoring_version == org.scoring_version


def test_a_dumped_org_file_reads_back_as_the_same_version() -> None:
    org = load_org_file(DEMO)
    assert OrgFile.model_validate_json(org.model_dump_json()).version == org.version


def test_lookups_find_teams_and_reps_by_id_and_none_for_strangers() -> None:
    org = load(org_dict())
    assert org.team("smb").id == "smb"
    assert org.rep("ben").weight == 2
    assert org.team_of("ben").id == "enterprise"
    assert org.team("nope") is None and org.rep("nope") is None and org.team_of("nope") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        (" 24h ", timedelta(days=1)),
    ],
)
def test_durations_are_parsed_from_their_short_form(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "5", "5x", "m", "1.5h", "-5m", "30m1h", "5 m", "PT5M"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("destination", "kind", "target"),
    [
        ({"team": "smb"}, "team", "smb"),
        ({"rep": "ana"}, "rep", "ana"),
        ({"nurture": "newsletter"}, "nurture", "newsletter"),
        ({"queue": "sales-managers"}, "queue", "sales-managers"),
    ],
)
def test_a_destination_knows_its_kind(destination: dict[str, str], kind: str, target: str) -> None:
    parsed = Destination.model_validate(destination)
    assert (parsed.kind, parsed.target) == (kind, target)


def test_a_rep_is_on_leave_on_both_days_of_a_leave_and_not_after() -> None:
    org = load(changed(lambda d: d["teams"][0]["reps"][0].update(
        leave=[{"from": "2025-08-01", "to": "2025-08-15"}])))
    ana = org.rep("ana")
    assert ana.on_leave(date(2025, 8, 1)) and ana.on_leave(date(2025, 8, 15))
    assert not ana.on_leave(date(2025, 8, 16))


def test_yaml_1_1_words_like_no_stay_strings() -> None:
    text = yaml.safe_dump(org_dict(), sort_keys=False).replace("holidays: US", "holidays: NO")
    assert load_org(text).team("enterprise").holidays == "NO"


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _drop(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


ERRORS = [
    ("unknown key under a team", _set(["teams", 0, "colour"], "red"),
     "teams[0].colour", "unknown key (expected one of: id, strategy"),
    ("unknown operator in a routing rule",
     _set(["routing", "rules", 1, "when"], {"score.temperature": {"is": "hot"}}),
     "routing.rules[1].when.score.temperature", "unknown operator 'is'"),
    ("unknown operator deep in any", _set(["scoring", "rules", 0, "when"],
                                          {"any": [{"country": "US"}, {"x": {"over": 1}}]}),
     "scoring.rules[0].when.any[1].x", "unknown operator"),
    ("weight zero", _set(["teams", 0, "reps", 1, "weight"], 0),
     "teams[0].reps[1].weight", "must be a positive integer"),
    ("weight fractional", _set(["teams", 0, "reps", 1, "weight"], 1.5),
     "teams[0].reps[1].weight", "must be an integer"),
    ("negative capacity", _set(["teams", 0, "reps", 0, "capacity"], -1),
     "teams[0].reps[0].capacity", "zero or a positive integer"),
    ("rep id reused", _set(["teams", 1, "reps", 0, "id"], "ana"),
     "teams[1].reps[0].id", "already defined at teams[0].reps[0]"),
    ("team id reused", _set(["teams", 1, "id"], "enterprise"),
     "teams[1].id", "already defined at teams[0]"),
    ("team without reps", _set(["teams", 1, "reps"], []), "teams[1].reps", "at least one rep"),
    ("unknown strategy", _set(["teams", 1, "strategy"], "random"),
     "teams[1].strategy", "'round_robin', 'weighted' or 'least_loaded'"),
    ("unknown time zone", _set(["teams", 0, "timezone"], "America/Gotham"),
     "teams[0].timezone", "unknown time zone"),
    ("bad hours", _set(["teams", 0, "hours"], {"mon-fri": "09:00-25:00"}),
     "teams[0].hours", "25:00"),
    ("bad day", _set(["teams", 0, "hours"], {"mon-fry": "09:00-18:00"}),
     "teams[0].hours", "fry"),
    ("unknown holidays", _set(["teams", 0, "holidays"], "XX"),
     "teams[0].holidays", "no public holidays known for 'XX'"),
    ("leave ending before it starts",
     _set(["teams", 0, "reps", 0, "leave"], [{"from": "2025-08-15", "to": "2025-08-01"}]),
     "teams[0].reps[0].leave[0].to", "ends before it starts"),
    ("routing to an unknown team", _set(["routing", "rules", 0, "to"], {"team": "mid"}),
     "routing.rules[0].to.team", "no team 'mid'"),
    ("routing to an unknown rep", _set(["routing", "rules", 0, "to"], {"rep": "zed"}),
     "routing.rules[0].to.rep", "no rep 'zed'"),
    ("two destinations", _set(["routing", "rules", 2, "to"], {"team": "smb", "queue": "q"}),
     "routing.rules[2].to", "exactly one of team, rep, nurture or queue (got team, queue)"),
    ("no destination", _set(["routing", "rules", 2, "to"], {}),
     "routing.rules[2].to", "exactly one"),
    ("escalating to an unknown team", _set(["sla", "escalate", "then"], {"team": "ghosts"}),
     "sla.escalate.then.team", "no team 'ghosts'"),
    ("routing rule names reused", _set(["routing", "rules", 2, "name"], "big"),
     "routing.rules[2].name", "already the name of rule [0]"),
    ("routing missing", _drop(["routing"]), "routing", "is required"),
    ("warm above hot", _set(["scoring", "temperature", "warm", "points_at_least"], 80),
     "scoring.temperature.warm.points_at_least", "above hot.points_at_least (70)"),
    ("negative mql_at", _set(["scoring", "mql_at"], -5),
     "scoring.mql_at", "zero or a positive integer"),
    ("bad duration", _set(["sla", "hot", "within"], "5 minutes"),
     "sla.hot.within", "not a duration"),
    ("zero duration", _set(["sla", "hot", "within"], "0s"),
     "sla.hot.within", "longer than zero"),
    ("number for a duration", _set(["scoring", "decay", "behaviour_half_life"], 30),
     "scoring.decay.behaviour_half_life", "must be a duration"),
    ("warn_at outside 0..1", _set(["sla", "warm", "warn_at"], 1.5),
     "sla.warm.warn_at", "between 0 and 1"),
    ("unknown clock", _set(["sla", "hot", "clock"], "office"),
     "sla.hot.clock", "'always' or 'business'"),
    ("points not a whole number", _set(["scoring", "rules", 0, "points"], 2.5),
     "scoring.rules[0].points", "must be an integer"),
    ("per_activity without an activity type", _set(["scoring", "rules", 1, "when"], {}),
     "scoring.rules[1].activity", "which activity to count"),
    ("per_activity with a window", _set(["scoring", "rules", 1, "within"], "24h"),
     "scoring.rules[1].within", "cannot be combined"),
    ("within without at_least", _set(["scoring", "rules", 0, "within"], "24h"),
     "scoring.rules[0].at_least", "go together"),
    ("a fit rule counting activities", _set(["scoring", "rules", 1, "kind"], "fit"),
     "scoring.rules[1].kind", "cannot count activities"),
    ("scoring rule names reused", _set(["scoring", "rules", 1, "name"], "vp"),
     "scoring.rules[1].name", "already the name of rule [0]"),
    ("max zero", _set(["scoring", "rules", 1, "max"], 0),
     "scoring.rules[1].max", "must be a positive integer"),
]


@pytest.mark.parametrize(
    ("change", "path", "problem"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_an_org_error_names_the_file_the_path_and_the_problem(
    change: Callable[[dict[str, Any]], None], path: str, problem: str
) -> None:
    with pytest.raises(OrgError) as caught:
        load(changed(change))
    error = caught.value
    assert error.path == path
    assert problem in error.problem
    assert str(error).startswith(f"org.yaml: {path}: ")


def test_the_error_message_reads_file_path_problem() -> None:
    with pytest.raises(OrgError) as caught:
        load(changed(_set(["teams", 0, "reps", 1, "weight"], -2)))
    assert str(caught.value) == "org.yaml: teams[0].reps[1].weight: must be a positive integer"


def test_every_problem_in_a_file_is_reported_not_only_the_first() -> None:
    def two_mistakes(data: dict[str, Any]) -> None:
        data["teams"][0]["reps"][0]["weight"] = 0
        data["sla"]["hot"]["within"] = "soon"

    with pytest.raises(OrgError) as caught:
        load(changed(two_mistakes))
    assert [p for p, _ in caught.value.errors] == ["teams[0].reps[0].weight", "sla.hot.within"]
    assert len(str(caught.value).splitlines()) == 2


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("scoring: [1\n", "line 2, column 1", "not valid YAML"),
        ("scoring: {}\nscoring: {}\n", "line 2, column 1", "key 'scoring' is given twice"),
        ("", "", "the file is empty"),
        ("- scoring\n", "", "must be a mapping"),
    ],
)
def test_a_file_that_is_not_an_org_mapping_is_refused_with_its_line(
    text: str, path: str, problem: str
) -> None:
    with pytest.raises(OrgError) as caught:
        load_org(text, "acme.yaml")
    assert (caught.value.path, caught.value.filename) == (path, "acme.yaml")
    assert problem in caught.value.problem


def test_errors_from_a_file_on_disk_name_that_file(tmp_path: Path) -> None:
    path = tmp_path / "sales.yaml"
    path.write_text(yaml.safe_dump(changed(_set(["teams", 0, "colour"], "red"))))
    with pytest.raises(OrgError, match=r"^.*sales\.yaml: teams\[0\]\.colour: unknown key"):
        load_org_file(path)
    with pytest.raises(OrgError, match="cannot read"):
        load_org_file(tmp_path / "missing.yaml")


def test_an_org_error_is_a_value_error_and_a_config_error() -> None:
    with pytest.raises(OrgError) as caught:
        load_org("")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ConfigError)


@pytest.mark.parametrize(("teams", "message"), [
    pytest.param([team("a", "x", overflow=["zz"])],
                 "teams[0].overflow[0]: no team 'zz' in teams", id="unknown-team"),
    pytest.param([team("a", "x", overflow=["a"])],
                 "teams[0].overflow[0]: team 'a' cannot overflow to itself", id="itself"),
    pytest.param([team("a", "x", overflow=["b"]), team("b", "y", overflow=["a"])],
                 "teams[1].overflow[0]: overflow cycle: a -> b -> a", id="two-team-cycle"),
    pytest.param([team("a", "x", overflow=["b"]), team("b", "y", overflow=["c"]),
                  team("c", "z", overflow=["b"])],
                 "teams[2].overflow[0]: overflow cycle: a -> b -> c -> b", id="longer-cycle"),
])
def test_overflow_names_known_teams_and_never_comes_back(teams: list[dict[str, Any]],
                                                         message: str) -> None:
    with pytest.raises(OrgError) as caught:
        make_org(teams=teams, routing={"rules": [rule("all", {"team": "a"})]})
    assert message in str(caught.value)


def test_overflow_may_share_a_team_without_a_cycle() -> None:
    org = make_org(teams=[team("a", "x", overflow=["b", "c"]), team("b", "y", overflow=["c"]),
                          team("c", "z")],
                   routing={"rules": [rule("all", {"team": "a"})]})
    a = org.team("a")
    assert a is not None and a.overflow == ["b", "c"]
