"""The report: its typed model (model.py) and its renderers, for machines and people.

report.json is the model as JSON; markdown.py, html.py (with checklist.py's tables
and plots.py's plots, drawn by svg.py) and junit.py render the same model, and
nothing here decides anything.
"""
