"""Correct alternative: checks the cache as it goes (length after each step, room left from its k buffer,
memory_bytes() > 0) with assertions, and uses torch.no_grad."""


def prefill_decode(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    B, T = input_ids.shape
    cache = model.new_cache(B, T + max_new_tokens)
    assert cache.length == 0 and cache.memory_bytes() > 0 and cache.k.shape[3] == T + max_new_tokens
    new_tokens, step_times = [], []
    with torch.no_grad():
        step_input = input_ids
        for step in range(max_new_tokens):
            start = clock(input_ids.device)
            logits = model(step_input, cache, last_only=True)                   # (B, 1, V)
            step_input = logits[:, -1].argmax(dim=-1, keepdim=True)
            new_tokens.append(step_input)
            step_times.append(clock(input_ids.device) - start)
            assert cache.length == T + step, "each step adds its tokens to the cache"
    return Generation(torch.cat([input_ids, *new_tokens], dim=1), step_times)
