"""From documents to tensors: vocabularies and bucketed, padded batches."""
