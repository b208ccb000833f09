"""Reading an org file: YAML 1.2 booleans, duplicate keys refused, and every problem an
`OrgError` naming the file, the path in it and the problem."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from shared.conditions import (
    OrgError,
    join_path,
)
from shared.org.file import OrgFile

if TYPE_CHECKING:
    pass


# --- reading ---------------------------------------------------------------------------

class _OrgLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key_node.value!r} is given twice",
                        key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"
_OrgLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_OrgLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_org(text: str, filename: str = "org.yaml") -> OrgFile:
    """Parse and validate an org file; raise OrgError naming file, path and problem."""
    try:
        data = yaml.load(text, Loader=_OrgLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise OrgError(where, f"not valid YAML: {problem}", filename) from None
    if data is None:
        raise OrgError("", "the file is empty", filename)
    if not isinstance(data, dict):
        raise OrgError("", "must be a mapping with scoring, teams, routing and sla", filename)
    try:
        return OrgFile.model_validate(data)
    except ValidationError as exc:
        raise _org_error(exc, filename) from None


def load_org_file(path: str | Path) -> OrgFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OrgError("", f"cannot read: {exc.strerror or exc}", str(path)) from None
    return load_org(text, str(path))


def _org_error(exc: ValidationError, filename: str) -> OrgError:
    errors: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, OrgError):
            errors.extend((join_path(path, sub), problem) for sub, problem in cause.errors)
        else:
            errors.append((path, _problem(err, loc, cause)))
    first_path, first_problem = errors[0]
    return OrgError(first_path, first_problem, filename, errors)


_PROBLEMS = {
    "missing": "is required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_type": "must be a date like 2024-07-01",
    "date_parsing": "must be a date like 2024-07-01",
    "date_from_datetime_parsing": "must be a date like 2024-07-01",
}


def _problem(err: Any, loc: tuple[Any, ...], cause: Any) -> str:
    kind = err["type"]
    if kind == "value_error" and cause is not None:
        return str(cause)
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}"
    if kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        return "unknown key" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    return _PROBLEMS.get(kind, str(err["msg"]))


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc` accepts, for the hint on an unknown key."""
    tp: Any = OrgFile
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int) and typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp
