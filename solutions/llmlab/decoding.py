"""Notebook 01: decoding strategies.

One forward pass of the model gives logits, not a token. A decoding strategy turns the logits of the last
position, shape (B, V) (B rows of a batch, V the vocabulary), into the next token of each row:

- greedy: the most likely token, every time;
- sampling: a random token drawn from softmax(logits), optionally restricted to the top-k tokens or to the
  smallest set whose probability reaches p (top-p, nucleus sampling);
- beam search: keep the num_beams most likely partial sequences instead of one.

The filters follow Hugging Face transformers (`TopKLogitsWarper`, `TopPLogitsWarper`, `_beam_search`) so that
what you see here is what `model.generate(...)` does. Like transformers' logits processors, they never modify
their input: they return a new tensor of the same dtype, where removed tokens have logit -inf.

Devices: the logits come from the model, so they live on the model's device (a GPU, or the CPU). Every
function here takes them where they are and returns its tensors on the same device.
"""
import math

import torch
import torch.nn.functional as F


def check_logits(logits) -> None:
    """Raise ValueError unless `logits` is a 2-D floating-point tensor (B, V)."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a 2-D float tensor (batch, vocab), got {shape}")


def is_int(value) -> bool:
    """True for a Python int (bool excluded: `True` is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_min_tokens_to_keep(min_tokens_to_keep) -> None:
    if not is_int(min_tokens_to_keep) or min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep must be an int >= 1, got {min_tokens_to_keep!r}")


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """Greedy decoding: the index of the largest logit in each row.

    Args:
        logits: (B, V) float tensor.
    Returns:
        (B,) int64 tensor of token ids. On ties the lowest index wins (as `torch.argmax` does).
    Raises ValueError when logits is not a 2-D float tensor (use `check_logits`).
    """
    ### BEGIN SOLUTION
    check_logits(logits)
    return logits.argmax(dim=-1)  # argmax returns the first maximal index
    ### END SOLUTION


def sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token per row from softmax(logits).

    Use `torch.multinomial(probs, 1, generator=generator)` on the whole batch at once, so that a seeded
    generator gives exactly the tokens that transformers' `generate(do_sample=True)` gives after
    `torch.manual_seed` (it draws the same way from the global generator). Tokens whose logit is -inf have
    probability 0 and are never drawn.

    Devices: the logits may be on any device (the model's: a GPU, or the CPU). A generator draws random
    numbers on its own device only, so draw where the generator lives: move the probabilities to
    `generator.device` for `torch.multinomial`, and the tokens back to the logits' device. A CPU generator
    (`torch.Generator()`) then gives the same tokens whatever the model's device; with generator=None the
    draw uses torch's global generator of the logits' device.

    Args:
        logits: (B, V) float tensor, on any device.
        generator: the random number generator to draw from; None means torch's global one.
    Returns:
        (B,) int64 tensor of token ids, on the logits' device.
    Raises ValueError when logits is not a 2-D float tensor.
    """
    ### BEGIN SOLUTION
    check_logits(logits)
    probs = F.softmax(logits.float(), dim=-1)                          # (B, V), each row sums to 1
    if generator is not None:
        probs = probs.to(generator.device)                             # draw where the generator lives
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).to(logits.device)  # (B,)
    ### END SOLUTION


def top_k_filter(logits: torch.Tensor, k: int, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Top-k: keep the k largest logits of each row and set the others to -inf.

    transformers' rule (`TopKLogitsWarper`): with k' = min(max(k, min_tokens_to_keep), V), remove every logit
    strictly smaller than the k'-th largest of its row. So ties with the k'-th largest are all kept (more than
    k tokens may survive), k > V keeps everything, and logits that are already -inf stay -inf.

    Args:
        logits: (B, V) float tensor.
        k: how many tokens to keep, an int > 0.
        min_tokens_to_keep: an int >= 1; k is raised to at least this.
    Returns:
        A new (B, V) tensor of the same dtype; the input is not modified.
    Raises ValueError (naming the argument and its value) when k is not an int > 0 or min_tokens_to_keep is not
    an int >= 1, and when logits is not a 2-D float tensor.
    """
    ### BEGIN SOLUTION
    check_logits(logits)
    if not is_int(k) or k <= 0:
        raise ValueError(f"k must be an int > 0, got {k!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    k = min(max(k, min_tokens_to_keep), logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[:, -1:]     # (B, 1)
    return logits.masked_fill(logits < kth_largest, -math.inf)   # ties with the k-th are kept
    ### END SOLUTION


def top_p_filter(logits: torch.Tensor, p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Top-p (nucleus): keep the smallest set of most likely tokens whose probability reaches p.

    transformers' rule (`TopPLogitsWarper`): token t is kept when the total probability of the tokens ranked
    above it is < p. So the token whose probability crosses p is kept, and a set whose probability equals p
    exactly stops there. In practice: sort the logits in ascending order, take the cumulative sum of their
    softmax, remove the tokens whose cumulative probability is <= 1 - p, but always keep the last
    (most likely) min_tokens_to_keep of them; then put the mask back in the original order.

    Examples: probabilities [.5, .3, .2] with p=.8 keep {.5, .3}; with p=.81 all three; with p=.5 only .5.
    p=0 keeps the most likely token only (or min_tokens_to_keep tokens); p=1 keeps every token whose
    probability is not 0.

    Args:
        logits: (B, V) float tensor.
        p: a number in [0, 1].
        min_tokens_to_keep: an int >= 1; at least this many tokens survive in each row.
    Returns:
        A new (B, V) tensor of the same dtype; the input is not modified.
    Raises ValueError (naming the argument and its value) when p is not a number in [0, 1] or
    min_tokens_to_keep is not an int >= 1, and when logits is not a 2-D float tensor.
    """
    ### BEGIN SOLUTION
    check_logits(logits)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a number in [0, 1], got {p!r}")
    check_min_tokens_to_keep(min_tokens_to_keep)
    sorted_logits, order = torch.sort(logits, dim=-1)               # ascending, (B, V)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)       # mass of this token and all below it
    remove_sorted = cumulative <= 1 - p                             # the tail holding at most 1 - p
    remove_sorted[:, -min_tokens_to_keep:] = False                  # the most likely ones always stay
    remove = remove_sorted.scatter(1, order, remove_sorted)         # back to vocabulary order
    return logits.masked_fill(remove, -math.inf)
    ### END SOLUTION


def _check_beam_args(input_ids, num_beams, max_new_tokens, early_stopping, num_return_sequences):
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1 \
            or input_ids.dtype != torch.int64:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"input_ids must be an int64 tensor of shape (1, T), got {shape}")
    for name, value in (("num_beams", num_beams), ("max_new_tokens", max_new_tokens),
                        ("num_return_sequences", num_return_sequences)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if num_return_sequences > num_beams:
        raise ValueError(f"num_return_sequences={num_return_sequences} is more than num_beams={num_beams}")
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")


@torch.no_grad()
def beam_search(model, input_ids: torch.Tensor, num_beams: int, max_new_tokens: int, eos_token_id: int | None = None,
                length_penalty: float = 1.0, early_stopping: bool | str = False, num_return_sequences: int = 1):
    """Beam search as transformers (5.x) does it: `model.generate(num_beams=..., do_sample=False)`.

    The score of a sequence is the sum of the log-probabilities of its generated tokens. Each step:
    1. For each running beam (there is 1 at the start), run the model on the whole sequence, take
       log_softmax of the last position's logits (in float32) and add the beam's running score: (n, V).
    2. Take the 2 * num_beams best (beam, token) candidates over all beams, best first (`torch.topk` on the
       flattened scores).
    3. A candidate whose token is `eos_token_id`, or that reaches max_new_tokens generated tokens, is finished.
       It becomes a hypothesis only if it ranks among the first num_beams candidates (others are dropped), with
       the score `score / gen_len ** length_penalty`, where gen_len counts its generated tokens including the
       EOS (not the prompt). Keep the num_beams best hypotheses.
    4. The next running beams are the num_beams best unfinished candidates, ranked by their raw score.
    5. Stop after max_new_tokens steps, or earlier once num_beams hypotheses are kept and
       - early_stopping=True: always;
       - early_stopping=False: if the best running beam's score / gen_len ** length_penalty (gen_len: its
         generated tokens so far) is <= the worst kept hypothesis' score;
       - early_stopping="never": the same test, but with gen_len = max_new_tokens when length_penalty > 0
         (the best a running beam could ever reach).

    Args:
        model: a llmlab Llama; `model(ids)` with ids (n, T) on `model.device` gives logits (n, T, V).
        input_ids: (1, T) int64 prompt, on any device: move it to `model.device` first.
        num_beams: an int >= 1; 2 * num_beams must not exceed V.
        max_new_tokens: an int >= 1.
        eos_token_id: the end-of-sequence token id, or None.
        length_penalty: the exponent alpha above: > 0 favours long sequences, 0 compares raw sums, 1 (default)
            compares mean log-probabilities.
        early_stopping: True, False or "never", as above.
        num_return_sequences: how many hypotheses to return, 1 <= num_return_sequences <= num_beams.
    Returns:
        (sequences, scores): a list of num_return_sequences 1-D int64 tensors (prompt + generated tokens, the
        EOS included when hit, no padding) and a float32 tensor of their scores (the length-penalised scores
        above, as transformers' `sequences_scores`), best first; all on `model.device`.
    Raises ValueError for invalid arguments (naming the argument and its value).
    """
    ### BEGIN SOLUTION
    _check_beam_args(input_ids, num_beams, max_new_tokens, early_stopping, num_return_sequences)
    prompt = input_ids[0].to(model.device)
    beams = [prompt]                                        # running sequences
    beam_scores = torch.zeros(1, device=prompt.device)      # (n,) their summed log-probs, float32
    finished = []                                           # [(score, sequence)], best first
    for step in range(max_new_tokens):
        gen_len = step + 1                                  # generated tokens once this step's token is added
        logits = model(torch.stack(beams))[:, -1].float()  # (n, V)
        scores = F.log_softmax(logits, dim=-1) + beam_scores[:, None]  # (n, V)
        vocab_size = scores.shape[-1]
        top_scores, top_index = scores.flatten().topk(2 * num_beams)   # (2*nb,), best first
        running = []
        for rank, (score, index) in enumerate(zip(top_scores, top_index.tolist())):
            beam, token = divmod(index, vocab_size)
            sequence = torch.cat([beams[beam], prompt.new_tensor([token])])
            if token == eos_token_id or gen_len == max_new_tokens:
                if rank < num_beams:                        # only the best num_beams may finish
                    finished.append((score / gen_len ** length_penalty, sequence))
            elif len(running) < num_beams:
                running.append((score, sequence))
        finished = sorted(finished, key=lambda h: h[0].item(), reverse=True)[:num_beams]
        if gen_len == max_new_tokens or not running:
            break
        beams = [sequence for _, sequence in running]
        beam_scores = torch.stack([score for score, _ in running])
        if len(finished) == num_beams:                      # can a running beam still do better?
            if early_stopping is True:
                break
            best_len = max_new_tokens if early_stopping == "never" and length_penalty > 0 else gen_len
            if beam_scores[0] / best_len ** length_penalty <= finished[-1][0]:
                break
    finished = finished[:num_return_sequences]
    return [sequence for _, sequence in finished], torch.stack([score for score, _ in finished])
    ### END SOLUTION
