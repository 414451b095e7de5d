"""Keeps the cache of each (B, max_seq_len) in a module-level dict to save allocations, without reset(): a second
call of the same shape continues the first call's cache."""
_caches = {}


def prefill_decode(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    B, T = input_ids.shape
    key = (B, T + max_new_tokens)
    if key not in _caches:
        _caches[key] = model.new_cache(B, T + max_new_tokens)
    cache, new_tokens, step_times, step_input = _caches[key], [], [], input_ids
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = clock(input_ids.device)
            step_input = model(step_input, cache, last_only=True)[:, -1].argmax(dim=-1, keepdim=True)
            new_tokens.append(step_input)
            step_times.append(clock(input_ids.device) - start)
    return Generation(torch.cat([input_ids, *new_tokens], dim=1), step_times)
