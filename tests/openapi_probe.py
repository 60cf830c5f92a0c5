"""Walk the app's own OpenAPI schema: every operation, with a request built from its schema.

Used by the tenant-isolation matrix; it needs no knowledge of the routes, so a route added
later is walked as soon as it is in the schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
# Strings tried, in order, against a schema's pattern and length bounds.
_CANDIDATE_STRINGS = [
    "probe",
    "probe@example.test",
    "example.test",
    "https://example.test",
    "2030-01-01T00:00:00Z",
]


@dataclass
class Operation:
    method: str
    path: str  # template, e.g. /api/v1/members/{user_id}
    path_params: list[str]
    query: dict[str, Any]
    json_body: Any | None
    has_body: bool
    is_body_complete: bool = True  # False when some part of the body could not be built
    # Top-level fields of its success answer: a POST that answers `run_id` makes runs.
    answers_fields: set[str] = field(default_factory=set)

    def url(self, ids: Mapping[str, str], fallback: str) -> str:
        path = self.path
        for name in self.path_params:
            path = path.replace("{" + name + "}", ids.get(name, fallback))
        return path


class _Builder:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.components = schema.get("components", {}).get("schemas", {})
        self.complete = True

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.components[node["$ref"].rsplit("/", 1)[1]]
        return node

    def example(self, node: dict[str, Any], depth: int = 0) -> Any:
        node = self.resolve(node)
        if depth > 8:
            self.complete = False
            return None
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return node["enum"][0]
        if "default" in node and node["default"] is not None:
            return node["default"]
        for combiner in ("anyOf", "oneOf"):
            if combiner in node:
                options = [self.resolve(o) for o in node[combiner]]
                non_null = [o for o in options if o.get("type") != "null"] or options
                return self.example(non_null[0], depth + 1)
        if "allOf" in node:
            return self.example(node["allOf"][0], depth + 1)
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            properties = node.get("properties", {})
            return {
                name: self.example(properties.get(name, {}), depth + 1)
                for name in node.get("required", [])
            }
        if kind == "array":
            count = max(node.get("minItems", 0), 1)
            return [self.example(node.get("items", {}), depth + 1) for _ in range(count)]
        if kind == "integer":
            return int(node.get("minimum", 1))
        if kind == "number":
            return float(node.get("minimum", 1))
        if kind == "boolean":
            return False
        if kind == "string":
            return self._string(node)
        self.complete = False
        return None

    def _string(self, node: dict[str, Any]) -> str:
        if node.get("format") == "date-time":
            return "2030-01-01T00:00:00Z"
        low, high = node.get("minLength", 0), node.get("maxLength", 10_000)
        pattern = node.get("pattern")
        for candidate in _CANDIDATE_STRINGS:
            if low <= len(candidate) <= high and (pattern is None or re.search(pattern, candidate)):
                return candidate
        if pattern is None and high >= low:
            return "x" * max(low, 1)
        self.complete = False
        return "probe"


def operations(schema: dict[str, Any]) -> Iterator[Operation]:
    """Every operation of the schema, with required query parameters and a body filled in."""
    for path, item in schema["paths"].items():
        for method in METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            builder = _Builder(schema)
            parameters = [builder.resolve(p) for p in spec.get("parameters", [])]
            query = {
                p["name"]: builder.example(p.get("schema", {}))
                for p in parameters
                if p["in"] == "query" and p.get("required")
            }
            body_spec = spec.get("requestBody")
            json_body = None
            if body_spec:
                content = body_spec.get("content", {})
                if "application/json" in content:
                    json_body = builder.example(content["application/json"].get("schema", {}))
                else:
                    builder.complete = False  # uploads and forms: sent without a body
            answers: set[str] = set()
            for status, response in spec.get("responses", {}).items():
                if status.startswith("2"):
                    for media in response.get("content", {}).values():
                        answer = builder.resolve(media.get("schema", {}))
                        answers.update(answer.get("properties", {}))
            yield Operation(
                answers_fields=answers,
                method=method.upper(),
                path=path,
                path_params=[p["name"] for p in parameters if p["in"] == "path"],
                query=query,
                json_body=json_body,
                has_body=body_spec is not None,
                is_body_complete=builder.complete,
            )
