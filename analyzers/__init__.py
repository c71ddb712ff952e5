"""Analyzers: pure functions of a loaded trace, one module per question."""
