"""After the prefill's token, runs max_new_tokens more decode steps: one new token (and one step) too many."""


def prefill_decode(model, input_ids, max_new_tokens):
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens + 1)
    with torch.inference_mode():
        start = time.perf_counter()
        token = model(input_ids, cache, last_only=True)[:, -1].argmax(dim=-1, keepdim=True)
        tokens, step_times = [input_ids, token], [time.perf_counter() - start]
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            token = model(token, cache)[:, -1].argmax(dim=-1, keepdim=True)
            tokens.append(token)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat(tokens, dim=1), step_times)
