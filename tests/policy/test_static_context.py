"""The capturable observation path (engines/static_context.py): equal to the stock forward, and free of host
synchronisation — checked on the meta device, where nothing can be read back and every host→device copy shows."""

import copy
import traceback
from typing import ClassVar

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from psi0_policy.engines.static_context import StaticContext
from tests.policy.helpers import engine_case

pytestmark = pytest.mark.unit
aten = torch.ops.aten


@pytest.mark.parametrize("cameras", [1, 2])
def test_matches_the_stock_forward(cameras):
    m, pre, imgs, rng = engine_case(0, cameras)
    ctx = StaticContext(m, cameras)
    for text in ("raise your right hand", "hi", "x" * m.cfg.max_text_tokens):
        inputs = pre([imgs], [text])
        state = torch.as_tensor(rng.normal(0, 0.3, (1, 36)), dtype=torch.float32)
        with torch.no_grad():
            ref, _ = m.context(inputs, state, deploy=True)
            got = ctx(inputs["input_ids"], inputs["attention_mask"], inputs["pixel_values"],
                      ctx.rope_position_ids(inputs), state)
        err = float((got - ref).abs().max())
        print(f"{cameras} camera(s), {text[:10]!r}: static vs stock max |Δ| = {err:.2e}")
        assert got.shape == ref.shape and err < 1e-5


class HostTraffic(TorchDispatchMode):
    """Records every op that would stall a CUDA graph capture: a device value read on the host (item, tolist,
    nonzero, boolean-mask indexing, an output size that depends on device data) or host data copied to the
    device."""

    READS: ClassVar[set] = {aten._local_scalar_dense.default, aten.nonzero.default, aten.masked_select.default,
             aten.is_nonzero.default, aten.equal.default}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def _where(self) -> str:
        frames = [f for f in traceback.extract_stack()
                  if "torch/" not in f.filename and f.name not in ("_where", "__torch_dispatch__")]
        return f"{frames[-1].filename.split('site-packages/')[-1]}:{frames[-1].lineno}" if frames else "?"

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        on_device = any(t.device.type == "meta" for t in tensors)
        if func in self.READS and on_device:
            self.found.append(f"{func} at {self._where()}")
        elif func is aten.repeat_interleave.Tensor and on_device and kwargs.get("output_size") is None:
            self.found.append(f"{func} (output size read from the device) at {self._where()}")
        elif func in (aten.index.Tensor, aten.index_put.default, aten.index_put_.default) and on_device and any(
                isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] or [])):
            self.found.append(f"boolean-mask {func} at {self._where()}")
        elif func in (aten._to_copy.default, aten.copy_.default):
            src, dst = (args[1].device.type, args[0].device.type) if func is aten.copy_.default else (
                args[0].device.type, torch.device(kwargs["device"]).type if kwargs.get("device") else args[0].device.type)
            n = (args[1] if func is aten.copy_.default else args[0]).numel()
            if src == "meta" and dst == "cpu":
                self.found.append(f"device→host copy at {self._where()}")
            elif src == "cpu" and dst == "meta" and n > 1:
                self.found.append(f"host→device copy of {n} values at {self._where()}")
        return func(*args, **kwargs)


def test_no_host_synchronisation_on_the_device():
    m, pre, imgs, _ = engine_case(0)
    inputs = pre([imgs], ["raise your right hand"])
    host_ctx = StaticContext(m, 1)
    rope = host_ctx.rope_position_ids(inputs)
    ctx = copy.deepcopy(host_ctx).to("meta")  # weights and precomputed tables on the "device"; cu_seqlens stays
    feeds = [t.to("meta") for t in (inputs["input_ids"], inputs["attention_mask"], inputs["pixel_values"], rope,
                                    torch.zeros(1, 36))]
    mode = HostTraffic()
    with torch.no_grad(), mode:
        out = ctx(*feeds)
    assert out.device.type == "meta" and out.shape[1] == inputs["input_ids"].shape[1] + 1
    assert mode.found == [], "\n".join(mode.found)


def test_the_check_finds_what_the_stock_forward_does():
    """The detector is not blind: the stock Hugging Face forward, run the same way, is caught."""
    m, pre, imgs, _ = engine_case(0)
    inputs = pre([imgs], ["raise your right hand"])
    meta = copy.deepcopy(m).to("meta")
    feeds = {k: v.to("meta") for k, v in inputs.items()}  # as the stock engine runs it: everything on the device
    mode = HostTraffic()
    with torch.no_grad(), mode, pytest.raises(Exception) as e:  # meta cannot answer a host read either
        meta.context(feeds, torch.zeros(1, 36, device="meta"))
    print(repr(e.value)[:200])
    assert mode.found, "the stock forward reads device values on the host; the detector must see it"
    print("\n".join(mode.found[:5]))
