"""nnpivot: model-driven migration of neural networks between PyTorch and Keras."""
__version__ = "0.1.0"
