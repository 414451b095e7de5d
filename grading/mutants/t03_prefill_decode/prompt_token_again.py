"""The first decode step feeds the prompt's last token again instead of the token the prefill chose."""


def prefill_decode(model, input_ids, max_new_tokens):
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens)
    tokens, step_times = [input_ids], []
    with torch.inference_mode():
        start = time.perf_counter()
        first = model(input_ids, cache, last_only=True)[:, -1].argmax(dim=-1, keepdim=True)
        tokens.append(first)
        step_times.append(time.perf_counter() - start)
        step_input = input_ids[:, -1:]
        for _ in range(max_new_tokens - 1):
            start = time.perf_counter()
            step_input = model(step_input, cache)[:, -1].argmax(dim=-1, keepdim=True)
            tokens.append(step_input)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat(tokens, dim=1), step_times)
