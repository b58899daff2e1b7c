"""Running a model while capturing one layer: the `Capture` protocol (`adapter`), the Keras
adapter (`keras/`: replay, BatchNormalization fold, plain forward) and the frozen-graph
adapter for SavedModels (`frozen/`: graph, fold, layers). Imports `targets` and `layers`."""
