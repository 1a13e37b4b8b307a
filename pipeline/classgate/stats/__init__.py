"""Pure statistics: numpy and pyarrow only, never Beam or TensorFlow."""
