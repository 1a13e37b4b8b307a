"""Beside the package, never installed: the demo data generator and the bench."""
