"""Smoke test of the benchmark (python -m llmlab.instructor.bench) on tiny sizes. Nothing about speed is asserted: the
benchmark prints ratios for people to read."""
import os
import subprocess
import sys

from grading.overlay import ROOT
from llmlab.instructor import bench


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


def test_benchmark_on_unfinished_stubs_says_in_one_line_what_to_do():
    """In the instructors' repository llmlab/ holds the stubs: the benchmark names the stub and the way out."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-m", "llmlab.instructor.bench", "--quick"], cwd=ROOT, env=environ,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    message = run.stderr.strip().splitlines()
    assert len(message) == 1 and "t03_generate_naive" in message[0] and "--reference" in message[0], message
