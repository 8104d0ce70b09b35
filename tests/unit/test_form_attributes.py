"""Widget attributes are written exactly as WTForms writes them, only faster."""
from __future__ import annotations

import wtforms.widgets.core
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms import Form, SelectField, StringField

import tracker.forms  # noqa: F401  (puts the faster writer in WTForms' place)
from tracker.forms.attributes import LIBRARY_HTML_PARAMS, html_params

AWKWARD = ['a"b', "<script>", "&amp;", "ທ່ານ ພາສາລາວ", "🚗⚡", "", " ", "'", Markup('x"<b>y</b>'), 0, 3.5, None]


def test_awkward_values_are_written_as_the_library_writes_them():
    for value in AWKWARD:
        attributes = {"value": value, "class_": "wide", "data_filter_label": value, "aria_describedby": "x-hint",
                      "required": True, "disabled": False, "for_": "id"}
        assert html_params(**attributes) == LIBRARY_HTML_PARAMS(**attributes)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True),
                       st.one_of(st.booleans(), st.text(max_size=20), st.integers()), max_size=6))
def test_any_attributes_are_written_as_the_library_writes_them(attributes):
    assert html_params(**attributes) == LIBRARY_HTML_PARAMS(**attributes)


def test_the_built_in_widgets_use_it_and_escape_what_a_reader_typed():
    class Sample(Form):
        title = StringField()
        kind = SelectField(choices={"law": 'Law "A" <b>', "decree": "ດຳລັດ"})

    assert wtforms.widgets.core.html_params is html_params
    form = Sample(data={"title": '"><script>alert(1)</script>', "kind": "decree"})
    assert str(form.title()) == '<input id="title" name="title" type="text" value="&#34;&gt;&lt;script&gt;alert(1)' \
                                '&lt;/script&gt;">'
    assert str(form.kind()) == ('<select id="kind" name="kind"><option value="law">Law &#34;A&#34; &lt;b&gt;</option>'
                                '<option selected value="decree">ດຳລັດ</option></select>')
