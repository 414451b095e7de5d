"""Smoke test of the benchmark (python -m llmlab.bench) on tiny sizes. Nothing about speed is asserted: the
benchmark prints ratios for people to read."""
from llmlab import bench


def test_benchmark_runs_end_to_end_on_tiny_sizes():
    model = bench.random_model(dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                    num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True))
    row = bench.benchmark("smoke", model, prompt_len=4, new_tokens=3, repeats=1, probe=bench.Bandwidth(megabytes=8),
                          threads=1, compile=True)
    assert row["same_tokens"], "naive, cached, compiled and transformers' greedy tokens differ"
    assert all(row[key] > 0 for key in ("naive", "ours", "hf", "compiled", "ours_decode", "compiled_decode",
                                        "bandwidth", "roofline"))
    assert row["roofline"] == row["bandwidth"] / bench.weight_bytes(model)
    assert row["weight_mb"] * 2**20 == bench.weight_bytes(model) == 4 * model.num_parameters()  # tied, fp32
    table = bench.format_table([row])
    assert "smoke" in table and "compiled" in table and len(table.splitlines()) == 3
