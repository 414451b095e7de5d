"""memory_bytes() counts only the filled positions (length), not the preallocated max_seq_len."""


def _memory_bytes(self):
    L, B, nkv, _, hd = self.k.shape
    return 2 * L * B * nkv * self.length * hd * self.k.element_size()


KVCache.memory_bytes = _memory_bytes
