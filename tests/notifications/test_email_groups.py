"""Email per subscription: one message per address, language and cadence for an event, naming every
subscription it answers, whose one-click link stops exactly those; bursts of edits to one policy coalesced
into their net change (status steps never dropped, webhooks still told of every event); a plain
List-Unsubscribe header on the wire; Lao messages free of vocabulary codes and ISO dates."""
from __future__ import annotations

import email.policy
import json
import re
import time
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from tests.notifications.conftest import POLICY
from tracker.models import Delivery, Jurisdiction, Subscription
from tracker.notifications import digests, messages
from tracker.notifications.payloads import policy_payload
from tracker.notifications.tokens import read_unsubscribe_token
from tracker.notifications.worker import NO_NET_CHANGE

# Every test here starts a real SMTP sink (and some an HTTP receiver) on 127.0.0.1 (servers: slow).
pytestmark = pytest.mark.slow

URL = re.compile(r"^<(https://tracker\.example/unsubscribe/([A-Za-z0-9_.\-]+))>$")
WINDOW = 1.0


def _raw(smtp_sink) -> list[bytes]:
    return [bytes(envelope.original_content or envelope.content) for envelope in smtp_sink.handler.envelopes]


def _one_click(message) -> tuple[str, list[str]]:
    """The List-Unsubscribe URL of a parsed message and the subscription ids its token names."""
    found = URL.match(str(message["List-Unsubscribe"]))
    assert found, message["List-Unsubscribe"]
    return found[1], found[2]


def _named(notify, token: str) -> set[str]:
    with notify.app.app_context():
        return set(read_unsubscribe_token(token))


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def _digest(notify, cadence: str = "daily") -> dict[str, int]:
    with notify.app.app_context():
        notify.worker.run_until_idle()
        return digests.send_digests(notify.worker, cadence)


def _wait_window(notify) -> None:
    """Run the worker past the coalescing window (nothing immediate is due before it ends)."""
    time.sleep(WINDOW + 0.2)
    notify.wait_until_done()


# ---------------------------------------------------------------------------------------------------
# The header on the wire


def _check_header_bytes(raw: bytes, public_ids: set[str], notify) -> None:
    for policy in (email.policy.default, email.policy.strict):
        parsed = BytesParser(policy=policy).parsebytes(raw)
        url, token = _one_click(parsed)
        assert "=?" not in str(parsed["List-Unsubscribe"])
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert _named(notify, token) == public_ids
        # The same URL, verbatim, is the link in the text for readers.
        assert url in _text(parsed)
    line = next(line for line in raw.splitlines() if line.startswith(b"List-Unsubscribe:"))
    assert line.startswith(b"List-Unsubscribe: <https://tracker.example/unsubscribe/") and line.endswith(b">")


def test_list_unsubscribe_is_one_plain_url_through_smtp(notify, smtp_sink):
    policy_sub = notify.subscribe(email_address="partner@gggi.example", language="lo")
    country_sub = notify.subscribe(email_address="partner@gggi.example", language="lo", kind="country", value="LA")
    notify.change_status("in_force")
    notify.wait_until_done()
    [raw] = _raw(smtp_sink)
    _check_header_bytes(raw, {policy_sub.public_id, country_sub.public_id}, notify)


def test_list_unsubscribe_is_one_plain_url_in_eml_files(notify, tmp_path):
    notify.app.config.update(MAIL_HOST=None, MAIL_OUTBOX_PATH=str(tmp_path / "outbox"))
    subscription = notify.subscribe(email_address="files@example.org", cadence="daily", language="lo")
    notify.change_status("in_force")
    assert _digest(notify)["emails"] == 1
    [path] = (tmp_path / "outbox").glob("*.eml")
    _check_header_bytes(path.read_bytes(), {subscription.public_id}, notify)


# ---------------------------------------------------------------------------------------------------
# Which messages an address gets


def test_subscriptions_of_one_address_language_and_cadence_make_one_message_naming_each(notify, smtp_sink):
    policy_sub = notify.subscribe(email_address="Partner@Example.org")
    country_sub = notify.subscribe(email_address="partner@example.org", kind="country", value="LA")
    notify.change_status("in_force")
    notify.wait_until_done()
    [message] = smtp_sink.wait_for(1)
    text, html = _text(message), _html(message)
    for description in ("the policy “EV import duty exemption”", "policies of Lao PDR"):
        assert description in text and description in html
    # Each subscription has its own unsubscribe link; the one-click link stops both.
    links = re.findall(r"https://tracker\.example/unsubscribe/[A-Za-z0-9_.\-]+", text)
    tokens = {link.rsplit("/", 1)[1] for link in links}
    named = [_named(notify, token) for token in tokens]
    assert {policy_sub.public_id} in named and {country_sub.public_id} in named
    _, token = _one_click(message)
    assert _named(notify, token) == {policy_sub.public_id, country_sub.public_id}
    with notify.session() as session:
        assert sorted(session.scalars(select(Delivery.state))) == ["delivered", "delivered"]


def test_two_languages_make_two_messages_each_in_its_own(notify, smtp_sink):
    english = notify.subscribe(email_address="partner@example.org", language="en")
    lao = notify.subscribe(email_address="partner@example.org", language="lo", kind="country", value="LA")
    notify.change_status("in_force")
    notify.wait_until_done()
    messages_ = smtp_sink.wait_for(2)
    assert len(messages_) == 2
    by_token = {frozenset(_named(notify, _one_click(m)[1])): m for m in messages_}
    assert POLICY["title_en"] in by_token[frozenset({english.public_id})]["Subject"]
    assert POLICY["title_lo"] in by_token[frozenset({lao.public_id})]["Subject"]


def test_immediate_and_daily_subscriptions_of_one_address_are_told_separately(notify, smtp_sink):
    now = notify.subscribe(email_address="partner@example.org")
    daily = notify.subscribe(email_address="partner@example.org", kind="all", value=None, cadence="daily")
    notify.change_status("in_force", note="Gazetted.")
    notify.work()
    [immediate] = smtp_sink.wait_for(1)
    assert _named(notify, _one_click(immediate)[1]) == {now.public_id}
    assert _digest(notify)["emails"] == 1
    digest = smtp_sink.wait_for(2)[1]
    assert _named(notify, _one_click(digest)[1]) == {daily.public_id}
    assert "Gazetted." in _text(digest)


def test_a_digest_lists_each_change_once_and_names_the_subscriptions_it_answers(notify, smtp_sink):
    subs = [notify.subscribe(email_address="digest@example.org", cadence="weekly", kind=kind, value=value)
            for kind, value in (("policy", POLICY["key"]), ("country", "LA"), ("all", None))]
    notify.change_status("in_force", note="Only once, please.")
    assert _digest(notify, "weekly")["emails"] == 1
    [message] = smtp_sink.wait_for(1)
    text = _text(message)
    assert text.count("Only once, please.") == 1
    assert "1" in message["Subject"]
    assert _named(notify, _one_click(message)[1]) == {s.public_id for s in subs}
    assert "every policy change" in text and "policies of Lao PDR" in text


# ---------------------------------------------------------------------------------------------------
# Coalescing


@pytest.fixture
def window(notify):
    notify.app.config["NOTIFY_COALESCE_SECONDS"] = WINDOW
    return WINDOW


def test_a_burst_of_edits_makes_one_message_with_the_net_change(notify, smtp_sink, receiver, window):
    notify.update_policy({"valid_to": "2030-12-31"})
    notify.work()
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    notify.subscribe(email_address="partner@example.org")
    for year in (2031, 2032, 2033):
        notify.update_policy({"valid_to": f"{year}-12-31"})
    notify.work()
    # Webhooks are told of every event at once; the email waits for the window to close.
    # (sent in parallel: in any order)
    assert sorted(json.loads(r.body)["data"]["valid_to"] for r in receiver.requests) == \
        ["2031-12-31", "2032-12-31", "2033-12-31"]
    assert smtp_sink.messages == []
    _wait_window(notify)
    [message] = smtp_sink.wait_for(1)
    text = _text(message)
    assert "31 December 2033" in text and "was … to 31 December 2030" in text
    assert "2031" not in text and "2032" not in text
    assert len(receiver.requests) == 3


def test_a_burst_that_changes_nothing_sends_nothing_and_says_so(notify, smtp_sink, window):
    notify.update_policy({"valid_to": "2030-12-31"})
    notify.work()
    notify.subscribe(email_address="partner@example.org")
    notify.update_policy({"valid_to": "2031-12-31"})
    notify.update_policy({"valid_to": "2030-12-31"})
    _wait_window(notify)
    time.sleep(0.2)
    assert smtp_sink.messages == []
    with notify.session() as session:
        rows = session.execute(select(Delivery.state, Delivery.last_error)).all()
    assert [tuple(row) for row in rows] == [("delivered", NO_NET_CHANGE)] * 2


def test_status_steps_in_a_burst_are_each_reported(notify, smtp_sink, receiver, window):
    endpoint = notify.endpoint(receiver.base_url + "/h")
    notify.subscribe(channel="webhook", endpoint=endpoint, kind="all", value=None)
    notify.subscribe(email_address="partner@example.org")
    notify.change_status("in_force", effective_on="2024-06-01", note="Gazetted.")
    notify.change_status("suspended", effective_on="2024-07-01", note="Suspended by the court.")
    notify.work()
    assert len(receiver.requests) == 2 and smtp_sink.messages == []
    _wait_window(notify)
    [message] = smtp_sink.wait_for(1)
    text = _text(message)
    assert text.index("Gazetted.") < text.index("Suspended by the court.")
    assert "1 June 2024" in text and "1 July 2024" in text
    assert "2 updates" in message["Subject"]


# ---------------------------------------------------------------------------------------------------
# A partner with four subscriptions


def test_a_partner_with_four_subscriptions_gets_exactly_the_expected_messages(notify, smtp_sink):
    address = "partner@undp.example"
    subs = {
        ("en", "immediate"): notify.subscribe(email_address=address, language="en"),
        ("lo", "immediate"): notify.subscribe(email_address=address, language="lo", kind="country", value="LA"),
        ("en", "daily"): notify.subscribe(email_address=address, language="en", kind="all", value=None,
                                          cadence="daily"),
        ("lo", "daily"): notify.subscribe(email_address=address, language="lo", kind="topic",
                                          value="fiscal_incentives", cadence="daily"),
    }
    ids = {key: sub.public_id for key, sub in subs.items()}

    def answered(message) -> frozenset[str]:
        return frozenset(_named(notify, _one_click(message)[1]))

    # 1. A status change of the followed policy: each immediate subscription in its language.
    notify.change_status("in_force", note="Step one.")
    notify.work()
    first = smtp_sink.wait_for(2)
    assert sorted(map(answered, first), key=sorted) == sorted(
        [frozenset({ids["en", "immediate"]}), frozenset({ids["lo", "immediate"]})], key=sorted)
    # 2. A new Lao policy on another topic: only the country follower at once.
    notify.create_policy({**POLICY, "key": "la-charging-tariff", "title_en": "Charging tariff",
                          "title_lo": "ອັດຕາຄ່າສາກໄຟ", "topics": ["charging_infrastructure"]})
    notify.work()
    third = smtp_sink.wait_for(3)[2]
    assert answered(third) == {ids["lo", "immediate"]}
    assert "ອັດຕາຄ່າສາກໄຟ" in third["Subject"]
    # 3. The daily digests: one per language, each naming its own subscription.
    assert _digest(notify)["emails"] == 2
    digests_ = smtp_sink.wait_for(5)[3:]
    by_answer = {answered(m): m for m in digests_}
    assert set(by_answer) == {frozenset({ids["en", "daily"]}), frozenset({ids["lo", "daily"]})}
    english_digest = _text(by_answer[frozenset({ids["en", "daily"]})])
    assert "Step one." in english_digest and "Charging tariff" in english_digest
    lao_digest = _text(by_answer[frozenset({ids["lo", "daily"]})])
    assert "Step one." in lao_digest and "ອັດຕາຄ່າສາກໄຟ" not in lao_digest  # not its topic
    assert len(smtp_sink.messages) == 5

    # Each message's one-click POST stops exactly the subscriptions it names, and no other.
    client = notify.app.test_client()
    stopped: set[str] = set()
    for message in (first[0], digests_[0]):
        url, token = _one_click(message)
        response = client.post(url.removeprefix("https://tracker.example"), data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        stopped |= _named(notify, token)
        with notify.session() as session:
            gone = set(session.scalars(select(Subscription.public_id).where(Subscription.unsubscribed_at.is_not(None))))
        assert gone == stopped
    assert len(stopped) == 2

    # What is left still hears of the next change, and only that.
    notify.change_status("suspended", note="Step two.")
    notify.work()
    _digest(notify)
    later = smtp_sink.messages[5:]
    remaining = set(ids.values()) - stopped
    assert {answer for m in later for answer in answered(m)} <= remaining
    assert all("Step two." in _text(m) for m in later)


def test_the_unsubscribe_page_lists_what_would_stop_and_its_button_needs_the_csrf_token(notify, smtp_sink):
    notify.subscribe(email_address="partner@example.org")
    notify.subscribe(email_address="partner@example.org", kind="country", value="LA")
    notify.change_status("in_force")
    notify.wait_until_done()
    [message] = smtp_sink.wait_for(1)
    path = _one_click(message)[0].removeprefix("https://tracker.example")
    client = notify.app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "EV import duty exemption" in body and "Lao" in body and 'name="csrf_token"' in body
    assert client.post(path).status_code == 400  # the page's own form without its token
    with notify.session() as session:
        assert set(session.scalars(select(Subscription.unsubscribed_at))) == {None}
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)[1]
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    with notify.session() as session:
        assert None not in set(session.scalars(select(Subscription.unsubscribed_at)))


# ---------------------------------------------------------------------------------------------------
# Lao messages: no codes, no ISO dates


VOCABULARY = re.compile(r"\b(?:[a-z]+_[a-z_]+|LA|TH|ASEAN|incentive|in_force|adopted|suspended|policy\.[a-z_]+)\b")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _payloads(notify) -> dict[str, dict]:
    from tracker.models import Policy

    with notify.app.app_context(), notify.session() as session:
        policy = session.scalars(select(Policy).where(Policy.key == POLICY["key"])).one()
        base = lambda **extra: policy_payload(policy, **extra)  # noqa: E731
        return {
            "policy.status_changed": base(old_status="adopted", new_status="in_force", status="in_force",
                                          effective_date="2024-06-01", note="ໝາຍເຫດ", evidence_url="https://example.org/g"),
            "policy.published": base(),
            "policy.validity_changed": base(old_valid_from="2024-01-15", old_valid_to="2030-12-31",
                                            valid_from="2024-01-15", valid_to="2031-12-31"),
            "policy.sunset_upcoming": base(valid_to_end="2031-12-31", days_left=20, window_days=30),
            "policy.document_added": base(document={"filename": "ດຳລັດ.pdf", "role": "official_translation",
                                                    "language": "lo",
                                                    "urls": {"html": "https://tracker.example/documents/1"}}),
            "policy.comment_period_changed": base(change="extended", old_closes_on="2026-07-14",
                                                  closes_on="2026-07-31", opens_on="2026-06-01", step_position=2,
                                                  summary="Comment period extended"),
            "policy.comment_period_closing": base(closes_on="2026-07-31", opens_on="2026-06-01", days_left=5,
                                                  window_days=14, comment_address="comments@mpwt.example",
                                                  draft_url="https://example.org/draft"),
        }


def test_every_event_and_the_digest_in_lao_name_things_in_lao_and_write_dates_as_readers_do(notify):
    import datetime as dt

    payloads = _payloads(notify)
    with notify.app.app_context(), notify.session() as session:
        countries = {code: (en, lo) for code, en, lo in session.execute(
            select(Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo))}
    lao_country = countries["LA"][1]
    assert lao_country
    occurred = dt.datetime(2026, 7, 1, 3, 0, tzinfo=dt.UTC)
    answered = [messages.Answered("a" * 32, "ນະໂຍບາຍ")]
    rendered = []
    with notify.app.app_context():
        for language in ("lo", "en"):
            for event_type, data in payloads.items():
                rendered.append((language, event_type, messages.update_email(
                    to="reader@example.org", lang=language, answered=answered, message_public_id="msg_x",
                    items=[{"type": event_type, "data": data, "occurred_at": occurred}], countries=countries)))
            rendered.append((language, "digest", messages.digest_email(
                to="reader@example.org", lang=language, cadence="daily", digest_id="dig_x", answered=answered,
                items=[{"type": t, "data": d, "occurred_at": occurred} for t, d in payloads.items()],
                countries=countries)))
            rendered.append((language, "burst", messages.update_email(
                to="reader@example.org", lang=language, answered=answered, message_public_id="msg_y",
                items=[{"type": t, "data": payloads[t], "occurred_at": occurred}
                       for t in ("policy.status_changed", "policy.validity_changed")], countries=countries)))
    for language, what, message in rendered:
        parts = {"subject": str(message["Subject"]), "text": _text(message), "html": _html(message)}
        for name, content in parts.items():
            # Links are addresses, not prose: left out of the check.
            prose = re.sub(r"https?://\S+|href=\"[^\"]*\"|mailto:\S+|[\w.+-]+@[\w.-]+", "", content)
            assert not ISO_DATE.search(prose), (language, what, name, ISO_DATE.findall(prose))
            if language == "lo":
                assert not VOCABULARY.search(prose), (what, name, VOCABULARY.findall(prose))
        if language == "lo" and what not in ("policy.document_added",):
            assert lao_country in parts["text"] and lao_country in parts["html"], what
        if language == "en":
            assert countries["LA"][0] in parts["text"], what
