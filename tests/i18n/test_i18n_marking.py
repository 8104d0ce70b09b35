"""Every interface string is marked for translation: templates, flash messages and domain errors."""
from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "tracker" / "templates"
PACKAGE = ROOT / "tracker"

# Text a template may show as it is, in every language: the brand's Lao name, symbols, and names of
# formats and protocols. Anything else with a letter in it must go through _() or ngettext().
ALLOWED_TEXT = {
    "EV Policy Tracker",            # the brand, shown beside its Lao name in the header
    "ຕິດຕາມນະໂຍບາຍລົດໄຟຟ້າ",         # the brand in Lao (lang="lo"), shown in both interfaces
    "JSON", "API", "CSV", "PNG", "Atom", "RSS", "URL", "ID", "id",
    "https://", "http://", "⚡", "SHA-256",
    "(English)", "(ພາສາລາວ)",      # the marks of a field shown in the other language, each in its own
}
# Code and examples of code are not translated.
VERBATIM = ("script", "style", "code", "kbd", "samp", "pre")
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
JINJA = re.compile(r"\{#.*?#\}|\{%-?.*?-?%\}|\{\{-?.*?-?\}\}", re.S)
LETTER = re.compile(r"[^\W\d_]")


class _TextNodes(HTMLParser):
    """Collects the text nodes and the human-read attributes of a template with its Jinja code blanked."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in VERBATIM:
            self._skip += 1
        values = dict(attrs)
        for name in ATTRIBUTES:
            if values.get(name):
                self.found.append((self.getpos()[0], values[name]))
        if tag == "meta" and values.get("name") == "description" and values.get("content"):
            self.found.append((self.getpos()[0], values["content"]))
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.found.append((self.getpos()[0], values["value"]))

    def handle_endtag(self, tag):
        if tag in VERBATIM and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.found.append((self.getpos()[0], data))


def _unmarked(text: str) -> str | None:
    """The visible words of ``text`` once Jinja output and allowed tokens are taken out, if any."""
    text = text.replace("\x00", " ")
    for allowed in sorted(ALLOWED_TEXT, key=len, reverse=True):
        text = text.replace(allowed, " ")
    text = " ".join(text.split())
    return text if LETTER.search(text) else None


def template_problems(path: Path, root: Path = ROOT) -> list[str]:
    source = path.read_text(encoding="utf-8")
    # Jinja code becomes a blank of the same line count, so reported line numbers stay right: a statement
    # a space (it may sit between attributes), an expression a NUL (or a tag name where it names a tag).
    source = re.sub(r"<(/?)\{\{.*?\}\}", r"<\1x", source)
    blanked = JINJA.sub(lambda match: (" " if match.group(0).startswith("{%") else "\x00")
                        + "\n" * match.group(0).count("\n"), source)
    if path.suffix == ".txt":
        nodes = [(number, line) for number, line in enumerate(blanked.splitlines(), 1)]
    else:
        parser = _TextNodes()
        parser.feed(blanked)
        parser.close()
        nodes = parser.found
    relative = path.relative_to(root)
    return [f"{relative}:{line}: {words!r}" for line, text in nodes if (words := _unmarked(text))]


def test_no_template_shows_text_outside_gettext():
    problems = [problem for path in sorted(TEMPLATES.rglob("*")) if path.suffix in (".html", ".txt")
                for problem in template_problems(path)]
    assert problems == [], "mark these with {{ _('...') }}:\n" + "\n".join(problems)


def test_the_template_scanner_finds_unmarked_text_and_attributes(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<p>{{ _("Fine") }}</p>\n<p>Not marked</p>\n<input placeholder="Type here">\n'
                    '<span aria-label="{{ _(\'Fine too\') }}">⚡ JSON</span>{# a comment #}')
    page_problems = [problem.split(": ", 1)[1] for problem in template_problems(page, tmp_path)]
    assert page_problems == ["'Not marked'", "'Type here'"]


# ---------------------------------------------------------------------------------------------------
# Python: messages people read are passed through gettext where they are raised or flashed

# Calls whose text arguments reach a reader: flash messages, domain and HTTP errors, form validation.
MESSAGE_CALLS = {
    "flash", "abort", "Invalid", "NotFound", "Forbidden", "Conflict", "StaleEdit", "Unauthorized",
    "LoginFailed", "LoginLocked", "QueryError", "SearchUnavailable", "ValidationError", "InputRequired",
    "DataRequired", "PreconditionRequired", "UnsupportedMediaType", "BadRequest",
}
# Modules whose messages are for operators on the command line or in logs, never shown in a page.
OPERATOR_MODULES = {"tracker/services/dataset.py", "tracker/cli", "tracker/search/cli.py",
                    "tracker/migrate.py"}


def _is_text(node: ast.AST) -> bool:
    """A literal or an f-string with words in it (not a code such as "success" or "error")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(LETTER.search(node.value)) and " " in node.value.strip()
    return isinstance(node, ast.JoinedStr)


def python_problems(path: Path, root: Path = ROOT) -> list[str]:
    relative = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in MESSAGE_CALLS:
                continue
            texts = [arg for arg in node.args if _is_text(arg)]
            texts += [kw.value for kw in node.keywords if kw.arg in ("message",
                                                                     "description") and _is_text(kw.value)]
            for arg in node.args:
                if isinstance(arg, ast.Dict):
                    texts += [value for value in arg.values if value is not None and _is_text(value)]
            problems += [f"{relative}:{text.lineno}: {name}(…) with unmarked text" for text in texts]
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            # errors["field"] = "message": the per-field messages of an Invalid.
            if (isinstance(target, ast.Subscript) and getattr(target.value, "id", None) == "errors"
                    and _is_text(node.value)):
                problems.append(f"{relative}:{node.lineno}: errors[…] = unmarked text")
    return problems


def test_no_python_module_raises_or_flashes_unmarked_text():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if any(relative == module or relative.startswith(module + "/") for module in OPERATOR_MODULES):
            continue
        problems += python_problems(path)
    assert problems == [], "wrap these in gettext (_ or _l):\n" + "\n".join(problems)


def test_the_python_scanner_finds_unmarked_messages(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        'flash("Saved it.", "success")\n'
        'flash(_("Saved it."), "success")\n'
        'raise Invalid(f"Bad {x} value", {"field": "Is not right."})\n'
        'errors["year"] = "Must be a year."\n'
        'errors["year"] = _("Must be a year.")\n')
    assert sorted(problem.split(": ", 1)[0] for problem in python_problems(module, tmp_path)) == [
        "module.py:1", "module.py:3", "module.py:3", "module.py:4"]


@pytest.mark.parametrize("keyword", ["_l", "N_"])
def test_extraction_knows_the_marker_functions(keyword):
    # The catalogue test extracts with these keywords; a marker they miss would leave text untranslated.
    sources = "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py"))
    assert f"{keyword}(" in sources
