"""`python -m pipeline` runs the classgate command line."""

from pipeline import cli

cli.entry_point()
