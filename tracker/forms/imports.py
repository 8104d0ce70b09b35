"""Forms of imports: upload a file for a dry run, apply a dry run."""
from __future__ import annotations

from flask_wtf.file import FileField

from tracker.forms import TrackerForm as FlaskForm
from tracker.translation import lazy_gettext as _l


class ImportUploadForm(FlaskForm):
    """A spreadsheet, CSV or dataset JSON file to try."""

    file = FileField(_l("File"), description=_l(
        "The tracker's template (XLSX), a policy list downloaded from the tracker (XLSX or CSV), or a dataset "
        "file (JSON)."))


class ImportApplyForm(FlaskForm):
    """Apply the dry run shown (CSRF only)."""
