"""One explanation, preprocess -> engine -> render, for one model: `images` and `texts`
per input kind; `options`, `targets` (masks and boxes met with the uploads), `answers`
(class maps, detections, what each target was), `run` (the engine call), `results` and
`overlays` shared by both.

Imports the engine, the registry, preprocess and render; imported by the API and the
pipeline, never by them."""
