"""Every route x every role -> the status it must answer; a new route without a row here fails the suite."""
from __future__ import annotations

import secrets

import pytest
from itsdangerous import URLSafeTimedSerializer

POLICY = "la-gov-resolution-08-2021-ev-policy"
EVENT = "lao-ev-forum-2023"
ROLES = (None, "partner", "editor", "reviewer", "admin")

# endpoint -> (method, url, body, statuses for anonymous, partner, editor, reviewer, admin).
# HTML forms are posted with a valid CSRF token and an empty or minimal body, so a role that may act
# reaches validation (400) or the action itself (302); a role that may not gets 403, and an anonymous
# visitor is sent to the login page (302). The API answers 401 without a token.
ROUTES: dict[str, tuple[str, str, object, tuple[int, int, int, int, int]]] = {
    "pages.home": ("GET", "/", None, (200, 200, 200, 200, 200)),
    # Probes for load balancers: public, JSON, no session. The suite's index is caught up, so /readyz is 200.
    "health.healthz": ("GET", "/healthz", None, (200, 200, 200, 200, 200)),
    "health.readyz": ("GET", "/readyz", None, (200, 200, 200, 200, 200)),
    # Prometheus: by address (the test client is 127.0.0.1, allowed by default) or token, never by role.
    "metrics.metrics": ("GET", "/metrics", None, (200, 200, 200, 200, 200)),
    "pages.countries": ("GET", "/countries", None, (200, 200, 200, 200, 200)),
    "pages.country": ("GET", "/countries/LA", None, (200, 200, 200, 200, 200)),
    "dashboard.index": ("GET", "/dashboard", None, (200, 200, 200, 200, 200)),
    "dashboard.chart_csv": ("GET", "/dashboard/countries.csv", None, (200, 200, 200, 200, 200)),
    "downloads.policies_csv": ("GET", "/policies.csv?country=LA", None, (200, 200, 200, 200, 200)),
    "downloads.policies_xlsx": ("GET", "/policies.xlsx?country=LA", None, (200, 200, 200, 200, 200)),
    "downloads.policies_json": ("GET", "/policies.json?country=LA", None, (200, 200, 200, 200, 200)),
    "downloads.search_csv": ("GET", "/search.csv?q=charging", None, (200, 200, 200, 200, 200)),
    "downloads.search_xlsx": ("GET", "/search.xlsx?q=charging", None, (200, 200, 200, 200, 200)),
    # Releases of the whole dataset: public to read and download; only admins build one from the page.
    "data.index": ("GET", "/data", None, (200, 200, 200, 200, 200)),
    "data.build_release": ("POST", "/data/releases", {}, (302, 403, 403, 403, 302)),
    "data.download": ("GET", "/data/releases/999999/ev-policies-2026-01-01.json", None, (404, 404, 404, 404, 404)),
    "api.releases": ("GET", "/api/v1/releases", None, (200, 200, 200, 200, 200)),
    "policies.index": ("GET", "/policies", None, (200, 200, 200, 200, 200)),
    # The comparison matrix: public, as its table, its CSV and its API.
    "compare.index": ("GET", "/compare?dimension=kind&as_of=2024", None, (200, 200, 200, 200, 200)),
    "compare.download": ("GET", "/compare.csv?dimension=topic", None, (200, 200, 200, 200, 200)),
    "api.matrix": ("GET", "/api/v1/matrix?rows=country&cols=topic", None, (200, 200, 200, 200, 200)),
    "policies.detail": ("GET", f"/policies/{POLICY}", None, (200, 200, 200, 200, 200)),
    "policies.cite": ("GET", f"/policies/{POLICY}/cite.bib", None, (200, 200, 200, 200, 200)),
    # Policies side by side: public, published records only, whoever asks.
    "compare_policies.compare": ("GET", f"/compare/policies?keys={POLICY},la-ev-tax-package-2022", None,
                                 (200, 200, 200, 200, 200)),
    "compare_policies.download": ("GET", f"/compare/policies.csv?keys={POLICY},la-ev-tax-package-2022", None,
                                  (200, 200, 200, 200, 200)),
    "events.index": ("GET", "/events", None, (200, 200, 200, 200, 200)),
    "events.detail": ("GET", f"/events/{EVENT}", None, (200, 200, 200, 200, 200)),
    "events.cite": ("GET", f"/events/{EVENT}/cite.ris", None, (200, 200, 200, 200, 200)),
    "search.index": ("GET", "/search?q=electric", None, (200, 200, 200, 200, 200)),
    "static": ("GET", "/static/css/app.css", None, (200, 200, 200, 200, 200)),
    "i18n.switch": ("GET", "/language/lo?next=/policies", None, (303, 303, 303, 303, 303)),
    "auth.login": ("GET", "/login", None, (200, 302, 302, 302, 302)),
    "auth.logout": ("POST", "/logout", {}, (302, 302, 302, 302, 302)),
    "auth.account": ("GET", "/account", None, (302, 200, 200, 200, 200)),
    "auth.revoke_token": ("POST", "/account/tokens/999999/revoke", {}, (302, 404, 404, 404, 404)),
    "auth.users": ("GET", "/admin/users", None, (302, 403, 403, 403, 200)),
    "auth.request_password_reset": ("GET", "/password-reset", None, (200, 200, 200, 200, 200)),
    # A forged token: refused with a page that says so, whoever asks.
    "auth.reset_password": ("GET", "/password-reset/forged-token", None, (400, 400, 400, 400, 400)),
    "auth.update_user": ("POST", "/admin/users/999999", {"role": "editor"}, (302, 403, 403, 403, 404)),
    "editing.new_policy": ("GET", "/policies/new", None, (302, 403, 200, 200, 200)),
    # A published record: editors edit drafts and records in review only.
    "editing.edit_policy": ("GET", f"/policies/{POLICY}/edit", None, (302, 403, 403, 200, 200)),
    "editing.record_status": ("POST", f"/policies/{POLICY}/status", {}, (302, 403, 400, 400, 400)),
    "editing.edit_status_step": ("GET", f"/policies/{POLICY}/status/1", None, (302, 403, 200, 200, 200)),
    "editing.add_forum_link": ("POST", f"/policies/{POLICY}/forum-links", {}, (302, 403, 400, 400, 400)),
    "editing.remove_forum_link": ("POST", f"/policies/{POLICY}/forum-links/remove", {},
                                  (302, 403, 400, 400, 400)),
    "editing.policy_editorial": ("POST", f"/policies/{POLICY}/editorial", {}, (302, 403, 400, 400, 400)),
    "editing.policy_history": ("GET", f"/policies/{POLICY}/history", None, (302, 403, 200, 200, 200)),
    # A published record's key: changed by those who edit published records.
    "editing.change_policy_key": ("GET", f"/policies/{POLICY}/key", None, (302, 403, 403, 200, 200)),
    "editing.new_event": ("GET", "/events/new", None, (302, 403, 200, 200, 200)),
    "editing.edit_event": ("GET", f"/events/{EVENT}/edit", None, (302, 403, 403, 200, 200)),
    "editing.event_editorial": ("POST", f"/events/{EVENT}/editorial", {}, (302, 403, 400, 400, 400)),
    "editing.event_history": ("GET", f"/events/{EVENT}/history", None, (302, 403, 200, 200, 200)),
    "editing.change_event_key": ("GET", f"/events/{EVENT}/key", None, (302, 403, 403, 200, 200)),
    "organisations.index": ("GET", "/organisations", None, (200, 200, 200, 200, 200)),
    "organisations.detail": ("GET", "/organisations/la-mem", None, (200, 200, 200, 200, 200)),
    "organisations.new": ("GET", "/organisations/new", None, (302, 403, 200, 200, 200)),
    "organisations.edit": ("GET", "/organisations/la-mem/edit", None, (302, 403, 200, 200, 200)),
    "organisations.history": ("GET", "/organisations/la-mem/history", None, (302, 403, 200, 200, 200)),
    "review.queue": ("GET", "/review", None, (302, 403, 200, 200, 200)),
    "review.activity": ("GET", "/activity", None, (302, 403, 200, 200, 200)),
    # Published records: editors propose a change; reviewers edit them directly but may propose too.
    "review.propose_policy": ("GET", f"/policies/{POLICY}/propose", None, (302, 403, 200, 200, 200)),
    "review.propose_event": ("GET", f"/events/{EVENT}/propose", None, (302, 403, 200, 200, 200)),
    "review.proposal": ("GET", "/review/proposals/999999", None, (302, 403, 404, 404, 404)),
    "review.approve": ("POST", "/review/proposals/999999/approve", {}, (302, 403, 403, 404, 404)),
    "review.reject": ("POST", "/review/proposals/999999/reject", {}, (302, 403, 403, 404, 404)),
    "review.withdraw": ("POST", "/review/proposals/999999/withdraw", {}, (302, 403, 404, 404, 404)),
    "feeds.changes": ("GET", "/feeds/changes.atom?country=LA", None, (200, 200, 200, 200, 200)),
    "calendar.index": ("GET", "/calendar?country=LA&kind=expiry", None, (200, 200, 200, 200, 200)),
    "calendar.feed": ("GET", "/calendar.ics?country=LA", None, (200, 200, 200, 200, 200)),
    "calendar.policy_feed": ("GET", f"/policies/{POLICY}/calendar.ics?lang=lo", None, (200, 200, 200, 200, 200)),
    "notify.subscribe": ("GET", f"/subscribe?policy={POLICY}", None, (200, 200, 200, 200, 200)),
    # A forged token: refused with a page that says so, whoever asks.
    "notify.confirm": ("GET", "/subscriptions/confirm/forged-token", None, (400, 400, 400, 400, 400)),
    "notify.unsubscribe": ("GET", "/unsubscribe/forged-token", None, (400, 400, 400, 400, 400)),
    # An address's subscriptions, managed from a signed link without an account: a forged link is refused
    # with a page that says so, whoever asks; anyone may ask for a new link.
    "notify.manage": ("GET", "/subscriptions/manage/forged-token", None, (400, 400, 400, 400, 400)),
    "notify.request_manage_link": ("GET", "/subscriptions/manage", None, (200, 200, 200, 200, 200)),
    "notify.subscriptions": ("GET", "/subscriptions", None, (302, 200, 200, 200, 200)),
    # Someone else's (or no one's) subscription or endpoint is not found, never forbidden.
    "notify.delete_subscription": ("POST", f"/subscriptions/{'0' * 32}/delete", {}, (302, 404, 404, 404, 404)),
    "notify.webhooks": ("GET", "/account/webhooks", None, (302, 200, 200, 200, 200)),
    "notify.delete_webhook": ("POST", "/account/webhooks/999999/delete", {}, (302, 404, 404, 404, 404)),
    "notify.enable_webhook": ("POST", "/account/webhooks/999999/enable", {}, (302, 404, 404, 404, 404)),
    "notify.rotate_webhook_secret": ("POST", "/account/webhooks/999999/rotate", {}, (302, 404, 404, 404, 404)),
    "notify.test_webhook": ("POST", "/account/webhooks/999999/test", {}, (302, 404, 404, 404, 404)),
    "notify.webhook_deliveries": ("GET", "/account/webhooks/999999/deliveries", None, (302, 404, 404, 404, 404)),
    "notify.admin_deliveries": ("GET", "/admin/deliveries", None, (302, 403, 403, 403, 200)),
    "notify.retry_delivery": ("POST", "/admin/deliveries/999999/retry", {}, (302, 403, 403, 403, 404)),
    "notify.clear_deliveries": ("POST", "/admin/deliveries/clear", {}, (302, 403, 403, 403, 400)),
    "api.policies": ("GET", "/api/v1/policies", None, (200, 200, 200, 200, 200)),
    "api.policy": ("GET", f"/api/v1/policies/{POLICY}", None, (200, 200, 200, 200, 200)),
    "api.events": ("GET", "/api/v1/events", None, (200, 200, 200, 200, 200)),
    "api.event": ("GET", f"/api/v1/events/{EVENT}", None, (200, 200, 200, 200, 200)),
    "api.jurisdictions": ("GET", "/api/v1/jurisdictions", None, (200, 200, 200, 200, 200)),
    "api.topics": ("GET", "/api/v1/topics", None, (200, 200, 200, 200, 200)),
    "api.changes": ("GET", "/api/v1/changes?limit=5", None, (200, 200, 200, 200, 200)),
    "api.search": ("GET", "/api/v1/search?q=electric", None, (200, 200, 200, 200, 200)),
    "api.openapi": ("GET", "/api/v1/openapi.json", None, (200, 200, 200, 200, 200)),
    # The reference page of the API, for people: a page of the site (the session, not a token).
    "api_docs.reference": ("GET", "/api", None, (200, 200, 200, 200, 200)),
    "api.create_policy": ("POST", "/api/v1/policies", {}, (401, 403, 400, 400, 400)),
    # A published record and a stale version: editors are refused before the version is looked at.
    "api.update_policy": ("PATCH", f"/api/v1/policies/{POLICY}", {"version": 999, "title_en": "New title"},
                          (401, 403, 403, 409, 409)),
    "api.change_policy_status": ("POST", f"/api/v1/policies/{POLICY}/status", {}, (401, 403, 400, 400, 400)),
    # A published record's step: editors edit drafts and records in review only; an old version is a 409.
    "api.update_policy_status_step": ("PATCH", f"/api/v1/policies/{POLICY}/status/1",
                                      {"version": 999, "gazetted_on": "2021-10-01"}, (401, 403, 403, 409, 409)),
    "api.calendar": ("GET", "/api/v1/calendar?country=LA", None, (200, 200, 200, 200, 200)),
    "api.set_policy_editorial_state": ("POST", f"/api/v1/policies/{POLICY}/editorial", {},
                                       (401, 403, 400, 400, 400)),
    "api.change_policy_key": ("POST", f"/api/v1/policies/{POLICY}/key", {"version": 999, "key": "another-key"},
                              (401, 403, 403, 409, 409)),
    "api.create_event": ("POST", "/api/v1/events", {}, (401, 403, 400, 400, 400)),
    "api.update_event": ("PATCH", f"/api/v1/events/{EVENT}", {"version": 999, "name_en": "New name"},
                         (401, 403, 403, 409, 409)),
    "api.set_event_editorial_state": ("POST", f"/api/v1/events/{EVENT}/editorial", {},
                                      (401, 403, 400, 400, 400)),
    "api.change_event_key": ("POST", f"/api/v1/events/{EVENT}/key", {"version": 999, "key": "another-key"},
                             (401, 403, 403, 409, 409)),
    "api.list_subscriptions": ("GET", "/api/v1/subscriptions", None, (401, 200, 200, 200, 200)),
    "api.create_subscription": ("POST", "/api/v1/subscriptions", {}, (401, 400, 400, 400, 400)),
    "api.get_subscription": ("GET", f"/api/v1/subscriptions/{'0' * 32}", None, (401, 404, 404, 404, 404)),
    "api.delete_subscription": ("DELETE", f"/api/v1/subscriptions/{'0' * 32}", None, (401, 404, 404, 404, 404)),
    "api.list_webhooks": ("GET", "/api/v1/webhooks", None, (401, 200, 200, 200, 200)),
    "api.create_webhook": ("POST", "/api/v1/webhooks", {}, (401, 400, 400, 400, 400)),
    "api.get_webhook": ("GET", "/api/v1/webhooks/999999", None, (401, 404, 404, 404, 404)),
    "api.delete_webhook": ("DELETE", "/api/v1/webhooks/999999", None, (401, 404, 404, 404, 404)),
    "api.rotate_webhook_secret": ("POST", "/api/v1/webhooks/999999/rotate-secret", None, (401, 404, 404, 404, 404)),
    "api.test_webhook": ("POST", "/api/v1/webhooks/999999/test", None, (401, 404, 404, 404, 404)),
    "api.webhook_deliveries": ("GET", "/api/v1/webhooks/999999/deliveries", None, (401, 404, 404, 404, 404)),
    # Attached documents: staff (editor and up) attach and remove them; readers read what they may see.
    "documents.attach": ("GET", f"/policies/{POLICY}/documents/new", None, (302, 403, 200, 200, 200)),
    "documents.replace": ("GET", "/documents/999999/replace", None, (302, 403, 404, 404, 404)),
    "documents.edit": ("GET", "/documents/999999/edit", None, (302, 403, 404, 404, 404)),
    "documents.remove": ("GET", "/documents/999999/remove", None, (302, 403, 404, 404, 404)),
    "documents.extract_again": ("POST", "/documents/999999/extract", {}, (302, 403, 404, 404, 404)),
    "documents.read": ("GET", "/documents/999999", None, (404, 404, 404, 404, 404)),
    "documents.download": ("GET", "/documents/999999/file", None, (404, 404, 404, 404, 404)),
    "documents.compare": ("GET", f"/policies/{POLICY}/compare?from=1&to=2", None, (404, 404, 404, 404, 404)),
    "api.attach_document": ("POST", f"/api/v1/policies/{POLICY}/documents", {}, (401, 403, 400, 400, 400)),
    "api.policy_documents": ("GET", f"/api/v1/policies/{POLICY}/documents", None, (200, 200, 200, 200, 200)),
    "api.document": ("GET", "/api/v1/documents/999999", None, (404, 404, 404, 404, 404)),
    "api.remove_document": ("DELETE", "/api/v1/documents/999999", None, (401, 403, 404, 404, 404)),
    "api.document_text": ("GET", "/api/v1/documents/999999/text", None, (404, 404, 404, 404, 404)),
    "api.document_file": ("GET", "/api/v1/documents/999999/file", None, (404, 404, 404, 404, 404)),
    "api.search_passages": ("GET", "/api/v1/search/passages?q=electric", None, (200, 200, 200, 200, 200)),
    "imports.index": ("GET", "/imports", None, (302, 403, 200, 200, 200)),
    "imports.template": ("GET", "/imports/template.xlsx", None, (302, 403, 200, 200, 200)),
    "imports.show": ("GET", "/imports/999999", None, (302, 403, 404, 404, 404)),
    "imports.apply": ("POST", "/imports/999999/apply", {}, (302, 403, 404, 404, 404)),
    "imports.organisations": ("POST", "/imports/999999/organisations", {}, (302, 403, 404, 404, 404)),
    "api.start_import": ("POST", "/api/v1/imports", {}, (401, 403, 400, 400, 400)),
    "api.data_import": ("GET", "/api/v1/imports/999999", None, (401, 403, 404, 404, 404)),
    "api.apply_import": ("POST", "/api/v1/imports/999999/apply", {}, (401, 403, 404, 404, 404)),
    "api.import_organisations": ("POST", "/api/v1/imports/999999/organisations", {"organisations": []},
                                 (401, 403, 404, 404, 404)),
    "api.compare_documents": ("GET", f"/api/v1/policies/{POLICY}/compare?from=1&to=2", None,
                              (404, 404, 404, 404, 404)),
}


def test_every_route_has_a_row_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(ROUTES) == set(), "classify the new routes in ROUTES"
    assert set(ROUTES) - endpoints == set(), "remove rows of routes that no longer exist"


def _csrf_token(app, client) -> str:
    """A valid CSRF token for the client's session, made the way Flask-WTF makes them."""
    raw = secrets.token_hex(20)
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonymous")
@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_route_answers_each_role_as_the_table_says(app, client, login_as, api_token, endpoint, role):
    method, url, body, statuses = ROUTES[endpoint]
    expected = statuses[ROLES.index(role)]
    login_as(role)
    kwargs: dict = {}
    if url.startswith("/api/"):
        if role is not None:
            kwargs["headers"] = api_token(role)
        if body is not None:
            kwargs["json"] = body
    elif method == "POST":
        kwargs["data"] = {**body, "csrf_token": _csrf_token(app, client)}
    response = client.open(url, method=method, **kwargs)
    response.close()
    assert response.status_code == expected, (endpoint, role, response.get_data(as_text=True)[:300])
    if expected == 302 and role is None and endpoint not in ("auth.logout",):
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("endpoint", sorted(e for e, row in ROUTES.items() if row[0] == "POST" and not
                                            row[1].startswith("/api/")))
def test_every_form_refuses_a_post_without_csrf_token(client, login_as, endpoint):
    _, url, body, _ = ROUTES[endpoint]
    login_as("admin")
    response = client.post(url, data=body)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
