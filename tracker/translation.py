"""Gettext for the interface, answered from the catalogue the current request already chose.

Flask-Babel finds the catalogue anew for every message: three context lookups, the locale's name built
again, a dictionary read. A page asks for about a hundred messages, and that search was a sixth of the
time a page took to render. Here the catalogue is found once per locale and context, and kept beside
Flask-Babel's own choice of locale (on ``g._flask_babel``), so that ``force_locale`` (an email in the
subscriber's language, sent during a request in another) is obeyed: the kept catalogue is used only
while the locale it was found for is still the chosen one.
"""
from __future__ import annotations

from typing import Any

import flask_babel
from babel.support import NullTranslations
from flask.globals import _cv_app
from flask_babel.speaklater import LazyString
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

# What Flask-Babel answers outside any application context: the message itself.
_UNTRANSLATED = NullTranslations()


def current_translations() -> Any:
    """The catalogue of the locale chosen for the current context (Flask-Babel's choice, unchanged)."""
    app_context = _cv_app.get(None)
    if app_context is None:
        return _UNTRANSLATED
    state = app_context.g.__dict__.get("_flask_babel")
    if state is not None:
        chosen = state.__dict__
        locale = chosen.get("babel_locale")
        kept = chosen.get("tracker_translations")
        if locale is not None and kept is not None and kept[0] is locale:
            return kept[1]
    translations = flask_babel.get_translations()
    # Flask-Babel has now chosen the locale (and made its namespace on g, if it had none).
    chosen_now = app_context.g.__dict__.get("_flask_babel")
    locale_now = getattr(chosen_now, "babel_locale", None)
    if chosen_now is not None and locale_now is not None:
        chosen_now.tracker_translations = (locale_now, translations)
    return translations


def gettext(string: str, **variables: Any) -> str:
    """``string`` in the current language, with ``variables`` put in (as Flask-Babel's gettext)."""
    text = current_translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or plural form for ``num`` in the current language; ``num`` is among the variables."""
    variables.setdefault("num", num)
    return current_translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """``gettext`` deferred until the text is shown (for messages defined at import time)."""
    return LazyString(gettext, string, **variables)


def install_in_templates(jinja_env: Any) -> None:
    """Make templates' ``_``, ``gettext`` and ``ngettext`` use the kept catalogue, formatting the variables as
    Jinja's i18n extension does in its newstyle mode (Flask-Babel's): the message is marked safe where the
    template autoescapes, so the variables put in are escaped and the message's own markup is not."""
    jinja_env.install_gettext_callables(
        gettext=lambda string: current_translations().ugettext(string),
        ngettext=lambda singular, plural, n: current_translations().ungettext(singular, plural, n),
        newstyle=True,
        pgettext=lambda context, string: current_translations().upgettext(context, string),
        npgettext=lambda context, singular, plural, n: current_translations().unpgettext(context, singular,
                                                                                           plural, n),
    )
    # The extension's own ``_`` calls its ``gettext``, which calls the function given above: three template
    # calls (each inspecting its callee) per message, and a page shows about a hundred messages. These do
    # the same in one.
    jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)


@pass_eval_context
def _template_gettext(eval_context: EvalContext, string: str, **variables: Any) -> str:
    text = current_translations().ugettext(string)
    if eval_context.autoescape:
        text = Markup(text)
    # Always a format string, as in Jinja's newstyle gettext ("%%" is a percent sign with or without variables).
    return text % variables


@pass_eval_context
def _template_ngettext(eval_context: EvalContext, singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    text = current_translations().ungettext(singular, plural, num)
    if eval_context.autoescape:
        text = Markup(text)
    return text % variables


def current_locale() -> Any:
    """The locale chosen for the current context (Flask-Babel's ``get_locale``, read directly once chosen)."""
    app_context = _cv_app.get(None)
    if app_context is not None:
        state = app_context.g.__dict__.get("_flask_babel")
        if state is not None:
            locale = state.__dict__.get("babel_locale")
            if locale is not None:
                return locale
    return flask_babel.get_locale()
