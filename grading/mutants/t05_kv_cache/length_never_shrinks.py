"""length = max(length, pos + T): writing at an earlier position leaves the old, larger length."""
_update = KVCache.update


def _update_max(self, layer, pos, k, v):
    before = self.length
    k_all, v_all = _update(self, layer, pos, k, v)
    self.length = max(before, pos + k.shape[2])
    return k_all, v_all


KVCache.update = _update_max
