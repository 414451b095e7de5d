"""A growing cache that concatenates new K/V on the heads dimension (dim 1) instead of the sequence (dim 2)."""


class KVCache(nn.Module):
    def __init__(self, n_layers, batch_size, max_seq_len, n_kv_heads, head_dim, dtype=torch.float32, device=None):
        super().__init__()
        self.max_seq_len, self.dtype = max_seq_len, dtype
        self.sizes = (n_layers, batch_size, max_seq_len, n_kv_heads, head_dim)
        self.reset()

    def update(self, layer, pos, k, v):
        if pos + k.shape[2] > self.max_seq_len:
            raise ValueError("KV cache overflow")
        if self.ks[layer] is None or pos == 0:
            self.ks[layer], self.vs[layer] = k, v
        else:
            self.ks[layer] = torch.cat([self.ks[layer], k], dim=1)
            self.vs[layer] = torch.cat([self.vs[layer], v], dim=1)
        self.length = pos + k.shape[2]
        return self.ks[layer], self.vs[layer]

    def reset(self):
        self.ks, self.vs = [None] * self.sizes[0], [None] * self.sizes[0]
        self.length = 0

    def memory_bytes(self):
        L, B, S, nkv, hd = self.sizes
        return 2 * L * B * S * nkv * hd * torch.empty(0, dtype=self.dtype).element_size()
