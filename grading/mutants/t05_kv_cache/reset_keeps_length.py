"""reset() zeroes the buffers but leaves length as it was."""


def _reset(self):
    self.k.zero_()
    self.v.zero_()


KVCache.reset = _reset
