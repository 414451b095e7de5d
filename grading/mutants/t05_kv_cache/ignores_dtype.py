"""Always allocates float32 buffers, whatever dtype is asked for."""
_init = KVCache.__init__


def _init_float32(self, n_layers, batch_size, max_seq_len, n_kv_heads, head_dim, dtype=torch.float32,
                  device=None):
    _init(self, n_layers, batch_size, max_seq_len, n_kv_heads, head_dim, dtype=torch.float32, device=device)


KVCache.__init__ = _init_float32
