"""memory_bytes assumes 4 bytes per element whatever the dtype."""


def _memory_bytes(self):
    return 2 * self.k.numel() * 4


KVCache.memory_bytes = _memory_bytes
