"""One explanation, preprocess -> engine -> render, for one model: `images` and `texts`
per input kind; `options`, `run` (the engine call), `results` and `overlays` shared by both.

Imports the engine, the registry, preprocess and render; imported by the API and the
pipeline, never by them."""
