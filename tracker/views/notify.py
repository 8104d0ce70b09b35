"""Pages for following records: subscribe and confirm, unsubscribe, My subscriptions, an address's subscriptions
managed from a link without an account, webhook endpoints with their delivery history, and the admins' view of
every delivery."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_login import current_user

from tracker.db import unit_of_work
from tracker.errors import Conflict, Invalid, NotFound, TooManyRequests
from tracker.forms.notify import (
    CADENCE_CHOICES,
    LANGUAGE_CHOICES,
    ActionForm,
    EndpointForm,
    FollowForm,
    ManageLinkForm,
    SubscribeForm,
)
from tracker.models.notification import DELIVERY_STATES, LANGUAGES
from tracker.pagination import PageRequest
from tracker.services import deliveries, targets, webhook_endpoints
from tracker.services import subscriptions as subscription_service
from tracker.translation import current_locale as get_locale
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l
from tracker.translation import ngettext
from tracker.views.security import csrf, request_user, role_required
from tracker.views.support import db_session, query_args

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

bp = Blueprint("notify", __name__)

STATE_LABELS = {"pending": _l("Pending"), "retrying": _l("Retrying"), "delivered": _l("Delivered"),
                "failed": _l("Failed"), "dead": _l("Dead")}


def _actor():
    return current_user._get_current_object()


def interface_language() -> str:
    """The interface language when it is one emails are written in, else English."""
    locale = get_locale()
    language = locale.language if locale is not None else "en"
    return language if language in LANGUAGES else "en"


def nudge_worker(session) -> None:
    """Wake the notification worker after a commit that made a delivery due without recording an event
    (recorded events wake it by themselves, see tracker.notifications)."""
    from tracker.notifications.runtime import runtime_of

    try:
        runtime = runtime_of(current_app._get_current_object())  # type: ignore[attr-defined]
    except KeyError:  # notifications are not wired into this app
        return
    runtime.on_commit(session)


def _apply_errors(form, error: Invalid, aliases: dict[str, str] | None = None) -> None:
    """Put each message of ``error`` by its field, or above the form when no field has that name."""
    aliases = aliases or {}
    for name, message in error.errors.items():
        field = getattr(form, aliases.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)
    if not error.errors:
        form.form_errors.append(error.message)


def _page_request() -> PageRequest:
    args = query_args()
    return PageRequest.parse((args.get("page") or (None,))[0], (args.get("per_page") or (None,))[0],
                             default=50, maximum=200)


# ---------------------------------------------------------------------------------------------------
# Subscribing


@bp.app_template_global()
def follow_search_urls(searched: str | None = None) -> dict[str, str]:
    """The "Alert me" page and the Atom feed of the search in the request's query string; ``searched``:
    the query the results were found with, when the search corrected the one typed (a saved search is
    run as written, so it must be written as found)."""
    names = ("q", *targets.SEARCH_FILTERS)
    # Any, as url_for's **values: mypy would check the lists against _anchor, _external and the like.
    args: dict[str, Any] = {name: [value for value in request.args.getlist(name) if value.strip()] for name in names}
    if searched:
        args["q"] = [searched]
    args = {name: values for name, values in args.items() if values}
    return {"subscribe": url_for("notify.subscribe", **args), "feed": url_for("feeds.changes", **args)}


def _target_and_label(session) -> tuple[targets.Target, str]:
    """What the query string says to follow, checked (Invalid, a 400 page, when it names nothing)."""
    raw = targets.target_from_args(query_args())
    target = targets.check_target(session, raw.kind, raw.value, raw.filters)
    return target, targets.describe_targets(session, [target])[0]


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe() -> ResponseReturnValue:
    """Follow what the query string names (see tracker.services.targets.target_from_args): a visitor
    by email with double opt-in, a signed-in user by email or webhook."""
    session = db_session()
    target, label = _target_and_label(session)
    user = request_user()
    # Any, as url_for's **values: mypy would check the lists against _anchor, _external and the like.
    target_args: dict[str, Any] = target.query_args()
    feed = url_for("feeds.changes", **target_args)
    if user is None:
        form: Any = SubscribeForm(data={"language": interface_language()} if request.method == "GET" else None)
    else:
        form = FollowForm(data={"language": interface_language()} if request.method == "GET" else None)
        form.set_endpoints(webhook_endpoints.list_endpoints(session, user), user.email)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                # A refusal over a limit keeps the client's count (and answers 429 with Retry-After).
                with unit_of_work(session, commit_on=(TooManyRequests,)):
                    options = subscription_service.check_options(**form.options(), channel=(
                        form.channel()[0] if user is not None else "email"))
                    if user is None:
                        subscription_service.subscribe_email(
                            session, form.email.data, target, options, client=request.remote_addr or "unknown",
                            limits=subscription_service.SubscribeLimits.from_config(current_app.config))
                    else:
                        channel, endpoint_id = form.channel()
                        subscription_service.follow(session, user, target, options, channel=channel,
                                                    endpoint_id=endpoint_id)
            except Invalid as error:
                _apply_errors(form, error, {"webhook_id": "deliver_to", "channel": "deliver_to"})
            except Conflict as error:
                form.form_errors.append(error.message)
                status = 409
            else:
                if user is not None:
                    flash(_("You now follow: %(what)s.", what=label), "success")
                    return redirect(url_for("notify.subscriptions"))
                # The same answer whether or not anything was sent, so the form reveals no one's subscriptions.
                return render_template("notify/subscribe_sent.html", label=label,
                                       email=form.email.data.strip()), 200
    return render_template("notify/subscribe.html", form=form, label=label, target=target, feed=feed,
                           action=url_for("notify.subscribe", **target_args)), status


@bp.route("/subscriptions/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """A GET shows a button and changes nothing (mail scanners open links); the POST confirms."""
    session = db_session()
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("notify/confirm.html", form=form, done=False, label=None, token=token), 400
        with unit_of_work(session):
            subscription = subscription_service.confirm(session, token)
            label = targets.target_labels(session, [subscription])[subscription.id]
        return render_template("notify/confirm.html", form=form, done=True, label=label, token=token,
                               subscription=subscription)
    # Checked on GET too, so a damaged link is reported before anyone presses the button.
    subscription = subscription_service.subscription_for_confirm(session, token)
    label = targets.target_labels(session, [subscription])[subscription.id]
    return render_template("notify/confirm.html", form=form, done=subscription.confirmed_at is not None,
                           label=label, token=token, subscription=subscription)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """A GET lists what would stop (every subscription the email answered) with a button, and never
    unsubscribes (link scanners open links). A POST unsubscribes exactly those: the page's button (with
    its CSRF token), or a mail client's RFC 8058 one-click POST (``List-Unsubscribe=One-Click``, sent with
    no cookie and so no CSRF token: the signed link is the proof)."""
    session = db_session()
    form = ActionForm()
    if request.method == "POST":
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        # The link is checked first, so a damaged one is reported as such whatever the form carried.
        subscription_service.subscriptions_for_unsubscribe(session, token)
        if not one_click and not form.validate_on_submit():
            return _bad_form()
        with unit_of_work(session):
            stopped = subscription_service.unsubscribe_all(session, token)
            labels = targets.target_labels(session, stopped)
        if one_click:
            return "", 200
        return render_template("notify/unsubscribe.html", done=True, labels=list(labels.values()), token=token,
                               form=form)
    found = subscription_service.subscriptions_for_unsubscribe(session, token)
    labels = targets.target_labels(session, found)
    return render_template("notify/unsubscribe.html", done=all(s.unsubscribed_at is not None for s in found),
                           labels=list(labels.values()), token=token, form=form)


# ---------------------------------------------------------------------------------------------------
# Every subscription of an address, from the link in each email (no account needed)

# The token in these pages' address is a credential: kept out of caches, out of the Referer sent to
# other sites, and out of search engines.
MANAGE_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _manage_page(address: str, token: str, status: int = 200, *, problem: Invalid | NotFound | None = None):
    db = db_session()
    items = subscription_service.address_subscriptions(db, address)
    # Shown by the page itself rather than as a flash message, so that its Lao words are kept whole too.
    notice = cookie_session.pop("manage_notice", None) if request.method == "GET" else None
    return render_template("notify/manage.html", address=address, token=token, subscriptions=items,
                           labels=targets.target_labels(db, items), problem=problem, notice=notice,
                           has_account=subscription_service.address_has_account(db, address),
                           cadences=CADENCE_CHOICES, languages=LANGUAGE_CHOICES), status, MANAGE_PAGE_HEADERS


def _bad_manage_link(error: Invalid):
    """An expired, forged or damaged link: said so, with the form asking for a new one."""
    return (render_template("notify/manage_request.html", form=ManageLinkForm(formdata=None), problem=error),
            400, MANAGE_PAGE_HEADERS)


@bp.route("/subscriptions/manage/<token>", methods=["GET", "POST"])
def manage(token: str) -> ResponseReturnValue:
    """Every live email subscription of the address the link names, each with its settings; every form on
    the page posts here with the action, the subscription and its CSRF token."""
    db = db_session()
    try:
        address = subscription_service.manage_address(token)
    except Invalid as error:
        return _bad_manage_link(error)
    if request.method == "GET":
        return _manage_page(address, token)
    if not ActionForm().validate_on_submit():
        page, status = _bad_form()
        return page, status, MANAGE_PAGE_HEADERS
    action = request.form.get("action")
    public_id = request.form.get("subscription") or ""
    try:
        with unit_of_work(db):
            if action == "change":
                changes = subscription_service.change_delivery(
                    db, address, public_id, request.form.get("cadence"), request.form.get("language"))
                message = _("Your changes are saved and apply from now on.") if changes else _("Nothing was changed.")
            elif action == "unsubscribe":
                subscription = subscription_service.unsubscribe_one(db, address, public_id)
                label = targets.target_labels(db, [subscription])[subscription.id]
                message = _("You are unsubscribed from: %(what)s.", what=label)
            elif action == "unsubscribe_all":
                ended = subscription_service.unsubscribe_address(db, address)
                message = ngettext("%(num)d subscription ended: no more email will be sent to this address.",
                                   "%(num)d subscriptions ended: no more email will be sent to this address.", ended)
            else:
                raise Invalid(_("Choose what to do with the buttons of the page."),
                              {"action": _("Choose one of the page's buttons.")})
    except Invalid as error:
        return _manage_page(address, token, 400, problem=error)
    except NotFound as error:
        return _manage_page(address, token, 404, problem=error)
    cookie_session["manage_notice"] = message
    response = redirect(url_for("notify.manage", token=token), 303)
    response.headers.update(MANAGE_PAGE_HEADERS)
    return response


@bp.route("/subscriptions/manage", methods=["GET", "POST"])
def request_manage_link() -> ResponseReturnValue:
    """Ask for a fresh link by email. One answer whatever the address follows; limited per day per client
    address and per email address (429 with Retry-After)."""
    form = ManageLinkForm()
    status = 200
    if form.validate_on_submit():
        db = db_session()
        config = current_app.config
        try:
            with unit_of_work(db):
                subscription_service.request_manage_link(
                    db, form.email.data, request.remote_addr or "unknown", interface_language(),
                    secret_key=config["SECRET_KEY"], per_client=int(config["MANAGE_LINKS_PER_CLIENT_PER_DAY"]),
                    per_address=int(config["MANAGE_LINKS_PER_ADDRESS_PER_DAY"]))
        except Invalid as error:
            _apply_errors(form, error)
            status = 400
        except TooManyRequests as error:
            page = render_template("notify/manage_request.html", form=form, problem=None, limited=error)
            return page, 429, {"Retry-After": str(error.retry_after), **MANAGE_PAGE_HEADERS}
        else:
            return render_template("notify/manage_sent.html", email=form.email.data.strip()), 200, MANAGE_PAGE_HEADERS
    elif request.method == "POST":
        status = 400
    return render_template("notify/manage_request.html", form=form, problem=None), status, MANAGE_PAGE_HEADERS


# ---------------------------------------------------------------------------------------------------
# My subscriptions


@bp.get("/subscriptions")
@role_required("account")
def subscriptions():
    session = db_session()
    user = _actor()
    items = subscription_service.list_subscriptions(session, user)
    return render_template("notify/subscriptions.html", subscriptions=items,
                           labels=targets.target_labels(session, items), form=ActionForm(),
                           endpoints=webhook_endpoints.list_endpoints(session, user))


@bp.post("/subscriptions/<public_id>/delete")
@role_required("account")
def delete_subscription(public_id: str):
    session = db_session()
    if not ActionForm().validate_on_submit():
        return _bad_form()
    with unit_of_work(session):
        subscription_service.delete_subscription(session, _actor(), public_id)
    flash(_("The subscription was deleted."), "success")
    return redirect(url_for("notify.subscriptions"))


def _bad_form():
    return render_template("errors/error.html", status=400, title=_("The form expired"),
                           message=_("The form expired or was sent twice (CSRF token missing or invalid). "
                                     "Please go back, reload the page and try again."), errors={}), 400


# ---------------------------------------------------------------------------------------------------
# Webhook endpoints


def _webhook_settings() -> dict[str, bool]:
    return {"allow_loopback": bool(current_app.config.get("NOTIFY_ALLOW_LOOPBACK", False)),
            "require_https": bool(current_app.config.get("NOTIFY_REQUIRE_HTTPS", True))}


def _webhooks_page(form: EndpointForm, status: int = 200, *, new_secret: str | None = None,
                   secret_for=None):
    session = db_session()
    endpoints = webhook_endpoints.list_endpoints(session, _actor())
    response = make_response(render_template("notify/webhooks.html", form=form, endpoints=endpoints,
                                             new_secret=new_secret, secret_for=secret_for,
                                             action_form=ActionForm()), status)
    if new_secret is not None:
        # Shown once means kept nowhere: not in the browser's cache nor in a proxy's.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/webhooks", methods=["GET", "POST"])
@role_required("account")
def webhooks():
    session = db_session()
    form = EndpointForm()
    if request.method == "GET":
        return _webhooks_page(form)
    if not form.validate_on_submit():
        return _webhooks_page(form, 400)
    try:
        with unit_of_work(session):
            endpoint, secret = webhook_endpoints.create_endpoint(session, _actor(), form.url.data,
                                                                 form.description.data, **_webhook_settings())
    except Invalid as error:
        _apply_errors(form, error)
        return _webhooks_page(form, 400)
    # The secret is shown on this answer only: it is not put in a flash message or a redirect.
    return _webhooks_page(EndpointForm(formdata=None), 201, new_secret=secret, secret_for=endpoint)


def _endpoint_action(endpoint_id: int, act, message: str):
    if not ActionForm().validate_on_submit():
        return _bad_form()
    session = db_session()
    with unit_of_work(session):
        act(session, _actor(), endpoint_id)
    flash(message, "success")
    return redirect(url_for("notify.webhooks"))


@bp.post("/account/webhooks/<int:endpoint_id>/delete")
@role_required("account")
def delete_webhook(endpoint_id: int):
    return _endpoint_action(endpoint_id, webhook_endpoints.delete_endpoint,
                            _("The webhook endpoint and its subscriptions were deleted."))


@bp.post("/account/webhooks/<int:endpoint_id>/enable")
@role_required("account")
def enable_webhook(endpoint_id: int):
    return _endpoint_action(endpoint_id, webhook_endpoints.enable_endpoint, _("The webhook endpoint is enabled again."))


@bp.post("/account/webhooks/<int:endpoint_id>/rotate")
@role_required("account")
def rotate_webhook_secret(endpoint_id: int):
    if not ActionForm().validate_on_submit():
        return _bad_form()
    session = db_session()
    with unit_of_work(session):
        endpoint, secret = webhook_endpoints.rotate_secret(session, _actor(), endpoint_id)
    return _webhooks_page(EndpointForm(formdata=None), 200, new_secret=secret, secret_for=endpoint)


@bp.post("/account/webhooks/<int:endpoint_id>/test")
@role_required("account")
def test_webhook(endpoint_id: int):
    if not ActionForm().validate_on_submit():
        return _bad_form()
    session = db_session()
    with unit_of_work(session):
        webhook_endpoints.send_test(session, _actor(), endpoint_id)
    flash(_("A test message is on its way; its delivery is listed below."), "success")
    return redirect(url_for("notify.webhook_deliveries", endpoint_id=endpoint_id))


@bp.get("/account/webhooks/<int:endpoint_id>/deliveries")
@role_required("account")
def webhook_deliveries(endpoint_id: int):
    session = db_session()
    user = _actor()
    endpoint = webhook_endpoints.get_endpoint(session, user, endpoint_id)
    page = deliveries.endpoint_deliveries(session, user, endpoint_id, _page_request())
    return render_template("notify/deliveries.html", endpoint=endpoint, page=page, state_labels=STATE_LABELS,
                           form=ActionForm())


# ---------------------------------------------------------------------------------------------------
# Administration


@bp.get("/admin/deliveries")
@role_required("manage_users")
def admin_deliveries():
    states = [value for value in request.args.getlist("state") if value]
    return _admin_deliveries_page(states[-1] if states else None)


def _admin_deliveries_page(state: str | None, status: int = 200):
    session = db_session()
    page = deliveries.admin_deliveries(session, state, _page_request())
    return render_template("notify/admin_deliveries.html", page=page, state=state, states=DELIVERY_STATES,
                           state_labels=STATE_LABELS, counts=deliveries.delivery_counts(session),
                           failing=deliveries.failing_endpoints(session), form=ActionForm(),
                           retryable=deliveries.RETRYABLE_STATES, clearable=deliveries.CLEARABLE_STATES), status


@bp.post("/admin/deliveries/clear")
@role_required("manage_users")
def clear_deliveries():
    """Delete dead or failed deliveries (those kept by the daily prune), before a day if one is given."""
    if not ActionForm().validate_on_submit():
        return _bad_form()
    state = request.form.get("state")
    session = db_session()
    try:
        with unit_of_work(session):
            removed = deliveries.clear_deliveries(session, state, request.form.get("before"))
    except Invalid as error:
        for message in error.errors.values():
            flash(str(message), "error")
        return _admin_deliveries_page(state if state in DELIVERY_STATES else None, 400)
    flash(ngettext("%(num)d delivery was cleared.", "%(num)d deliveries were cleared.", removed.deliveries),
          "success")
    return redirect(url_for("notify.admin_deliveries", state=state))


@bp.post("/admin/deliveries/<int:delivery_id>/retry")
@role_required("manage_users")
def retry_delivery(delivery_id: int):
    if not ActionForm().validate_on_submit():
        return _bad_form()
    session = db_session()
    with unit_of_work(session):
        delivery = deliveries.retry_delivery(session, delivery_id)
        public_id = delivery.public_id
    nudge_worker(session)
    flash(_("Delivery %(id)s will be sent again now.", id=public_id), "success")
    back = request.form.get("state")
    return redirect(url_for("notify.admin_deliveries", state=back if back in DELIVERY_STATES else None))
