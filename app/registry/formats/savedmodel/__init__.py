"""TensorFlow SavedModels: the op allow-list checked on `saved_model.pb` before loading, then
the signature frozen to a graph."""
