"""Correct alternative: the new tokens kept as a list of (B, 1) columns, the sequence rebuilt with torch.cat at
every step; torch.no_grad and time.perf_counter."""


def generate_naive(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    columns, step_times = [], []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            t0 = time.perf_counter()
            logits = model(torch.cat([input_ids, *columns], dim=1))      # (B, T + i, V)
            columns.append(torch.argmax(logits[:, -1, :], dim=-1).unsqueeze(1))
            step_times.append(time.perf_counter() - t0)
    return Generation(torch.cat([input_ids, *columns], dim=1), step_times)
