"""`leadflow route test` and `leadflow route replay` on the real database: the decision a
lead would get, with nothing written, and what a candidate org file would change."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from leadflow import cli
from leadflow.dryrun import route_test
from services.route.handlers import handle_route_batch
from services.route.tools import route_replay
from shared.service import Runtime
from shared.settings import Settings
from tests.builders import StartRuntime, demo_org_open_all_hours
from tests.integration.test_route import scored


async def written(rt: Runtime) -> tuple[int, int, object]:
    async with rt.engine.connect() as conn:
        assignments = (await conn.execute(text("SELECT count(*) FROM route.assignments"))
                       ).scalar()
        timers = (await conn.execute(text("SELECT count(*) FROM route.sla_timers"))).scalar()
        rotations = (await conn.execute(text(
            "SELECT json_agg(r ORDER BY team_id)::text FROM route.rotations r"))).scalar()
    return int(assignments or 0), int(timers or 0), rotations


def candidate_org(directory: Path) -> Path:
    """The demo org with enterprise-sized warm and hot leads sent to midmarket instead."""
    document = yaml.safe_load(demo_org_open_all_hours(directory).read_text())
    document["routing"]["rules"][0]["to"] = {"team": "midmarket"}
    path = directory / "org-candidate.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


async def test_route_test_prints_the_decision_and_writes_nothing(
    settings: Settings, tmp_path: Path, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    await handle_route_batch([scored("tools-warmup@big-co.example")], rt)
    before = await written(rt)
    body = tmp_path / "lead.json"
    body.write_text(json.dumps({
        "email": "dana@globex.example", "full_name": "Dana Ng", "job_title": "VP Sales",
        "company": {"name": "Globex", "employees": 800, "industry": "software"},
        "country": "US", "activities": [{"type": "demo_request",
                                         "at": "2026-11-23T10:00:00Z"}]}))
    result = await route_test(settings, body)
    assert result.decision.assignment["kind"] == "rep"
    assert result.decision.assignment["team_id"] == "enterprise"
    assert result.decision.assignment["sla"]["temperature"] == "hot"
    assert result.lead["title"]["seniority"] == "vp"
    assert any("normalized" in n for n in result.notes)
    elsewhere = await route_test(settings, body, candidate_org(tmp_path))
    assert elsewhere.decision.assignment["team_id"] == "midmarket"
    event = tmp_path / "event.json"  # an event as `leadflow tail --raw` prints it
    event.write_text(json.dumps(scored("from-an-event@big-co.example").to_dict()))
    assert (await route_test(settings, event)).decision.assignment["kind"] == "rep"
    assert await written(rt) == before


async def test_route_replay_counts_leads_a_candidate_would_send_elsewhere(
    settings: Settings, tmp_path: Path, runtime: StartRuntime,
) -> None:
    rt = await runtime("route")
    big = [scored(f"replay{i}@big-co.example") for i in range(5)]
    cold = [scored(f"replay-cold{i}@small.example", temperature="cold", employees=5)
            for i in range(3)]
    await handle_route_batch(big + cold, rt)
    before = await written(rt)
    result = await route_replay(settings, timedelta(days=7), candidate_org(tmp_path))
    assert result.leads >= 8
    assert result.transitions[("team enterprise", "team midmarket")] >= 5
    assert result.moved == sum(result.transitions.values())
    assert 0 < len(result.examples) <= 10
    assert all(e["rule_before"] == "enterprise" for e in result.examples)
    same = await route_replay(settings, timedelta(days=7),
                              demo_org_open_all_hours(tmp_path))
    assert same.moved == 0 and same.leads == result.leads
    assert await written(rt) == before


def test_the_route_commands_print_and_name_bad_input(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    body = tmp_path / "lead.json"
    body.write_text(json.dumps({"email": "sam@gmail.com"}))
    args = cli.parser().parse_args(["route", "test", "--lead", str(body)])
    assert args.run(args, settings) == 0
    out = capsys.readouterr().out
    assert "decision: nurture track newsletter" in out and "dry run" in out
    args = cli.parser().parse_args(["route", "replay", "--since", "2d",
                                    "--org", str(candidate_org(tmp_path))])
    assert args.run(args, settings) == 0
    assert "would go elsewhere" in capsys.readouterr().out

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"email": "not an address"}))
    args = cli.parser().parse_args(["route", "test", "--lead", str(bad)])
    with pytest.raises(cli.ConfigError, match="not a valid lead"):
        args.run(args, settings)
    args = cli.parser().parse_args(["route", "replay", "--since", "a week",
                                    "--org", str(candidate_org(tmp_path))])
    with pytest.raises(cli.ConfigError, match="--since"):
        args.run(args, settings)


def test_route_test_shows_overflow_and_the_queue_a_lead_would_wait_in(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    document = yaml.safe_load(demo_org_open_all_hours(tmp_path).read_text())
    teams = {t["id"]: t for t in document["teams"]}
    for t in document["teams"]:
        t["outside_hours"] = "queue"
        t["hours"] = {"sat": "00:00-00:01"}  # closed all but one minute a week
    teams["enterprise"]["overflow"] = ["midmarket"]
    closed = tmp_path / "org-closed.yaml"
    closed.write_text(yaml.safe_dump(document, sort_keys=False))
    teams["midmarket"].pop("hours")  # midmarket always open: overflow takes it
    overflow = tmp_path / "org-overflow.yaml"
    overflow.write_text(yaml.safe_dump(document, sort_keys=False))
    body = tmp_path / "lead.json"
    body.write_text(json.dumps({
        "email": "vp@globex.example", "job_title": "VP Sales", "country": "US",
        "company": {"name": "Globex", "employees": 800, "industry": "software"},
        "activities": [{"type": "demo_request", "at": "2026-11-23T10:00:00Z"}]}))
    args = cli.parser().parse_args(["route", "test", "--lead", str(body), "--org", str(closed)])
    assert args.run(args, settings) == 0
    out = capsys.readouterr().out
    assert "teams tried (overflow):" in out and "off_hours" in out
    assert "decision: queue enterprise-unassigned" in out
    assert ("queue: waits in enterprise-unassigned; dealt to team enterprise's reps "
            "(round_robin, oldest first) as soon as one is eligible") in out
    args = cli.parser().parse_args(["route", "test", "--lead", str(body),
                                    "--org", str(overflow)])
    assert args.run(args, settings) == 0
    out = capsys.readouterr().out
    assert "overflow: nobody in enterprise was eligible; team midmarket took it" in out


def test_leadflow_queues_prints_each_queue_with_its_depth_and_oldest_age(
    settings: Settings, capsys: pytest.CaptureFixture[str],
) -> None:
    args = cli.parser().parse_args(["queues"])
    assert args.run(args, settings) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["queue", "waiting", "oldest", "worked", "by"]
    assert any(line.startswith("enterprise-unassigned") and "team enterprise (dealt)" in line
               for line in lines), out
    assert any(line.startswith("unrouted") and "claimed by hand" in line for line in lines)
    args = cli.parser().parse_args(["queues", "--json"])
    assert args.run(args, settings) == 0
    queues = json.loads(capsys.readouterr().out)
    assert {"queue", "depth", "oldest_age_s", "hottest", "worked_by"} <= set(queues[0])
