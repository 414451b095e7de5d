"""Creates a new, empty cache for every step, so decode steps see only their own token."""


def prefill_decode(model, input_ids, max_new_tokens):
    B, T = input_ids.shape
    tokens, step_input, step_times = [input_ids], input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            cache = model.new_cache(B, T + max_new_tokens)
            step_input = model(step_input, cache, last_only=True)[:, -1].argmax(dim=-1, keepdim=True)
            tokens.append(step_input)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat(tokens, dim=1), step_times)
