"""reset() allocates new zero buffers without passing the dtype: after a reset the cache is float32."""


def _reset(self):
    self.length = 0
    self.k = torch.zeros(self.k.shape, device=self.k.device)
    self.v = torch.zeros(self.v.shape, device=self.v.device)


KVCache.reset = _reset
