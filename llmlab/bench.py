"""Decoding speed, measured side by side in one run: python -m llmlab.bench [--quick] [--threads N]

For the shipped tiny model and a random ~110M-parameter Llama (h=768, 12 layers, 12 heads, I=2048, V=32000,
tied embeddings; fp32 on the CPU), greedy generation of the same tokens from the same prompt by
- the naive loop (llmlab.generation.generate_naive: the whole sequence every step),
- prefill + decode with llmlab's KV cache (llmlab.generation.prefill_decode),
- transformers' LlamaForCausalLM.generate (greedy, use_cache=True) with the same weights.
It prints tokens per second (new tokens over the whole call, prefill included), the ratios, and the
memory-bandwidth roofline of decoding: every decode step reads all the weights once (the LM head included,
the embedding table only when it is tied to it), so at best tokens/s = bandwidth / weight bytes. The bandwidth
is measured here, as the faster of a large tensor sum and a large tensor copy.

The tiny model runs on one thread (--tiny-threads): its matrices are so small that a second thread only adds
synchronisation, for transformers as for llmlab. Each measurement is warmed up once, then repeated (llmlab
and transformers alternately); the median is reported. Timing is for comparing methods on
one machine in one run, so ratios matter more than absolute numbers. It runs your own llmlab (notebooks 03 and
05 must be done); in the instructors' repository, --reference runs it on the reference solutions instead.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from llmlab.model import Llama, LlamaConfig

BIG = dict(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
           num_key_value_heads=12, tie_word_embeddings=True, max_position_embeddings=2048)


def seconds(fn) -> float:
    """Wall time of one call of fn()."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of fn() in seconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    return statistics.median(seconds(fn) for _ in range(repeats))


def bandwidth(megabytes: int = 512, repeats: int = 5) -> float:
    """Memory bandwidth in bytes/s: the faster of summing and of copying a large fp32 tensor."""
    x = torch.ones(megabytes * 2**20 // 4)
    y = torch.empty_like(x)
    nbytes = x.numel() * 4
    read = nbytes / median_time(lambda: x.sum(), repeats)
    copy = 2 * nbytes / median_time(lambda: y.copy_(x), repeats)  # reads x and writes y
    return max(read, copy)


def random_model(config: dict, seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    model = Llama(LlamaConfig(**config))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.ones_like(p) if name.endswith("norm.weight") else 0.02 * torch.randn_like(p))
    return model.requires_grad_(False).eval()


def shipped_or_tiny_model():
    """The shipped tiny model, or a random one of its size when the checkpoint is missing."""
    from llmlab.checkpoint import SHIPPED, load_model
    if (SHIPPED / "config.json").exists():
        return "tiny-zh (shipped)", load_model(device="cpu")
    tiny = dict(vocab_size=256, hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2, tie_word_embeddings=True)
    return "tiny (random, no ckpt)", random_model(tiny)


def to_transformers(model: Llama):
    """transformers' LlamaForCausalLM with the same config and weights (its default attention, SDPA)."""
    import transformers

    from llmlab.checkpoint import hf_config_dict
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**hf_config_dict(model.config)))
    state = {(k if k == "lm_head.weight" else f"model.{k}"): v for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")
    hf.load_state_dict(state, strict=False)
    hf.generation_config.eos_token_id = None  # always generate the requested number of tokens, as llmlab does
    return hf.requires_grad_(False).eval()


def weight_bytes(model: Llama) -> int:
    """Bytes of weights one decode step reads: everything but the embedding table, unless the LM head is it."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())  # tied weights count once
    if not model.config.tie_word_embeddings:
        total -= model.embed_tokens.weight.numel() * model.embed_tokens.weight.element_size()
    return total


def benchmark(name: str, model: Llama, prompt_len: int, new_tokens: int, repeats: int, bytes_per_s: float,
              threads: int) -> dict:
    """Measure the three methods on one model with `threads` torch threads; returns a row of the table."""
    from llmlab.generation import generate_naive, prefill_decode
    torch.set_num_threads(threads)
    hf = to_transformers(model)
    input_ids = torch.randint(3, model.config.vocab_size, (1, prompt_len), generator=torch.Generator().manual_seed(0))

    def run_hf():
        with torch.inference_mode():
            return hf.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=new_tokens,
                               do_sample=False, use_cache=True, pad_token_id=0)

    # the first runs warm up and check that the three methods give the same tokens
    ours, naive, theirs = (prefill_decode(model, input_ids, new_tokens), generate_naive(model, input_ids, new_tokens),
                           run_hf())
    same = torch.equal(ours.tokens, naive.tokens) and torch.equal(ours.tokens, theirs)
    t_ours, t_hf, tpots = [], [], []
    for _ in range(repeats):  # alternate the two, so that a change in the machine's load hits both alike
        start = time.perf_counter()
        out = prefill_decode(model, input_ids, new_tokens)
        t_ours.append(time.perf_counter() - start)
        tpots.append(statistics.median(out.step_times[1:]))
        t_hf.append(seconds(run_hf))
    t_ours, t_hf, tpot = statistics.median(t_ours), statistics.median(t_hf), statistics.median(tpots)
    t_naive = median_time(lambda: generate_naive(model, input_ids, new_tokens), max(1, repeats // 3), warmup=0)
    roofline = bytes_per_s / weight_bytes(model)
    return {"model": name, "threads": threads, "params": model.num_parameters(),
            "weight_mb": weight_bytes(model) / 2**20,
            "naive": new_tokens / t_naive, "ours": new_tokens / t_ours, "hf": new_tokens / t_hf,
            "decode": 1 / tpot, "roofline": roofline, "same_tokens": same}


def format_table(rows: list[dict]) -> str:
    columns = [("model", "", "<26"), ("threads", "", ">8"), ("params", "", ">9"), ("weights", "MB", ">9"),
               ("naive", "tok/s", ">8"), ("cached", "tok/s", ">8"), ("HF", "tok/s", ">8"), ("cached/HF", "", ">11"),
               ("cached/naive", "", ">14"), ("decode", "tok/s", ">8"), ("roofline", "tok/s", ">10"),
               ("of roofline", "", ">13"), ("same tokens", "", ">13")]
    lines = ["".join(f"{name:{align}}" for name, _, align in columns),
             "".join(f"{unit:{align}}" for _, unit, align in columns)]
    for r in rows:
        cells = [r["model"], r["threads"], f"{r['params'] / 1e6:.1f}M", f"{r['weight_mb']:.1f}", f"{r['naive']:.1f}",
                 f"{r['ours']:.1f}", f"{r['hf']:.1f}", f"{r['ours'] / r['hf']:.2f}x", f"{r['ours'] / r['naive']:.2f}x",
                 f"{r['decode']:.1f}", f"{r['roofline']:.1f}", f"{r['decode'] / r['roofline']:.0%}",
                 "yes" if r["same_tokens"] else "NO"]
        lines.append("".join(f"{cell:{align}}" for cell, (_, _, align) in zip(cells, columns)))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m llmlab.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few tokens, one repeat")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for the big model (default 2)")
    parser.add_argument("--tiny-threads", type=int, default=1,
                        help="torch CPU threads for the tiny model (default 1)")
    parser.add_argument("--prompt", type=int, default=32, help="prompt length in tokens")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens to generate")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the median is reported")
    parser.add_argument("--reference", action="store_true",
                        help="instructors: run on the reference (llmlab/ with solutions/llmlab/ laid over it)")
    args = parser.parse_args(argv)
    if args.reference:
        return _run_on_reference([a for a in (sys.argv[1:] if argv is None else argv) if a != "--reference"])
    if args.quick:
        args.prompt, args.new_tokens, args.repeats = 8, 4, 1
    if args.new_tokens < 2:
        parser.error("--new-tokens must be at least 2 (one prefill step and one decode step)")
    torch.set_num_threads(args.threads)
    bytes_per_s = bandwidth(64 if args.quick else 512, 1 if args.quick else 5)
    print(f"torch {torch.__version__}, fp32 CPU; memory bandwidth {bytes_per_s / 1e9:.1f} GB/s measured with "
          f"{args.threads} threads; batch 1, prompt {args.prompt} tokens, {args.new_tokens} new tokens, "
          f"median of {args.repeats}", flush=True)
    rows = [benchmark(*shipped_or_tiny_model(), args.prompt, args.new_tokens, args.repeats, bytes_per_s,
                      args.tiny_threads)]
    rows.append(benchmark("random 768x12, V=32000", random_model(BIG), args.prompt, args.new_tokens, args.repeats,
                          bytes_per_s, args.threads))
    print(format_table(rows))
    print("naive / cached / HF: new tokens per second over the whole call (prefill included); decode: 1 / median "
          "TPOT of the cached run; roofline: bandwidth / weight bytes.")
    return rows


def _run_on_reference(argv):
    from grading.overlay import build_overlay  # only in the instructors' repository
    with tempfile.TemporaryDirectory(prefix="llmlab-reference-") as overlay:
        build_overlay(overlay)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [overlay, os.environ.get("PYTHONPATH")])))
        return subprocess.run([sys.executable, "-m", "llmlab.bench", *argv], cwd=overlay, env=env).returncode


if __name__ == "__main__":
    main()
