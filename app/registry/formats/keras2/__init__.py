"""Keras 2 HDF5 model files: the config translated to Keras 3 with an allow-list, then the
weights."""
