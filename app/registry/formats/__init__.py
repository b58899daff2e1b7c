"""Model file formats: `loader` picks one for a card; Keras 3 `.keras` and
keras.applications there, Keras 2 HDF5 (`keras2/`), TensorFlow SavedModels with their op
check (`savedmodel/`). Imports `card` and `files`; nothing above them."""
