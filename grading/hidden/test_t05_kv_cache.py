import pytest
import torch

from tests.adapters import call

pytestmark = pytest.mark.task("t05_kv_cache")


def test_update_returns_prefix():
    sizes = dict(n_layers=2, batch_size=2, max_seq_len=8, n_kv_heads=3, head_dim=4)
    k1, v1, k2, v2 = (torch.randn(2, 3, n, 4) for n in (5, 5, 1, 1))
    (a, b), length, (c, d), length2 = call("kv_cache", sizes, [("update", 1, 0, k1, v1), ("length",),
                                                               ("update", 1, 5, k2, v2), ("length",)])
    assert length == 5 and length2 == 6
    torch.testing.assert_close(c, torch.cat([k1, k2], 2), rtol=0, atol=0)
    torch.testing.assert_close(d, torch.cat([v1, v2], 2), rtol=0, atol=0)
