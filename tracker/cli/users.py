"""`flask --app tracker users ...`: create the first admin and manage accounts from the command line."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.db import unit_of_work
from tracker.errors import Conflict, DomainError, Invalid
from tracker.models.user import ROLES
from tracker.services import accounts

users_group = AppGroup("users", help="User accounts.")


def _fail(error: DomainError) -> None:
    details = "; ".join(f"{name}: {message}" for name, message in getattr(error, "errors", {}).items())
    raise click.ClickException(error.message + (f" ({details})" if details else ""))


@users_group.command("create", help="Create an account; the password is asked for (or read from stdin).")
@click.argument("email")
@click.option("--role", type=click.Choice(list(ROLES)), default="partner", show_default=True,
              help="The account's role; the least privileged unless another is chosen.")
@click.option("--name", "display_name", default=None, help="The person's name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
def create(email: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    database = current_app.extensions["tracker.db"]
    try:
        with unit_of_work(database.session(write=True)) as session:
            user = accounts.create_user(session, email, password, role, display_name=display_name)
    except (Invalid, Conflict) as error:
        _fail(error)
    click.echo(f"Created {user.email} with the role {user.role}.")


@users_group.command("list", help="List accounts.")
def list_users() -> None:
    from sqlalchemy import select

    from tracker.models import User

    with current_app.extensions["tracker.db"].session() as session:
        for user in session.scalars(select(User).order_by(User.email)):
            state = "enabled" if user.is_active else "disabled"
            click.echo(f"{user.email}\t{user.role}\t{state}")


def _set(email: str, *, active: bool | None = None, role: str | None = None) -> None:
    database = current_app.extensions["tracker.db"]
    try:
        with unit_of_work(database.session(write=True)) as session:
            user = accounts.get_user_by_email(session, email)
            if active is not None:
                accounts.set_active(session, user, active, None)
            if role is not None:
                accounts.set_role(session, user, role, None)
    except DomainError as error:
        _fail(error)
    click.echo(f"{user.email}: {user.role}, {'enabled' if user.is_active else 'disabled'}.")


@users_group.command("disable", help="Disable an account and end its sessions and tokens.")
@click.argument("email")
def disable(email: str) -> None:
    _set(email, active=False)


@users_group.command("enable", help="Enable an account again.")
@click.argument("email")
def enable(email: str) -> None:
    _set(email, active=True)


@users_group.command("set-role", help="Change an account's role.")
@click.argument("email")
@click.argument("role", type=click.Choice(list(ROLES)))
def set_role(email: str, role: str) -> None:
    _set(email, role=role)
