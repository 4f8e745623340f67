"""``python -m tracelake.cli``."""

from tracelake.cli import main

main()
