"""The record format is checked by jsonschema, each problem a structured FieldError at its path."""
from __future__ import annotations

from tracker.errors import FieldError, path_parts
from tracker.models.record_format import input_schemas, record_schemas
from tracker.services import schema_check
from tracker.services.record_checks import RecordCheck, check_event, checked_text

COMPONENTS = input_schemas(["LA", "TH"], ["charging"])


def errors_of(body, schema="PolicyInput"):
    return schema_check.check(body, COMPONENTS[schema], COMPONENTS).errors


def test_problems_are_codes_with_parameters_at_their_paths():
    errors = errors_of({"country": "LA", "instrument": "decree", "title_en": "t" * 501,
                        "sources": [{"url": "https://example.org"}, {"title": "no url"}], "colour": "red"})
    assert errors == {"title_en": FieldError("too_long", length=501, max=500),
                      "sources[1].url": FieldError("required"), "colour": FieldError("unknown_field")}
    assert str(errors["title_en"]) == "This field is 501 characters long; the limit is 500."


def test_a_pattern_ends_where_the_text_ends_as_in_ecma_262():
    # Python's "$" would let a key followed by a line break through.
    assert errors_of({"country": "LA", "instrument": "decree", "key": "good-key\n"}) == {
        "key": FieldError("key_format")}
    assert errors_of({"country": "LA", "instrument": "decree", "key": "good-key"}) == {}


def test_a_whole_number_written_as_a_decimal_is_not_an_integer():
    assert errors_of({"status": "adopted", "version": 3.0}, "StatusChangeInput") == {
        "version": FieldError("type", expected=["integer"], actual="number")}


def test_a_wrong_container_hides_what_is_inside_it():
    errors = errors_of({"country": "LA", "instrument": "decree", "sources": [{"url": 1}] * 101})
    assert errors == {"sources": FieldError("too_many", count=101, max=100)}


def test_at_most_fifty_problems_are_named():
    found = schema_check.check({f"field{n}": n for n in range(80)}, COMPONENTS["EditorialInput"], COMPONENTS)
    assert len(found.errors) == schema_check.MAX_ERRORS and found.truncated


def test_records_are_cleaned_before_they_are_checked_and_keys_resolved_after():
    problems = []
    check = RecordCheck(problems, "event 'x'", {"name_en": "Forum\r\nday", "kind": "forum", "summary_en": "a\r\nb",
                                               "organisers": ["la-mem", "la-mem"], "topics": ["nope"],
                                               "starts_on": "2024-02-30", "venue": "   "}, "event", ["LA"])
    event = check_event(check, "x", {"organisations": {"la-mem"}, "topics": set(), "events": set(),
                                     "policies": set()})
    assert event["name_en"] == "Forum day" and event["summary_en"] == "a\nb" and event["venue"] is None
    assert {(p.field, p.error.code) for p in problems} == {
        ("organisers[1]", "listed_twice"), ("topics[0]", "unknown_topic"), ("starts_on", "date_day")}


def test_record_schemas_let_undeclared_fields_through_but_input_schemas_refuse_them():
    assert "additionalProperties" not in record_schemas(["LA"])["policy"]
    assert COMPONENTS["PolicyInput"]["additionalProperties"] is False


def test_text_is_trimmed_and_checked_against_its_limit():
    assert checked_text("  note\r\n ", max_length=10) == ("note", None)
    assert checked_text("x" * 11, max_length=10) == (None, FieldError("too_long", length=11, max=10))
    assert checked_text("a\x00b", max_length=10) == (None, FieldError("nul"))
    assert checked_text("  ", max_length=10, required=True) == (None, FieldError("required"))


def test_paths_are_taken_apart_as_they_are_written():
    assert path_parts("sources[2].url") == ["sources", 2, "url"]
    assert path_parts("title_en") == ["title_en"]


def test_the_compiled_fast_path_never_passes_what_jsonschema_refuses():
    """Valid records are passed by a compiled validator; these values read differently by the two libraries
    must still be refused (the fast path hands them to jsonschema)."""
    base = {"country": "LA", "instrument": "decree", "title_en": "A title", "version": 3}
    tricky = [
        {**base, "key": "a-key\n"},          # "$" before a final line break, in Python's reading
        {**base, "version": 3.0},            # an integer written as a float
        {**base, "version": True},           # a boolean is not an integer
        {**base, "colour": "red"},           # an unknown field
        {**base, "topics": ["charging", "charging"]},
    ]
    for body in tricky:
        assert errors_of(body, "PolicyPatch"), body
        assert not schema_check._passes_fast(body, COMPONENTS["PolicyPatch"], COMPONENTS), body
    assert errors_of({**base}, "PolicyPatch") == {}
    assert schema_check._passes_fast(base, COMPONENTS["PolicyPatch"], COMPONENTS)
