"""Times only the decode steps: the prefill is left out of step_times (n - 1 entries)."""


def prefill_decode(model, input_ids, max_new_tokens):
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens)
    with torch.inference_mode():
        token = model(input_ids, cache, last_only=True)[:, -1].argmax(dim=-1, keepdim=True)
        tokens, step_times = [input_ids, token], []
        for _ in range(max_new_tokens - 1):
            start = time.perf_counter()
            token = model(token, cache)[:, -1].argmax(dim=-1, keepdim=True)
            tokens.append(token)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat(tokens, dim=1), step_times)
