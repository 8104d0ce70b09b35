"""Mail to staff through a real SMTP sink: review requests in the reviewer's language, reset links that work
once, retries on temporary refusals, nothing for a rolled-back change."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.notifications.conftest import POLICY
from tracker.db import unit_of_work
from tracker.models import StaffMail, User
from tracker.services import accounts, editing

# Every test here starts a real SMTP sink and an HTTP receiver on 127.0.0.1 (servers: slow).
pytestmark = pytest.mark.slow


def body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_a_submission_mails_each_reviewer_in_their_language_and_a_publication_mails_the_editor(notify, smtp_sink):
    with unit_of_work(notify.session()) as session:
        session.get(User, notify.reviewer.id).language = "lo"
        editing.create_policy(session, {"key": "staff-mail", "country": "LA", "instrument": "decree",
                                        "title_en": "Decree on fleet EVs", "title_lo": "ດຳລັດ ວ່າດ້ວຍ ລົດໄຟຟ້າ"},
                              notify.editor)
    with notify.app.test_request_context(), unit_of_work(notify.session()) as session:
        editing.set_editorial_state(session, "policy", "staff-mail", "in_review", notify.editor)
    notify.work()
    [request] = smtp_sink.wait_for(1)
    assert request["To"] == "reviewer@example.org"
    # The reviewer reads Lao: the subject and body are in Lao, with the Lao title.
    assert "ດຳລັດ ວ່າດ້ວຍ ລົດໄຟຟ້າ" in request["Subject"]
    text = body_text(request)
    assert "https://tracker.example/policies/staff-mail" in text and "https://tracker.example/review" in text
    assert "editor@example.org" in text  # the editor has no display name: the address stands in

    with notify.app.test_request_context(), unit_of_work(notify.session()) as session:
        editing.set_editorial_state(session, "policy", "staff-mail", "published", notify.reviewer)
    notify.work()
    published = smtp_sink.wait_for(2)[1]
    assert published["To"] == "editor@example.org"
    assert published["Subject"] == "Published: Decree on fleet EVs"
    with notify.session() as session:
        assert {mail.state for mail in session.scalars(select(StaffMail))} == {"sent"}


def test_a_reset_link_from_the_mail_works_once(notify, smtp_sink):
    client = notify.app.test_client()
    page = client.get("/password-reset")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.post("/password-reset", data={"csrf_token": token, "email": "Editor@Example.org"}).status_code == 200
    notify.work()
    [message] = smtp_sink.wait_for(1)
    link = re.search(r"https://tracker\.example(/password-reset/\S+)", body_text(message)).group(1)
    form = client.get(link)
    assert form.status_code == 200
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.get_data(as_text=True)).group(1)
    new_password = "a new passphrase for the editor"
    fields = {"csrf_token": csrf}
    for name in re.findall(r'<input[^>]*type="password"[^>]*name="([^"]+)"', form.get_data(as_text=True)) or \
            re.findall(r'<input[^>]*name="([^"]+)"[^>]*type="password"', form.get_data(as_text=True)):
        fields[name] = new_password
    assert client.post(link, data=fields).status_code == 302
    with notify.session() as session:
        user = session.scalars(select(User).where(User.email == "editor@example.org")).one()
        assert accounts.authenticate(session, "editor@example.org", new_password, "192.0.2.7").id == user.id
        session.rollback()
    # Used once: the same link is refused.
    assert client.get(link).status_code == 400


def test_a_temporary_refusal_is_retried_and_a_rolled_back_change_sends_nothing(notify, smtp_sink):
    smtp_sink.handler.refuse.append("451 Try again later")
    with unit_of_work(notify.session()) as session:
        editing.create_policy(session, POLICY | {"key": "retried", "title_en": "Retried"}, notify.editor)
    with notify.app.test_request_context(), unit_of_work(notify.session()) as session:
        editing.set_editorial_state(session, "policy", "retried", "in_review", notify.editor)
    notify.work()
    with notify.session() as session:
        [mail] = session.scalars(select(StaffMail)).all()
        assert (mail.state, mail.attempts) == ("pending", 1) and "451" in mail.last_error
        # Due again now, as the schedule says in a minute.
        mail.next_attempt_at = mail.created_at
        session.commit()
    notify.work()
    assert len(smtp_sink.wait_for(1)) == 1
    session = notify.session()
    with notify.app.test_request_context():
        editing.set_editorial_state(session, "policy", "retried", "draft", notify.reviewer, reason="Not yet.")
    session.rollback()
    session.close()
    notify.work()
    assert len(smtp_sink.messages) == 1
