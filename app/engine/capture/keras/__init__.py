"""The Keras capture adapter: replay with folded BatchNormalizations, and the plain forward."""
