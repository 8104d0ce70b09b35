"""Forms of the account pages: login, password change, API tokens, user administration."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from tracker.models.user import ROLES
from tracker.services.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(),
                                                                     Length(max=MAX_PASSWORD_LENGTH)])
    new_password = PasswordField("New password", validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new_password", message="The two new passwords differ.")])


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)],
                       description="What the token is for, e.g. 'ministry data sync'.")


class NewUserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=320)])
    display_name = StringField("Name", validators=[Length(max=200)])
    role = SelectField("Role", choices=dict(ROLES))
    password = PasswordField("Initial password", validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)])


class UserForm(FlaskForm):
    role = SelectField("Role", choices=dict(ROLES))
    active = BooleanField("Account enabled")
