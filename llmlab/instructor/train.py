"""Train the shipped tiny model: a small Llama on sentences of `llmlab.corpus`, saved in Hugging Face format.

    python -m llmlab.instructor.train --out llmlab/checkpoints/tiny-zh

Because the corpus comes from a grammar, the true next-word probabilities are known, and the script ends by
printing the model's probabilities for the lecture's example next to the grammar's. Every step trains on
fresh sentences (the grammar never runs out), so the model cannot memorise a fixed data set.
"""
import argparse
import json
import math
import random
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from tqdm import tqdm

from llmlab import corpus
from llmlab.checkpoint import save_checkpoint
from llmlab.model import Llama, LlamaConfig

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]  # ids 0, 1, 2, 3, as in Llama tokenizers (plus a pad)
UNK_ID, BOS_ID, EOS_ID, PAD_ID = range(4)


# ---- tokenizer --------------------------------------------------------------------------------------------

def build_tokenizer(texts, vocab_size: int = 256) -> Tokenizer:
    """A BPE tokenizer trained on `texts`; encoding adds <s> in front, as Llama tokenizers do.

    Chinese has no spaces, so before BPE the text is cut into the grammar's words by longest match (the
    classic "forward maximum matching" segmenter). BPE then merges characters only inside a word: frequent
    words become one token, rare ones stay several, and no token ever spans two words."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    longest_first = "|".join(map(re.escape, corpus.words()))  # words() lists the longest first
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(longest_first), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()  # join tokens with no spaces in between
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=sorted(set("".join(corpus.words()))))
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", BOS_ID)])
    return tokenizer


def tokenizer_config() -> dict:
    """tokenizer_config.json: lets transformers' AutoTokenizer load tokenizer.json as a fast tokenizer."""
    return {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
            "unk_token": "<unk>", "pad_token": "<pad>", "add_bos_token": True, "add_eos_token": False,
            "clean_up_tokenization_spaces": False, "model_max_length": 512}


# ---- data -------------------------------------------------------------------------------------------------

def batches(tokenizer: Tokenizer, rng: random.Random, batch_size: int, seq_len: int):
    """Yield (batch_size, seq_len + 1) token tensors of fresh sentences, each "<s> sentence </s>".

    A row is filled with whole sentences from its start; the sentence that does not fit is cut off."""
    while True:
        rows = []
        for _ in range(batch_size):
            row = []
            while len(row) <= seq_len:
                row += tokenizer.encode("".join(corpus.sample_words(rng))).ids + [EOS_ID]
            rows.append(row[:seq_len + 1])
        yield torch.tensor(rows)


# ---- model and training -----------------------------------------------------------------------------------

def model_config(vocab_size: int, hidden: int = 128, layers: int = 4, heads: int = 4, kv_heads: int = 2,
                 intermediate: int = 384, max_positions: int = 512) -> LlamaConfig:
    return LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=intermediate,
                       num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                       head_dim=hidden // heads, rms_norm_eps=1e-5, rope_theta=10000.0,
                       max_position_embeddings=max_positions, tie_word_embeddings=True,
                       bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID)


def init_weights(model: Llama, std: float = 0.02):
    """Small normal weights, as transformers initialises Llama (PyTorch's defaults are far too large for a
    tied embedding used as the output layer)."""
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            torch.nn.init.ones_(p)
        else:
            torch.nn.init.normal_(p, std=std)


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to lr/10."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(model: Llama, data, steps: int, lr: float = 3e-3, warmup: int = 100, weight_decay: float = 0.01,
          progress: bool = True) -> list[float]:
    """Train `model` for `steps` AdamW steps on the token tensors from `data`; return the loss of each step."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    losses = []
    bar = tqdm(range(steps), desc="training", disable=not progress)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup)
        tokens = next(data)
        logits = model(tokens[:, :-1])  # (B, T, V): predict every next token
        loss = F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % 10 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
    model.eval()
    return losses


# ---- evaluation -------------------------------------------------------------------------------------------

@torch.no_grad()
def word_probabilities(model: Llama, tokenizer: Tokenizer, prefix: str, words) -> dict[str, float]:
    """P(word | <s> prefix) for each word: the product of its tokens' probabilities (chain rule)."""
    context = tokenizer.encode(prefix).ids
    result = {}
    for word in words:
        word_ids = tokenizer.encode(word, add_special_tokens=False).ids
        assert tokenizer.encode(prefix + word).ids == context + word_ids, f"{word!r} is not tokenized alone"
        ids = torch.tensor([context + word_ids])
        logprobs = model(ids[:, :-1]).log_softmax(-1)[0, len(context) - 1:]  # (len(word_ids), V)
        result[word] = logprobs.gather(-1, torch.tensor(word_ids)[:, None]).sum().exp().item()
    return result


@torch.no_grad()
def greedy_text(model: Llama, tokenizer: Tokenizer, prompt: str, new_tokens: int = 40) -> str:
    """The prompt continued by plain argmax decoding (no cache: this is only a quick look)."""
    ids = tokenizer.encode(prompt).ids
    for _ in range(new_tokens):
        ids.append(model(torch.tensor([ids]))[0, -1].argmax().item())
    return tokenizer.decode(ids)


# ---- saving -----------------------------------------------------------------------------------------------

def save(model: Llama, tokenizer: Tokenizer, out) -> Path:
    """A Hugging Face checkpoint directory: weights, config, generation config and tokenizer files."""
    out = save_checkpoint(model, out)
    tokenizer.save(str(out / "tokenizer.json"))
    _write_json(out / "tokenizer_config.json", tokenizer_config())
    _write_json(out / "special_tokens_map.json", {k: v for k, v in tokenizer_config().items() if k.endswith("_token")})
    _write_json(out / "generation_config.json",
                {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": PAD_ID})
    return out


def _write_json(path: Path, data: dict):
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---- command line -----------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--vocab-size", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--intermediate", type=int, default=384)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tokenizer = build_tokenizer(corpus.sentences(rng, 20_000), args.vocab_size)
    config = model_config(tokenizer.get_vocab_size(), args.hidden, args.layers, args.heads, args.kv_heads,
                          args.intermediate)
    model = Llama(config)
    init_weights(model)
    print(f"vocabulary {config.vocab_size} tokens, {model.num_parameters():,} parameters")

    start = time.time()
    losses = train(model, batches(tokenizer, rng, args.batch_size, args.seq_len), args.steps, args.lr,
                   args.warmup)
    print(f"trained {args.steps} steps in {time.time() - start:.0f} s, "
          f"final loss {sum(losses[-100:]) / len(losses[-100:]):.4f} (mean of the last 100 steps)")

    truth = corpus.next_word_distribution(corpus.LECTURE_PREFIX)
    measured = word_probabilities(model, tokenizer, corpus.LECTURE_PREFIX, truth)
    print(f"after {corpus.LECTURE_PREFIX!r}:  word  model  grammar")
    for word, p in truth.items():
        print(f"  {word}  {measured[word]:.3f}  {p:.3f}")
    print("greedy:", greedy_text(model, tokenizer, corpus.LECTURE_PREFIX))
    print("saved to", save(model, tokenizer, args.out))


if __name__ == "__main__":
    main()
