"""update() never advances the cache length."""
_update = KVCache.update


def _update_without_length(self, layer, pos, k, v):
    out = _update(self, layer, pos, k, v)
    self.length = 0
    return out


KVCache.update = _update_without_length
