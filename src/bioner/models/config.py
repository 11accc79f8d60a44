"""The model's architecture as a validated config: TokenEmbedder ▸ SequenceEncoder ▸ Decoder.

Every field has a default that reproduces the Lample et al. BiLSTM-CRF as Saber uses it;
presets in `bioner/configs/` override fields with the values each paper reports. Unknown
keys are rejected (`extra="forbid"`) so a typo never silently falls back to a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WordEmbeddingConfig(StrictModel):
    enabled: bool = True
    dim: int = Field(100, ge=1, description="Used when no vectors file is given.")
    vectors: str | None = Field(None, description="word2vec text/binary or GloVe file.")
    vectors_format: Literal["auto", "word2vec-text", "word2vec-binary", "glove"] = "auto"
    max_vectors: int | None = Field(None, ge=1, description="Read only the first N vectors.")
    freeze: bool = False
    lowercase: bool = False
    normalize_digits: bool = False
    min_count: int = Field(1, ge=1, description="Training words rarer than this map to UNK.")
    unk_replace_prob: float = Field(
        0.0, ge=0.0, lt=1.0, description="Lample §4: singletons → UNK with this probability."
    )


class CharEncoderConfig(StrictModel):
    kind: Literal["none", "cnn", "lstm", "attention"] = "lstm"
    alphabet: Literal["learned", "onehot70"] = "learned"
    char_dim: int = Field(25, ge=1)
    widths: list[int] = Field(default_factory=lambda: [3])
    filters: list[int] = Field(default_factory=lambda: [30])
    hidden: int = Field(25, ge=1, description="Char BiLSTM units per direction.")
    attention_window: int = Field(5, ge=1, description="Lyu: characters per attention window.")
    max_word_chars: int = Field(50, ge=1, description="Longer words are truncated.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _widths_match_filters(self) -> CharEncoderConfig:
        if self.kind == "cnn" and len(self.widths) != len(self.filters):
            raise ValueError("char.widths and char.filters must have the same length")
        return self


class ContextualConfig(StrictModel):
    """Contextual string embeddings (Akbik et al. 2018; BioNerFlair §2.2.1) from two char LMs."""

    enabled: bool = False
    forward: str | None = Field(
        None, description="Forward char LM: `bioner pretrain charlm` output or a bundled name."
    )
    backward: str | None = Field(None, description="Backward char LM (same forms).")
    fine_tune: bool = Field(False, description="Train the LMs with the tagger (default frozen).")

    @model_validator(mode="after")
    def _paths_given(self) -> ContextualConfig:
        if self.enabled and (not self.forward or not self.backward):
            raise ValueError("contextual embeddings need both `forward` and `backward` LMs")
        return self


class EmbedderConfig(StrictModel):
    word: WordEmbeddingConfig = Field(default_factory=WordEmbeddingConfig)
    char: CharEncoderConfig = Field(default_factory=CharEncoderConfig)
    contextual: ContextualConfig = Field(default_factory=ContextualConfig)
    word_window: int = Field(0, ge=0, description="Lyu: concatenate ±k neighbouring tokens.")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="On the concatenated embedding.")


class EncoderConfig(StrictModel):
    kind: Literal["bilstm", "residual"] = "bilstm"
    hidden: int = Field(100, ge=1, description="Units per direction.")
    layers: int = Field(1, ge=1, description="Stacked BiLSTM layers (kind=bilstm).")
    units: int = Field(1, ge=1, description="DeepVar residual units of two BiLSTMs.")
    input_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    output_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    hidden_layer: int | None = Field(None, ge=1, description="Lyu/DeepVar tanh layer size.")
    hidden_dropout: float = Field(0.0, ge=0.0, lt=1.0)


class DecoderConfig(StrictModel):
    kind: Literal["crf", "softmax"] = "crf"
    constraints: bool = Field(True, description="Forbid transitions the scheme cannot produce.")


class ModelConfig(StrictModel):
    tag_scheme: Literal["IOB1", "IOB2", "BIOES"] = "IOB2"
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)
    postprocess: list[str] = Field(
        default_factory=list,
        description="Rule sets applied to every prediction (bioner.postprocessing), in order: "
        "variants, abbreviations, abbreviations-keep, repeats; HEAD:name runs one on that "
        "head's spans only.",
    )

    @field_validator("postprocess")
    @classmethod
    def _known_rule_sets(cls, entries: list[str]) -> list[str]:
        from bioner.errors import BionerError
        from bioner.postprocessing import check_rule_sets

        try:
            return check_rule_sets(entries)
        except BionerError as error:  # pydantic reports ValueErrors with the field's path
            raise ValueError(str(error)) from None
