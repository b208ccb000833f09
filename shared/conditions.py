"""The condition language shared by scoring and routing rules (DESIGN.md section 6).

Decides whether a lead, as a plain dict in its JSON form (`Lead.model_dump(mode="json")`),
satisfies a condition written in the org file. A condition maps dotted field paths to
`{op: value}` mappings, all of which must hold; `any: [cond, ...]` holds when one of its
conditions does; `{}` always holds. The rules of evaluation, chosen so that no lead can
make a rule raise:

- A missing field, a null and an empty list are all "missing": comparisons are false,
  `ne` and `not_in` are true, `exists: true` is false.
- A path that passes through a list (`activities.type`) yields every value found under it,
  as does a field whose value is a list. Positive operators hold when any value
  satisfies them (`contains` then means "any value equals"); `ne` and `not_in` are their
  negations, holding when no value equals.
- `contains` on a string is a substring test; `matches` is `re.search` with a pattern
  compiled once (anchor it with `^…$` for a whole-string match).
- Values of different kinds never compare: `1` is not `true`, `"10"` is not `10`. A date or
  timestamp in the condition (YAML parses `2024-05-01` unquoted as a date) compares with
  the lead's RFC 3339 strings as moments; naive timestamps are taken as UTC.

`compile_condition` turns a condition into a closure once; `matches` caches those closures
by condition identity, so a condition must not be mutated after its first use.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from shared.errors import ConfigError

Predicate = Callable[[Mapping[str, Any]], bool]

OPERATORS: frozenset[str] = frozenset(
    {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists", "matches"}
)
_NEGATIVE = frozenset({"ne", "not_in"})
_ORDERING = frozenset({"gt", "gte", "lt", "lte"})


class OrgError(ConfigError, ValueError):
    """An org file (or one of its conditions) that leadflow refuses; names where and why.

    `path` is the location in the file (`teams[0].reps[1].weight`), `problem` what is wrong
    there and `filename` the file, when known. `errors` holds every (path, problem) found,
    first one first; `str()` gives one line per error:
    `org.yaml: teams[0].reps[1].weight: must be a positive integer`.
    """

    def __init__(
        self,
        path: str,
        problem: str,
        filename: str | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        self.path = path
        self.problem = problem
        self.filename = filename
        self.errors = errors or [(path, problem)]
        super().__init__(
            "\n".join(_format_error(filename, p, msg) for p, msg in self.errors)
        )


def _format_error(filename: str | None, path: str, problem: str) -> str:
    return ": ".join(part for part in (filename, path, problem) if part)


def join_path(prefix: str, sub: str) -> str:
    """`teams[0]` + `reps[1]` -> `teams[0].reps[1]`; `rules` + `[2]` -> `rules[2]`."""
    if not prefix:
        return sub
    if not sub:
        return prefix
    return prefix + sub if sub.startswith("[") else f"{prefix}.{sub}"


# --- validation -------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, date)


def validate_condition(cond: Any, path: str) -> None:
    """Raise OrgError naming `path` (and the part of the condition under it) when `cond`
    is not a well-formed condition: unknown operators, wrong value shapes, bad regexes."""
    if not isinstance(cond, Mapping):
        raise OrgError(path, f"a condition must be a mapping of field to {{op: value}}, "
                             f"not {_kind(cond)}")
    for key, spec in cond.items():
        if key == "any":
            _validate_any(spec, join_path(path, "any"))
            continue
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise OrgError(path, f"{key!r} is not a field path like company.employees")
        _validate_spec(spec, join_path(path, key))


def _validate_any(spec: Any, path: str) -> None:
    if not isinstance(spec, list) or not spec:
        raise OrgError(path, "`any` takes a non-empty list of conditions")
    for i, sub in enumerate(spec):
        validate_condition(sub, f"{path}[{i}]")


def _validate_spec(spec: Any, path: str) -> None:
    if isinstance(spec, Mapping):
        if not spec:
            raise OrgError(path, "no operator given (expected {op: value})")
        for op, value in spec.items():
            _validate_operator(op, value, path)
        return
    if isinstance(spec, list):
        raise OrgError(path, "a list is not a condition; write {in: [...]} for one of several")
    _validate_operator("eq", spec, path)


def _validate_operator(op: Any, value: Any, path: str) -> None:
    if op not in OPERATORS:
        raise OrgError(path, f"unknown operator {op!r} (expected one of "
                             f"{', '.join(sorted(OPERATORS))})")
    if op == "exists":
        if not isinstance(value, bool):
            raise OrgError(path, "exists takes true or false")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not all(isinstance(v, _SCALARS) for v in value):
            raise OrgError(path, f"{op} takes a list of values")
    elif op == "matches":
        if not isinstance(value, str):
            raise OrgError(path, "matches takes a regular expression as a string")
        try:
            re.compile(value)
        except re.error as exc:
            raise OrgError(path, f"matches: bad regular expression: {exc}") from None
    elif op in _ORDERING:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, date)):
            raise OrgError(path, f"{op} takes a number, a string or a date, not {_kind(value)}")
    elif value is None:
        raise OrgError(path, f"{op} takes a value; use {{exists: false}} for a missing field")
    elif not isinstance(value, _SCALARS):
        raise OrgError(path, f"{op} takes a single value, not {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


# --- evaluation ------------------------------------------------------------------------

class _Missing:
    __slots__ = ()


_MISSING: Any = _Missing()


def _getter(keys: tuple[str, ...]) -> Callable[[Any], Any]:
    """A function from a document to the value at `keys`: a scalar, `_MISSING`, or a list
    of every non-null value found (a path through a list, or a list-valued field)."""
    return lambda doc: _resolve(doc, keys, 0)


def _resolve(doc: Any, keys: tuple[str, ...], start: int) -> Any:
    cur = doc
    for i in range(start, len(keys)):
        if isinstance(cur, dict):
            cur = cur.get(keys[i])
            if cur is None:
                return _MISSING
        elif isinstance(cur, list):
            return _fan_out(cur, keys, i)
        else:
            return _MISSING
    if isinstance(cur, list):
        return [v for v in cur if v is not None]
    return cur


def _fan_out(items: list[Any], keys: tuple[str, ...], start: int) -> list[Any]:
    out: list[Any] = []
    if start == len(keys) - 1:
        # The common case (`activities.type`): one key left, no recursion per item.
        key = keys[start]
        for item in items:
            if isinstance(item, dict):
                value = item.get(key)
                if isinstance(value, list):
                    out.extend(v for v in value if v is not None)
                elif value is not None:
                    out.append(value)
            elif isinstance(item, list):
                out.extend(_fan_out(item, keys, start))
        return out
    for item in items:
        value = _resolve(item, keys, start)
        if isinstance(value, list):
            out.extend(value)
        elif value is not _MISSING:
            out.append(value)
    return out


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    if isinstance(value, str):
        return "str"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    return "other"


def _unreadable(_value: Any) -> None:
    return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return None
    return None


def _normaliser(category: str) -> Callable[[Any], Any]:
    """Map a lead's value into the condition value's kind, or None when it is not of it."""
    if category == "num":
        return lambda x: x if isinstance(x, (int, float)) and not isinstance(x, bool) else None
    if category == "str":
        return lambda x: x if isinstance(x, str) else None
    if category == "bool":
        return lambda x: x if isinstance(x, bool) else None
    if category == "datetime":
        return _as_datetime
    if category == "date":
        return _as_date
    return _unreadable


def _equals(value: Any) -> Callable[[Any], bool]:
    category = _category(value)
    if category == "datetime":
        value = _as_datetime(value)
    norm = _normaliser(category)

    def eq(x: Any) -> bool:
        y = norm(x)
        return y is not None and y == value

    return eq


def _member_of(values: list[Any]) -> Callable[[Any], bool]:
    # One frozenset per kind of value, so that `1` never matches `true` and the common
    # case (strings) is a single hash lookup.
    by_category: dict[str, set[Any]] = {}
    for v in values:
        category = _category(v)
        by_category.setdefault(category, set()).add(
            _as_datetime(v) if category == "datetime" else v
        )
    checks = [(_normaliser(c), frozenset(vs)) for c, vs in by_category.items()]
    if len(checks) == 1:
        norm, members = checks[0]
        return lambda x: (y := norm(x)) is not None and y in members
    return lambda x: any((y := norm(x)) is not None and y in members for norm, members in checks)


def _ordered(op: str, value: Any) -> Callable[[Any], bool]:
    category = _category(value)
    if category == "datetime":
        value = _as_datetime(value)
    norm = _normaliser(category)
    if op == "gt":
        return lambda x: (y := norm(x)) is not None and y > value
    if op == "gte":
        return lambda x: (y := norm(x)) is not None and y >= value
    if op == "lt":
        return lambda x: (y := norm(x)) is not None and y < value
    return lambda x: (y := norm(x)) is not None and y <= value


def _value_test(op: str, value: Any) -> Callable[[Any], bool]:
    """The test one value (a scalar) must pass for a positive operator."""
    if op in ("eq", "ne"):
        return _equals(value)
    if op in ("in", "not_in"):
        return _member_of(value)
    if op in _ORDERING:
        return _ordered(op, value)
    if op == "matches":
        search = re.compile(value).search
        return lambda x: isinstance(x, str) and search(x) is not None
    raise AssertionError(op)  # contains and exists are handled by _field_test


def _field_test(op: str, value: Any) -> Callable[[Any], bool]:
    """The test the resolved field (scalar, list of values or _MISSING) must pass."""
    if op == "exists":
        def present(r: Any) -> bool:
            return r is not _MISSING and not (isinstance(r, list) and not r)
        return present if value else (lambda r: not present(r))
    if op == "contains":
        eq = _equals(value)
        if isinstance(value, str):
            # `value in list` is exact for a string: a string equals nothing but a string.
            def contains(r: Any) -> bool:
                return isinstance(r, (str, list)) and value in r
            return contains
        return lambda r: isinstance(r, list) and any(eq(x) for x in r)
    if op in ("eq", "ne") and isinstance(value, str):
        def equals(r: Any) -> bool:
            return value in r if isinstance(r, list) else r == value
        return equals if op == "eq" else (lambda r: not equals(r))

    test = _value_test(op, value)

    def holds(r: Any) -> bool:
        if r is _MISSING:
            return False
        if isinstance(r, list):
            return any(test(x) for x in r)
        return test(r)

    if op in _NEGATIVE:
        return lambda r: not holds(r)
    return holds


def _field_predicate(path: str, spec: Any) -> Predicate:
    get = _getter(tuple(path.split(".")))
    ops = spec.items() if isinstance(spec, Mapping) else [("eq", spec)]
    tests = [_field_test(op, value) for op, value in ops]
    if len(tests) == 1:
        only = tests[0]
        return lambda lead: only(get(lead))

    def all_hold(lead: Mapping[str, Any]) -> bool:
        r = get(lead)
        return all(t(r) for t in tests)

    return all_hold


def _always(_lead: Mapping[str, Any]) -> bool:
    return True


def compile_condition(cond: Mapping[str, Any]) -> Predicate:
    """Validate `cond` and compile it into a predicate over a lead dict. Compile once per
    rule and call the result per lead; evaluation never raises for any lead."""
    validate_condition(cond, "")
    return _compile(cond)


def _any_of(options: list[Predicate]) -> Predicate:
    def any_holds(lead: Mapping[str, Any]) -> bool:
        return any(option(lead) for option in options)

    return any_holds


def _compile(cond: Mapping[str, Any]) -> Predicate:
    parts: list[Predicate] = []
    for key, spec in cond.items():
        if key == "any":
            options = [_compile(sub) for sub in spec]
            parts.append(_any_of(options))
        else:
            parts.append(_field_predicate(key, spec))
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    return lambda lead: all(p(lead) for p in parts)


_CACHE_SIZE = 4096
_cache: OrderedDict[int, tuple[Mapping[str, Any], Predicate]] = OrderedDict()


def matches(cond: Mapping[str, Any], lead: Mapping[str, Any]) -> bool:
    """Whether `lead` satisfies `cond`. Compiles `cond` on first use and caches the
    predicate by the condition's identity (the entry keeps the condition alive, so an id
    is never reused while cached)."""
    key = id(cond)
    entry = _cache.get(key)
    if entry is None or entry[0] is not cond:
        entry = (cond, compile_condition(cond))
        _cache[key] = entry
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return entry[1](lead)


def condition_fields(cond: Mapping[str, Any]) -> list[str]:
    """Every field path a (valid) condition refers to, `any` branches included."""
    fields: list[str] = []
    for key, spec in cond.items():
        if key == "any":
            for sub in spec:
                fields.extend(condition_fields(sub))
        else:
            fields.append(key)
    return fields
