"""Training configuration: the shipped files load, unknown keys and bad values fail loudly, `base` inherits."""

import itertools

import pytest

from psi0_policy.train.config import TrainConfigError, load_train_config
from psi0_policy.train.trainer import lr_factor
from tests.train.helpers import CONFIGS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["pretrain", "posttrain", "finetune", "pretrain_tiny", "posttrain_tiny", "finetune_tiny"])
def test_shipped_configs_load(name):
    cfg = load_train_config(CONFIGS / f"{name}.yaml")
    assert cfg.stage == name.split("_")[0]
    assert cfg.lr > 0 and cfg.grad_clip == 1.0


def test_psi0_recipe_defaults():
    ft = load_train_config(CONFIGS / "finetune.yaml")
    post = load_train_config(CONFIGS / "posttrain.yaml")
    assert (ft.horizon, ft.rtc_max_delay, ft.train, ft.lr) == (30, 7, "expert", 1e-4)
    assert (post.horizon, post.train, post.norm_mode, post.rtc_max_delay) == (16, "expert", "quantile", 0)
    tiny = load_train_config(CONFIGS / "finetune_tiny.yaml")
    assert tiny.model == "tiny" and tiny.horizon == 30 and tiny.rtc_max_delay == 7  # inherited from finetune.yaml


def test_unknown_key_and_bad_values(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("stage: finetune\ndatasets: [x]\nlearning_rate: 0.1\n")
    with pytest.raises(TrainConfigError, match="unknown key 'learning_rate'"):
        load_train_config(f)
    with pytest.raises(TrainConfigError, match="rtc_max_delay"):
        load_train_config(CONFIGS / "finetune_tiny.yaml", ["rtc_max_delay=30"])
    with pytest.raises(TrainConfigError, match="steps = 'many'"):
        load_train_config(CONFIGS / "finetune_tiny.yaml", ["steps=many"])
    with pytest.raises(TrainConfigError, match="posttrain config, not finetune"):
        load_train_config(CONFIGS / "posttrain.yaml", stage="finetune")
    with pytest.raises(TrainConfigError, match="key=value"):
        load_train_config(CONFIGS / "finetune.yaml", ["steps"])
    cfg = load_train_config(CONFIGS / "finetune_tiny.yaml", ["global_batch=24", "micro_batch=8"])
    with pytest.raises(TrainConfigError, match="not a multiple"):
        cfg.accumulation(2)
    assert cfg.accumulation(1) == 3


def test_schedule_warmup_then_cosine():
    cfg = load_train_config(CONFIGS / "finetune_tiny.yaml",
                            ["schedule=cosine", "warmup_steps=10", "steps=110", "min_lr_ratio=0.1"])
    f = [lr_factor(s, cfg) for s in range(110)]
    assert f[0] < f[5] < f[9] < 1.0 and f[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(f[10:])) and f[-1] == pytest.approx(0.1, abs=0.01)
    const = load_train_config(CONFIGS / "finetune_tiny.yaml", ["schedule=constant", "warmup_steps=0"])
    assert lr_factor(0, const) == lr_factor(500, const) == 1.0
