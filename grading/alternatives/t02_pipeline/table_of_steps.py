"""Correct alternative: a table of (is it on?, processor) in transformers' order, applied in a loop."""


def process_logits(logits, input_ids, prompt_length, *, repetition_penalty=1.0, no_repeat_ngram_size=0,
                   presence_penalty=0.0, frequency_penalty=0.0, temperature=1.0, top_k=None, top_p=1.0):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    L = input_ids.shape[1]
    if isinstance(prompt_length, bool) or not isinstance(prompt_length, int) or not 0 <= prompt_length <= L:
        raise ValueError(f"prompt_length must be an int in [0, {L}], got {prompt_length!r}")
    if isinstance(no_repeat_ngram_size, bool) or not isinstance(no_repeat_ngram_size, int) or no_repeat_ngram_size < 0:
        raise ValueError(f"no_repeat_ngram_size must be an int >= 0, got {no_repeat_ngram_size!r}")
    generated = input_ids[:, prompt_length:]
    steps = [
        (repetition_penalty != 1.0, lambda x: penalize_repetition(x, input_ids, repetition_penalty)),
        (no_repeat_ngram_size > 0, lambda x: no_repeat_ngram(x, input_ids, no_repeat_ngram_size)),
        (presence_penalty != 0 or frequency_penalty != 0,
         lambda x: presence_frequency_penalty(x, generated, presence_penalty, frequency_penalty)),
        (temperature != 1.0, lambda x: apply_temperature(x, temperature)),
        (top_k is not None, lambda x: top_k_filter(x, top_k)),
        (top_p != 1.0, lambda x: top_p_filter(x, top_p)),
    ]
    scores = logits.clone()
    for on, processor in steps:
        if on:
            scores = processor(scores)
    return scores
