"""Prefills without last_only and takes the next token from position 0 instead of the last position."""


def prefill_decode(model, input_ids, max_new_tokens):
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens)
    tokens, step_input, step_times = [input_ids], input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            logits = model(step_input, cache)
            step_input = logits[:, 0].argmax(dim=-1, keepdim=True)
            tokens.append(step_input)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat(tokens, dim=1), step_times)
