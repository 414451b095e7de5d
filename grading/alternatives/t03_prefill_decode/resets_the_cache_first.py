"""Correct alternative: calls cache.reset() before the prefill (harmless on a new cache) and times with
time.perf_counter."""


def prefill_decode(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    B, T = input_ids.shape
    cache = model.new_cache(B, T + max_new_tokens)
    cache.reset()
    tokens, step_input, step_times = [input_ids], input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            step_input = model(step_input, cache, last_only=True).argmax(dim=-1)[:, -1:]   # (B, 1)
            tokens.append(step_input)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat(tokens, dim=1), step_times)
