"""Instruction tokenisation: the Qwen tokenizer is read from a local tokenizer.json (never downloaded)."""

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from psi0_policy.model.config import get_config
from psi0_policy.model.preprocess import ByteTokenizer, Preprocessor, QwenTokenizer, make_tokenizer

pytestmark = pytest.mark.unit


def test_local_tokenizer_json_is_loaded(tmp_path):
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "touch": 5, "the": 6, "red": 7, "cube": 8}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    qt = make_tokenizer(get_config("psi0"), tmp_path)
    assert isinstance(qt, QwenTokenizer) and qt.encode("touch the red cube") == [5, 6, 7, 8]


def test_missing_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json"):
        make_tokenizer(get_config("psi0"), tmp_path)
    with pytest.raises(ValueError, match="local model folder"):
        make_tokenizer(get_config("psi0"))


def test_text_is_truncated_and_padded_with_a_mask():
    cfg = get_config("tiny")
    pre = Preprocessor(cfg, ByteTokenizer())
    ids, mask = pre.text_ids("x" * 40)
    assert len(ids) == cfg.max_text_tokens and all(mask)
    ids, mask = pre.text_ids("hi")
    assert ids[:2] == [104, 105] and mask == [1, 1] + [0] * (cfg.max_text_tokens - 2)
    assert ids[2:] == [cfg.pad_token_id] * (cfg.max_text_tokens - 2)
