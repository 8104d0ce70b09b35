"""Attached documents as staff and readers meet them: attach through the form and the API, refusals that store
nothing, safe downloads, extraction by the worker, passage search, visibility, removal, versions compared."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from tests.documents import fixtures
from tests.factories import load, policy_record
from tracker.documents.worker import ExtractionWorker
from tracker.models import AuditEntry, Document, DocumentPassage, NotificationEvent, Policy, StoredFile
from tracker.models.types import utcnow

DEMO_POLICY = "la-gov-resolution-08-2021-ev-policy"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Fixture files made once for the module (text and HTML need no browser)."""
    return tmp_path_factory.mktemp("document-files")


def csrf_for(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def attach(client, key: str, data: bytes, filename: str, **fields):
    """Post the attach form as a browser would."""
    token = csrf_for(client, f"/policies/{key}/documents/new")
    form = {"csrf_token": token, "role": "original", "language": "en", "version_label": "", "issued_on": "",
            "source_url": "", "reason": ""}
    form.update(fields)
    form["file"] = (io.BytesIO(data), filename)
    return client.post(f"/policies/{key}/documents/new", data=form, content_type="multipart/form-data")


def extract_all(app) -> list:
    return ExtractionWorker(app).run_until_idle()


def text_of(response) -> str:
    import html

    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def counts(session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(StoredFile)),
            session.scalar(select(func.count()).select_from(Document)))


def test_an_editor_attaches_a_text_and_readers_find_its_clause(app, client, session, login_as, files, search_index):
    login_as("editor")
    data = fixtures.text_file(files).read_bytes()
    response = attach(client, DEMO_POLICY, data, "decree.txt", version_label="Adopted", issued_on="2021-03-05",
                      source_url="https://laoofficialgazette.gov.la/decree")
    assert response.status_code == 302
    document = session.scalars(select(Document).order_by(Document.id.desc())).first()
    assert response.headers["Location"].endswith(f"/documents/{document.id}")
    assert (document.media_type, document.status, document.language, document.role) == (
        "text/plain", "pending", "en", "original")
    assert document.issued_on.isoformat() == "2021-03-05"
    # Audited on the policy, and followers hear of it.
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "document_add")).one()
    assert entry.details["document"]["sha256"] == document.sha256
    assert session.scalars(select(NotificationEvent).where(NotificationEvent.type == "policy.document_added")).one()

    outcomes = extract_all(app)
    assert [o.status for o in outcomes] == ["done"]
    session.expire_all()
    assert document.status == "done" and document.pages == len(fixtures.ENGLISH_PAGES) and document.characters > 1000
    search_index.sync()

    # The reader page shows the text by page, with anchors, and searches in it.
    client.get("/logout")
    login_as(None)
    page = client.get(f"/documents/{document.id}?q=registered+with+the+Ministry")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="page-3"' in body and "<mark>" in body
    assert fixtures.ENGLISH_PHRASE in text_of(page)

    # Record search shows the policy with the passage (page number, highlight), matched in the text.
    found = client.get('/api/v1/search?q="charging stations shall be registered"').get_json()
    hit = next(h for h in found["hits"] if h["key"] == DEMO_POLICY)
    assert hit["matched_in"] == "text"
    assert hit["passages"] and hit["passages"][0]["document_id"] == document.id
    assert "<mark>" in hit["passages"][0]["highlight"]
    results = client.get('/search?q="charging stations shall be registered"')
    assert "Found in the text of the instrument" in text_of(results)

    passages = client.get("/api/v1/search/passages", query_string={
        "q": '"shall be registered with the Ministry of Energy and Mines"'}).get_json()
    assert passages["total"] >= 1
    phrase_page = next(number for number, blocks in enumerate(fixtures.ENGLISH_PAGES, 1)
                       if any(fixtures.ENGLISH_PHRASE in block.text for block in blocks))
    assert passages["hits"][0]["page"] == phrase_page
    assert passages["hits"][0]["url"].endswith(f"/documents/{document.id}#page-{phrase_page}")
    assert all(h["document_id"] == document.id for h in passages["hits"])


def test_the_same_bytes_are_stored_once_and_not_attached_twice_to_one_policy(app, client, session, login_as, files):
    login_as("editor")
    data = fixtures.text_file(files).read_bytes()
    load(session, policies=[policy_record("second-policy", editorial_state="draft")])
    session.commit()
    before = counts(session)
    assert attach(client, DEMO_POLICY, data, "decree.txt").status_code == 302
    assert attach(client, "second-policy", data, "copy.txt").status_code == 302
    assert counts(session) == (before[0] + 1, before[1] + 2)
    again = attach(client, DEMO_POLICY, data, "again.txt")
    assert again.status_code == 400
    assert "already attached to this policy" in text_of(again)
    assert counts(session) == (before[0] + 1, before[1] + 2)


def _docx_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b"\0" * (300 * 1024 * 1024))
    return out.getvalue()


BAD_FILES = {
    "png-named-pdf": (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "scan.pdf", "not a PDF, DOCX, HTML or plain-text"),
    "empty": (b"", "empty.pdf", "The file is empty"),
    "binary-named-txt": (bytes(range(256)) * 8, "notes.txt", "neither text in UTF-8 nor a known document type"),
    "corrupt-pdf": (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "broken.pdf", "damaged"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_get_a_clear_message_and_nothing_is_stored(client, session, login_as, name):
    login_as("editor")
    data, filename, message = BAD_FILES[name]
    before = counts(session)
    response = attach(client, DEMO_POLICY, data, filename)
    assert response.status_code == 400
    assert message in text_of(response)
    assert counts(session) == before


def encrypted_pdf(folder) -> bytes:
    """A PDF protected by a password (made without a browser: this module may run beside browser tests)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(fixtures.many_pages_pdf(folder, 2, text=True)))
    writer.encrypt(user_password="secret", owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.slow
def test_archive_bombs_encrypted_and_overlong_pdfs_are_refused(app, client, session, login_as, tmp_path):
    login_as("editor")
    before = counts(session)
    bomb = attach(client, DEMO_POLICY, _docx_bomb(), "bomb.docx")
    assert bomb.status_code == 400 and "far more data" in text_of(bomb)
    encrypted = attach(client, DEMO_POLICY, encrypted_pdf(tmp_path), "locked.pdf")
    assert encrypted.status_code == 400 and "password" in text_of(encrypted)
    app.config["DOCUMENT_MAX_PAGES"] = 50
    try:
        long = attach(client, DEMO_POLICY, fixtures.many_pages_pdf(tmp_path, 120).read_bytes(), "long.pdf")
    finally:
        app.config["DOCUMENT_MAX_PAGES"] = 2000
    assert long.status_code == 400 and "the limit is 50" in text_of(long)
    assert counts(session) == before


def test_a_file_over_the_limit_gets_a_413_in_the_readers_language(app, client, session, login_as):
    login_as("editor")
    before = counts(session)
    app.config["DOCUMENT_MAX_BYTES"] = 4096
    try:
        response = attach(client, DEMO_POLICY, b"a" * 500_000, "big.txt")
        client.set_cookie("lang", "lo")
        lao = attach(client, DEMO_POLICY, b"a" * 500_000, "big.txt")
    finally:
        app.config["DOCUMENT_MAX_BYTES"] = 25 * 1024 * 1024
    assert response.status_code == 413
    assert "larger than the limit" in text_of(response)
    assert lao.status_code == 413 and "larger than the limit" not in text_of(lao)
    assert re.search("[\u0e80-\u0eff]", text_of(lao).split("4 kB")[0][-200:])
    assert counts(session) == before


def test_files_are_served_with_their_sniffed_type_and_safe_headers(app, client, session, login_as, files):
    login_as("editor")
    html_bytes = fixtures.html_file(files).read_bytes()
    # An HTML file whose name pretends to be text: its bytes decide.
    assert attach(client, DEMO_POLICY, html_bytes, "decree.html").status_code == 302
    document = session.scalars(select(Document).order_by(Document.id.desc())).first()
    login_as(None)
    response = client.get(f"/documents/{document.id}/file")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.get_data() == html_bytes
    assert response.headers["Content-Length"] == str(len(html_bytes))


def test_documents_of_unpublished_policies_are_invisible_to_anonymous_readers(app, client, session, login_as, files,
                                                                             search_index):
    load(session, policies=[policy_record("hidden-draft", editorial_state="draft")])
    session.commit()
    login_as("editor")
    assert attach(client, "hidden-draft", fixtures.text_file(files).read_bytes(), "decree.txt").status_code == 302
    document = session.scalars(select(Document).order_by(Document.id.desc())).first()
    extract_all(app)
    search_index.sync()
    staff_view = client.get(f"/documents/{document.id}?q=batteries+recycled")
    assert staff_view.status_code == 200 and "<mark>" in staff_view.get_data(as_text=True)
    login_as(None)
    for path in (f"/documents/{document.id}", f"/documents/{document.id}/file", f"/api/v1/documents/{document.id}",
                 f"/api/v1/documents/{document.id}/text", f"/api/v1/documents/{document.id}/file",
                 "/api/v1/policies/hidden-draft/documents"):
        assert client.get(path).status_code == 404, path
    anonymous = client.get("/api/v1/search/passages", query_string={"q": "batteries recycled"}).get_json()
    assert anonymous["total"] == 0
    assert "hidden-draft" not in client.get("/search?q=batteries+recycled").get_data(as_text=True)


def test_removing_a_document_removes_its_passages_from_search(app, client, session, login_as, files, search_index):
    login_as("editor")
    attach(client, DEMO_POLICY, fixtures.text_file(files).read_bytes(), "decree.txt")
    document = session.scalars(select(Document).order_by(Document.id.desc())).first()
    extract_all(app)
    search_index.sync()
    query = {"q": "batteries recycled waste"}
    assert client.get("/api/v1/search/passages", query_string=query).get_json()["total"] > 0
    token = csrf_for(client, f"/documents/{document.id}/remove")
    response = client.post(f"/documents/{document.id}/remove", data={"csrf_token": token, "reason": "Wrong file"})
    assert response.status_code == 302
    search_index.sync()
    assert client.get("/api/v1/search/passages", query_string=query).get_json()["total"] == 0
    assert session.scalar(select(func.count()).select_from(DocumentPassage)
                          .where(DocumentPassage.document_id == document.id)) == 0
    assert session.get(StoredFile, document.sha256) is None
    assert search_index.check_passages().clean
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "document_remove")).one()
    assert entry.reason == "Wrong file"


def test_search_check_finds_passages_missing_from_the_index(app, client, session, login_as, files, search_index):
    from tracker.search.runtime import runtime_of

    login_as("editor")
    attach(client, DEMO_POLICY, fixtures.text_file(files).read_bytes(), "decree.txt")
    extract_all(app)
    search_index.sync()
    assert search_index.check_passages().clean
    runtime = runtime_of(app)
    _, index = runtime.passage_store.open_live()
    passage = session.scalars(select(DocumentPassage).order_by(DocumentPassage.id)).first()
    writer = index.writer()
    writer.delete_by_term("id", f"passage:{passage.id}")
    writer.commit()
    drift = search_index.check_passages()
    assert drift.missing == [f"passage:{passage.id}"]


def test_a_worker_whose_lease_ran_out_never_writes_over_a_newer_extraction(app, client, session, login_as, files):
    login_as("editor")
    attach(client, DEMO_POLICY, fixtures.text_file(files).read_bytes(), "decree.txt")
    worker = ExtractionWorker(app)
    stale = worker.claim()
    assert stale is not None
    # The first worker froze: its lease runs out and another worker takes the document over.
    document = session.get(Document, stale.document_id)
    document.claimed_until = utcnow()
    session.commit()
    fresh = worker.claim()
    assert fresh is not None and fresh.document_id == stale.document_id and fresh.run > stale.run
    assert worker.extract(fresh).status == "done"
    assert worker.extract(stale).status == "superseded"
    session.expire_all()
    seqs = session.scalars(select(DocumentPassage.seq).where(DocumentPassage.document_id == document.id)).all()
    assert seqs and len(seqs) == len(set(seqs))


def test_versions_are_compared_paragraph_by_paragraph(app, client, session, login_as):
    login_as("editor")
    first = ("Article 1 Purpose\n\nThis decree promotes electric vehicles.\n\n"
             "Article 2 Registration\n\nOwners register a vehicle within 30 days of its import.\n")
    second = ("Article 1 Purpose\n\nThis decree promotes electric vehicles.\n\n"
              "Article 2 Registration\n\nOwners register a vehicle within 60 days of its import.\n\n"
              "Article 3 Charging\n\nEDL supplies charging stations at the state tariff.\n")
    attach(client, DEMO_POLICY, first.encode(), "draft-1.txt", role="draft", version_label="Draft 1")
    old = session.scalars(select(Document).order_by(Document.id.desc())).first()
    token = csrf_for(client, f"/documents/{old.id}/replace")
    response = client.post(f"/documents/{old.id}/replace", content_type="multipart/form-data", data={
        "csrf_token": token, "role": "draft", "language": "en", "version_label": "Draft 2",
        "file": (io.BytesIO(second.encode()), "draft-2.txt")})
    assert response.status_code == 302
    new = session.scalars(select(Document).order_by(Document.id.desc())).first()
    assert new.series_id == old.id
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "document_replace")).one()
    extract_all(app)
    page = client.get(f"/policies/{DEMO_POLICY}/compare?from={old.id}&to={new.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<del>30</del>" in body and "<ins>60</ins>" in body
    assert "2 paragraphs added" in text_of(page)
    data = client.get(f"/api/v1/policies/{DEMO_POLICY}/compare?from={old.id}&to={new.id}").get_json()
    assert data["summary"]["added"] == 2 and data["summary"]["changed"] == 1
    assert data["complete"] is True
    bad = client.get(f"/api/v1/policies/{DEMO_POLICY}/compare?from={old.id}&to=x")
    assert bad.status_code == 400 and "to" in bad.get_json()["error"]["errors"]


def test_the_api_attaches_lists_and_removes_documents(app, client, session, api_token, files):
    headers = api_token("editor")
    data = fixtures.text_file(files).read_bytes()
    response = client.post(f"/api/v1/policies/{DEMO_POLICY}/documents", headers=headers,
                           content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), "decree.txt"), "role": "official_translation",
                                 "language": "en", "date": "2021-03"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending" and len(body["sha256"]) == 64 and body["date"] == "2021-03"
    assert response.headers["Location"].endswith(f"/api/v1/documents/{body['id']}")
    listed = client.get(f"/api/v1/policies/{DEMO_POLICY}/documents").get_json()
    assert [d["id"] for d in listed["documents"]] == [body["id"]]
    missing = client.post(f"/api/v1/policies/{DEMO_POLICY}/documents", headers=headers,
                          content_type="multipart/form-data", data={"role": "original", "language": "en"})
    assert missing.status_code == 400 and "file" in missing.get_json()["error"]["errors"]
    wrong = client.post(f"/api/v1/policies/{DEMO_POLICY}/documents", headers=headers,
                        content_type="multipart/form-data",
                        data={"file": (io.BytesIO(b"x"), "a.txt"), "role": "poster", "language": "xx",
                              "date": "2021-13"})
    assert wrong.status_code == 400 and set(wrong.get_json()["error"]["errors"]) >= {"role", "language", "date"}
    partner = client.delete(f"/api/v1/documents/{body['id']}", headers=api_token("partner"))
    assert partner.status_code == 403
    assert client.delete(f"/api/v1/documents/{body['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/documents/{body['id']}").status_code == 404


def test_anonymous_visitors_and_partners_cannot_attach(client, login_as, files):
    login_as(None)
    assert client.get(f"/policies/{DEMO_POLICY}/documents/new").status_code in (302, 401)
    login_as("partner")
    assert client.get(f"/policies/{DEMO_POLICY}/documents/new").status_code == 403


def test_the_policy_page_lists_its_texts_and_offers_a_comparison(app, client, session, login_as):
    login_as("editor")
    attach(client, DEMO_POLICY, b"Article 1\n\nFirst text.\n", "one.txt", version_label="Draft 1", role="draft")
    attach(client, DEMO_POLICY, "ມາດຕາ 1\n\nລົດໄຟຟ້າ.\n".encode(), "ສອງ.txt", version_label="ສະບັບ 2",
           language="lo")
    extract_all(app)
    login_as(None)
    page = client.get(f"/policies/{DEMO_POLICY}")
    text = text_of(page)
    assert "Texts" in text and "one.txt" in text and "ສອງ.txt" in text
    assert "Compare two versions" in text
    assert "not the adopted text" in text
    policy = session.scalars(select(Policy).where(Policy.key == DEMO_POLICY)).one()
    assert policy is not None


def test_the_document_pages_read_wholly_in_lao(app, client, session, login_as, search_index):
    from tests.i18n.test_i18n_pages import ENGLISH, visible_texts

    login_as("editor")
    client.set_cookie("lang", "lo")
    attach(client, DEMO_POLICY, "ມາດຕາ 1 ຈຸດປະສົງ\n\nດຳລັດນີ້ ສົ່ງເສີມ ລົດໄຟຟ້າ.\n".encode(), "ຮ່າງ-1.txt",
           role="draft", language="lo", version_label="ສະບັບຮ່າງ 1")
    old = session.scalars(select(Document).order_by(Document.id.desc())).first()
    attach(client, DEMO_POLICY, "ມາດຕາ 1 ຈຸດປະສົງ\n\nດຳລັດນີ້ ສົ່ງເສີມ ລົດໄຟຟ້າ ແລະ ສະຖານີສາກ.\n".encode(),
           "ຮ່າງ-2.txt", role="draft", language="lo", version_label="ສະບັບຮ່າງ 2")
    new = session.scalars(select(Document).order_by(Document.id.desc())).first()
    extract_all(app)
    search_index.sync()
    pages = [f"/documents/{new.id}?q=ສະຖານີສາກ", f"/policies/{DEMO_POLICY}/compare?from={old.id}&to={new.id}",
             f"/policies/{DEMO_POLICY}", f"/documents/{new.id}/edit", f"/documents/{new.id}/replace",
             f"/documents/{new.id}/remove", f"/policies/{DEMO_POLICY}/documents/new", "/search?q=ສະຖານີສາກ"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert '<html lang="lo">' in html
        assert sorted({text for text in visible_texts(html) if text in ENGLISH}) == [], path
    compare = text_of(client.get(pages[1]))
    assert "ເພີ່ມ" in compare and "ໜ້າ 1" in compare
    reader = text_of(client.get(pages[0]))
    assert "ນີ້ແມ່ນສະບັບຮ່າງ" in reader and "ມີ 1 ວັກທີ່ກົງກັນ" in reader


@pytest.mark.parametrize("lang", ["en", "lo"])
def test_followers_are_told_of_a_new_text_in_their_language(app, client, session, login_as, lang):
    from tracker.notifications.messages import notification_email

    login_as("editor")
    attach(client, DEMO_POLICY, "ມາດຕາ 1\n\nລົດໄຟຟ້າ.\n".encode(), "ດຳລັດ.txt", role="official_translation",
           language="lo")
    event = session.scalars(select(NotificationEvent).where(NotificationEvent.type == "policy.document_added")).one()
    with app.test_request_context("/"):
        message = notification_email(to="partner@example.org", lang=lang, event_type=event.type,
                                     data=event.payload,
                                     delivery_public_id="dlv_test", subscription_public_id="sub_test")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    document = event.payload["document"]
    assert document["filename"] == "ດຳລັດ.txt" and document["urls"]["html"].endswith(f"/documents/{document['id']}")
    assert document["urls"]["html"] in text and document["urls"]["html"] in html
    if lang == "lo":
        assert str(message["Subject"]).startswith("ມີເອກະສານແນບໃໝ່")
        assert "ສະບັບແປທາງການ" in text and "ພາສາລາວ" not in text and "ລາວ" in text
        assert "official_translation" not in text and "New text" not in text
    else:
        assert str(message["Subject"]).startswith("New text attached")
        assert "Official translation, Lao" in text


def test_provisions_come_before_the_table_of_contents_and_sort_by_page_keeps_reading_order(
        app, client, session, login_as, files, search_index):
    login_as("editor")
    attach(client, DEMO_POLICY, fixtures.text_file(files).read_bytes(), "decree.txt")
    extract_all(app)
    search_index.sync()
    hits = client.get("/api/v1/search/passages", query_string={"q": "batteries"}).get_json()["hits"]
    kinds = [hit["toc"] for hit in hits]
    # The contents line "Article 5 Batteries" matches too, but a reader wants the article itself first.
    assert False in kinds and True in kinds, hits
    assert kinds == sorted(kinds), kinds
    by_page = client.get("/api/v1/search/passages",
                         query_string={"q": "electric vehicles", "sort": "page"}).get_json()["hits"]
    pages = [hit["page"] for hit in by_page]
    assert len(pages) > 2 and pages == sorted(pages), pages


def test_a_parse_that_runs_out_of_time_is_marked_failed_with_its_reason_for_staff(
        app, client, session, login_as, files, monkeypatch):
    login_as("editor")
    attach(client, DEMO_POLICY, fixtures.text_file(files).read_bytes(), "decree.txt")
    monkeypatch.setitem(app.config, "DOCUMENT_WALL_SECONDS", 0.001)
    monkeypatch.setitem(app.config, "DOCUMENT_ATTEMPTS", 1)
    outcomes = extract_all(app)
    assert [outcome.status for outcome in outcomes] == ["failed"]
    document = session.scalars(select(Document).order_by(Document.id.desc())).first()
    session.refresh(document)
    assert document.status == "failed" and document.status_reason
    assert session.scalar(select(func.count()).select_from(DocumentPassage)
                          .where(DocumentPassage.document_id == document.id)) == 0
    assert document.status_reason == "timeout"
    page = text_of(client.get(f"/policies/{DEMO_POLICY}"))
    assert "the reading of the file ran out of time" in page, page[page.find("Texts"):][:600]
    client.set_cookie("lang", "lo")
    lao = text_of(client.get(f"/policies/{DEMO_POLICY}"))
    assert "timeout" not in lao and "ran out of time" not in lao
    client.set_cookie("lang", "en")
    # The record itself is untouched and readable; the file can be extracted again by staff.
    monkeypatch.setitem(app.config, "DOCUMENT_WALL_SECONDS", 60)
    token = csrf_for(client, f"/policies/{DEMO_POLICY}")
    again = client.post(f"/documents/{document.id}/extract", data={"csrf_token": token})
    assert again.status_code == 302
    assert [outcome.status for outcome in extract_all(app)] == ["done"]


def test_a_key_with_a_nul_character_names_no_policy(client):
    response = client.get("/api/v1/search/passages", query_string={"q": "battery", "policy": "a\x00b"})
    assert response.status_code == 404
    assert client.get("/api/v1/policies/a%00b").status_code == 404


def test_extraction_reasons_are_told_in_the_readers_language(app):
    from flask_babel import force_locale

    from tracker.services.documents import explain_reason

    stored = ("page 3: legacy Lao font; OCR is off; page 7: no text layer; "
              "tesseract failed (exit status 1): Error; bad image")
    with app.test_request_context():
        assert explain_reason(stored) == ("page 3: the page is typed in an old Lao font; text recognition (OCR) is "
                                          "switched off; page 7: the page is an image with no text; tesseract "
                                          "failed (exit status 1): Error; bad image")
        assert explain_reason("the file cannot be read (encrypted)") == (
            "The PDF is protected by a password; attach an unprotected copy")
        with force_locale("lo"):
            lao = explain_reason(stored)
            assert lao.startswith("ໜ້າ 3: ໜ້ານີ້ພິມດ້ວຍຟອນລາວແບບເກົ່າ; ") and "ໜ້າ 7: ໜ້ານີ້ເປັນຮູບພາບທີ່ບໍ່ມີຂໍ້ຄວາມ" in lao
            assert "ໄປ 2 ເທື່ອ" in explain_reason("the extraction stopped 2 times without a result (...)")
