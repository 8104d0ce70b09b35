"""Selects, checkbox lists and field blocks are written exactly as WTForms and the old template wrote them."""
from __future__ import annotations

import jinja2
import pytest
from flask_babel import force_locale
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms import (
    BooleanField,
    DateField,
    Form,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange
from wtforms.widgets import Select

import tracker.forms  # noqa: F401  (puts the faster widgets in WTForms' place)
from tracker.forms import labelled
from tracker.forms.records import CheckboxListField, OptionGroups, OrganisationField
from tracker.forms.widgets import FastSelect, combine_attrs, field_block
from tracker.translation import lazy_gettext as _l

AWKWARD = {"law": 'Law "A" <b>', "a&b": "ດຳລັດ & ຄຳສັ່ງ", "'quoted'": "it's", "🚗⚡": "", "": "Not stated",
           "<x>": "ລົດໄຟຟ້າ"}


def library(field, **attributes) -> str:
    """What WTForms' own Select writes for ``field`` (with the attributes rendering the field adds)."""
    return str(Select(multiple=isinstance(field, SelectMultipleField))(field, **(field.render_kw or {}),
                                                                       **attributes))


class Sample(Form):
    kind = SelectField(choices=AWKWARD)
    kinds = SelectMultipleField(choices=AWKWARD)
    required = SelectField(choices=AWKWARD, validators=[InputRequired()], render_kw={"class": "wide"})
    grouped = SelectField(choices={"Lao PDR": {"la-mem": "MEM & co", "la-edl": "EDL"}, "Thailand": {"th-x": "X"}})
    listed = SelectField(choices=[SelectChoice("1", "One"), SelectChoice("2", '"Two"', {"data-x": "y"})])
    empty = SelectField()
    topics = CheckboxListField(choices=AWKWARD)


@pytest.mark.parametrize("data", [{}, {"kind": "a&b", "kinds": ["law", "<x>"], "required": "'quoted'",
                                       "grouped": "la-edl", "listed": "2", "topics": ["🚗⚡", ""]},
                                  {"kind": "", "kinds": [""], "grouped": "missing"}])
def test_every_select_is_written_as_wtforms_writes_it(data):
    form = Sample(data=data)
    for name in ("kind", "kinds", "required", "grouped", "listed", "empty"):
        field = form[name]
        assert isinstance(field.widget, FastSelect)
        assert str(field()) == library(field), name
        assert str(field(data_filter="y", disabled=True)) == library(field, data_filter="y", disabled=True)


def test_the_selected_option_and_escaping_are_the_library_s():
    field = Sample(data={"kind": "a&b"}).kind
    html = str(field())
    assert '<option selected value="a&amp;b">ດຳລັດ &amp; ຄຳສັ່ງ</option>' in html
    assert '<option value="law">Law &#34;A&#34; &lt;b&gt;</option>' in html
    # An empty label shows the value, as WTForms does.
    assert '<option value="🚗⚡">🚗⚡</option>' in html
    assert html.count(" selected") == 1


@settings(deadline=None, max_examples=60)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=8), st.data())
def test_any_choices_are_written_as_the_library_writes_them(choices, data):
    chosen = data.draw(st.sampled_from([None, *choices])) if choices else None

    class One(Form):
        kind = SelectField(choices=choices)
        kinds = SelectMultipleField(choices=choices)

    form = One(data={"kind": chosen, "kinds": [chosen] if chosen is not None else []})
    assert str(form.kind()) == library(form.kind)
    assert str(form.kinds()) == library(form.kinds)


@pytest.mark.parametrize("data", [{}, {"topics": ["law", "<x>"]}, {"topics": ["🚗⚡", ""]}])
def test_checkboxes_are_written_as_iterating_the_field_writes_them(data):
    field = Sample(data=data).topics
    assert [(str(control), text) for control, text in field.rendered_options()] == \
        [(str(option()), option.label.text) for option in field]


def test_checkboxes_with_attributes_of_their_own_are_left_to_the_library():
    class Flagged(Form):
        topics = CheckboxListField(choices={"a": "A"}, validators=[InputRequired()], render_kw={"class": "x"})

    field = Flagged(data={"topics": ["a"]}).topics
    (control, text), = field.rendered_options()
    assert str(control) == str(next(iter(field))()) and 'class="x"' in str(control) and text == "A"


def test_pickers_sharing_organisations_each_mark_their_own_choice():
    groups = OptionGroups([("Lao PDR", [("la-mem", "MEM — Ministry <of> Energy & Mines"), ("la-edl", "EDL")]),
                           ("ASEAN", [("asean", "ASEAN · ອາຊຽນ")])])

    class Pickers(Form):
        issuer = OrganisationField(blank_label="Not known")
        body = OrganisationField(blank_label="Choose")

    form = Pickers(data={"issuer": "la-edl", "body": ""})
    form.issuer.set_groups(groups)
    form.body.set_groups(groups)
    issuer, body = str(form.issuer()), str(form.body())
    assert '<option value="la-edl" selected>EDL</option>' in issuer and issuer.count(" selected") == 1
    assert '<option value="" selected>Choose</option>' in body and body.count(" selected") == 1
    assert '<optgroup label="Lao PDR"><option value="la-mem">MEM — Ministry &lt;of&gt; Energy &amp; Mines</option>' \
        in issuer
    assert issuer.replace(" selected", "").split("</option>", 1)[1] == body.replace(" selected", "").split(
        "</option>", 1)[1]


# The field macro of _forms.html as it was, the reference for field_block.
FIELD_MACRO = """{% macro field(f, hint=None, attrs={}) %}
<div class="field{% if f.errors %} has-error{% endif %}">
  {% if f.type == 'BooleanField' %}
  <label class="check">{{ f(**(attrs | combine_attrs(f, False))) }} {{ f.label.text }}</label>
  {% else %}
  {{ f.label }}
  {% if f.description or hint %}<p class="hint" id="{{ f.id }}-hint">{{ hint or f.description }}</p>{% endif %}
  {{ f(**(attrs | combine_attrs(f, f.description or hint))) }}
  {% endif %}
  {% for error in f.errors %}<p class="error-message" id="{{ f.id }}-error">{{ error }}</p>{% endfor %}
</div>
{% endmacro %}"""


def reference_field():
    environment = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    environment.filters["combine_attrs"] = combine_attrs
    return environment.from_string(FIELD_MACRO).module.field


class Everything(Form):
    title = StringField("Title <en>", description="Day first: 15/11/2025 & more")
    title_lo = StringField("ຊື່ເລື່ອງ")
    summary = TextAreaField("Summary")
    kind = SelectField("Kind", choices={"": "Choose", "law": "Law"})
    headline = BooleanField('Headline "target"')
    lazy = StringField(_l("Title (English)"), description=_l("e.g. Decree No. 231/PM of 2 June 2023."))
    required = StringField("Required", validators=[InputRequired(), Length(min=2, max=20)])
    long_text = TextAreaField("Long", validators=[InputRequired(), Length(max=500)], render_kw={"class": "wide"})
    day = DateField("Day")
    year = IntegerField("Year", validators=[NumberRange(min=1990, max=2100)])
    secret = HiddenField(default="<x>")
    agreed = BooleanField("Agreed", validators=[InputRequired()])


@pytest.mark.parametrize("errors", [False, True])
@pytest.mark.parametrize("hint", [None, "A hint <with> markup & Lao ພາສາລາວ"])
@pytest.mark.parametrize("attrs", [{}, {"lang": "lo", "rows": 8}, {"autofocus": True, "placeholder": 'say "hi"'}])
def test_a_field_block_is_what_the_template_macro_wrote(app, errors, hint, attrs):
    field_macro = reference_field()
    for language in ("en", "lo"):
        with app.test_request_context(), force_locale(language):
            form = Everything(data={"title": '"><script>', "title_lo": "ລາວ", "kind": "law", "headline": True,
                                    "long_text": "line one\n<b>two</b> & ສາມ", "year": 2030, "agreed": False})
            if errors:
                for field in form:
                    field.errors = ["Wrong <here> & there", "ຜິດ"]
            for field in form:
                assert str(field_block(field, hint=hint, attrs=attrs)) == str(field_macro(field, hint, attrs)), \
                    (field.name, language)


def test_select_labels_follow_the_reader_s_language(app):
    choices = labelled({"": _l("Not stated")}, {"draft": _l("Draft")})
    with app.test_request_context():
        with force_locale("lo"):
            lao = choices()
        with force_locale("en"):
            english = choices()
        with force_locale("lo"):
            again = choices()
    assert english == {"": "Not stated", "draft": "Draft"}
    assert lao == again and lao[""] != "Not stated" and lao[""]
    # Each call gives a list of its own: a form that changes it changes no other form's.
    lao.clear()
    with app.test_request_context(), force_locale("lo"):
        assert choices() == again


def test_field_blocks_are_markup():
    assert isinstance(field_block(Everything().title), Markup)
