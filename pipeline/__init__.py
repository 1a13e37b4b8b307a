"""classgate: checks label data against NCE model configs before training starts.

Data flows one way: files -> Arrow record batches -> mergeable label statistics
(+ TFDV statistics) -> checks -> report -> gate. See README.md for the commands.
"""

__version__ = "0.1.0"
