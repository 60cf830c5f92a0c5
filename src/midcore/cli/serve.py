"""`midcore serve`."""

from __future__ import annotations


def serve() -> None:
    """Start the API server."""
