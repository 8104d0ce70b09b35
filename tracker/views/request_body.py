"""Request bodies read whole or refused: a streamed (chunked) body over the request's limit gets 413.

Werkzeug applies ``max_content_length`` to a body without Content-Length (``Transfer-Encoding:
chunked``, which gunicorn and Werkzeug's server pass on as a terminated stream) by stopping at the
limit: ``request.get_data()`` and urlencoded forms then receive the first bytes and never learn that
more were sent. Here a read that reaches the limit looks for one more byte, and refuses the body if
there is one.
"""
from __future__ import annotations

import typing as t

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_content_length


class _BodyWithinLimit(LimitedStream):
    """A streamed body limited to a maximum that tells "exactly the limit" from "more than the limit"."""

    def on_exhausted(self) -> None:
        # Reading one byte past the limit: none (the body ended) is fine, any is a body too large.
        try:
            extra = self._stream.read(1)
        except (OSError, ValueError):
            return
        if extra:
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class BoundedRequest(Request):
    """Flask's request, whose streamed body over ``max_content_length`` raises 413 instead of being cut."""

    @cached_property
    def stream(self) -> t.IO[bytes]:
        limit = self.max_content_length
        if self.shallow or limit is None or "wsgi.input_terminated" not in self.environ \
                or get_content_length(self.environ) is not None:
            # A declared length is checked against the limit before reading, and read exactly.
            return super().stream
        return t.cast(t.IO[bytes], _BodyWithinLimit(self.environ["wsgi.input"], limit, is_max=True))

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> t.IO[bytes]:
        stream = super()._get_file_stream(total_content_length, content_type, filename, content_length)
        self.__dict__.setdefault("_partial_files", []).append(stream)
        return stream

    def _load_form_data(self) -> None:
        # A multipart body refused half-way leaves the parser's files open: close them here.
        try:
            super()._load_form_data()
        except BaseException:
            for stream in self.__dict__.pop("_partial_files", []):
                stream.close()
            raise
        self.__dict__.pop("_partial_files", None)

