"""What the current request is about, for metrics and traces recorded far from the servicer
(the Vertex client, the auth provider): set once per request, read where needed.

Context variables follow the request's task, and fan-out tasks inherit them when created.
"""

from __future__ import annotations

from contextvars import ContextVar

# The model family and canonical model of the request's route ("" before routing).
FAMILY: ContextVar[str] = ContextVar("vg_family", default="")
MODEL: ContextVar[str] = ContextVar("vg_model", default="")
