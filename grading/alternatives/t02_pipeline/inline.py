"""Everything written inline with its own code instead of calling the processors."""


def process_logits(logits, input_ids, prompt_length, *, repetition_penalty=1.0, no_repeat_ngram_size=0,
                   presence_penalty=0.0, frequency_penalty=0.0, temperature=1.0, top_k=None, top_p=1.0):
    if logits.dim() != 2 or input_ids.dim() != 2 or input_ids.shape[0] != logits.shape[0]:
        raise ValueError("logits must be (B, V) and input_ids (B, L)")
    if not isinstance(prompt_length, int) or not 0 <= prompt_length <= input_ids.shape[1]:
        raise ValueError(f"bad prompt_length {prompt_length!r}")
    for name, ok in [("repetition_penalty", repetition_penalty > 0), ("temperature", temperature > 0),
                     ("top_k", top_k is None or (isinstance(top_k, int) and top_k > 0)), ("top_p", 0 <= top_p <= 1),
                     ("no_repeat_ngram_size", isinstance(no_repeat_ngram_size, int) and no_repeat_ngram_size >= 0)]:
        if not ok:
            raise ValueError(f"invalid {name}")
    x = logits.clone()
    ids = input_ids.long()
    B, V = x.shape
    if repetition_penalty != 1.0:
        seen = torch.gather(x, 1, ids)
        x = x.scatter(1, ids, torch.where(seen < 0, seen * repetition_penalty, seen / repetition_penalty))
    n, L = no_repeat_ngram_size, ids.shape[1]
    if n and L >= n:
        for b, tokens in enumerate(ids.tolist()):
            for start in range(L - n + 1):
                if tokens[start:start + n - 1] == tokens[L - n + 1:]:
                    x[b, tokens[start + n - 1]] = -math.inf
    if presence_penalty or frequency_penalty:
        gen = ids[:, prompt_length:]
        counts = torch.zeros_like(x).scatter_add(1, gen, torch.ones_like(gen, dtype=x.dtype))
        x = x - counts * frequency_penalty - (counts > 0).to(x.dtype) * presence_penalty
    if temperature != 1.0:
        x = x / temperature
    if top_k is not None:
        kth = x.topk(min(top_k, V), dim=-1).values[:, -1:]
        x = x.masked_fill(x < kth, -math.inf)
    if top_p < 1.0:
        values, order = x.sort(dim=-1)
        remove = values.softmax(dim=-1).cumsum(dim=-1) <= 1 - top_p
        remove[:, -1] = False
        x = x.masked_fill(remove.scatter(1, order, remove), -math.inf)
    return x
