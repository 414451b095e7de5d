"""update() returns the layer's whole preallocated buffer (max_seq_len positions), not the filled prefix."""


def _update(self, layer, pos, k, v):
    T, max_len = k.shape[2], self.k.shape[3]
    if pos + T > max_len:
        raise ValueError(f"KV cache overflow: {pos + T} > {max_len}")
    self.k[layer, :, :, pos:pos + T] = k
    self.v[layer, :, :, pos:pos + T] = v
    self.length = pos + T
    return self.k[layer], self.v[layer]


KVCache.update = _update
