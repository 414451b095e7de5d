"""On overflow, silently keeps only the positions that fit instead of raising ValueError."""


def _update(self, layer, pos, k, v):
    max_len = self.k.shape[3]
    T = min(k.shape[2], max_len - pos)
    self.k[layer, :, :, pos:pos + T] = k[:, :, :T]
    self.v[layer, :, :, pos:pos + T] = v[:, :, :T]
    self.length = pos + T
    return self.k[layer, :, :, :pos + T], self.v[layer, :, :, :pos + T]


KVCache.update = _update
