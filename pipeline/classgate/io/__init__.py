"""Reading training data, from file listings to Arrow batches.

Listing a split's files (files.py), one reader per format (tfrecord.py, parquet.py),
compression judged by bytes (compression.py), columns made ready for TFDV
(arrow.py), and the batch they all hand on (batches.py).
"""
