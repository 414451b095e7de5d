"""One buffer shared by all layers: update() ignores `layer`, so each layer overwrites the previous one's K/V."""


def _update(self, layer, pos, k, v):
    T, max_len = k.shape[2], self.k.shape[3]
    if pos + T > max_len:
        raise ValueError(f"KV cache overflow: {pos + T} > {max_len}")
    self.k[0, :, :, pos:pos + T] = k
    self.v[0, :, :, pos:pos + T] = v
    self.length = pos + T
    return self.k[0, :, :, :pos + T], self.v[0, :, :, :pos + T]


KVCache.update = _update
