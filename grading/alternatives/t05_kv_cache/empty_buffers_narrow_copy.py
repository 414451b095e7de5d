"""Correct alternative: buffers from torch.empty (never read before written), writes with narrow().copy_(),
and reset() that only sets length to 0."""


class KVCache(nn.Module):
    def __init__(self, n_layers, batch_size, max_seq_len, n_kv_heads, head_dim, dtype=torch.float32, device=None):
        super().__init__()
        shape = (n_layers, batch_size, n_kv_heads, max_seq_len, head_dim)
        self.register_buffer("k", torch.empty(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.empty(shape, dtype=dtype, device=device), persistent=False)
        self.length = 0

    def update(self, layer, pos, k, v):
        T, max_seq_len = k.shape[2], self.k.shape[3]
        if pos + T > max_seq_len:
            raise ValueError(f"positions {pos}..{pos + T - 1} do not fit max_seq_len={max_seq_len}")
        self.k[layer].narrow(2, pos, T).copy_(k)
        self.v[layer].narrow(2, pos, T).copy_(v)
        self.length = pos + T
        return self.k[layer].narrow(2, 0, pos + T), self.v[layer].narrow(2, 0, pos + T)

    def reset(self):
        self.length = 0

    def memory_bytes(self):
        return self.k.numel() * self.k.element_size() + self.v.numel() * self.v.element_size()
