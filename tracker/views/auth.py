"""Signing in and out, password resets by email, the account page (profile, password, API tokens) and user
administration."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from tracker.db import unit_of_work
from tracker.errors import Conflict, Invalid
from tracker.forms.accounts import (
    LoginForm,
    NewUserForm,
    PasswordForm,
    ProfileForm,
    ResetPasswordForm,
    ResetRequestForm,
    TokenForm,
    UserForm,
)
from tracker.services import accounts
from tracker.translation import gettext as _
from tracker.views.security import role_required
from tracker.views.support import db_session

bp = Blueprint("auth", __name__)
# The reset pages carry a live token in their address: it must not travel on in a Referer, nor be cached.
RESET_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login, never another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("pages.home")


def _form_errors(form, error: Invalid, renamed: dict[str, str] | None = None) -> None:
    """Show the service's messages by the fields they are about (``renamed``: service name -> field)."""
    for name, message in error.errors.items():
        field = getattr(form, (renamed or {}).get(name, name), None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)
    if not error.errors:
        form.form_errors.append(error.message)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        db = db_session()
        address = request.remote_addr or "unknown"
        try:
            # The failure counters must survive the refusal: it is committed like a success.
            with unit_of_work(db, commit_on=(accounts.LoginLocked, accounts.LoginFailed)):
                user = accounts.authenticate(db, form.email.data, form.password.data, address)
        except accounts.LoginLocked as error:
            form.form_errors.append(error.message)
            response = render_template("auth/login.html", form=form), 429, {"Retry-After": str(error.retry_after)}
            return response
        except accounts.LoginFailed as error:
            time.sleep(accounts.failure_delay(db, address))
            form.form_errors.append(error.message)
            status = 401
        else:
            session.clear()  # a fresh session at login, nothing carried over from before
            login_user(user)
            flash(_("Logged in as %(email)s.", email=user.email), "success")
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    with unit_of_work(db_session()):
        accounts.end_sessions(current_user._get_current_object())
    logout_user()
    session.clear()
    flash(_("You are logged out."), "success")
    return redirect(url_for("pages.home"))


@bp.route("/password-reset", methods=["GET", "POST"])
def request_password_reset():
    form = ResetRequestForm()
    status = 200
    if form.validate_on_submit():
        db = db_session()
        try:
            with unit_of_work(db):
                accounts.request_password_reset(db, form.email.data)
        except Invalid as error:
            _form_errors(form, error)
            status = 400
        else:
            # One answer whether or not the account exists, is enabled or has had its mails for the hour.
            return render_template("auth/password_reset_sent.html")
    elif request.method == "POST":
        status = 400
    return render_template("auth/password_reset_request.html", form=form), status


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    db = db_session()
    secret_key = current_app.config["SECRET_KEY"]
    try:
        user = accounts.user_for_password_reset(db, token, secret_key)
    except Invalid as error:
        return _bad_reset_link(error, token)
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                user = accounts.reset_password(db, token, form.new_password.data, secret_key)
        except Invalid as error:
            if "token" in error.errors:  # used meanwhile, in another tab or by someone else
                return _bad_reset_link(error, token)
            _form_errors(form, error, {"password": "new_password"})
            status = 400
        else:
            session.clear()  # a fresh session, in the new session token: every other one has ended
            login_user(user)
            flash(_("Your password was changed and you are logged in. Every other session was logged out."),
                  "success")
            return redirect(url_for("auth.account"))
    elif request.method == "POST":
        status = 400
    return (render_template("auth/password_reset.html", problem=None, form=form, user=user, token=token),
            status, RESET_PAGE_HEADERS)


def _bad_reset_link(error: Invalid, token: str):
    """The page saying a reset link is expired, forged or used, with a way to ask for a new one."""
    page = render_template("auth/password_reset.html", problem=error, form=None, user=None, token=token)
    return page, 400, RESET_PAGE_HEADERS


@bp.route("/account", methods=["GET", "POST"])
@role_required("account")
def account():
    db = db_session()
    user = current_user._get_current_object()
    password_form = PasswordForm(prefix="password")
    token_form = TokenForm(prefix="token")
    profile_form = ProfileForm(prefix="profile", data={"display_name": user.display_name or "",
                                                       "language": user.language or "en"})
    new_token = None
    status = 200
    if request.method == "POST" and "profile-csrf_token" in request.form:
        if profile_form.validate_on_submit():
            try:
                with unit_of_work(db):
                    accounts.update_profile(db, user, profile_form.display_name.data,
                                            profile_form.language.data)
            except Invalid as error:
                _form_errors(profile_form, error)
                status = 400
            else:
                flash(_("Your name and email language were saved."), "success")
                return redirect(url_for("auth.account"))
        else:
            status = 400
    elif request.method == "POST" and "password-new_password" in request.form:
        if password_form.validate_on_submit():
            try:
                with unit_of_work(db):
                    accounts.change_password(db, user, password_form.current_password.data,
                                             password_form.new_password.data)
            except Invalid as error:
                _form_errors(password_form, error, {"password": "new_password"})
                status = 400
            else:
                login_user(user)  # the session follows the new session token; other sessions end
                flash(_("Your password was changed. Other sessions were logged out."), "success")
                return redirect(url_for("auth.account"))
        else:
            status = 400
    elif request.method == "POST":
        if token_form.validate_on_submit():
            try:
                with unit_of_work(db):
                    token, new_token = accounts.create_api_token(db, user, token_form.name.data)
            except Invalid as error:
                _form_errors(token_form, error)
                status = 400
            else:
                token_form = TokenForm(prefix="token", formdata=None)
        else:
            status = 400
    return render_template("auth/account.html", password_form=password_form, token_form=token_form,
                           profile_form=profile_form, tokens=accounts.list_api_tokens(db, user),
                           new_token=new_token), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@role_required("account")
def revoke_token(token_id: int):
    db = db_session()
    with unit_of_work(db):
        token = accounts.revoke_api_token(db, current_user._get_current_object(), token_id)
    flash(_("The token '%(name)s' was revoked.", name=token.name), "success")
    return redirect(url_for("auth.account"))


@bp.route("/admin/users", methods=["GET", "POST"])
@role_required("manage_users")
def users():
    db = db_session()
    form = NewUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                user = accounts.create_user(db, form.email.data, form.password.data, form.role.data,
                                            display_name=form.display_name.data,
                                            actor=current_user._get_current_object())
        except (Invalid, Conflict) as error:
            if isinstance(error, Invalid):
                _form_errors(form, error)
            else:
                form.email.errors = [*form.email.errors, error.message]
            status = 400
        else:
            flash(_("Account created for %(email)s (%(role)s).", email=user.email, role=user.role), "success")
            return redirect(url_for("auth.users"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/users.html", form=form,
                           users=accounts.list_users(db, current_user._get_current_object())), status


@bp.post("/admin/users/<int:user_id>")
@role_required("manage_users")
def update_user(user_id: int):
    db = db_session()
    form = UserForm()
    actor = current_user._get_current_object()
    if not form.validate_on_submit():
        flash(_("The change was not understood; nothing was changed."), "error")
        return redirect(url_for("auth.users"))
    try:
        with unit_of_work(db):
            user = accounts.get_user(db, user_id)
            # The state first: an administrator's change of their own role must come last, as it may
            # take away the permission the other change is checked against.
            if form.active.data != user.is_active:
                accounts.set_active(db, user, form.active.data, actor)
            if form.role.data != user.role:
                accounts.set_role(db, user, form.role.data, actor)
    except Invalid as error:
        flash(" ".join([error.message, *(str(problem) for problem in error.errors.values())]), "error")
    else:
        flash(_("%(email)s: %(role)s, enabled.", email=user.email, role=user.role) if user.is_active
              else _("%(email)s: %(role)s, disabled.", email=user.email, role=user.role), "success")
    return redirect(url_for("auth.users"))
