"""gradcam-server: Grad-CAM explanations of Keras models over HTTP."""

__version__ = "0.1.0"
