"""Readers of training data: one module per format, plus the file listing they share."""
