"""The OpenAPI document turned into what the reference page (/api) shows: groups, tables and curl commands."""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

# The shell variable the curl commands read the token from (docs/api.md uses the same name).
TOKEN_VARIABLE = "TRACKER_TOKEN"
# Nested objects are listed field by field down to this depth; deeper ones are named by their type.
MAX_DEPTH = 3
# What a curl command sends for a file field: a name the reader replaces with their own file, of the first type
# the field's encoding names.
EXAMPLE_FILES = {"application/pdf": "decree.pdf", "text/csv": "policies.csv", "application/json": "dataset.json",
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "policies.xlsx"}
EXAMPLE_FILE = "decree.pdf"


@dataclass(frozen=True)
class TypeLabel:
    """How a schema reads in a table, in the notation of code (``array<PolicyRef>``, ``string | null``):
    pieces of text, each with the name of the component schema it links to, if any."""

    parts: tuple[tuple[str, str | None], ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _name in self.parts)


@dataclass(frozen=True)
class Field:
    """A parameter, or a property of a body, answer or schema (``name`` is a path such as ``sources[].url``)."""

    name: str
    type: TypeLabel
    required: bool
    description: str
    values: tuple[str, ...] = ()
    default: str | None = None
    limits: tuple[str, ...] = ()
    location: str = ""
    depth: int = 0


@dataclass(frozen=True)
class Body:
    media_type: str
    type: TypeLabel
    fields: tuple[Field, ...]
    required: bool
    example: str | None
    # The anchor of the body's named schema, on the first operation that takes it: such schemas are listed
    # with their operation, not again under Schemas.
    anchor: str | None = None


@dataclass(frozen=True)
class Answer:
    """One documented response of an operation."""

    status: str
    description: str
    media_types: tuple[str, ...]
    type: TypeLabel | None
    headers: tuple[str, ...]
    example: str | None


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    auth: str  # "required", "optional" or "none"
    parameters: tuple[Field, ...]
    body: Body | None
    answers: tuple[Answer, ...]
    curl: str


@dataclass(frozen=True)
class Group:
    name: str
    description: str
    anchor: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Schema:
    name: str
    anchor: str
    type: TypeLabel
    description: str
    fields: tuple[Field, ...]
    example: str | None


@dataclass(frozen=True)
class Reference:
    title: str
    version: str
    api_url: str
    groups: tuple[Group, ...]
    schemas: tuple[Schema, ...]
    error_fields: tuple[Field, ...]
    error_examples: tuple[str, ...]
    statuses: tuple[str, ...]

    @property
    def operations(self) -> list[Operation]:
        return [operation for group in self.groups for operation in group.operations]


# ---------------------------------------------------------------------------------------------------
# Anchors and text


def schema_anchor(name: str) -> str:
    return f"schema-{name}"


def group_anchor(name: str) -> str:
    return "group-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


_CODE_SPAN = re.compile(r"`([^`]+)`")


def api_text(text: object) -> Markup:
    """A description of the document as HTML: escaped, `code spans` as <code>, blank lines between paragraphs.

    The document's descriptions use only these two features of CommonMark, so a Markdown library is not
    needed; anything else stays as written."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", str(text or "")) if part.strip()]
    html = [_CODE_SPAN.sub(lambda match: f"<code>{match[1]}</code>", str(escape(part))) for part in paragraphs]
    if len(html) <= 1:
        return Markup("".join(html))
    return Markup("".join(f"<p>{part}</p>" for part in html))


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------------------------------------------
# Schemas


class _Resolver:
    def __init__(self, document: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})

    def name_of(self, schema: dict[str, Any]) -> str | None:
        ref = schema.get("$ref", "")
        return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while (name := self.name_of(schema)) is not None and seen < 10:
            schema = self.schemas.get(name, {})
            seen += 1
        return schema


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]] | None:
    return schema.get("anyOf") or schema.get("oneOf")


def type_label(schema: dict[str, Any], resolver: _Resolver) -> TypeLabel:
    """``schema`` in the notation of code: ``string``, ``string | null``, ``array<Source>``,
    ``map<string, integer>``, ``string(uri)``, a component schema by its name."""
    parts: list[tuple[str, str | None]] = []

    def add(text: str, name: str | None = None) -> None:
        parts.append((text, name))

    def walk(node: dict[str, Any]) -> None:
        name = resolver.name_of(node)
        if name is not None:
            add(name, name)
            return
        branches = _branches(node)
        if branches:
            for number, branch in enumerate(branches):
                if number:
                    add(" | ")
                walk(branch)
            return
        kinds = node.get("type")
        if kinds is None and "enum" in node:
            values = node["enum"]
            kinds = sorted({_json_type(value) for value in values if value is not None}) or ["null"]
            if None in values:
                kinds = [*kinds, "null"]
        if kinds is None:
            kinds = ["object"] if "properties" in node else ["any"]
        if isinstance(kinds, str):
            kinds = [kinds]
        for number, kind in enumerate(kinds):
            if number:
                add(" | ")
            if kind == "array":
                add("array<")
                walk(node.get("items", {}))
                add(">")
            elif kind == "object" and isinstance(node.get("additionalProperties"), dict) \
                    and not node.get("properties"):
                add("map<string, ")
                walk(node["additionalProperties"])
                add(">")
            elif kind == "string" and node.get("format"):
                add(f"string({node['format']})")
            else:
                add(kind)

    walk(schema)
    return TypeLabel(tuple(parts))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _enum_values(schema: dict[str, Any], resolver: _Resolver) -> tuple[str, ...]:
    """The values a field may take, when the schema lists them (through nullability and arrays)."""
    schema = resolver.resolve(schema)
    if "enum" in schema:
        return tuple(_scalar(value) for value in schema["enum"])
    branches = _branches(schema)
    if branches:
        values: list[str] = []
        for branch in branches:
            values += [value for value in _enum_values(branch, resolver) if value not in values]
        return tuple(values)
    if schema.get("type") == "array" or "array" in (schema.get("type") or ()):
        return _enum_values(schema.get("items", {}), resolver)
    return ()


_LIMITS = ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "pattern")


def _limits(schema: dict[str, Any], resolver: _Resolver) -> tuple[str, ...]:
    """The constraints of a field as the schema words them (``maxLength 500``, ``pattern ^…$``)."""
    schema = resolver.resolve(schema)
    limits = [f"{name} {_scalar(schema[name])}" for name in _LIMITS if name in schema]
    if schema.get("uniqueItems"):
        limits.append("uniqueItems")
    items = schema.get("items")
    if isinstance(items, dict) and resolver.name_of(items) is None:
        limits += [f"items: {limit}" for limit in _limits(items, resolver)]
    for branch in _branches(schema) or ():
        if resolver.name_of(branch) is None:
            limits += [limit for limit in _limits(branch, resolver) if limit not in limits]
    return tuple(limits)


def _inline_object(schema: dict[str, Any], resolver: _Resolver) -> tuple[str, dict[str, Any]] | None:
    """For a field whose value is an object written in place (not a named schema), the suffix its members'
    names take (``.`` or ``[].``) and that object."""
    if resolver.name_of(schema) is not None:
        return None
    for branch in _branches(schema) or ():
        if branch.get("type") != "null":
            return _inline_object(branch, resolver)
    if "properties" in schema:
        return ".", schema
    items = schema.get("items")
    if isinstance(items, dict) and resolver.name_of(items) is None and "properties" in items:
        return "[].", items
    return None


def fields_of(schema: dict[str, Any], resolver: _Resolver, prefix: str = "", depth: int = 0) -> list[Field]:
    """The properties of an object schema, nested objects written in place listed after their field."""
    schema = resolver.resolve(schema)
    required = set(schema.get("required", ()))
    found: list[Field] = []
    for name, member in (schema.get("properties") or {}).items():
        found.append(Field(
            name=prefix + name, type=type_label(member, resolver), required=name in required,
            description=str(member.get("description") or resolver.resolve(member).get("description") or ""),
            values=_enum_values(member, resolver), default=_default(member), limits=_limits(member, resolver),
            depth=depth))
        inline = _inline_object(member, resolver)
        if inline is not None and depth + 1 < MAX_DEPTH:
            suffix, nested = inline
            found += fields_of(nested, resolver, prefix + name + suffix, depth + 1)
    return found


def _default(schema: dict[str, Any]) -> str | None:
    return _scalar(schema["default"]) if "default" in schema else None


# ---------------------------------------------------------------------------------------------------
# Examples and curl


def parameter_example(parameter: dict[str, Any], resolver: _Resolver) -> Any:
    """The parameter's example, else its default, else a value its schema allows; None when it has none."""
    if "example" in parameter:
        return parameter["example"]
    schema = resolver.resolve(parameter.get("schema", {}))
    if "default" in schema:
        return schema["default"]
    return schema_example(schema, resolver)


def schema_example(schema: dict[str, Any], resolver: _Resolver, depth: int = 0) -> Any:
    """A value ``schema`` allows, made from the schema alone (for bodies the document gives no example of):
    an object of its required fields, the first value of an enumeration, the lowest number allowed."""
    schema = resolver.resolve(schema)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return next((value for value in schema["enum"] if value is not None), None)
    branches = _branches(schema)
    if branches:
        return schema_example(next((b for b in branches if b.get("type") != "null"), branches[0]), resolver, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        if depth >= MAX_DEPTH:
            return {}
        required = schema.get("required", ())
        return {name: schema_example(member, resolver, depth + 1)
                for name, member in (schema.get("properties") or {}).items() if name in required}
    if kind == "array":
        return [schema_example(schema.get("items", {}), resolver, depth + 1)]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "string":
        return "…"
    return None


def _media_example(media: dict[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    examples = media.get("examples")
    if isinstance(examples, dict) and examples:
        return next(iter(examples.values())).get("value")
    return None


def curl_command(api_url: str, method: str, path: str, parameters: list[dict[str, Any]],
                 body: tuple[str, dict[str, Any], Any, dict[str, Any]] | None, *, token: bool,
                 resolver: _Resolver) -> str:
    """A curl command that performs the operation with the document's examples.

    ``body``: (media type, schema, example or None, encoding of its parts). The token is read from
    $TRACKER_TOKEN, so the command can be pasted as it is once the variable is set."""
    url = api_url + path
    query: list[tuple[str, str]] = []
    headers: list[str] = []
    for parameter in parameters:
        value = parameter_example(parameter, resolver)
        name, place = parameter["name"], parameter.get("in")
        if place == "path":
            url = url.replace("{" + name + "}", quote(_scalar(value if value is not None else f"<{name}>"),
                                                      safe=""))
        elif value is None or not (parameter.get("required") or "example" in parameter):
            continue  # optional parameters appear only when the document gives them an example
        elif place == "query":
            query += [(name, _scalar(item)) for item in (value if isinstance(value, list) else [value])]
        elif place == "header":
            headers.append(f"{name}: {_scalar(value)}")
    if query:
        url += "?" + urlencode(query, quote_via=quote)
    first = "curl -s" + ("" if method == "GET" else f" -X {method}") + " " + shlex.quote(url)
    lines = [first]
    if token:
        lines.append(f'-H "Authorization: Bearer ${TOKEN_VARIABLE}"')
    lines += [f"-H {shlex.quote(header)}" for header in headers]
    if body is not None:
        media_type, schema, example, encoding = body
        if media_type == "multipart/form-data":
            lines += _form_fields(schema, example, encoding, resolver)
        else:
            value = example if example is not None else schema_example(schema, resolver)
            lines.append(f"-H {shlex.quote('Content-Type: ' + media_type)}")
            lines.append(f"-d {shlex.quote(json.dumps(value, ensure_ascii=False))}")
    return " \\\n     ".join(lines)


def _form_fields(schema: dict[str, Any], example: Any, encoding: dict[str, Any], resolver: _Resolver) -> list[str]:
    """``-F`` options for a multipart body: the example's fields (or the required ones), a file as ``@name``."""
    schema = resolver.resolve(schema)
    properties = schema.get("properties") or {}
    values = dict(example) if isinstance(example, dict) else {}
    options = []
    for name, member in properties.items():
        if resolver.resolve(member).get("format") == "binary":
            if name in schema.get("required", ()) or name in values:
                first_type = str(encoding.get(name, {}).get("contentType", "")).split(",")[0].strip()
                options.append(f"-F {shlex.quote(f'{name}=@{EXAMPLE_FILES.get(first_type, EXAMPLE_FILE)}')}")
            continue
        if name not in values and name in schema.get("required", ()):
            values[name] = schema_example(member, resolver)
        if name in values:
            options.append(f"-F {shlex.quote(f'{name}={_scalar(values[name])}')}")
    return options


# ---------------------------------------------------------------------------------------------------
# The reference


def _auth(operation: dict[str, Any], document: dict[str, Any]) -> str:
    requirements = operation.get("security", document.get("security"))
    if not requirements:
        return "none"
    return "optional" if any(not requirement for requirement in requirements) else "required"


def _parameter_field(parameter: dict[str, Any], resolver: _Resolver) -> Field:
    schema = parameter.get("schema", {})
    return Field(name=parameter["name"], type=type_label(schema, resolver), required=bool(parameter.get("required")),
                 description=str(parameter.get("description") or ""), values=_enum_values(schema, resolver),
                 default=_default(resolver.resolve(schema)), limits=_limits(schema, resolver),
                 location=str(parameter.get("in", "")))


def _body(request_body: dict[str, Any] | None, resolver: _Resolver) -> tuple[Body | None, Any]:
    if not request_body:
        return None, None
    media_type, media = next(iter(request_body.get("content", {}).items()))
    schema = media.get("schema", {})
    example = _media_example(media)
    shown = example if example is not None else schema_example(schema, resolver)
    name = resolver.name_of(schema)
    body = Body(media_type=media_type, type=type_label(schema, resolver), fields=tuple(fields_of(schema, resolver)),
                required=bool(request_body.get("required")),
                example=pretty_json(shown) if media_type == "application/json" else None,
                anchor=schema_anchor(name) if name is not None else None)
    return body, (media_type, schema, example, media.get("encoding") or {})


def _answers(responses: dict[str, Any], resolver: _Resolver) -> tuple[Answer, ...]:
    answers = []
    for status, response in responses.items():
        content = response.get("content") or {}
        schemas = [media.get("schema") for media in content.values() if media.get("schema")]
        example = next((value for value in (_media_example(media) for media in content.values())
                        if value is not None), None)
        label = type_label(schemas[0], resolver) if schemas else None
        if label is not None and len({type_label(s, resolver).text for s in schemas}) > 1:
            label = None  # several media types of different shapes: the media types say it
        answers.append(Answer(status=str(status), description=str(response.get("description") or ""),
                              media_types=tuple(content), type=label,
                              headers=tuple(response.get("headers") or ()),
                              example=pretty_json(example) if example is not None else None))
    return tuple(answers)


HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def build_reference(document: dict[str, Any], site_url: str) -> Reference:
    """What the reference page shows of ``document``, its URLs on the site at ``site_url``."""
    resolver = _Resolver(document)
    servers = document.get("servers") or [{"url": ""}]
    api_url = site_url.rstrip("/") + servers[0]["url"]
    tags = [tag["name"] for tag in document.get("tags", ())]
    descriptions = {tag["name"]: str(tag.get("description") or "") for tag in document.get("tags", ())}
    by_tag: dict[str, list[Operation]] = {}
    bodies: set[str] = set()
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            auth = _auth(operation, document)
            parameters = list(item.get("parameters", [])) + list(operation.get("parameters", []))
            body, curl_body = _body(operation.get("requestBody"), resolver)
            anchor = body.anchor if body is not None else None
            if body is not None and anchor is not None:
                if anchor in bodies:
                    body = replace(body, anchor=None)
                else:
                    bodies.add(anchor)
            operation_id = operation.get("operationId") or f"{method}-{path}"
            tag = (operation.get("tags") or [""])[0]
            if tag not in tags:
                tags.append(tag)
            by_tag.setdefault(tag, []).append(Operation(
                operation_id=operation_id, method=method.upper(), path=servers[0]["url"] + path,
                summary=str(operation.get("summary") or ""), description=str(operation.get("description") or ""),
                anchor="op-" + re.sub(r"[^A-Za-z0-9_-]+", "-", operation_id), auth=auth,
                parameters=tuple(_parameter_field(parameter, resolver) for parameter in parameters),
                body=body, answers=_answers(operation.get("responses", {}), resolver),
                curl=curl_command(api_url, method.upper(), path, parameters, curl_body,
                                  token=auth == "required", resolver=resolver)))
    groups = tuple(Group(name=tag, description=descriptions.get(tag, ""), anchor=group_anchor(tag or "other"),
                         operations=tuple(by_tag[tag])) for tag in tags if tag in by_tag)
    schemas = tuple(Schema(
        name=name, anchor=schema_anchor(name), type=type_label(schema, resolver),
        description=str(schema.get("description") or ""), fields=tuple(fields_of(schema, resolver)),
        example=pretty_json(schema["examples"][0]) if schema.get("examples") else None)
        for name, schema in resolver.schemas.items() if schema_anchor(name) not in bodies)
    error = resolver.schemas.get("Error", {})
    statuses = sorted({str(status) for group in groups for operation in group.operations
                       for status in (answer.status for answer in operation.answers)})
    info = document.get("info", {})
    return Reference(
        title=str(info.get("title") or ""), version=str(info.get("version") or ""),
        api_url=api_url, groups=groups, schemas=schemas, error_fields=tuple(fields_of(error, resolver)),
        error_examples=tuple(pretty_json(example) for example in error.get("examples", ())),
        statuses=tuple(statuses))
