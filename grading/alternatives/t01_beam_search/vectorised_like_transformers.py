"""Vectorised as transformers' _beam_search: num_beams copies of the prompt with scores [0, -1e9, ...], fixed
shape tensors for running beams and hypotheses, torch.topk to merge new hypotheses into the pool."""


@torch.no_grad()
def beam_search(model, input_ids, num_beams, max_new_tokens, eos_token_id=None, length_penalty=1.0,
                early_stopping=False, num_return_sequences=1):
    _check_beam_args(input_ids, num_beams, max_new_tokens, early_stopping, num_return_sequences)
    T = input_ids.shape[1]
    max_len = T + max_new_tokens
    K = 2 * num_beams
    running = input_ids.repeat(num_beams, 1)                       # (nb, cur_len)
    running_scores = torch.full((num_beams,), -1e9)
    running_scores[0] = 0.0
    pool = torch.zeros(num_beams, max_len, dtype=torch.long)       # finished hypotheses, padded
    pool_len = torch.zeros(num_beams, dtype=torch.long)
    pool_scores = torch.full((num_beams,), -1e9)
    pool_full = torch.zeros(num_beams, dtype=torch.bool)
    for cur_len in range(T, max_len):
        log_probs = F.log_softmax(model(running)[:, -1].float(), dim=-1) + running_scores[:, None]
        V = log_probs.shape[-1]
        top_scores, top_idx = torch.topk(log_probs.reshape(-1), K)
        seqs = torch.cat([running[top_idx // V], (top_idx % V)[:, None]], dim=1)   # (K, cur_len + 1)
        hit = torch.zeros(K, dtype=torch.bool) if eos_token_id is None else seqs[:, -1] == eos_token_id
        if cur_len + 1 >= max_len:
            hit[:] = True
        # next running beams: best unfinished
        masked = top_scores + hit.float() * -1e9
        nxt = torch.topk(masked, num_beams).indices
        running, running_scores = seqs[nxt], masked[nxt]
        # new hypotheses: finished and among the first num_beams
        gen_len = cur_len + 1 - T
        new_scores = top_scores / gen_len ** length_penalty
        ok = hit & (torch.arange(K) < num_beams)
        new_scores = new_scores + (~ok).float() * -1e9
        padded = torch.zeros(K, max_len, dtype=torch.long)
        padded[:, :cur_len + 1] = seqs
        all_scores = torch.cat([pool_scores, new_scores])
        best = torch.topk(all_scores, num_beams).indices
        pool = torch.cat([pool, padded])[best]
        pool_len = torch.cat([pool_len, torch.full((K,), cur_len + 1)])[best]
        pool_full = torch.cat([pool_full, ok])[best]
        pool_scores = all_scores[best]
        if hit.all():
            break
        if pool_full.all():
            if early_stopping is True:
                break
            length = max_len - T if early_stopping == "never" and length_penalty > 0 else gen_len
            if not (running_scores[0] / length ** length_penalty > pool_scores.min()):
                break
    n = num_return_sequences
    return [pool[i, :pool_len[i]] for i in range(n)], pool_scores[:n]
