"""Instruction tokenisation: the Qwen tokenizer is read from a local tokenizer.json (never downloaded)."""

import numpy as np
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


def _text(ids: list[int]) -> str:
    """Byte ids → text, special tokens spelled out (tiny: 256 image, 257/258 vision start/end, 260/261 im start/end)."""
    names = {256: "<img>", 257: "<vs>", 258: "<ve>", 259: "<pad>", 260: "<|im_start|>", 261: "<|im_end|>"}
    return "".join(names.get(i, chr(i)) for i in ids)


def test_the_prompt_is_the_chat_template_lower_cased_and_never_cut():
    """Hand-written official prompt: one user turn (image, instruction lower-cased), then the assistant header."""
    cfg = get_config("tiny")
    pre = Preprocessor(cfg, ByteTokenizer())
    text = "Pick up the RED cube and put it on the left of the blue can"  # 59 bytes: more than max_text_tokens
    ids = pre.prompt_ids(1, text)
    img = "<vs>" + "<img>" * cfg.image_tokens + "<ve>"
    assert _text(ids) == f"<|im_start|>user\n{img}{text.lower()}<|im_end|>\n<|im_start|>assistant\n"
    two = _text(pre.prompt_ids(2, "wave"))
    assert two == f"<|im_start|>user\n{img}{img}wave<|im_end|>\n<|im_start|>assistant\n"
    batch = pre([[np.zeros((64, 96, 3), np.uint8)]] * 2, [text, "wave"])
    assert batch["input_ids"].shape[1] == len(ids) and batch["input_ids"][0].tolist() == ids  # no cut, no padding
    assert batch["attention_mask"][1].sum() == len(pre.prompt_ids(1, "wave"))  # the shorter one right-padded
    assert batch["input_ids"][1, -1] == cfg.pad_token_id


def test_a_fixed_length_prompt_pads_to_the_engines_shape_and_refuses_longer_text():
    cfg = get_config("tiny")
    pre = Preprocessor(cfg, ByteTokenizer(), fixed_length=True)
    img = [[np.zeros((64, 96, 3), np.uint8)]]
    short = pre(img, ["wave"])
    assert short["input_ids"].shape == (1, pre.context_len(1)) == (1, len(pre.prompt_ids(1, "")) + cfg.max_text_tokens)
    assert int(short["attention_mask"].sum()) == len(pre.prompt_ids(1, "wave"))
    assert pre(img, ["x" * cfg.max_text_tokens])["input_ids"].shape[1] == pre.context_len(1)  # exactly full
    with pytest.raises(ValueError, match=f"takes {cfg.max_text_tokens + 1} tokens; .* holds {cfg.max_text_tokens}"):
        pre(img, ["x" * (cfg.max_text_tokens + 1)])
