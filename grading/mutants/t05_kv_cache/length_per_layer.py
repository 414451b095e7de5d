"""Adds T to length on every update, i.e. once per layer, instead of setting it to pos + T."""
_update = KVCache.update


def _update_adding(self, layer, pos, k, v):
    length = self.length
    out = _update(self, layer, pos, k, v)
    self.length = length + k.shape[2]
    return out


KVCache.update = _update_adding
