"""Training configuration: the shipped files load, unknown keys and bad values fail loudly, `base` inherits."""

import itertools

import pytest

from psi0_policy.train.config import TrainConfigError, load_train_config
from psi0_policy.train.trainer import lr_factor, param_groups
from tests.train.helpers import CONFIGS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["pretrain", "posttrain", "finetune", "pretrain_tiny", "posttrain_tiny", "finetune_tiny",
                                  "demo_suite"])
def test_shipped_configs_load(name):
    cfg = load_train_config(CONFIGS / f"{name}.yaml")
    assert cfg.stage == ("finetune" if name == "demo_suite" else name.split("_")[0])
    assert cfg.lr > 0 and cfg.grad_clip == 1.0


def test_psi0_recipe_defaults():
    ft = load_train_config(CONFIGS / "finetune.yaml")
    post = load_train_config(CONFIGS / "posttrain.yaml")
    assert (ft.horizon, ft.rtc_max_delay, ft.train, ft.lr) == (30, 7, "expert", 1e-4)
    assert (post.horizon, post.train, post.norm_mode, post.rtc_max_delay) == (16, "expert", "quantile", 0)
    tiny = load_train_config(CONFIGS / "finetune_tiny.yaml")
    assert tiny.model == "tiny" and tiny.horizon == 30 and tiny.rtc_max_delay == 7  # inherited from finetune.yaml
    assert ft.state_position == "padded"  # the official training layout stays the default
    suite = load_train_config(CONFIGS / "demo_suite.yaml")
    assert (suite.model, suite.state_position, suite.train) == ("small", "valid", "all")


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
    with pytest.raises(TrainConfigError, match="state_position: padded or valid"):
        load_train_config(CONFIGS / "finetune_tiny.yaml", ["state_position=deploy"])
    with pytest.raises(TrainConfigError, match="instruction_jitter in"):
        load_train_config(CONFIGS / "finetune_tiny.yaml", ["instruction_jitter=-1"])
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


def test_official_stage_recipes():
    """The optimiser settings of the official training scripts (scripts/train/psi0/*.sh), stage by stage."""
    pre, post, ft = (load_train_config(CONFIGS / f"{n}.yaml") for n in ("pretrain", "posttrain", "finetune"))
    assert (pre.horizon, pre.norm_mode, pre.schedule, pre.warmup_steps) == (1, "quantile", "constant", 0)
    assert (pre.lr, pre.vision_lr, pre.merger_lr, pre.betas, pre.weight_decay) == (1e-4, 1e-5, 1e-5, (0.9, 0.999), 0.0)
    assert (post.schedule, post.warmup_steps, post.betas, post.weight_decay, post.eps) == ("constant", 1000, (0.9, 0.999),
                                                                                          0.0, 1e-8)
    assert (ft.schedule, ft.min_lr_ratio, ft.warmup_steps, ft.steps) == ("cosine", 0.0, 1000, 40000)
    assert (ft.betas, ft.weight_decay, ft.norm_mode, ft.train) == ((0.95, 0.999), 1e-6, "minmax", "expert")


def test_vision_tower_and_mergers_get_their_own_rates():
    import torch

    from psi0_policy.model.config import get_config
    from psi0_policy.model.psi0 import Psi0Model

    m = Psi0Model(get_config("tiny"))
    cfg = load_train_config(CONFIGS / "pretrain_tiny.yaml", ["vision_lr=1e-5", "merger_lr=2e-5"])
    groups = {g["name"]: g for g in param_groups(m, cfg)}
    names = {id(p): n for n, p in m.named_parameters()}
    assert groups["merger"]["lr"] == 2e-5 and groups["vision"]["lr"] == 1e-5 and groups["rest"]["lr"] == cfg.lr
    assert all("visual" in names[id(p)] and "merger" in names[id(p)] for p in groups["merger"]["params"])
    assert all("visual" in names[id(p)] and "merger" not in names[id(p)] for p in groups["vision"]["params"])
    assert not any("visual" in names[id(p)] for p in groups["rest"]["params"])
    assert sum(len(g["params"]) for g in groups.values()) == sum(p.requires_grad for p in m.parameters())
    opt = torch.optim.AdamW(param_groups(m, cfg), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5)  # the schedule scales every group alike
    assert sched.get_last_lr() == pytest.approx([1e-5, 5e-6, cfg.lr / 2])  # merger, vision, rest
    m.backbone.vlm.visual.requires_grad_(False)
    assert [g["name"] for g in param_groups(m, cfg)] == ["rest"]  # frozen parameters are left out


def test_a_different_chunk_length_keeps_only_the_backbone_and_the_expert_blocks():
    """Official fine-tuning from post-training (chunk 16 → 30) loads the action header's transformer_blocks.* only."""
    import torch

    from psi0_policy.model.config import get_config
    from psi0_policy.model.psi0 import Psi0Model
    from psi0_policy.train.trainer import adopt_horizon

    torch.manual_seed(0)
    old = Psi0Model(get_config("tiny", horizon=16))
    new = adopt_horizon(old, 30)
    a, b = old.state_dict(), new.state_dict()
    assert new.cfg.horizon == 30 and b["expert.action_proj_in.dec_pos"].shape[0] == 30
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("backbone.", "expert.transformer_blocks.")))
    assert not torch.equal(a["expert.action_proj_out.linear.weight"], b["expert.action_proj_out.linear.weight"])
