"""The built-in NCE / sampled-softmax trainer, run by `classgate train` on blessed data.

It is the last step of the flow and the only part of classgate that imports
TensorFlow, so importing it is left to the `train` command alone.
"""
