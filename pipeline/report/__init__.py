"""Renderers of a finished validation: JSON for machines, Markdown for people."""
