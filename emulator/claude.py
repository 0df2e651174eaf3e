"""Placeholder, replaced by the implementation in this session."""

from __future__ import annotations

from emulator.routing import MethodRegistry


def register(registry: MethodRegistry) -> None:
    """Register this module's methods."""
