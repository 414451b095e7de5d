"""Notebook 04: counting the FLOPs of inference.

Multiplying an (m, n) matrix by an (n, p) matrix takes n multiplications and n additions for each of the m*p
entries: 2mnp floating-point operations (FLOPs). A decoder layer is mostly such products, so counting them
gives its cost. As in the lecture, we ignore softmax, normalisation, RoPE, activation functions and residual
additions: they cost O(bsh) or O(b*nh*s^2) operations, small next to the products.

Symbols (the lecture's): b batch size, s sequence length (tokens), h hidden size, nh heads, hd head dimension
(h = nh * hd), n new tokens. Every function returns a Python int.
"""


def matmul_flops(m: int, n: int, p: int) -> int:
    """FLOPs of (m, n) @ (n, p): 2mnp (one multiplication and one addition per term of each dot product)."""
    raise NotImplementedError('t04_flops: implement matmul_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')


def attention_flops(b: int, s: int, h: int) -> int:
    """FLOPs of the lecture's self-attention block on s tokens: 8bsh^2 + 4bs^2h.

    - Q, K, V projections: three (b*s, h) @ (h, h) products, 6bsh^2.
    - Scores Q K^T: per head (s, hd) @ (hd, s); over the nh heads of width hd that is 2bs^2h.
    - Weighted values softmax(.) V: per head (s, s) @ (s, hd), again 2bs^2h.
    - Output projection W_o: (b*s, h) @ (h, h), 2bsh^2.
    """
    raise NotImplementedError('t04_flops: implement attention_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')


def mlp_flops(b: int, s: int, h: int) -> int:
    """FLOPs of the lecture's MLP block: up-projection (h -> 4h) and down-projection (4h -> h), 16bsh^2."""
    raise NotImplementedError('t04_flops: implement mlp_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')


def layer_flops(b: int, s: int, h: int) -> int:
    """FLOPs of one decoder layer (attention + MLP) run on s tokens: 24bsh^2 + 4bs^2h."""
    raise NotImplementedError('t04_flops: implement layer_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')


def decode_step_flops(b: int, s: int, h: int, cached: bool) -> int:
    """FLOPs of one decoder layer in one decoding step, for the new token at position s (s tokens before it).

    - cached=True: only the new token goes through the layer. Its projections and MLP cost 24bh^2 (the layer's
      24bsh^2 with one token), and its query attends to s + 1 keys: the s cached ones and its own. Scores
      (1, hd) @ (hd, s+1) and weighted values (1, s+1) @ (s+1, hd) over the heads cost 2b(s+1)h each.
      Total: 24bh^2 + 4b(s+1)h, linear in s.
    - cached=False: the whole sequence, now s + 1 tokens long, runs through the layer again:
      layer_flops(b, s + 1, h) = 24b(s+1)h^2 + 4b(s+1)^2h, quadratic in s.
    """
    raise NotImplementedError('t04_flops: implement decode_step_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')


def generation_flops(b: int, s: int, h: int, n: int, n_layers: int, cached: bool) -> int:
    """FLOPs of the decoder layers to generate n >= 1 tokens from a prompt of s tokens.

    The prefill runs the s prompt tokens through every layer (layer_flops(b, s, h) each) and yields the first
    new token. Each of the n - 1 decoding steps that follow feeds the previous new token: step i = 1..n-1 feeds
    the token at position s + i - 1, costing decode_step_flops(b, s + i - 1, h, cached) per layer. The last
    new token is never fed back. The LM head is not included.
    """
    raise NotImplementedError('t04_flops: implement generation_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')


def llama_layer_flops(b: int, s: int, h: int, n_heads: int, n_kv_heads: int, head_dim: int,
                      intermediate_size: int) -> int:
    """FLOPs of one LLaMA decoder layer run on s tokens (no cache).

    Differences from the lecture's layer:
    - GQA: W_q is (h, nh*hd) and W_o is (nh*hd, h), but W_k and W_v are only (h, nkv*hd) wide.
    - Attention: each of the nh query heads computes its own scores (s, hd) @ (hd, s) and weighted values
      (s, s) @ (s, hd), even though groups of heads share K and V: 4*b*nh*s^2*hd. The full s x s score
      matrix is counted, masked entries included, as in the lecture.
    - SwiGLU MLP: three (h, I) matrices, gate and up (h -> I) and down (I -> h): 6bshI.
    Arguments: b, s, h; n_heads nh; n_kv_heads nkv; head_dim hd; intermediate_size I.
    """
    raise NotImplementedError('t04_flops: implement llama_layer_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')


def llama_forward_flops(config, b: int, s: int) -> int:
    """FLOPs of a whole LLaMA forward pass on s tokens: every decoder layer, then the LM head (h -> V) on all
    s positions (as `model(ids)` computes logits for every position): 2bshV.

    config: a llmlab.model.LlamaConfig (or transformers' LlamaConfig); its fields hidden_size,
    num_attention_heads, num_key_value_heads, head_dim, intermediate_size, num_hidden_layers and vocab_size
    give the sizes.
    """
    raise NotImplementedError('t04_flops: implement llama_forward_flops in llmlab/flops.py (FLOPs of a decoder layer, of decoding, and of LLaMA)')
