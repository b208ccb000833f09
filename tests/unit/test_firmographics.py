"""Firmographics decisions: reading answers, filling the lead, the circuit breaker."""

from __future__ import annotations

import pytest

from services.enrich.adapters.firmographics import (
    DEMO_CSV,
    Breaker,
    LocalProvider,
    read_firmographics_csv,
)
from services.enrich.firmographics import (
    BadAnswerError,
    Firmographics,
    apply_firmographics,
    dig,
    map_answer,
    parse_employees,
    parse_field_mapping,
)
from shared.errors import ConfigError


@pytest.mark.parametrize(("value", "count"), [
    (800, 800), ("800", 800), ("1,200", 1200), ("51-200", 51), ("10k", 10000),
    ("5 000", 5000), (None, None), ("", None), (12.0, 12), ("1.5k", 1500),
    ("10,001+", 10001), ("201 to 500 employees", 201), ("1.200", 1200),
])
def test_head_counts_as_providers_write_them(value, count) -> None:
    assert parse_employees(value) == count


@pytest.mark.parametrize("value", [True, "many", -3, 10**9, {"n": 1}, "-5", "1e9", "1.5",
                                   "1" * 5000])
def test_a_head_count_that_is_not_one_is_garbage(value) -> None:
    with pytest.raises(BadAnswerError):
        parse_employees(value)


def test_an_answer_maps_through_dotted_paths_and_is_normalized() -> None:
    mapping = parse_field_mapping("name=company.legalName,industry=category.industry,"
                                  "employees=metrics.employees,country=geo.countryCode")
    doc = {"company": {"legalName": "Globex Corporation"},
           "category": {"industry": "Software"}, "metrics": {"employees": "1,001-5,000"},
           "geo": {"countryCode": "us"}}
    assert map_answer(doc, mapping) == Firmographics("Globex", "software", 1001, "US")
    assert dig({"a": [{"b": 1}]}, "a.0.b") == 1 and dig({"a": 1}, "a.b") is None


@pytest.mark.parametrize("doc", [[1, 2], "html", {"name": {"nested": True}},
                                 {"employees": "lots"}, {"name": "x" * 500}])
def test_garbage_answers_are_refused(doc) -> None:
    with pytest.raises(BadAnswerError):
        map_answer(doc, {"name": "name", "employees": "employees"})


@pytest.mark.parametrize("text", ["", "name", "size=employees", "name=", "name=a,=b"])
def test_a_field_mapping_setting_must_name_known_fields(text) -> None:
    with pytest.raises(ValueError, match=r"maps no field|expected <field>=<path"):
        parse_field_mapping(text)


def test_firmographics_fill_only_what_the_lead_left_empty() -> None:
    lead = {"company": {"name": "Globex EMEA", "employees": None}, "country": None}
    filled = apply_firmographics(lead, Firmographics("Globex", "software", 800, "US"))
    assert filled == ["industry", "employees", "country"]
    assert lead["company"] == {"name": "Globex EMEA", "employees": 800, "industry": "software",
                               "country": "US"}
    assert lead["country"] == "US"


def test_the_demo_dataset_is_labelled_and_read() -> None:
    assert DEMO_CSV.read_text().startswith("# DEMO DATA")
    table = read_firmographics_csv(DEMO_CSV.read_text(), "demo")
    assert table["globex.com"] == Firmographics("Globex", "software", 800, "US")
    assert table["acme.co.uk"].country == "GB"


def test_a_bad_csv_row_names_file_and_row() -> None:
    with pytest.raises(ConfigError, match=r"f.csv: row 3 \(b.io\)"):
        read_firmographics_csv("domain,employees\na.io,5\nb.io,lots\n", "f.csv")
    with pytest.raises(ConfigError, match="domain column"):
        read_firmographics_csv("site,name\n", "f.csv")


async def test_the_local_provider_answers_every_domain_at_once() -> None:
    provider = LocalProvider(DEMO_CSV)
    answer = await provider.lookup(["globex.com", "unknown.example"], 0.1)
    assert answer["globex.com"].employees == 800 and answer["unknown.example"] is None
    assert provider.name == "local-demo"


def test_the_breaker_opens_after_failures_in_a_row_and_probes_after_cooldown() -> None:
    now = [0.0]
    breaker = Breaker(failures=3, cooldown_s=10, clock=lambda: now[0])
    for _ in range(2):
        breaker.failure()
    breaker.success()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.open and not breaker.allow()
    now[0] = 10.5
    assert breaker.allow()  # one probe
    assert not breaker.allow()  # and only one
    breaker.failure()
    assert not breaker.allow()
    now[0] = 21.0
    assert breaker.allow()
    breaker.success()
    assert not breaker.open and breaker.allow() and breaker.allow()
