"""Model layers: token embedders, sequence encoders, CRF and softmax decoders, assembly."""
