"""Keeps the step times in a list made once at import: a second call appends to the first call's times."""
_step_times = []


def generate_naive(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    ids = input_ids
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = clock(ids.device)
            next_token = model(ids)[:, -1].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_token], dim=1)
            _step_times.append(clock(ids.device) - start)
    return Generation(ids, _step_times)
