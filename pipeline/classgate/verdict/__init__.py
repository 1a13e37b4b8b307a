"""The verdict: the job's results and the model configs -> anomalies and a status.

decide.py is a plain function of data already read; schema.py is the one place that
speaks TFDV (schema inference and validation, TFDV's own findings).
"""
