"""Files sent to the API as multipart/form-data: the body's limit, the 413 in the reader's language, the
`file` part and the other fields checked the same way wherever the API takes a file."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Response, abort, request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from tracker.documents.storage import Received, TooLarge, received
from tracker.errors import FieldError, Invalid
from tracker.translation import gettext as _
from tracker.views.errors import error_response

# Room for the other fields and the multipart framing around a file of the largest allowed size.
FORM_OVERHEAD = 256 * 1024


@dataclass(frozen=True)
class Upload:
    """The checked parts of a multipart request: the file, its name, and the other fields."""

    file: FileStorage
    filename: str
    form: MultiDict[str, str]
    limit: int
    too_large: FieldError

    @contextlib.contextmanager
    def spooled(self) -> Iterator[Received]:
        """The file copied to a temporary file (removed on exit); a 413 answer when it is over the limit."""
        try:
            with received(self.file.stream, self.limit) as spooled:
                yield spooled
        except TooLarge:
            abort(_too_large(self.too_large))


def _too_large(error: FieldError) -> Response:
    return error_response(413, str(error), {"file": error})


def multipart_upload(limit: int, too_large: FieldError, *, fields: tuple[str, ...], refused: str) -> Upload:
    """The file (in a part named ``file``) and the ``fields`` of a multipart request, checked.

    ``limit`` is the largest file in bytes; ``too_large`` the error a larger one gets (413, named on
    ``file``); ``refused`` the message of the 400 for a missing file or a field not among ``fields``.

    Raises:
        Invalid: not multipart, no file, or unknown fields. HTTPException: 413 when the body is too large.
    """
    request.max_content_length = limit + FORM_OVERHEAD
    try:
        if request.mimetype != "multipart/form-data":
            raise Invalid(_("Send the file as multipart/form-data, in a field named 'file'."),
                          {"file": FieldError("file_required")})
        upload = request.files.get("file")
        form = request.form
    except RequestEntityTooLarge:
        abort(_too_large(too_large))
    unknown = sorted({str(name) for name in form if name not in fields})
    if unknown:
        raise Invalid(refused, {name[:60]: FieldError("unknown_field") for name in unknown[:20]})
    if upload is None or not upload.filename:
        raise Invalid(refused, {"file": FieldError("file_required")})
    return Upload(upload, upload.filename, form, limit, too_large)
