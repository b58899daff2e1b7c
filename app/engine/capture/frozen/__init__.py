"""The frozen-graph capture adapter: a SavedModel signature as a GraphDef, its layers (ops
grouped by Keras scope), its BatchNormalization fold, and the compiled capture."""
