"""update() returns (v_all, k_all) instead of (k_all, v_all)."""
_update = KVCache.update


def _update_swapped(self, layer, pos, k, v):
    k_all, v_all = _update(self, layer, pos, k, v)
    return v_all, k_all


KVCache.update = _update_swapped
