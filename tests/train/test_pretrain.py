"""Stage 1 smoke test with the `tiny` backbone: FAST answer-token loss decreases on a synthetic EgoDex-format set;
generated tokens decode to valid actions; the vocabulary extension keeps the old embeddings."""

import json

import numpy as np
import pytest
import torch

from psi0_policy.data.cli import action_chunks
from psi0_policy.data.fast import FastTokenizer
from psi0_policy.data.stats import policy_stats
from psi0_policy.model.config import get_config
from psi0_policy.model.normalize import Normalizer
from psi0_policy.model.preprocess import ByteTokenizer, Preprocessor
from psi0_policy.model.psi0 import Psi0Model
from psi0_policy.train import pretrain
from psi0_policy.train.config import load_train_config
from psi0_policy.train.trainer import Trainer
from tests.train.helpers import CONFIGS, egodex_dataset

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_vocab_extension_and_answer_only_labels():
    m = Psi0Model(get_config("tiny"))
    old = m.backbone.vlm.language_model.embed_tokens.weight.detach().clone()
    pretrain.extend_vocab(m, 100)
    new = m.backbone.vlm.language_model.embed_tokens.weight
    # official layout: <|a_i|> from len(tokenizer) = 262 on, then the two markers; 264 rows → 364 needed → 384 (×192)
    assert new.shape[0] == 384 and torch.equal(new[:262], old[:262]) and m.cfg.text.vocab_size == 384
    ids = pretrain.ActionIds.of(m)
    assert (ids.offset, ids.start, ids.end) == (262, 362, 363) and m.cfg.action_vocab == 100
    pre = Preprocessor(m.cfg, ByteTokenizer())
    img = np.zeros((64, 96, 3), np.uint8)
    inputs, labels = pretrain.build_batch(pre, ids, [img, img], ["Wave", "a longer instruction"], [[1, 2, 3], [4]])
    assert labels.shape == inputs["input_ids"].shape
    # answer tokens + <|im_end|> (261) + the newline (10) carry the loss, nothing else
    assert labels[0][labels[0] != -100].tolist() == [263, 264, 265, 261, 10]
    assert labels[1][labels[1] != -100].tolist() == [266, 261, 10]
    seq = inputs["input_ids"][0][inputs["attention_mask"][0] > 0].tolist()
    assert seq[-5:] == [263, 264, 265, 261, 10] and seq[-5 - len(pre.assistant_header()):-5] == pre.assistant_header()
    assert seq[:len(pre.user_turn(1, "wave"))] == pre.user_turn(1, "wave")  # lower-cased instruction in the user turn
    assert int(inputs["attention_mask"][0].sum()) < inputs["attention_mask"].shape[1]  # shorter sample right-padded
    loss = m("tokens", inputs, labels)
    assert loss.shape == (2,) and torch.isfinite(loss).all()


def test_pretraining_learns_action_tokens(tmp_path):
    ego = egodex_dataset(tmp_path)
    stats = policy_stats(json.loads((ego / "meta" / "stats.json").read_text()))
    norm = Normalizer.from_stats(stats["action"], "quantile")
    chunks = [norm.normalize(c.astype(np.float64)) for c in action_chunks(ego, 2)]
    FastTokenizer.fit(chunks, scale=10, vocab_size=256).save(tmp_path / "fast")
    cfg = load_train_config(CONFIGS / "pretrain_tiny.yaml", [f"datasets=[{ego}]", f"fast_tokenizer={tmp_path / 'fast'}",
                                                              "horizon=2", "steps=60", "eval_every=30", "save_every=60",
                                                              f"out={tmp_path / 'run'}"])
    s = Trainer(cfg, progress=False).run()
    losses = np.array(s["losses"])
    assert losses[-10:].mean() < 0.5 * losses[:10].mean()
    first, last = s["evaluations"]
    assert last["token_loss"] < first["token_loss"]
    assert last["valid_generations"] == last["generated"] == 2  # decoded to (2, 48) chunks
    saved = tmp_path / "run" / "checkpoints" / "step_0000060"
    assert json.loads((saved / "config.json").read_text())["action_vocab"] == 256
    assert (saved / "fast_tokenizer" / "tokenizer.json").exists()
