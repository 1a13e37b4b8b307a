"""What a model config points at: vocabularies and checkpoints, read without the model.

vocabulary.py reads a vocabulary file exactly as TensorFlow's TextFileInitializer
does; checkpoint.py and checkpoint_index.py read a checkpoint's variable shapes from
its index, without TensorFlow. What they say about num_classes is compared with the
config by classgate.checks.artifacts.
"""
