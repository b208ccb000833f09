"""Enrich's tables: person records, the leads linked to them, and known accounts."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.enrich.domains import registered_domain
from services.enrich.linking import AccountIndex, AccountRecord, Person
from shared.identity import normalize_country

_LOAD_BATCH = text("""
WITH p AS (
    SELECT p.person_key, p.first_lead_id, p.first_seen_at, p.last_lead_id, p.last_seen_at,
           p.first_source, p.profile,
           coalesce(array_agg(l.lead_id) FILTER (WHERE l.lead_id IS NOT NULL), '{}') AS ids
    FROM enrich.persons p LEFT JOIN enrich.person_leads l USING (person_key)
    WHERE p.person_key = ANY(CAST(:keys AS text[]))
    GROUP BY p.person_key
), a AS (
    SELECT d.domain, a.id, a.name, a.owner_rep_id, a.attributes->>'country' AS country
    FROM enrich.account_domains d JOIN enrich.accounts a ON a.id = d.account_id
    WHERE d.domain = ANY(CAST(:domains AS text[]))
       OR d.domain IN (SELECT p.profile->'company'->>'domain' FROM p)
)
SELECT 'person' AS kind, row_to_json(p) AS doc FROM p
UNION ALL SELECT 'account', row_to_json(a) FROM a
UNION ALL SELECT 'accounts_version', json_build_object(
    'count', (SELECT count(*) FROM enrich.accounts),
    'updated', (SELECT max(updated_at) FROM enrich.accounts))
""")


async def load_batch(conn: AsyncConnection, keys: list[str], domains: list[str]
                     ) -> tuple[dict[str, Person], dict[str, AccountRecord], tuple[Any, Any]]:
    """In one round trip: the batch's known persons, the accounts of the batch's company
    domains (and of the domains those persons' profiles hold), and the accounts' version
    (whether the name index must be re-read)."""
    persons: dict[str, Person] = {}
    accounts: dict[str, AccountRecord] = {}
    version: tuple[Any, Any] = (0, None)
    for row in (await conn.execute(_LOAD_BATCH, {"keys": keys, "domains": domains})).all():
        doc = row.doc
        if row.kind == "person":
            persons[doc["person_key"]] = Person(
                person_key=doc["person_key"], first_lead_id=str(doc["first_lead_id"]),
                first_seen_at=datetime.fromisoformat(doc["first_seen_at"]),
                last_lead_id=str(doc["last_lead_id"]),
                last_seen_at=datetime.fromisoformat(doc["last_seen_at"]),
                first_source=doc["first_source"], profile=doc["profile"],
                lead_ids={str(i) for i in doc["ids"]})
        elif row.kind == "account":
            accounts[doc["domain"]] = AccountRecord(doc["id"], doc["name"], doc["owner_rep_id"],
                                                    normalize_country(doc["country"]))
        else:
            version = (doc["count"], doc["updated"])
    return persons, accounts, version


class AccountNames:
    """All known accounts by cleaned name (`AccountIndex`), re-read only when the
    accounts changed (an import): one cheap query per batch otherwise."""

    def __init__(self) -> None:
        self._version: tuple[int, Any] | None = None
        self.index = AccountIndex([])

    async def current(self, conn: AsyncConnection, version: tuple[Any, Any] | None = None
                      ) -> AccountIndex:
        """The index; `version` as `load_batch` read it saves the query for it."""
        if version is None:
            row = (await conn.execute(text(
                "SELECT count(*), max(updated_at) FROM enrich.accounts"))).one()
            version = (row[0], row[1].isoformat() if row[1] else None)
        if version != self._version:
            rows = (await conn.execute(text(
                "SELECT id, name, owner_rep_id, attributes->>'country' AS country "
                "FROM enrich.accounts"))).all()
            self.index = AccountIndex([AccountRecord(r.id, r.name, r.owner_rep_id,
                                                     normalize_country(r.country))
                                       for r in rows])
            self._version = version
        return self.index


async def save_persons(conn: AsyncConnection, persons: list[Person],
                       links: list[tuple[str, str, datetime]]) -> None:
    if persons:
        await conn.execute(text("""
            INSERT INTO enrich.persons (person_key, first_lead_id, first_seen_at, last_lead_id,
                                        last_seen_at, first_source, profile)
            SELECT k, CAST(f AS uuid), fs, CAST(l AS uuid), ls, CAST(src AS json),
                   CAST(prof AS json)
            FROM unnest(CAST(:k AS text[]), CAST(:f AS text[]), CAST(:fs AS timestamptz[]),
                        CAST(:l AS text[]), CAST(:ls AS timestamptz[]), CAST(:src AS text[]),
                        CAST(:prof AS text[])) AS t(k, f, fs, l, ls, src, prof)
            ON CONFLICT (person_key) DO UPDATE SET
                last_lead_id = EXCLUDED.last_lead_id, last_seen_at = EXCLUDED.last_seen_at,
                profile = EXCLUDED.profile"""), {
            "k": [p.person_key for p in persons],
            "f": [p.first_lead_id for p in persons],
            "fs": [p.first_seen_at for p in persons],
            "l": [p.last_lead_id for p in persons],
            "ls": [p.last_seen_at for p in persons],
            "src": [orjson.dumps(p.first_source).decode() for p in persons],
            "prof": [orjson.dumps(p.profile).decode() for p in persons],
        })
    if links:
        await conn.execute(text("""
            INSERT INTO enrich.person_leads (lead_id, person_key, seen_at)
            SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:keys AS text[]),
                                 CAST(:at AS timestamptz[]))
            ON CONFLICT (lead_id) DO NOTHING"""), {
            "ids": [lead_id for lead_id, _, _ in links],
            "keys": [key for _, key, _ in links],
            "at": [at for _, _, at in links],
        })


ACCOUNT_COLUMNS = ("id", "name", "domains", "owner_rep_id", "segment")


class AccountsFileError(ValueError):
    pass


def parse_accounts_csv(content: str, filename: str = "accounts.csv") -> list[dict[str, Any]]:
    """Rows of an accounts CSV (header `id,name,domains,owner_rep_id,segment`; domains
    separated by `;`; further columns kept as attributes). Errors name file, row, column."""
    reader = csv.DictReader(io.StringIO(content))
    header = reader.fieldnames or []
    missing = [c for c in ("id", "name", "domains") if c not in header]
    if missing:
        raise AccountsFileError(f"{filename}: header lacks column(s) {', '.join(missing)}")
    accounts = []
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        account_id = (row.get("id") or "").strip()
        if not account_id:
            raise AccountsFileError(f"{filename}: row {number}: id is empty")
        if account_id in seen:
            raise AccountsFileError(
                f"{filename}: row {number}: id {account_id!r} repeats row {seen[account_id]}")
        seen[account_id] = number
        name = (row.get("name") or "").strip()
        if not name:
            raise AccountsFileError(f"{filename}: row {number}: name is empty")
        domains = []
        for raw in (row.get("domains") or "").split(";"):
            if not raw.strip():
                continue
            # `www.acme.com`, `https://acme.com/`, `EU.Acme.com` all mean acme.com.
            domain = registered_domain(raw.strip())
            if domain is None:
                raise AccountsFileError(f"{filename}: row {number}: {raw.strip()!r} is not "
                                        "a domain")
            if domain not in domains:
                domains.append(domain)
        accounts.append({
            "id": account_id, "name": name, "domains": domains,
            "owner_rep_id": (row.get("owner_rep_id") or "").strip() or None,
            "segment": (row.get("segment") or "").strip() or None,
            "attributes": {k: v for k, v in row.items()
                           if k not in ACCOUNT_COLUMNS and k is not None and v not in (None, "")},
        })
    return accounts


async def upsert_accounts(conn: AsyncConnection, accounts: list[dict[str, Any]]) -> int:
    """Idempotent: the file's accounts replace their earlier versions and domains."""
    if not accounts:
        return 0
    await conn.execute(text("""
        INSERT INTO enrich.accounts (id, name, owner_rep_id, segment, attributes, updated_at)
        SELECT i, n, o, s, CAST(a AS json), now()
        FROM unnest(CAST(:i AS text[]), CAST(:n AS text[]), CAST(:o AS text[]),
                    CAST(:s AS text[]), CAST(:a AS text[])) AS t(i, n, o, s, a)
        ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, owner_rep_id = EXCLUDED.owner_rep_id,
            segment = EXCLUDED.segment, attributes = EXCLUDED.attributes, updated_at = now()"""), {
        "i": [a["id"] for a in accounts], "n": [a["name"] for a in accounts],
        "o": [a["owner_rep_id"] for a in accounts], "s": [a["segment"] for a in accounts],
        "a": [orjson.dumps(a["attributes"]).decode() for a in accounts],
    })
    ids = [a["id"] for a in accounts]
    await conn.execute(text("DELETE FROM enrich.account_domains WHERE account_id = ANY(:ids)"),
                       {"ids": ids})
    pairs = list({d: a["id"] for a in accounts for d in a["domains"]}.items())
    if pairs:
        await conn.execute(text("""
            INSERT INTO enrich.account_domains (domain, account_id)
            SELECT * FROM unnest(CAST(:d AS text[]), CAST(:a AS text[]))
            ON CONFLICT (domain) DO UPDATE SET account_id = EXCLUDED.account_id"""),
            {"d": [d for d, _ in pairs], "a": [a for _, a in pairs]})
    return len(accounts)
