"""``python -m skiprof``."""
from ._entry import main

main()
