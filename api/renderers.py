"""JSON renderer that also serves ``application/problem+json`` (RFC 9457) for errors."""

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """Plain JSON; error responses set their content type to problem+json in ``api.problems``."""


class ProblemJSONRenderer(renderers.JSONRenderer):
    media_type = "application/problem+json"
    format = "problem+json"
