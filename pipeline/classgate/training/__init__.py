"""The built-in NCE / sampled-softmax trainer, run by `classgate train` on blessed data.

It is the last step of the flow: trainer.py trains and saves, data.py reads the
validated files the way validation read them. It imports TensorFlow, so importing
it is left to the `train` command alone.
"""
