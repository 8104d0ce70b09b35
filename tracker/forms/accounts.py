"""Forms of the account pages: login, password change and reset, profile, API tokens, user administration."""
from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from tracker.forms import TrackerForm as FlaskForm
from tracker.forms import labelled
from tracker.forms.notify import LANGUAGE_CHOICES
from tracker.models.user import ROLES
from tracker.services.accounts import MAX_DISPLAY_NAME_LENGTH, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from tracker.translation import lazy_gettext as _l


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(),
                                                                     Length(max=MAX_PASSWORD_LENGTH)])
    new_password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))])


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=320)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))])


class ProfileForm(FlaskForm):
    display_name = StringField(
        _l("Your name"), validators=[DataRequired(), Length(max=MAX_DISPLAY_NAME_LENGTH)],
        description=_l("Shown to other staff in histories and activity logs instead of your email address."))
    language = SelectField(_l("Language of the emails"), choices=LANGUAGE_CHOICES, default="en")


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("What the token is for, e.g. 'ministry data sync'."))


class NewUserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=320)])
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=MAX_DISPLAY_NAME_LENGTH)])
    # The least privileged role unless the administrator chooses another.
    role = SelectField(_l("Role"), choices=labelled(ROLES), default="partner")
    password = PasswordField(_l("Initial password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)])


class UserForm(FlaskForm):
    role = SelectField(_l("Role"), choices=labelled(ROLES))
    active = BooleanField(_l("Account enabled"))
