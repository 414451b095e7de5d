"""Instructors' tools, not part of the student release: `python -m llmlab.instructor.bench` (decoding speed,
side by side with transformers) and `python -m llmlab.instructor.train` (trains the shipped tiny model)."""
