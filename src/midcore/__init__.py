"""Midcore: run AI coding agents from scripts and CI, judged by gates, recorded as evidence."""

__version__ = "0.1.0"
