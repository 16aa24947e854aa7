"""Instruction jitter: training prompts keep their words but not a fixed length (train.data.jitter_instruction)."""

import collections

import pytest

from psi0_policy.train.data import jitter_instruction, sample_rng

pytestmark = pytest.mark.unit
TEXT = "walk to the table and pick up the red cube"


def test_the_words_stay_and_at_most_extra_spaces_are_added():
    lengths = collections.Counter()
    for position in range(400):
        out = jitter_instruction(TEXT, 6, sample_rng(0, 2, position))
        assert out.split() == TEXT.split()  # the same words in the same order
        assert out.replace(" ", "") == TEXT.replace(" ", "")
        added = len(out) - len(TEXT)
        assert 0 <= added <= 6
        lengths[added] += 1
    assert set(lengths) == set(range(7))  # every length from unchanged to +6 occurs
    assert min(lengths.values()) > 25  # roughly uniform (400 draws over 7 lengths: ~57 each)


def test_spaces_land_before_between_and_after_the_words():
    outs = [jitter_instruction("pick up the red cube", 4, sample_rng(1, 2, p)) for p in range(200)]
    assert any(o.startswith(" ") for o in outs) and any(o.endswith(" ") for o in outs)
    assert any("  " in o.strip() for o in outs)


def test_the_draw_depends_only_on_the_generator():
    a = [jitter_instruction(TEXT, 8, sample_rng(3, 2, p)) for p in range(50)]
    b = [jitter_instruction(TEXT, 8, sample_rng(3, 2, p)) for p in range(50)]
    assert a == b and len(set(a)) > 10
    assert jitter_instruction(TEXT, 0, sample_rng(3, 2, 0)) == TEXT
    assert jitter_instruction("raise", 3, sample_rng(0, 2, 7)).strip() == "raise"  # one word: padded at the ends only
