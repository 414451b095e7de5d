"""The finished text-generation tool (given code, not an exercise), built from your exercises: the decoding
strategies and logits processors of notebooks 01 and 02 and the KV cache of notebook 05.

`generate` mirrors transformers' `model.generate(...)` for a llmlab Llama: greedy decoding, sampling (with
temperature, top-k, top-p and the penalties) and beam search. Given the same settings, both return the same
tokens. For sampling that holds with the model on the CPU and the same seed (`torch.manual_seed(s)` before
transformers' generate, `generator=torch.Generator().manual_seed(s)` here; tests/test_full_generate.py checks it).
On a GPU it does not: transformers draws from the GPU's own generator, while a CPU generator given here draws
on the CPU (see `llmlab.decoding.sample`), which gives the tokens it gives with the model on the CPU, up to
the GPU's rounding of the logits.

Greedy decoding and sampling run through the model's KV cache (notebook 05): one forward pass over the prompt
(prefill), then one pass per new token (decode). Beam search re-runs the whole sequence at every step.
"""
import torch

from llmlab.checkpoint import encode
from llmlab.decoding import beam_search, greedy, sample
from llmlab.processors import process_logits

# The value of each processor setting at which process_logits leaves the logits unchanged.
NEUTRAL = dict(repetition_penalty=1.0, no_repeat_ngram_size=0, presence_penalty=0.0, frequency_penalty=0.0,
               temperature=1.0, top_k=None, top_p=1.0)


@torch.no_grad()
def generate(model, input_ids: torch.Tensor, max_new_tokens: int, *, do_sample: bool = False,
             temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0,
             repetition_penalty: float = 1.0, presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
             no_repeat_ngram_size: int = 0, num_beams: int = 1, length_penalty: float = 1.0,
             early_stopping: bool | str = False, num_return_sequences: int = 1,
             eos_token_id: int | list[int] | None = None, pad_token_id: int | None = None,
             generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
    """Continue each row of input_ids by up to max_new_tokens tokens.

    Args:
        model: a llmlab Llama.
        input_ids: (B, T) int64 prompts (no padding), on any device (moved to the model's).
        max_new_tokens: how many tokens to generate at most.
        do_sample: False for greedy decoding, True to sample (with temperature, top_k, top_p, used only then;
            top_k=None means no top-k, unlike transformers' default of 50).
        repetition_penalty, presence_penalty, frequency_penalty, no_repeat_ngram_size: the penalties of
            `llmlab.processors.process_logits`, applied in greedy decoding and sampling alike.
        num_beams: > 1 for beam search (B must be 1; no sampling or penalties), with length_penalty,
            early_stopping and num_return_sequences as in `llmlab.decoding.beam_search`.
        num_return_sequences: with sampling, each prompt is repeated this many times (rows r0, r0, r1, r1, ...).
        eos_token_id: a token id (or a list of them) that ends a row; None (the default) takes the model
            config's, as transformers does, and [] never stops early. A row that has ended gets pad_token_id
            (default: the config's, else the EOS id) in the remaining columns; generation stops when every
            row has ended.
        generator: the random number generator for sampling, on any device: the draw happens on its device
            (None: torch's global generator of the model's device).
        use_cache: False re-runs the whole sequence at every step instead of using the KV cache: slower, but
            it works before notebook 05's KV cache is implemented.
    Returns:
        (B * num_return_sequences, T + n) int64 tensor on the model's device: the prompts followed by the
        n <= max_new_tokens generated tokens.
    """
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape (batch, length), got {tuple(input_ids.shape)}")
    eos = _eos_ids(model, eos_token_id)
    if pad_token_id is None:
        pad_token_id = model.config.pad_token_id
    if pad_token_id is None and eos:
        pad_token_id = eos[0]
    if num_beams > 1:
        return _beam_generate(model, input_ids, max_new_tokens, num_beams, eos, pad_token_id, do_sample,
                              length_penalty, early_stopping, num_return_sequences,
                              dict(repetition_penalty=repetition_penalty, presence_penalty=presence_penalty,
                                   frequency_penalty=frequency_penalty, no_repeat_ngram_size=no_repeat_ngram_size))
    if num_return_sequences != 1:
        if not do_sample:
            raise ValueError("greedy decoding gives one sequence per prompt: num_return_sequences must be 1 "
                             "unless do_sample=True or num_beams > 1")
        input_ids = input_ids.repeat_interleave(num_return_sequences, dim=0)
    penalties = dict(repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size,
                     presence_penalty=presence_penalty, frequency_penalty=frequency_penalty)
    if do_sample:
        penalties.update(temperature=temperature, top_k=top_k, top_p=top_p)
    # Plain greedy decoding and sampling do not need notebook 02's process_logits.
    processing = any(value != NEUTRAL[name] for name, value in penalties.items())

    B, T = input_ids.shape
    ids = input_ids.to(model.device)
    cache = model.new_cache(B, T + max_new_tokens) if use_cache else None
    logits = _last_logits(model, ids, cache)                          # prefill: (B, V)
    done = torch.zeros(B, dtype=torch.bool, device=ids.device)        # rows that have produced an EOS
    for step in range(max_new_tokens):
        scores = process_logits(logits, ids, T, **penalties) if processing else logits
        if do_sample:
            token = sample(scores, generator)                          # (B,)
        else:
            token = greedy(scores)                                     # (B,)
        if eos:
            token = torch.where(done, pad_token_id, token)            # finished rows get padding
            done |= torch.isin(token, torch.tensor(eos, device=ids.device))
        ids = torch.cat([ids, token[:, None]], dim=1)                 # (B, T + step + 1)
        if done.all() or step == max_new_tokens - 1:
            break
        logits = _last_logits(model, token[:, None] if use_cache else ids, cache)  # decode one token
    return ids


def _last_logits(model, ids, cache):
    """Logits of the last position, (B, V): `ids` continue the cache, or are the whole sequence without one."""
    if cache is None:
        return model(ids, last_only=True)[:, -1]
    return model(ids, cache, last_only=True)[:, -1]


def _eos_ids(model, eos_token_id) -> list[int]:
    """The EOS ids as a list: the given id(s), or the model config's when None."""
    if eos_token_id is None:
        eos_token_id = model.config.eos_token_id
    if eos_token_id is None:
        return []
    return [int(eos_token_id)] if isinstance(eos_token_id, int) else [int(t) for t in eos_token_id]


def _beam_generate(model, input_ids, max_new_tokens, num_beams, eos, pad_token_id, do_sample, length_penalty,
                   early_stopping, num_return_sequences, penalties):
    if input_ids.shape[0] != 1:
        raise ValueError(f"beam search takes one prompt (batch size 1), got {input_ids.shape[0]}")
    if do_sample:
        raise ValueError("beam sampling is not supported: use do_sample=False with num_beams > 1")
    if penalties != dict(repetition_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0, no_repeat_ngram_size=0):
        raise ValueError(f"beam search here takes no penalties, got {penalties}")
    if len(eos) > 1:
        raise ValueError(f"beam search takes one eos_token_id, got {eos}")
    sequences, _ = beam_search(model, input_ids.to(model.device), num_beams, max_new_tokens,
                               eos_token_id=eos[0] if eos else None, length_penalty=length_penalty,
                               early_stopping=early_stopping, num_return_sequences=num_return_sequences)
    width = max(len(s) for s in sequences)
    fill = pad_token_id if pad_token_id is not None else 0
    out = torch.full((len(sequences), width), fill, dtype=torch.long, device=sequences[0].device)
    for row, sequence in enumerate(sequences):
        out[row, :len(sequence)] = sequence
    return out


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int = 50, **kwargs) -> str | list[str]:
    """Generate a continuation of `prompt` and return it as text (the prompt itself not included).

    tokenizer: a `tokenizers.Tokenizer` (as `llmlab.load_tokenizer()` returns) or a transformers tokenizer.
    kwargs: as for `generate`. Returns a list of strings when num_return_sequences > 1, else one string; the
    text stops before the first EOS.
    """
    ids = encode(tokenizer, prompt, model.device)                    # (1, T)
    out = generate(model, ids, max_new_tokens, **kwargs)
    eos = _eos_ids(model, kwargs.get("eos_token_id"))
    texts = []
    for row in out[:, ids.shape[1]:].tolist():
        for i, token in enumerate(row):                              # cut at the first EOS
            if token in eos:
                row = row[:i]
                break
        texts.append(tokenizer.decode(row))
    return texts[0] if len(texts) == 1 else texts
