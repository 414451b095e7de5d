"""Decoding speed, measured side by side in one run: python -m llmlab.instructor.bench [--quick] [--threads N]
[--compile] [--device cuda]

For the shipped tiny model and a random ~110M-parameter Llama (h=768, 12 layers, 12 heads, I=2048, V=32000,
tied embeddings; fp32 on the CPU), greedy generation of the same
tokens from the same prompt by
- the naive loop (llmlab.generation.generate_naive: the whole sequence every step),
- prefill + decode with llmlab's KV cache (llmlab.generation.prefill_decode),
- transformers' LlamaForCausalLM.generate (greedy, use_cache=True) with the same weights,
- with --compile, prefill + decode again with the model compiled by torch.compile (as gpt-fast compiles its
  decoding step; needs a C++ compiler and adds a minute or two of compiling per model).
It prints tokens per second (new tokens over the whole call, prefill included), the ratios, and the
memory-bandwidth roofline of decoding: every decode step reads all the weights once (the LM head included,
the embedding table only when it is tied to it), so at best tokens/s = bandwidth / weight bytes. The bandwidth
is measured here, as the faster of a large tensor sum and a large tensor copy, with the same threads and
between the same repetitions as the decoding it is compared with (the load of a shared machine changes both).

With --device cuda (or mps) it measures a random ~1.2B-parameter Llama (Llama 3.2 1B's shape: h=2048, 16
layers, 32 query and 8 key/value heads, I=8192, V=128256, tied) in bf16 on that GPU instead, and the
bandwidth of a large copy in GPU memory.

The tiny model runs on one thread (--tiny-threads): its matrices are so small that a second thread only adds
synchronisation, for transformers as for llmlab. Each measurement is warmed up once, then repeated (the
methods alternately); the median is reported. Timing is for comparing methods on
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

from llmlab.generation import clock
from llmlab.model import Llama, LlamaConfig

BIG = dict(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
           num_key_value_heads=12, tie_word_embeddings=True, max_position_embeddings=2048)
GPU_1B = dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
              num_key_value_heads=8, tie_word_embeddings=True, max_position_embeddings=2048, rope_theta=5e5)


def seconds(fn, device="cpu") -> float:
    """Wall time of one call of fn(), with the work it queued on `device` (a GPU) done."""
    start = clock(device)
    fn()
    return clock(device) - start


def median_time(fn, repeats: int, device="cpu") -> float:
    """Median wall time of fn() in seconds."""
    return statistics.median(seconds(fn, device) for _ in range(repeats))


class Bandwidth:
    """Memory bandwidth probe: each call measures bytes/s once, as the faster of summing a large fp32 tensor
    (reads it) and copying it (reads it and writes another)."""

    def __init__(self, megabytes: int = 512, device="cpu"):
        self.device = torch.device(device)
        self.x = torch.ones(megabytes * 2**20 // 4, device=self.device)
        self.y = torch.empty_like(self.x)
        self.y.copy_(self.x)  # the first write to fresh memory is slow: do it untimed

    def __call__(self) -> float:
        nbytes = self.x.numel() * self.x.element_size()
        return max(nbytes / seconds(self.x.sum, self.device),
                   2 * nbytes / seconds(lambda: self.y.copy_(self.x), self.device))


def random_model(config: dict, seed: int = 0, device="cpu", dtype=torch.float32) -> Llama:
    """A random Llama of `config`: normal weights with std 0.02, norms 1."""
    torch.manual_seed(seed)
    with torch.device(device):  # made where it runs: a 1B model in fp32 is 5 GB
        model = Llama(LlamaConfig(**config))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.ones_like(p) if name.endswith("norm.weight") else 0.02 * torch.randn_like(p))
    return model.to(dtype).requires_grad_(False).eval()


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
    return hf.to(model.device, model.lm_head.weight.dtype).requires_grad_(False).eval()


def weight_bytes(model: Llama) -> int:
    """Bytes of weights one decode step reads: everything but the embedding table, unless the LM head is it."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())  # tied weights count once
    if not model.config.tie_word_embeddings:
        total -= model.embed_tokens.weight.numel() * model.embed_tokens.weight.element_size()
    return total


def compiled(model: Llama):
    """The model compiled by torch.compile, as gpt-fast speeds up its decoding step: the few hundred small
    operations of a step become a few fused kernels. The cache length, and with it the positions, changes every
    step: dynamic shapes and unspecialised integer attributes keep that from compiling every step anew."""
    torch._dynamo.config.allow_unspec_int_on_nn_module = True
    return torch.compile(model, dynamic=True)


def benchmark(name: str, model: Llama, prompt_len: int, new_tokens: int, repeats: int, probe: Bandwidth,
              threads: int, compile: bool = False) -> dict:
    """Measure the methods on one model with `threads` torch threads; returns a row of the table."""
    from llmlab.generation import generate_naive, prefill_decode
    torch.set_num_threads(threads)
    hf = to_transformers(model)
    input_ids = torch.randint(3, model.config.vocab_size, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    input_ids, device = input_ids.to(model.device), model.device

    def run_hf():
        with torch.inference_mode():
            return hf.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=new_tokens,
                               do_sample=False, use_cache=True, pad_token_id=0)

    methods = {"ours": lambda: prefill_decode(model, input_ids, new_tokens), "hf": run_hf}
    if compile:
        fast = compiled(model)
        methods["compiled"] = lambda: prefill_decode(fast, input_ids, new_tokens)
    # the first runs warm up (and compile) and check that every method gives the naive loop's tokens
    naive = generate_naive(model, input_ids, new_tokens).tokens
    warmed_up = [_tokens(run()) for run in methods.values()]
    same = all(torch.equal(naive, tokens) for tokens in warmed_up)
    times, tpots, bandwidths = {key: [] for key in methods}, {key: [] for key in methods if key != "hf"}, []
    for _ in range(repeats):  # alternate, so that a change in the machine's load hits every method alike
        bandwidths.append(probe())
        for key, run in methods.items():
            start = clock(device)
            out = run()
            times[key].append(clock(device) - start)
            if key in tpots:  # llmlab's runs time every step
                tpots[key].append(statistics.median(out.step_times[1:]))
    t_naive = median_time(lambda: generate_naive(model, input_ids, new_tokens), max(1, repeats // 3), device)
    bytes_per_s = statistics.median(bandwidths)
    row = {"model": name, "threads": threads, "params": model.num_parameters(),
           "weight_mb": weight_bytes(model) / 2**20, "naive": new_tokens / t_naive,
           "bandwidth": bytes_per_s, "roofline": bytes_per_s / weight_bytes(model), "same_tokens": same}
    for key in methods:
        row[key] = new_tokens / statistics.median(times[key])
    for key in tpots:
        row[f"{key}_decode"] = 1 / statistics.median(tpots[key])
    return row


def _tokens(output) -> torch.Tensor:
    """The tokens of a run: transformers returns them, llmlab a Generation that holds them."""
    return output if isinstance(output, torch.Tensor) else output.tokens


def format_table(rows: list[dict]) -> str:
    columns = [("model", "", "<26"), ("threads", "", ">8"), ("params", "", ">9"), ("weights", "MB", ">9"),
               ("naive", "tok/s", ">8"), ("cached", "tok/s", ">8"), ("HF", "tok/s", ">8"), ("cached/HF", "", ">11"),
               ("cached/naive", "", ">14"), ("decode", "tok/s", ">8"), ("bandwidth", "GB/s", ">11"),
               ("roofline", "tok/s", ">10"), ("of roofline", "", ">13")]
    compiled_columns = [("compiled", "tok/s", ">10"), ("compiled/HF", "", ">13"), ("comp. decode", "tok/s", ">14")]
    with_compiled = any("compiled" in r for r in rows)
    columns += (compiled_columns if with_compiled else []) + [("same tokens", "", ">13")]
    lines = ["".join(f"{name:{align}}" for name, _, align in columns),
             "".join(f"{unit:{align}}" for _, unit, align in columns)]
    for r in rows:
        cells = [r["model"], r["threads"], f"{r['params'] / 1e6:.1f}M", f"{r['weight_mb']:.1f}", f"{r['naive']:.1f}",
                 f"{r['ours']:.1f}", f"{r['hf']:.1f}", f"{r['ours'] / r['hf']:.2f}x", f"{r['ours'] / r['naive']:.2f}x",
                 f"{r['ours_decode']:.1f}", f"{r['bandwidth'] / 1e9:.1f}", f"{r['roofline']:.1f}",
                 f"{r['ours_decode'] / r['roofline']:.0%}"]
        if with_compiled:
            cells += ([f"{r['compiled']:.1f}", f"{r['compiled'] / r['hf']:.2f}x", f"{r['compiled_decode']:.1f}"]
                      if "compiled" in r else ["-"] * 3)
        cells.append("yes" if r["same_tokens"] else "NO")
        lines.append("".join(f"{cell:{align}}" for cell, (_, _, align) in zip(cells, columns)))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m llmlab.instructor.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few tokens, one repeat")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for the big model (default 2)")
    parser.add_argument("--tiny-threads", type=int, default=1,
                        help="torch CPU threads for the tiny model (default 1)")
    parser.add_argument("--prompt", type=int, default=32, help="prompt length in tokens")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens to generate")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the median is reported")
    parser.add_argument("--compile", action="store_true",
                        help="also time the cached decode of the model compiled by torch.compile")
    parser.add_argument("--device", default="cpu",
                        help="cpu (default: the tiny and the 110M model in fp32), or a GPU: cuda, mps (the 1.2B model)")
    parser.add_argument("--reference", action="store_true",
                        help="instructors: run on the reference (llmlab/ with solutions/llmlab/ laid over it)")
    args = parser.parse_args(argv)
    if args.reference:
        return _run_on_reference([a for a in (sys.argv[1:] if argv is None else argv) if a != "--reference"])
    if args.quick:
        args.prompt, args.new_tokens, args.repeats = 8, 4, 1
    if args.new_tokens < 2:
        parser.error("--new-tokens must be at least 2 (one prefill step and one decode step)")
    device = torch.device(args.device)
    probe = Bandwidth(64 if args.quick else 512, device)
    precision = "fp32 CPU" if device.type == "cpu" else f"bf16 on {device.type}"
    print(f"torch {torch.__version__}, {precision}; batch 1, prompt {args.prompt} tokens, {args.new_tokens} new "
          f"tokens, median of {args.repeats}", flush=True)
    rows = []
    models = [(shipped_or_tiny_model(), args.tiny_threads),
              (("random 768x12, V=32000", random_model(BIG)), args.threads)]
    if device.type != "cpu":
        model = random_model(GPU_1B, device=device, dtype=torch.bfloat16)
        models = [(("random Llama 2048x16 GQA, V=128256", model), args.threads)]
    for (name, model), threads in models:
        try:
            rows.append(benchmark(name, model, args.prompt, args.new_tokens, args.repeats, probe, threads,
                                  args.compile))
        except torch._inductor.exc.InductorError as error:  # e.g. no C++ compiler
            parser.error(f"--compile: torch.compile failed: {str(error).splitlines()[0]}")
        except NotImplementedError as error:  # a stub of notebook 03 or 05
            parser.exit(2, f"{parser.prog}: {error}. The benchmark runs your llmlab.generation and llmlab.kv_cache: "
                           "finish notebooks 03 and 05 first (instructors: add --reference to run the reference).\n")
    print(format_table(rows))
    methods = "naive / cached / HF" + (" / compiled" if args.compile else "")
    print(f"{methods}: new tokens per second over the whole call (prefill included); decode: 1 / median TPOT; "
          "bandwidth: measured with the row's threads between its repetitions; roofline: bandwidth / weight bytes.")
    return rows


def _run_on_reference(argv):
    from grading.overlay import build_overlay  # only in the instructors' repository
    with tempfile.TemporaryDirectory(prefix="llmlab-reference-") as overlay:
        build_overlay(overlay)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [overlay, os.environ.get("PYTHONPATH")])))
        return subprocess.run([sys.executable, "-m", "llmlab.instructor.bench", *argv], cwd=overlay, env=env).returncode


if __name__ == "__main__":
    main()
