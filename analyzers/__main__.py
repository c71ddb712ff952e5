"""``python -m skiprof.analyzers``: print the analyses table docs/metrics.md embeds."""
from . import registry_markdown

print(registry_markdown())
