"""Feeds only the newest token after the first step, without a cache: the model forgets the context."""


def generate_naive(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    ids, step_input, step_times = input_ids, input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = clock(ids.device)
            step_input = model(step_input)[:, -1].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, step_input], dim=1)
            step_times.append(clock(ids.device) - start)
    return Generation(ids, step_times)
