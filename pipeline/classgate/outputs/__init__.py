"""The output folder and what a verdict leaves in it, and earlier runs' folders.

folder.py is the output folder itself (lock, manifest, guarded writes and deletes);
publish.py writes a verdict's files, report.json last; history.py reads earlier
runs' reports and class counts for drift and headroom.
"""
