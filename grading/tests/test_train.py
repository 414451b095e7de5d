"""The training script of the shipped tiny model (python -m llmlab.instructor.train), on a few steps."""
import random

import torch

from llmlab.checkpoint import load_tokenizer
from llmlab.instructor import train
from llmlab.model import Llama


def test_a_few_training_steps_lower_the_loss():
    tokenizer = load_tokenizer()
    torch.manual_seed(0)
    config = train.model_config(tokenizer.get_vocab_size(), hidden=32, layers=2, heads=4, kv_heads=2,
                                intermediate=64)
    tiny = Llama(config)
    train.init_weights(tiny)
    data = train.batches(tokenizer, random.Random(0), batch_size=8, seq_len=32)
    losses = train.train(tiny, data, steps=20, lr=1e-2, warmup=5, progress=False)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5
