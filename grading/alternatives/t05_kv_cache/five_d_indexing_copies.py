"""Correct alternative: writes with one 5-D index (layer, :, :, pos:end) and returns copies of the layer's cached
positions instead of views; reset() fills the buffers with zeros again."""


class KVCache(nn.Module):
    def __init__(self, n_layers, batch_size, max_seq_len, n_kv_heads, head_dim, dtype=torch.float32, device=None):
        super().__init__()
        self.max_seq_len = max_seq_len
        shape = (n_layers, batch_size, n_kv_heads, max_seq_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.length = 0

    def update(self, layer, pos, k, v):
        end = pos + k.size(2)
        if end > self.max_seq_len:
            raise ValueError(f"cannot write positions up to {end}: max_seq_len is {self.max_seq_len}")
        self.k[layer, :, :, pos:end] = k
        self.v[layer, :, :, pos:end] = v
        self.length = end
        return self.k[layer, :, :, :end].clone(), self.v[layer, :, :, :end].clone()

    def reset(self):
        self.length = 0
        self.k.fill_(0)
        self.v.fill_(0)

    def memory_bytes(self):
        return 2 * self.k.nelement() * self.k.element_size()
