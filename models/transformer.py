"""Post-norm transformer layers of ACT (Sec. IV-B), in DETR's style.

As in DETR and the original ACT code, the position embedding is added to the queries and keys
(never the values) at *every* layer instead of once at the input, and each sub-block is
``x = LayerNorm(x + Dropout(sublayer(x)))`` (post-norm, ReLU feed-forward). The encoder stack has no
final LayerNorm (post-norm layers already end in one); the decoder stack applies a final LayerNorm
to its last layer's output. Tensors are batch-first, (B, T, D), unlike the sequence-first original.
"""

from __future__ import annotations

from torch import Tensor, nn


def _with_pos(tokens: Tensor, pos: Tensor | None) -> Tensor:
    return tokens if pos is None else tokens + pos


class TransformerEncoderLayer(nn.Module):
    """Self-attention + feed-forward, post-norm."""

    def __init__(self, d_model: int, n_heads: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout_attn = nn.Dropout(dropout)
        self.dropout_ff = nn.Dropout(dropout)
        self.dropout_out = nn.Dropout(dropout)
        self.activation = nn.ReLU()

    def forward(
        self, src: Tensor, pos: Tensor | None = None, key_padding_mask: Tensor | None = None
    ) -> Tensor:
        """src (B, T, D); pos broadcastable to it; key_padding_mask (B, T), True = ignore."""
        query_key = _with_pos(src, pos)  # (B, T, D)
        attended = self.self_attn(
            query_key, query_key, src, key_padding_mask=key_padding_mask, need_weights=False
        )[0]  # (B, T, D)
        src = self.norm1(src + self.dropout_attn(attended))
        hidden = self.dropout_ff(self.activation(self.linear1(src)))  # (B, T, F)
        src = self.norm2(src + self.dropout_out(self.linear2(hidden)))  # (B, T, D)
        return src


class TransformerDecoderLayer(nn.Module):
    """Self-attention over the queries, cross-attention to the encoder memory, feed-forward."""

    def __init__(self, d_model: int, n_heads: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout_self = nn.Dropout(dropout)
        self.dropout_cross = nn.Dropout(dropout)
        self.dropout_ff = nn.Dropout(dropout)
        self.dropout_out = nn.Dropout(dropout)
        self.activation = nn.ReLU()

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        query_pos: Tensor | None = None,
        memory_pos: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """tgt (B, S, D); memory (B, T, D); positions broadcastable to their tensors."""
        query_key = _with_pos(tgt, query_pos)  # (B, S, D)
        attended = self.self_attn(query_key, query_key, tgt, need_weights=False)[0]  # (B, S, D)
        tgt = self.norm1(tgt + self.dropout_self(attended))
        attended = self.cross_attn(
            _with_pos(tgt, query_pos),
            _with_pos(memory, memory_pos),
            memory,
            key_padding_mask=memory_key_padding_mask,
            need_weights=False,
        )[0]  # (B, S, D)
        tgt = self.norm2(tgt + self.dropout_cross(attended))
        hidden = self.dropout_ff(self.activation(self.linear1(tgt)))  # (B, S, F)
        tgt = self.norm3(tgt + self.dropout_out(self.linear2(hidden)))  # (B, S, D)
        return tgt


class TransformerEncoder(nn.Module):
    """``num_layers`` encoder layers applied in sequence, each seeing the same position embedding."""

    def __init__(
        self, num_layers: int, d_model: int, n_heads: int, dim_feedforward: int, dropout: float
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, n_heads, dim_feedforward, dropout)
            for _ in range(num_layers)
        )

    def forward(
        self, src: Tensor, pos: Tensor | None = None, key_padding_mask: Tensor | None = None
    ) -> Tensor:
        """src (B, T, D) → (B, T, D)."""
        for layer in self.layers:
            src = layer(src, pos=pos, key_padding_mask=key_padding_mask)  # (B, T, D)
        return src


class TransformerDecoder(nn.Module):
    """``num_layers`` decoder layers in sequence; returns the LAST layer's output after a LayerNorm.

    Deviation from the original ACT code, which declares 7 layers but (through DETR's
    intermediate-output indexing) returns the first layer's output, so only that layer trains.
    Here every declared layer runs and contributes to the output.
    """

    def __init__(
        self, num_layers: int, d_model: int, n_heads: int, dim_feedforward: int, dropout: float
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(d_model, n_heads, dim_feedforward, dropout)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        query_pos: Tensor | None = None,
        memory_pos: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """tgt (B, S, D), memory (B, T, D) → (B, S, D)."""
        for layer in self.layers:
            tgt = layer(
                tgt,
                memory,
                query_pos=query_pos,
                memory_pos=memory_pos,
                memory_key_padding_mask=memory_key_padding_mask,
            )  # (B, S, D)
        return self.norm(tgt)
