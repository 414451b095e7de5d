"""Notebook 02: temperature and penalties.

Before a token is chosen, the logits (B, V) pass through a chain of *logits processors*, each a small function
that returns new logits. transformers applies them in this order (`GenerationMixin._get_logits_processor`):

    repetition penalty -> no_repeat_ngram -> [presence/frequency, OpenAI] -> temperature -> top-k -> top-p

The penalties reshape the distribution to discourage repeating what is already in the text; temperature makes
it sharper (T < 1) or flatter (T > 1); top-k and top-p (notebook 01) cut off its tail. Length penalties do not
act on logits: beam search divides a finished sequence's score by them.

Like transformers' processors, every function here validates its arguments (ValueError naming the argument and
the bad value), works on a batch (B, V), returns a new tensor of the same dtype and never modifies its inputs.

Devices: the logits and the token ids live on the model's device (a GPU, or the CPU), both on the same one;
every function returns its tensor on that device. Numbers that are not tensors (a length, alpha) stay Python
numbers.
"""
import math

import torch

from llmlab.decoding import check_logits, is_int, top_k_filter, top_p_filter


def is_number(value) -> bool:
    """True for a real Python number (int or float; bool excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_token_ids(input_ids, logits, name: str = "input_ids") -> None:
    """Raise ValueError unless `input_ids` is a 2-D integer tensor with one row per row of `logits`."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.is_floating_point() \
            or input_ids.is_complex() or input_ids.dtype == torch.bool:
        what = f"{input_ids.dtype} tensor of shape {tuple(input_ids.shape)}" if isinstance(input_ids, torch.Tensor) \
            else type(input_ids).__name__
        raise ValueError(f"{name} must be a 2-D integer tensor (batch, length), got {what}")
    if input_ids.shape[0] != logits.shape[0]:
        raise ValueError(f"{name} has {input_ids.shape[0]} rows but logits has {logits.shape[0]}")


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Temperature scaling: logits / T, so that softmax gives softmax(z / T).

    T < 1 sharpens the distribution (more deterministic), T > 1 flattens it (more random). T -> 0 approaches
    greedy decoding, but T = 0 itself is invalid: this function raises, as transformers does (use greedy
    decoding instead).

    Args:
        logits: (B, V) float tensor.
        temperature: a finite number > 0 (an int such as 2 is accepted, unlike in transformers).
    Returns:
        A new (B, V) tensor of the same dtype. Finite logits stay finite and -inf stays -inf: divide the logits
        (a renormalised p ** (1 / T) underflows small probabilities to 0, that is to -inf logits).
    Raises ValueError (naming the argument and its value) when temperature is not a finite number > 0 (bool,
    0, negative, inf and nan included), and when logits is not a 2-D float tensor.
    """
    raise NotImplementedError('t02_temperature: implement apply_temperature in llmlab/processors.py (temperature: softmax(z / T))')


def repetition_penalty(logits: torch.Tensor, input_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """The repetition penalty of transformers (from the CTRL paper).

    For every token that occurs in row b of input_ids (prompt and generated tokens, each token counted once
    however often it occurs), its logit s in row b becomes s / penalty if s >= 0, else s * penalty. With
    penalty > 1 both make the token less likely; penalty < 1 rewards repetition. Other tokens are unchanged,
    and each row uses only its own input_ids.

    Args:
        logits: (B, V) float tensor.
        input_ids: (B, L) integer tensor of token ids in [0, V); L may be 0.
        penalty: a finite number > 0.
    Returns:
        A new (B, V) tensor of the same dtype.
    Raises ValueError (naming the argument and its value) when penalty is not a finite number > 0, when logits is
    not a 2-D float tensor, or input_ids not a 2-D integer tensor with B rows (use `check_token_ids`).
    """
    raise NotImplementedError('t02_repetition_penalty: implement repetition_penalty in llmlab/processors.py (repetition penalty (transformers / CTRL))')


def presence_frequency_penalty(logits: torch.Tensor, generated_ids: torch.Tensor, presence_penalty: float,
                               frequency_penalty: float) -> torch.Tensor:
    """OpenAI's presence and frequency penalties.

    For each token j of the vocabulary, with c[j] the number of times j occurs in the generated tokens of the
    row (the prompt does not count):

        logit[j] - c[j] * frequency_penalty - (1 if c[j] > 0 else 0) * presence_penalty

    Presence is a one-off penalty for having appeared at all; frequency grows with every occurrence. Both are
    additive and may be negative (which encourages repetition); OpenAI allows values in [-2, 2].

    Args:
        logits: (B, V) float tensor.
        generated_ids: (B, G) integer tensor: the tokens generated so far in each row, ids in [0, V); G may be 0.
        presence_penalty, frequency_penalty: finite numbers.
    Returns:
        A new (B, V) tensor of the same dtype.
    Raises ValueError (naming the argument and its value) when a penalty is not a finite number, when logits is
    not a 2-D float tensor, or generated_ids not a 2-D integer tensor with B rows.
    """
    raise NotImplementedError('t02_presence_frequency: implement presence_frequency_penalty in llmlab/processors.py (presence and frequency penalties (OpenAI))')


def no_repeat_ngram(logits: torch.Tensor, input_ids: torch.Tensor, n: int) -> torch.Tensor:
    """Forbid any n-gram from occurring twice in a row's tokens (transformers' `no_repeat_ngram_size`).

    The next token would complete an n-gram whose first n-1 tokens are the last n-1 tokens of the row. Every
    earlier length-n window of input_ids (prompt included) that starts with those same n-1 tokens bans its last
    token: its logit becomes -inf. Rows shorter than n are left unchanged; n = 1 bans every token seen.

    Examples (n, tokens -> banned): (2, [1,2,3,1] -> {2}); (2, [1,2,1,3,1] -> {2,3}); (3, [1,2,3,1,2] -> {3});
    (3, [5,5,5] -> {5}); (1, [1,4,4] -> {1,4}).

    Args:
        logits: (B, V) float tensor.
        input_ids: (B, L) integer tensor of token ids in [0, V).
        n: the n-gram size, an int > 0.
    Returns:
        A new (B, V) tensor of the same dtype.
    Raises ValueError (naming the argument and its value) when n is not an int > 0, when logits is not a 2-D
    float tensor, or input_ids not a 2-D integer tensor with B rows.
    """
    raise NotImplementedError('t02_no_repeat_ngram: implement no_repeat_ngram in llmlab/processors.py (no_repeat_ngram_size ban)')


def gnmt_length_penalty(length, alpha: float):
    """The length penalty of GNMT (Wu et al. 2016), as in the lecture: lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha.

    Beam search compares log P(Y) / lp(Y). alpha = 0 gives 1 (no normalisation); typical alpha is 0.6-0.7.

    Args:
        length: |Y|, the number of generated tokens (an int, a float, or a tensor of them).
        alpha: a number.
    Returns:
        lp(Y): a float (a tensor for a tensor length).
    """
    raise NotImplementedError('t02_length_penalty: implement gnmt_length_penalty in llmlab/processors.py (length penalty: GNMT and transformers forms)')


def hf_length_penalty(length, alpha: float):
    """The length penalty of transformers' beam search: |Y|^alpha (not GNMT's form).

    Beam search compares log P(Y) / |Y|^alpha, where |Y| counts the generated tokens (the EOS included, the
    prompt not). alpha = 1 (the default) compares mean log-probabilities, 0 the raw sums.

    Args:
        length: |Y| >= 1 (an int, a float, or a tensor of them).
        alpha: a number.
    Returns:
        |Y|^alpha: a float (a tensor for a tensor length).
    """
    raise NotImplementedError('t02_length_penalty: implement hf_length_penalty in llmlab/processors.py (length penalty: GNMT and transformers forms)')


# Inside process_logits the argument `repetition_penalty` (transformers' name for it) hides the function of the
# same name; this second name for the function reaches it there.
penalize_repetition = repetition_penalty


def process_logits(logits: torch.Tensor, input_ids: torch.Tensor, prompt_length: int, *,
                   repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0, presence_penalty: float = 0.0,
                   frequency_penalty: float = 0.0, temperature: float = 1.0, top_k: int | None = None,
                   top_p: float = 1.0) -> torch.Tensor:
    """The whole processor chain of one generation step, in transformers' order:

        repetition_penalty -> no_repeat_ngram -> presence/frequency -> temperature -> top_k -> top_p

    Each step is skipped at its neutral value: repetition_penalty 1.0, no_repeat_ngram_size 0, both
    presence/frequency penalties 0, temperature 1.0, top_k None, top_p 1.0 (so top_p=1.0 does not even remove
    tokens of probability 0, exactly like `generate`). Note top_k=None means no top-k, unlike transformers'
    `generate`, whose default is top_k=50.

    The repetition penalty and no_repeat_ngram look at all of input_ids (prompt and generated tokens);
    presence/frequency only at the generated tokens, input_ids[:, prompt_length:]. top_k and top_p use
    `top_k_filter` and `top_p_filter` from llmlab.decoding.

    Args:
        logits: (B, V) float tensor, the next-token logits.
        input_ids: (B, L) integer tensor, each row's tokens so far (the prompt, then the generated tokens).
        prompt_length: how many of the L tokens are the prompt, 0 <= prompt_length <= L.
        the rest: as in the functions above (no_repeat_ngram_size an int >= 0).
    Returns:
        A new (B, V) tensor of the same dtype, even when every step is skipped.
    Raises ValueError (naming the argument and its value) for an invalid argument, as each function does;
    also when prompt_length is not an int in [0, L] or no_repeat_ngram_size is negative.
    """
    raise NotImplementedError("t02_pipeline: implement process_logits in llmlab/processors.py (the logits processor chain in transformers' order)")
