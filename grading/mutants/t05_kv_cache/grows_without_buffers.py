"""No preallocation: each layer's K/V grow with torch.cat on the sequence dimension, so there are no buffers `k`
and `v` of shape (n_layers, B, nkv, max_seq_len, hd) as the docstring promises (the values and memory_bytes are
right)."""


class KVCache(nn.Module):
    def __init__(self, n_layers, batch_size, max_seq_len, n_kv_heads, head_dim, dtype=torch.float32, device=None):
        super().__init__()
        self.sizes = (n_layers, batch_size, max_seq_len, n_kv_heads, head_dim)
        self.dtype, self.device = dtype, device
        self.reset()

    def update(self, layer, pos, k, v):
        if pos + k.shape[2] > self.sizes[2]:
            raise ValueError(f"KV cache overflow: {pos + k.shape[2]} > max_seq_len={self.sizes[2]}")
        self.ks[layer] = torch.cat([self.ks[layer][:, :, :pos], k.to(self.dtype)], dim=2)
        self.vs[layer] = torch.cat([self.vs[layer][:, :, :pos], v.to(self.dtype)], dim=2)
        self.length = pos + k.shape[2]
        return self.ks[layer], self.vs[layer]

    def reset(self):
        L, B, _, nkv, hd = self.sizes
        empty = torch.zeros(B, nkv, 0, hd, dtype=self.dtype, device=self.device)
        self.ks, self.vs = [empty] * L, [empty] * L
        self.length = 0

    def memory_bytes(self):
        L, B, S, nkv, hd = self.sizes
        return 2 * L * B * S * nkv * hd * torch.empty(0, dtype=self.dtype).element_size()
