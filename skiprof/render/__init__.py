"""Renderers: they format analyzer results and import rich; nothing else here computes."""
