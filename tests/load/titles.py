"""Job-title classification accuracy on the labelled sets in tests/fixtures/: prints
seniority and department accuracy overall and per language, and the misses.

    .venv/bin/python -m tests.load.titles [--misses]

Four sets, each labelled without looking at the classifier. The keyword rules were built
on `titles.csv`, then widened on `titles_holdout.csv` and `titles_holdout2.csv` once each
had been measured as held out (93.6% and 92.6% seniority then); `titles_holdout3.csv` has
never been used to change a rule, so its figure is the honest one.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

from services.enrich.titles import classify_title

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TUNED = ("titles.csv", "titles_holdout.csv", "titles_holdout2.csv")
HELD_OUT = "titles_holdout3.csv"


def evaluate(path: Path) -> dict[str, object]:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    per_language: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    misses = []
    seniority_ok = department_ok = 0
    for row in rows:
        seniority, department = classify_title(row["title"])
        department = department or "other"
        s_ok, d_ok = seniority == row["seniority"], department == row["department"]
        seniority_ok += s_ok
        department_ok += d_ok
        counts = per_language[row["language"]]
        counts[0] += 1
        counts[1] += s_ok
        counts[2] += d_ok
        if not (s_ok and d_ok):
            misses.append((row["title"], f"{row['seniority']}/{row['department']}",
                           f"{seniority}/{department}"))
    return {"n": len(rows), "seniority": seniority_ok / len(rows),
            "department": department_ok / len(rows), "per_language": dict(per_language),
            "misses": misses}


def main() -> None:
    for name in (*TUNED, HELD_OUT):
        path = FIXTURES / name
        if not path.exists():
            continue
        result = evaluate(path)
        role = "held out, never tuned on" if name == HELD_OUT else "used to tune the rules"
        print(f"{name} ({role}): {result['n']} titles, seniority {result['seniority']:.1%}, "
              f"department {result['department']:.1%}")
        for language, (n, s_ok, d_ok) in sorted(result["per_language"].items(),  # type: ignore[union-attr]
                                                key=lambda kv: -kv[1][0]):
            print(f"  {language}: {n:4d} titles, seniority {s_ok / n:.1%}, "
                  f"department {d_ok / n:.1%}")
        if "--misses" in sys.argv:
            for title, expected, got in result["misses"]:  # type: ignore[union-attr]
                print(f"  miss: {title!r}: labelled {expected}, classified {got}")


if __name__ == "__main__":
    main()
