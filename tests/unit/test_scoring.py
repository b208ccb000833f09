"""Scoring: the demo model's worked examples, decay, per-activity caps, windows, penalties."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.score.scoring import score_breakdown, score_lead
from shared.org import Scoring, load_org_file
from tests.builders import NOW, make_lead

DEMO = load_org_file(Path(__file__).resolve().parents[2] / "deploy" / "demo" / "org.yaml")
MODEL = DEMO.scoring


def prospect(
    seniority: str | None = None,
    employees: int | None = None,
    industry: str | None = None,
    country: str | None = None,
    did: list[tuple[str, timedelta]] | None = None,
) -> dict[str, Any]:
    """A bare lead with only what scoring reads; `did` lists (activity type, how long
    before NOW)."""
    return make_lead(
        bare=True, title={"seniority": seniority},
        company={"employees": employees, "industry": industry}, country=country,
        activities=[{"type": kind, "at": NOW - ago} for kind, ago in did or []])


def times(kind: str, count: int, ago: timedelta = timedelta(0)) -> list[tuple[str, timedelta]]:
    return [(kind, ago)] * count


def rule_points(lead: dict[str, Any], scoring: Scoring = MODEL) -> dict[str, int]:
    return {r["rule"]: r["points"] for r in score_breakdown(lead, scoring, NOW)["reasons"]}


HOURS = timedelta(hours=1)
DAYS = timedelta(days=1)


@pytest.mark.parametrize(
    ("lead", "points", "temperature", "stage"),
    [
        # VP 15 + 200+ employees 15 + software 10 + US 10 + demo request 25
        (prospect("vp", 250, "software", "US", [("demo_request", 0 * DAYS)]), 75, "hot", "mql"),
        # manager 5 + 10-49 employees 5 + three email opens 3
        (prospect("manager", 30, "retail", "BR", times("email_open", 3)), 13, "cold", "lead"),
        # C-level 20 + 200+ 15 + fintech 10 + GB 10
        (prospect("c_level", 1000, "fintech", "GB"), 55, "warm", "mql"),
        # director 10 + 50-199 10 + saas 10 + DE 10 + pricing page 15 + webinar 10
        (prospect("director", 60, "saas", "DE",
                   [("pricing_page_visit", HOURS), ("webinar_attended", DAYS)]), 65, "warm", "mql"),
        # director 10 + 50-199 10 + FR 10, exactly the warm threshold
        (prospect("director", 100, "retail", "FR"), 30, "warm", "lead"),
        # C-level 20 + 200+ 15 + cybersecurity 10 + AU 10 + pricing 15 + whitepaper 5
        (prospect("c_level", 900, "cybersecurity", "AU",
                   [("pricing_page_visit", HOURS), ("whitepaper_download", HOURS)]),
         75, "hot", "mql"),
        # nothing known: no points, cold
        (prospect(), 0, "cold", "lead"),
        # a contact-sales request makes a lead hot whatever its points
        (prospect(did=[("contact_sales", HOURS)]), 0, "hot", "lead"),
        # individual contributor at a 5-person company in Brazil, one click 3
        (prospect("individual", 5, "retail", "BR", [("email_click", HOURS)]), 3, "cold", "lead"),
    ],
)
def test_the_demo_model_scores_worked_examples(
    lead: dict[str, Any], points: int, temperature: str, stage: str
) -> None:
    score = score_lead(lead, MODEL, NOW, "model-1")
    assert (score.points, score.temperature, score.stage) == (points, temperature, stage)
    assert score.points == sum(r.points for r in score.reasons)


def test_reasons_name_each_contributing_rule_in_file_order() -> None:
    lead = prospect("vp", 250, "software", "US", [("demo_request", 0 * DAYS)])
    score = score_lead(lead, MODEL, NOW, "model-1")
    assert [(r.rule, r.points) for r in score.reasons] == [
        ("vp", 15), ("company-200-plus", 15), ("target-industry", 10), ("target-region", 10),
        ("demo-request", 25),
    ]
    assert score.model == "model-1"


def test_the_breakdown_separates_fit_from_behaviour() -> None:
    lead = prospect("vp", 250, "software", "US", [("demo_request", 0 * DAYS)])
    breakdown = score_breakdown(lead, MODEL, NOW)
    assert (breakdown["fit"], breakdown["behaviour"]) == (50, 25)


@pytest.mark.parametrize(
    ("ago", "points"),
    [
        (0 * DAYS, 25),
        (15 * DAYS, 18),   # 25 x 0.5 ** 0.5 = 17.68
        (30 * DAYS, 13),   # 25 x 0.5 = 12.5, halves round away from zero
        (60 * DAYS, 6),    # 6.25
        (90 * DAYS, 3),    # 3.125
        (-1 * DAYS, 25),   # dated after now (clock skew): counts as new, never grows
    ],
)
def test_behaviour_points_halve_every_half_life(ago: timedelta, points: int) -> None:
    assert rule_points(prospect(did=[("demo_request", ago)])) == {"demo-request": points}


def test_behaviour_long_past_decays_to_nothing_and_leaves_no_reason() -> None:
    assert rule_points(prospect(did=[("demo_request", 365 * DAYS)])) == {}


def test_a_30_day_old_demo_request_alone_is_13_points_yet_hot() -> None:
    score = score_lead(prospect(did=[("demo_request", 30 * DAYS)]), MODEL, NOW, "m")
    assert (score.points, score.temperature, score.stage) == (13, "hot", "lead")


def test_fit_points_do_not_decay() -> None:
    old = prospect("vp", did=[("demo_request", 60 * DAYS)])
    assert rule_points(old)["vp"] == 15


def test_without_decay_behaviour_keeps_its_points() -> None:
    no_decay = MODEL.model_copy(update={"decay": None})
    assert rule_points(prospect(did=[("demo_request", 90 * DAYS)]), no_decay) == {
        "demo-request": 25
    }


def test_a_plain_behaviour_rule_counts_once_aged_by_its_latest_activity() -> None:
    lead = prospect(did=[("pricing_page_visit", 60 * DAYS), ("pricing_page_visit", 30 * DAYS),
                          ("pricing_page_visit", 90 * DAYS)])
    assert rule_points(lead) == {"pricing-page-visit": 8}  # 15 x 0.5 = 7.5


@pytest.mark.parametrize(
    ("did", "expected"),
    [
        (times("email_open", 1), {"email-open": 1}),
        (times("email_open", 5), {"email-open": 5}),
        (times("email_open", 9), {"email-open": 5}),
        (times("email_open", 4, 30 * DAYS), {"email-open": 2}),
        (times("email_open", 10, 30 * DAYS), {"email-open": 5}),
        (times("email_open", 6, 30 * DAYS), {"email-open": 3}),
        (times("email_click", 2), {"email-click": 6}),
        (times("email_click", 5), {"email-click": 15}),
        (times("email_click", 8), {"email-click": 15}),
        (times("email_click", 2) + times("email_open", 7), {"email-open": 5, "email-click": 6}),
    ],
)
def test_per_activity_rules_count_each_activity_up_to_their_max(
    did: list[tuple[str, timedelta]], expected: dict[str, int]
) -> None:
    assert rule_points(prospect(did=did)) == expected


@pytest.mark.parametrize(
    ("visits_ago", "points"),
    [
        ([0 * HOURS, 5 * HOURS, 23 * HOURS], 10),
        ([0 * HOURS, 12 * HOURS, 24 * HOURS], 10),   # a window includes both its ends
        ([0 * HOURS, 20 * HOURS, 40 * HOURS], 0),
        ([0 * HOURS, 25 * HOURS, 50 * HOURS, 75 * HOURS], 0),
        ([0 * HOURS, 1 * HOURS], 0),
        ([30 * DAYS, 30 * DAYS + HOURS, 30 * DAYS + 2 * HOURS], 5),  # aged by its latest visit
        ([60 * DAYS, 60 * DAYS, 60 * DAYS, 2 * HOURS, 3 * HOURS, 4 * HOURS], 10),
        ([50 * HOURS, 2 * HOURS, 70 * HOURS, 3 * HOURS, 1 * HOURS], 10),  # in any order
    ],
)
def test_three_site_visits_within_24_hours_earn_the_burst_points_once(
    visits_ago: list[timedelta], points: int
) -> None:
    lead = prospect(did=[("site_visit", ago) for ago in visits_ago])
    assert rule_points(lead).get("site-visit-burst", 0) == points


PENALTIES = Scoring.model_validate({
    "mql_at": 20,
    "temperature": {"hot": {"points_at_least": 40},
                    "warm": {"points_at_least": 10, "or_any_activity": ["free_trial"]}},
    "rules": [
        {"name": "vp", "when": {"title.seniority": "vp"}, "points": 25},
        {"name": "student", "when": {"title.seniority": "student"}, "points": -20},
        {"name": "bounce", "when": {"activities.type": {"contains": "email_bounce"}},
         "points": -4, "per_activity": True, "max": 10},
        {"name": "pricing-page", "when": {"activities.props.page": {"contains": "/pricing"}},
         "points": 20},
    ],
    "decay": {"behaviour_half_life": "30d"},
})


@pytest.mark.parametrize(
    ("lead", "points", "temperature", "reasons"),
    [
        (prospect("student"), -20, "cold", {"student": -20}),
        (prospect("vp"), 25, "warm", {"vp": 25}),
        (prospect("vp", did=times("email_bounce", 2)), 17, "warm", {"vp": 25, "bounce": -8}),
        (prospect("vp", did=times("email_bounce", 5)), 15, "warm", {"vp": 25, "bounce": -10}),
        (prospect("vp", did=times("email_bounce", 4, 30 * DAYS)), 17, "warm",
         {"vp": 25, "bounce": -8}),
        (prospect("student", did=times("email_bounce", 3)), -30, "cold",
         {"student": -20, "bounce": -10}),
    ],
)
def test_negative_points_subtract_decay_and_are_capped_by_max(
    lead: dict[str, Any], points: int, temperature: str, reasons: dict[str, int]
) -> None:
    score = score_lead(lead, PENALTIES, NOW, "m")
    assert (score.points, score.temperature) == (points, temperature)
    assert rule_points(lead, PENALTIES) == reasons


def test_a_behaviour_rule_without_a_type_is_aged_by_the_activity_that_matched() -> None:
    lead = prospect()
    lead["activities"] = [{"type": "page_view", "at": (NOW - 30 * DAYS).isoformat(),
                           "props": {"page": "/pricing"}}]
    assert rule_points(lead, PENALTIES) == {"pricing-page": 10}


@pytest.mark.parametrize(
    ("lead", "temperature", "stage"),
    [
        (prospect(), "cold", "lead"),
        (prospect("vp"), "warm", "mql"),
        (prospect(did=[("free_trial", 90 * DAYS)]), "warm", "lead"),
        (prospect("student", did=[("free_trial", 0 * DAYS)]), "warm", "lead"),
    ],
)
def test_temperature_and_stage_follow_the_thresholds_of_the_file(
    lead: dict[str, Any], temperature: str, stage: str
) -> None:
    score = score_lead(lead, PENALTIES, NOW, "m")
    assert (score.temperature, score.stage) == (temperature, stage)


def test_scoring_leaves_the_lead_untouched() -> None:
    lead = prospect("vp", 250, "software", "US", [("demo_request", DAYS)])
    before = repr(lead)
    score_lead(lead, MODEL, NOW, "m")
    assert repr(lead) == before


def test_points_at_the_hot_threshold_make_a_lead_hot() -> None:
    lead = prospect("vp")
    lead["activities"] = [{"type": "page_view", "at": NOW.isoformat(),
                           "props": {"page": "/pricing"}}]
    score = score_lead(lead, PENALTIES, NOW, "m")
    assert (score.points, score.temperature, score.stage) == (45, "hot", "mql")


def test_fit_and_behaviour_add_up_to_the_points_and_each_reason_says_which() -> None:
    lead = prospect("vp", 250, "software", "US", [("demo_request", 0 * DAYS),
                                                    ("email_open", 0 * DAYS)])
    score = score_lead(lead, MODEL, NOW, "m1")
    # VP 15 + 200+ employees 15 + software 10 + US 10; demo request 25 + an email open 1
    assert (score.fit, score.behaviour) == (50, 26)
    assert score.fit + score.behaviour == score.points
    assert score.fit == sum(r.points for r in score.reasons if r.kind == "fit")
    assert score.behaviour == sum(r.points for r in score.reasons if r.kind == "behaviour")
    assert {r.rule for r in score.reasons if r.kind == "behaviour"} == {"demo-request",
                                                                        "email-open"}


@pytest.mark.parametrize(("overrides", "rule", "points"), [
    ({"flags": {"free_email": True}}, "free-mail", -10),
    ({"title": {"raw": "Marketing Intern", "seniority": "student"}}, "student", -15),
    ({"company": {"domain": "rivalflow.example"}}, "competitor", -50),
])
def test_negative_rules_take_points_away(overrides, rule, points) -> None:
    lead = make_lead(bare=True, **overrides)
    score = score_lead(lead, MODEL, NOW, "m")
    assert {r.rule: r.points for r in score.reasons}[rule] == points
    assert score.fit == points and score.points == points
