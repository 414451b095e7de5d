"""Correct alternative: separate prefill and decode helpers (gpt-fast style), no last_only, logits[:, -1]."""


def _prefill(model, input_ids, cache):
    return model(input_ids, cache)[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)


def _decode_one_token(model, token, cache):
    return model(token, cache)[:, -1].argmax(dim=-1, keepdim=True)


def prefill_decode(model, input_ids, max_new_tokens):
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens)
    with torch.no_grad():
        start = time.perf_counter()
        token = _prefill(model, input_ids, cache)
        tokens, step_times = [input_ids, token], [time.perf_counter() - start]
        for _ in range(max_new_tokens - 1):
            start = time.perf_counter()
            token = _decode_one_token(model, token, cache)
            tokens.append(token)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat(tokens, dim=1), step_times)
