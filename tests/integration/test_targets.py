"""Targets as numbers: edited with their policy in English and Lao, refused with clear messages, merged like
any list of the record, served by the API, downloaded, and the headline target of each country."""
from __future__ import annotations

import csv
import datetime as dt
import html as html_lib
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import load, policy_record
from tests.integration.test_editing_pages import error_of, form_of, submit, text_of
from tracker.errors import MergeConflict
from tracker.models import AuditEntry, Policy, PolicyTarget
from tracker.services import editing
from tracker.services.dataset import load_dataset
from tracker.services.policy_targets import compact_text, headline_targets
from tracker.services.records import dump_dataset

API = "/api/v1"
LAO_SCOPE = "ລົດໃໝ່ ແລະ ລົດກະບະ ໃນນະຄອນຫຼວງວຽງຈັນ"
SALES_2030 = {"metric": "share_of_sales", "value": 30, "unit": "percent", "year": 2030, "vehicle_class": "car",
              "scope_en": "new cars", "scope_lo": None, "headline": True, "source_url": None}
POINTS_2025 = {"metric": "charging_points", "value": 10000, "unit": "points", "year": 2025, "vehicle_class": "all",
               "scope_en": None, "scope_lo": None, "headline": False, "source_url": None}


def plain_text(response) -> str:
    """The page's text as a reader sees it: tags dropped without adding spaces (Lao words are wrapped in
    spans that keep them whole), whitespace folded."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))


def targets_of(session, key: str) -> list[PolicyTarget]:
    session.expire_all()
    policy_id = session.scalar(select(Policy.id).where(Policy.key == key))
    return list(session.scalars(select(PolicyTarget).where(PolicyTarget.policy_id == policy_id)
                                .order_by(PolicyTarget.position)))


def draft(session, key: str, **overrides) -> Policy:
    load(session, policies=[policy_record(key, **{"editorial_state": "draft", **overrides})])
    session.commit()
    return session.scalars(select(Policy).where(Policy.key == key)).one()


def fill_target(data, row: int = 0, **values) -> None:
    for name, value in values.items():
        data.setlist(f"targets-{row}-{name}", [value])


# ---------------------------------------------------------------------------------------------------
# The edit form and the policy page


def test_an_editor_records_a_target_in_lao_and_readers_see_it_in_both_languages(client, session, login_as):
    draft(session, "target-form-lo")
    login_as("editor")
    client.set_cookie("lang", "lo")
    _, data = form_of(client.get("/policies/target-form-lo/edit"), css="record-form")
    # A Lao officer writes the decimal with a comma and the scope in Lao.
    fill_target(data, metric="share_of_sales", value="2,5", unit="percent", year="2030", vehicle_class="car",
                scope_lo=LAO_SCOPE, headline="y")
    response = client.post("/policies/target-form-lo/edit", data=data)
    assert response.status_code == 302, text_of(response)

    [target] = targets_of(session, "target-form-lo")
    assert (target.metric, target.value, target.unit, target.target_year, target.vehicle_class) == (
        "share_of_sales", Decimal("2.5"), "percent", 2030, "car")
    assert target.scope_lo == LAO_SCOPE and target.scope_en is None and target.headline is True

    lao_page = plain_text(client.get("/policies/target-form-lo"))
    assert "2,5% ຂອງຍອດຂາຍລົດໃໝ່ ພາຍໃນປີ 2030" in lao_page and LAO_SCOPE in lao_page and "2.5%" not in lao_page
    client.set_cookie("lang", "en")
    english_page = plain_text(client.get("/policies/target-form-lo"))
    assert "2.5% of new sales by 2030" in english_page and "Headline" in english_page
    # The English reader is shown the Lao scope, marked as being in the other language.
    assert LAO_SCOPE in english_page

    # The form shows the stored target for the next edit, and the history names it in words.
    _, again = form_of(client.get("/policies/target-form-lo/edit"), css="record-form")
    assert (again["targets-0-value"], again["targets-0-year"], again["targets-0-scope_lo"]) == (
        "2.5", "2030", LAO_SCOPE)
    history = text_of(client.get("/policies/target-form-lo/history"))
    assert "Targets: added 2.5% of new sales by 2030 (Cars) — headline" in history


def test_large_numbers_read_with_either_grouping_and_show_in_the_readers_format(client, session, login_as):
    draft(session, "target-grouping")
    login_as("editor")
    _, data = form_of(client.get("/policies/target-grouping/edit"), css="record-form")
    fill_target(data, 0, metric="vehicles", value="550,000", unit="vehicles", year="2030")
    data.setlist("add_row", [])
    fill_target(data, 1, metric="charging_stations", value="1.250", unit="stations", year="2025")
    assert client.post("/policies/target-grouping/edit", data=data).status_code == 302
    assert [t.value for t in targets_of(session, "target-grouping")] == [Decimal(550000), Decimal(1250)]

    english = plain_text(client.get("/policies/target-grouping"))
    assert "550,000 electric vehicles by 2030" in english and "1,250 public charging stations by 2025" in english
    client.set_cookie("lang", "lo")
    lao = plain_text(client.get("/policies/target-grouping"))
    # Lao groups digits with a dot, and a year is never grouped.
    assert "550.000" in lao and "1.250" in lao and "2030" in lao and "2.030" not in lao


def test_bad_target_values_get_a_message_by_each_field_and_nothing_is_saved(client, session, login_as):
    draft(session, "target-bad")
    login_as("editor")
    entries = len(session.scalars(select(AuditEntry)).all())
    _, data = form_of(client.get("/policies/target-bad/edit"), css="record-form")
    fill_target(data, 0, metric="share_of_sales", value="abc", unit="percent", year="2030", headline="y")
    fill_target(data, 1, metric="share_of_stock", value="120", unit="percent", year="1850", headline="y")
    fill_target(data, 2, metric="share_of_sales", value="40", unit="vehicles", year="2030")
    fill_target(data, 3, value="5", unit="percent", year="twenty-thirty")
    fill_target(data, 4, metric="vehicles", value="1.23456", unit="vehicles", year="2030")
    response = client.post("/policies/target-bad/edit", data=data)
    assert response.status_code == 400
    assert "'abc' is not a number. Write it with digits" in error_of(response, "targets-0-value")
    assert "A share is at most 100 %; this one is 120." in error_of(response, "targets-1-value")
    assert "must be at least 2000" in error_of(response, "targets-1-year")
    assert "Only one target of a policy can be its headline target." in error_of(response, "targets-1-headline")
    assert "A share of sales, vehicles in use or production is stated in %." in error_of(response, "targets-2-unit")
    assert "This field is required." in error_of(response, "targets-3-metric")
    assert "must be an integer, not text" in error_of(response, "targets-3-year")
    assert "at most four decimals" in error_of(response, "targets-4-value")
    assert targets_of(session, "target-bad") == []
    assert len(session.scalars(select(AuditEntry)).all()) == entries


def test_the_messages_about_targets_come_in_lao(client, session, login_as):
    draft(session, "target-bad-lo")
    login_as("editor")
    client.set_cookie("lang", "lo")
    _, data = form_of(client.get("/policies/target-bad-lo/edit"), css="record-form")
    fill_target(data, metric="share_of_sales", value="abc", unit="percent", year="2030")
    response = client.post("/policies/target-bad-lo/edit", data=data)
    assert response.status_code == 400
    assert error_of(response, "targets-0-value") == ("'abc' ບໍ່ແມ່ນຕົວເລກ. ກະລຸນາຂຽນເປັນຕົວເລກ ເຊັ່ນ: 30, 2,5 ຫຼື "
                                                     "20000.")


# ---------------------------------------------------------------------------------------------------
# The write API and stale edits


def test_the_api_writes_targets_and_names_each_bad_one_by_its_path(client, session, api_token):
    policy = draft(session, "target-api")
    headers = api_token("editor")
    good = client.patch(f"{API}/policies/target-api", headers=headers,
                        json={"version": policy.version, "targets": [SALES_2030, POINTS_2025]})
    assert good.status_code == 200, good.get_json()
    body = good.get_json()
    assert body["targets"] == [SALES_2030, POINTS_2025]
    assert client.get(f"{API}/policies/target-api", headers=headers).get_json()["targets"] == body["targets"]

    bad = client.patch(f"{API}/policies/target-api", headers={**headers, "Accept-Language": "en"},
                       json={"version": body["version"], "targets": [
                           SALES_2030 | {"value": -1}, SALES_2030 | {"headline": False, "metric": "speed"},
                           {"metric": "vehicles", "unit": "vehicles", "year": 2030}]})
    assert bad.status_code == 400
    errors = bad.get_json()["error"]["errors"]
    assert "at least 0" in errors["targets[0].value"]
    assert "'speed' is not one of" in errors["targets[1].metric"]
    assert "required" in errors["targets[2].value"]
    assert [t.value for t in targets_of(session, "target-api")] == [Decimal(30), Decimal(10000)]


def test_a_stale_edit_of_targets_merges_additions_and_names_a_target_both_changed(session, users):
    policy = draft(session, "target-merge", targets=[SALES_2030])
    base = policy.version
    editing.update_policy(session, "target-merge", {"targets": [SALES_2030, POINTS_2025]}, users["reviewer"], base)
    session.commit()

    # The editor read version ``base`` and added another target: both additions are kept.
    vehicles = {**POINTS_2025, "metric": "vehicles", "value": 20000, "unit": "vehicles"}
    editing.update_policy(session, "target-merge", {"targets": [SALES_2030, vehicles]}, users["editor"], None,
                          base_version=base)
    session.commit()
    assert [t.metric for t in targets_of(session, "target-merge")] == ["share_of_sales", "charging_points",
                                                                         "vehicles"]

    # Both change the same target differently: nothing is saved and the field is named.
    current = session.scalar(select(Policy.version).where(Policy.key == "target-merge"))
    editing.update_policy(session, "target-merge", {"targets": [SALES_2030 | {"value": 35}, POINTS_2025, vehicles]},
                          users["reviewer"], current)
    session.commit()
    with pytest.raises(MergeConflict) as conflict:
        editing.update_policy(session, "target-merge", {"targets": [SALES_2030 | {"value": 40}, POINTS_2025,
                                                                    vehicles]},
                              users["editor"], None, base_version=current)
    assert [c.field for c in conflict.value.plan.conflicts] == ["targets"]
    session.rollback()
    assert targets_of(session, "target-merge")[0].value == Decimal(35)


def test_a_stale_form_with_targets_shows_the_conflict_and_keeps_the_editors_values(client, session, login_as,
                                                                                    users):
    draft(session, "target-stale", targets=[SALES_2030])
    login_as("editor")
    _, data = form_of(client.get("/policies/target-stale/edit"), css="record-form")
    editing.update_policy(session, "target-stale", {"targets": [SALES_2030 | {"value": 35}]}, users["reviewer"],
                          int(data["version"]))
    session.commit()
    response = submit(client, "/policies/target-stale/edit", data, **{"targets-0-value": "40"})
    assert response.status_code == 409
    text = text_of(response)
    assert "Someone else changed this record while you were working on it" in text
    assert "35% of new sales by 2030 (Cars)" in text and "40% of new sales by 2030 (Cars)" in text
    assert targets_of(session, "target-stale")[0].value == Decimal(35)


# ---------------------------------------------------------------------------------------------------
# The dataset file, the downloads, the headline of each country


def test_a_dataset_file_without_targets_loads_and_keeps_the_stored_ones(session):
    draft(session, "target-file", targets=[SALES_2030, POINTS_2025])
    # An older file knows nothing of targets: its record loads and leaves them as they are.
    load_dataset(session, {"policies": [policy_record("target-file", editorial_state="draft",
                                                      summary_en="Changed by an older file.")]})
    session.flush()
    assert len(targets_of(session, "target-file")) == 2
    dumped = next(p for p in dump_dataset(session, compiled="2026-12-07")["policies"] if p["key"] == "target-file")
    assert dumped["targets"] == [SALES_2030, POINTS_2025]
    # A file that says "no targets" removes them.
    load_dataset(session, {"policies": [policy_record("target-file", editorial_state="draft", targets=[])]})
    session.flush()
    assert targets_of(session, "target-file") == []


def test_the_policy_downloads_carry_targets_in_their_compact_form(client):
    response = client.get("/policies.csv?country=LA")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert "targets" in rows[0]
    row = next(r for r in rows if r["key"] == "la-mpwt-transport-green-energy-targets")
    assert row["targets"] == ("vehicles=20000 vehicles@2025[all] ; share_of_stock=1%@2025[all] ; "
                              "charging_stations=50 stations@2025[all] ; vehicles=550000 vehicles@2030[all] ; "
                              "*share_of_stock=30%@2030[all] ; charging_stations=100 stations@2030[all]")
    assert next(r for r in rows if r["key"] == "la-edl-geely-krittaphong-cooperation-2020")["targets"] == ""
    record = next(p for p in client.get("/policies.json?country=LA").get_json()["policies"]
                  if p["key"] == "la-gov-resolution-08-2021-ev-policy")
    assert [(t["metric"], t["value"], t["year"], t["headline"]) for t in record["targets"]] == [
        ("share_of_stock", 1, 2025, False), ("share_of_stock", 30, 2030, True)]


def test_compact_text_writes_plain_numbers_and_marks_the_headline():
    assert compact_text([SALES_2030 | {"value": 2.5}, POINTS_2025]) == (
        "*share_of_sales=2.5%@2030[car] ; charging_points=10000 points@2025[all]")


def test_each_country_has_one_headline_target_read_in_one_query(session, count_queries):
    count_queries.reset()
    headlines = headline_targets(session, as_of=dt.date(2026, 1, 1))
    assert count_queries.count == 1
    lao = headlines["LA"]
    assert (lao.metric, lao.value, lao.unit, lao.year) == ("share_of_stock", Decimal(30), "percent", 2030)
    assert lao.text == "30% of vehicles in use by 2030"
    assert headlines["BN"].text == "60% of new sales by 2035"
    assert "ID" not in headlines  # no Indonesian record states a target

    # Before a policy was made, its target does not stand for its country; after its year, the latest
    # target already past stands until a newer one is recorded.
    assert "KH" not in headline_targets(session, as_of=dt.date(2020, 1, 1))
    assert headline_targets(session, as_of=dt.date(2045, 1, 1))["LA"].year == 2030


def test_a_repealed_policys_target_no_longer_heads_its_country(session, users):
    draft(session, "target-tl", country="TL", targets=[SALES_2030], editorial_state="published")
    assert headline_targets(session)["TL"].policy_key == "target-tl"
    editing.change_status(session, "target-tl", {"status": "repealed", "effective_on": "2025"}, users["reviewer"])
    assert "TL" not in headline_targets(session)


def test_the_dashboard_lists_headline_targets_by_year(client):
    page = text_of(client.get("/dashboard"))
    assert "Targets by year" in page and "60% of new sales by 2035" in page
    rows = list(csv.reader(io.StringIO(client.get("/dashboard/targets.csv?country=LA").get_data(as_text=True)
                                       .lstrip("\ufeff"))))
    assert rows[0] == ["year", "country_code", "country", "metric", "value", "unit", "vehicle_class", "target",
                       "policy_key"]
    assert ["2030", "LA", "Lao PDR", "share_of_stock", "30", "percent", "all", "30% of vehicles in use by 2030",
            "la-gov-resolution-08-2021-ev-policy"] in rows
    assert {row[1] for row in rows[1:]} == {"LA"}


def test_a_policy_page_costs_the_same_queries_with_one_target_or_forty(client, session, count_queries):
    load(session, policies=[policy_record("target-few", editorial_state="published", targets=[SALES_2030]),
                            policy_record("target-many", editorial_state="published",
                                          targets=[POINTS_2025 | {"year": 2025 + i % 50} for i in range(40)])])
    session.commit()
    counts = []
    for key in ("target-few", "target-many"):
        count_queries.reset()
        assert client.get(f"/policies/{key}").status_code == 200
        counts.append(count_queries.count)
    assert counts[0] == counts[1], count_queries.statements
