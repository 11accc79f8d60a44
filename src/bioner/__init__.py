"""bioner: biomedical named-entity recognition with the BiLSTM-CRF family of models."""

__version__ = "0.1.0"
