"""Forms of the notification pages: following a record, subscribing by email, webhook endpoints."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SelectChoice, SelectField, StringField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from tracker.services.subscriptions import (
    DEFAULT_COMMENT_DAYS,
    DEFAULT_SUNSET_DAYS,
    MAX_COMMENT_DAYS,
    MAX_SUNSET_DAYS,
    MIN_SUNSET_DAYS,
)
from tracker.translation import lazy_gettext as _l

CADENCE_CHOICES = [SelectChoice("immediate", _l("At once, one email per change")),
                   SelectChoice("daily", _l("Daily digest")), SelectChoice("weekly", _l("Weekly digest"))]
LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("lo", "ພາສາລາວ (Lao)")]
SUNSET_DAYS_MESSAGE = _l("Give a whole number of days from 1 to 365.")


class DaysField(IntegerField):
    """A small whole number. More digits than a number of days can have are not read (NumberRange then
    refuses the empty value), because a number too large for a float would crash NumberRange."""

    def process_formdata(self, valuelist):
        if valuelist and len(valuelist[0].strip()) > 6:
            self.data = None
            return
        super().process_formdata(valuelist)


class _OptionsForm(FlaskForm):
    cadence = SelectField(_l("How often"), choices=CADENCE_CHOICES, default="immediate")
    sunset_days = DaysField(
        _l("Warn me this many days before a time-bound measure ends"), default=DEFAULT_SUNSET_DAYS,
        validators=[Optional(), NumberRange(min=MIN_SUNSET_DAYS, max=MAX_SUNSET_DAYS,
                                            message=SUNSET_DAYS_MESSAGE)])
    comment_days = DaysField(
        _l("Remind me this many days before a comment period closes (0: no reminder)"),
        default=DEFAULT_COMMENT_DAYS,
        validators=[Optional(), NumberRange(min=0, max=MAX_COMMENT_DAYS,
                                            message=_l("Give a whole number of days from 0 to 365."))])
    language = SelectField(_l("Language of the emails"), choices=LANGUAGE_CHOICES, default="en")

    def options(self) -> dict:
        """The settings as the service checks them (see tracker.services.subscriptions.check_options)."""
        return {"cadence": self.cadence.data, "sunset_days": self.sunset_days.data, "language": self.language.data,
                "comment_days": self.comment_days.data}


class SubscribeForm(_OptionsForm):
    """A visitor without an account subscribes by email (double opt-in)."""

    email = EmailField(_l("Your email address"), validators=[
        DataRequired(_l("Give your email address.")),
        Length(max=320, message=_l("An email address has at most 320 characters."))])


class FollowForm(_OptionsForm):
    """A signed-in user follows by email to their account's address or through a webhook endpoint."""

    deliver_to = SelectField(_l("Tell me by"), choices=[])

    def set_endpoints(self, endpoints, email: str) -> None:
        self.deliver_to.choices = [SelectChoice("email", str(_l("Email to %(address)s", address=email)))] + [
            SelectChoice(f"webhook-{endpoint.id}", str(_l("Webhook to %(url)s", url=endpoint.url)))
            for endpoint in endpoints if endpoint.is_active]

    def channel(self) -> tuple[str, int | None]:
        value = self.deliver_to.data or "email"
        if value.startswith("webhook-") and value[8:].isdigit():
            return "webhook", int(value[8:])
        return "email", None


class EndpointForm(FlaskForm):
    url = URLField(_l("Receiver URL"), validators=[
        DataRequired(_l("Give the https URL that receives the webhooks.")),
        Length(max=2000, message=_l("A URL has at most 2000 characters."))],
        description=_l("An https URL on a public address; it receives a signed POST for each change."))
    description = StringField(_l("Description (optional)"),
                              validators=[Length(max=200, message=_l("Use at most 200 characters."))])


class ActionForm(FlaskForm):
    """A button that acts (delete, rotate, test, retry, confirm): only the CSRF token is sent."""




class ManageLinkForm(FlaskForm):
    """A visitor asks for a fresh link to the page managing every subscription of an address."""

    email = EmailField(_l("Your email address"), validators=[
        DataRequired(_l("Give your email address.")),
        Length(max=320, message=_l("An email address has at most 320 characters."))])
