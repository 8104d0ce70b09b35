"""Checking JSON values against the declared schemas with jsonschema, each problem a FieldError at its path."""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, ValidationError, validators

from tracker.errors import FieldError, clip, field_path
from tracker.models.record_format import COUNTRY_CODE_PATTERN, DATE_PATTERN, KEY_PATTERN, URL_PATTERN

# A value that breaks many rules gets the first ones named, not an answer as large as the value.
MAX_ERRORS = 50
_PATTERN_CODES = {KEY_PATTERN.pattern: "key_format", DATE_PATTERN: "date_format", URL_PATTERN: "url",
                  COUNTRY_CODE_PATTERN: "country_code"}


@functools.lru_cache(maxsize=64)
def _ecma(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262: "$" ends the text, whereas Python's "$" also matches before a
    # final newline, which would let "key\n" through.
    return re.compile(pattern.removesuffix("$") + r"\Z" if pattern.endswith("$") else pattern)


def matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches a JSON Schema ``pattern`` (as ECMA-262 reads it)."""
    return _ecma(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        # Never shown: _converted turns it into a FieldError, by the pattern.
        yield ValidationError(pattern)


def _is_integer(checker: Any, instance: Any) -> bool:
    # JSON has one number type, but a version or an id written 3.0 is a mistake worth naming.
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft202012Validator, validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


def json_type(value: Any) -> str:
    """The JSON type of a parsed value: string, integer, number, boolean, null, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


class SchemaErrors:
    """The problems found in one value: path -> FieldError (the first problem of each field), at most
    MAX_ERRORS of them (``truncated`` says when more were left out)."""

    def __init__(self) -> None:
        self.errors: dict[str, FieldError] = {}
        self.truncated = False

    def add(self, path: str, error: FieldError) -> None:
        if path in self.errors:
            return
        if len(self.errors) >= MAX_ERRORS:
            self.truncated = True
        else:
            self.errors[path] = error

    def __bool__(self) -> bool:
        return bool(self.errors)


def _same(value: Any, other: Any) -> bool:
    return json_type(value) == json_type(other) and value == other


def _converted(error: ValidationError, *, blank_is_missing: bool) -> Iterator[tuple[list[str | int], FieldError]]:
    """A jsonschema error as (path, FieldError) pairs: one per missing, unknown or repeated field."""
    path: list[str | int] = list(error.absolute_path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "required":
        for name in expected:
            if isinstance(instance, dict) and name not in instance:
                yield [*path, name], FieldError("required")
    elif keyword == "additionalProperties":
        properties = error.schema.get("properties", {})
        for name in instance:
            if name not in properties:
                yield [*path, name[:60]], FieldError("unknown_field")
    elif keyword == "type":
        if instance is None and blank_is_missing:
            yield path, FieldError("required")
        else:
            yield path, FieldError("type", expected=[expected] if isinstance(expected, str) else list(expected),
                                   actual=json_type(instance))
    elif keyword == "enum":
        options = [str(option) for option in expected if option is not None]
        if instance is None and blank_is_missing:
            yield path, FieldError("required")
        elif not options:
            yield path, FieldError("no_choice_yet")
        else:
            yield path, FieldError("one_of", value=clip(instance), values=options)
    elif keyword == "maxLength":
        yield path, FieldError("too_long", length=len(instance), max=expected)
    elif keyword == "minLength":
        yield path, FieldError("empty")
    elif keyword == "pattern":
        code = _PATTERN_CODES.get(expected, "date_format")
        yield path, FieldError(code) if code == "key_format" else FieldError(code, value=clip(instance, 80))
    elif keyword == "maxItems":
        yield path, FieldError("too_many", count=len(instance), max=expected)
    elif keyword == "uniqueItems":
        seen: list[Any] = []
        for index, item in enumerate(instance):
            if any(_same(item, other) for other in seen):
                yield [*path, index], (FieldError("listed_twice", value=clip(item)) if isinstance(item, str)
                                       else FieldError("row_twice"))
            seen.append(item)
    elif keyword == "minimum":
        yield path, FieldError("too_small", min=expected)
    elif keyword == "maximum":
        yield path, FieldError("too_large", max=expected)
    else:  # a keyword the declared schemas do not use: named plainly rather than dropped
        yield path, FieldError("type", expected=["string"], actual=json_type(instance))


def check(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any] | None = None, *,
          blank_is_missing: bool = False, into: SchemaErrors | None = None,
          prefix: tuple[str | int, ...] = ()) -> SchemaErrors:
    """The problems of ``value`` against ``schema`` (whose ``$ref`` point into ``components``), named by
    path (``sources[2].url``). A field whose container is wrong is not looked into. ``blank_is_missing``:
    a null where text is needed is reported as missing (for values already cleaned, where blank text
    became null)."""
    found = into if into is not None else SchemaErrors()
    if _passes_fast(value, schema, components):
        return found
    pairs = [pair for error in _validator(schema, components).iter_errors(value)
             for pair in _converted(error, blank_is_missing=blank_is_missing)]
    failed = [tuple(path) for path, _ in pairs]
    for path, error in pairs:
        # A container that is wrong hides what is inside it: say what is wrong with it only.
        key = tuple(path)
        if any(len(other) < len(key) and key[:len(other)] == other for other in failed):
            continue
        found.add(field_path([*prefix, *path]), error)
    return found


# Validators of the schemas in use, by the identity of the schema and components objects (kept here too,
# so that an identity is never reused by another object): a dataset of many records checks each against
# the same schema, and building a validator (with its reference resolution) per record doubled the cost.
_VALIDATORS: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
_VALIDATORS_KEPT = 256


# The same schemas compiled to Python by fastjsonschema: about twenty times faster than jsonschema, which
# matters when a dataset of 100,000 records is checked. Used only to say "valid"; anything it refuses goes
# through jsonschema, whose errors name the problems. Its reading differs from ours in two ways, both
# handled: a pattern's "$" (made "\\Z", as _ecma does) and 3.0 as an integer (values with a float in them
# are never fast-passed).
_FAST: dict[tuple[int, int], tuple[Any, Any, Any]] = {}


def _ecma_schema(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: (_ecma(item).pattern if name == "pattern" and isinstance(item, str) else _ecma_schema(item))
                for name, item in value.items()}
    if isinstance(value, list):
        return [_ecma_schema(item) for item in value]
    return value


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_float(item) for item in value)
    return False


def _passes_fast(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any] | None) -> bool:
    key = (id(schema), id(components))
    cached = _FAST.get(key)
    if cached is None or cached[0] is not schema or cached[1] is not components:
        root = dict(schema) | ({"components": {"schemas": dict(components)}} if components else {})
        try:
            compiled = fastjsonschema.compile(_ecma_schema(root))
        except fastjsonschema.JsonSchemaDefinitionException:
            compiled = None
        if len(_FAST) >= _VALIDATORS_KEPT:
            _FAST.clear()
        _FAST[key] = cached = (schema, components, compiled)
    if cached[2] is None or _has_float(value):
        return False
    try:
        cached[2](value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _validator(schema: Mapping[str, Any], components: Mapping[str, Any] | None) -> Any:
    key = (id(schema), id(components))
    cached = _VALIDATORS.get(key)
    if cached is not None and cached[0] is schema and cached[1] is components:
        return cached[2]
    root = dict(schema) | ({"components": {"schemas": dict(components)}} if components else {})
    validator = _Validator(root)
    if len(_VALIDATORS) >= _VALIDATORS_KEPT:
        _VALIDATORS.clear()
    _VALIDATORS[key] = (schema, components, validator)
    return validator
