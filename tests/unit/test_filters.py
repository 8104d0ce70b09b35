"""Query parameters become filters and pages, or a message naming the parameter that is wrong."""
import pytest

from tracker.errors import Invalid
from tracker.pagination import PageRequest
from tracker.services.policies import FilterChoices, parse_policy_filter

CHOICES = FilterChoices(countries={"LA": "Lao PDR", "TH": "Thailand"},
                        topics={"charging_infrastructure": "Charging"})


def test_filters_accept_repeated_values_and_drop_empty_ones():
    flt = parse_policy_filter({"country": ["LA", "TH", ""], "status": ["in_force"], "year": ["2023"],
                               "topic": ["charging_infrastructure"], "sort": ["title"]}, CHOICES)
    assert flt.countries == ("LA", "TH")
    assert flt.statuses == ("in_force",)
    assert flt.years == (2023,)
    assert flt.sort == "title"
    assert flt.to_query()["country"] == ["LA", "TH"]


@pytest.mark.parametrize("args, parameter", [
    ({"country": ["XX"]}, "country"),
    ({"status": ["in force"]}, "status"),
    ({"instrument": ["edict"]}, "instrument"),
    ({"topic": ["unknown_topic"]}, "topic"),
    ({"vehicle_class": ["boat"]}, "vehicle_class"),
    ({"year": ["20x3"]}, "year"),
    ({"year": ["0999"]}, "year"),
    ({"sort": ["random"]}, "sort"),
])
def test_unknown_filter_values_name_the_parameter(args, parameter):
    with pytest.raises(Invalid) as caught:
        parse_policy_filter(args, CHOICES)
    assert list(caught.value.errors) == [parameter]


@pytest.mark.parametrize("page, per_page, parameter", [
    ("0", None, "page"), ("-1", None, "page"), ("two", None, "page"), ("1e3", None, "page"),
    ("١", None, "page"), (None, "0", "per_page"), (None, "101", "per_page"), (None, "ten", "per_page"),
])
def test_bad_page_parameters_are_refused(page, per_page, parameter):
    with pytest.raises(Invalid) as caught:
        PageRequest.parse(page, per_page, default=20, maximum=100)
    assert parameter in caught.value.errors


def test_page_defaults():
    assert PageRequest.parse(None, None, default=20, maximum=100) == PageRequest(1, 20)
    assert PageRequest.parse("3", "50", default=20, maximum=100).offset == 100
