"""`python -m classgate` runs the classgate command line."""

from classgate import cli

cli.entry_point()
