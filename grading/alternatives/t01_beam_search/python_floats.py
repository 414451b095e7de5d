"""Plain Python bookkeeping: lists of (score, tokens) with float scores, sorting instead of topk."""


@torch.no_grad()
def beam_search(model, input_ids, num_beams, max_new_tokens, eos_token_id=None, length_penalty=1.0,
                early_stopping=False, num_return_sequences=1):
    _check_beam_args(input_ids, num_beams, max_new_tokens, early_stopping, num_return_sequences)
    beams = [(0.0, input_ids[0].tolist())]
    hyps = []
    for step in range(1, max_new_tokens + 1):
        logp = torch.log_softmax(model(torch.tensor([t for _, t in beams]))[:, -1].float(), dim=-1)
        candidates = []
        for (score, tokens), row in zip(beams, logp.tolist()):
            candidates += [(score + lp, tokens + [tok]) for tok, lp in enumerate(row)]
        candidates.sort(key=lambda c: -c[0])
        candidates = candidates[:2 * num_beams]
        next_beams = []
        for rank, (score, tokens) in enumerate(candidates):
            if tokens[-1] == eos_token_id or step == max_new_tokens:
                if rank < num_beams:
                    hyps.append((score / step ** length_penalty, tokens))
            elif len(next_beams) < num_beams:
                next_beams.append((score, tokens))
        hyps = sorted(hyps, key=lambda h: -h[0])[:num_beams]
        if step == max_new_tokens:
            break
        beams = next_beams
        if len(hyps) == num_beams:
            if early_stopping is True:
                break
            length = max_new_tokens if early_stopping == "never" and length_penalty > 0 else step
            if beams[0][0] / length ** length_penalty <= hyps[-1][0]:
                break
    hyps = hyps[:num_return_sequences]
    return [torch.tensor(t) for _, t in hyps], torch.tensor([s for s, _ in hyps], dtype=torch.float32)
