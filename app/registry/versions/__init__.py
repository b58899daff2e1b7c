"""TF Serving's model repository: what is on disk (`repository`) and one id's loaded,
serving and failed versions (`model_versions`). Imports `card` and `served`."""
