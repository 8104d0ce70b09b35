"""Partial dates are kept to the precision the source gives, validated, and ordered."""
import datetime as dt

import pytest

from tracker.models.types import PartialDate, PartialDateError


@pytest.mark.parametrize("text, precision, display", [
    ("2023", "year", "2023"),
    ("2023-07", "month", "July 2023"),
    ("2023-07-14", "day", "14 July 2023"),
    ("2024-02-29", "day", "29 February 2024"),
])
def test_partial_dates_keep_their_precision(text, precision, display):
    date = PartialDate.parse(text)
    assert date.isoformat() == text
    assert date.precision == precision
    assert date.display() == display


@pytest.mark.parametrize("text", ["2023-02-30", "2023-13", "2023-00", "23", "2023/07/14", "July 2023",
                                  "2023-7-1", "", "2023-07-14T00:00", "0999", "２０２３"])
def test_impossible_or_malformed_dates_are_refused(text):
    with pytest.raises(PartialDateError):
        PartialDate.parse(text)


def test_a_partial_date_spans_the_days_it_may_stand_for():
    assert PartialDate.parse("2025").earliest() == dt.date(2025, 1, 1)
    assert PartialDate.parse("2025").latest() == dt.date(2025, 12, 31)
    assert PartialDate.parse("2024-02").latest() == dt.date(2024, 2, 29)
    assert PartialDate.parse("2023-07-14").latest() == dt.date(2023, 7, 14)


def test_text_order_is_chronological_order():
    texts = ["2023-07-14", "2022", "2023", "2023-07", "2021-12-31"]
    assert sorted(texts) == [d.isoformat() for d in sorted(PartialDate.parse(t) for t in texts)]
