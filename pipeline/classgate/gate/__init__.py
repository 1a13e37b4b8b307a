"""The gate: what "passed" means, bound to the data and the configs it validated.

blessing.py checks a report (complete, consistent, signed when a key is set) and the
files and configs as they are now; only its Blessing starts a trainer.
"""
