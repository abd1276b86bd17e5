"""The flow generator, SASA, the losses, training and checkpoints."""

import json

import numpy as np
import pytest
import torch

from tenfold.bodyreshape.attention import StructureAffinityAttention, part_maps
from tenfold.bodyreshape.flow_generator import FlowGenerator, GeneratorConfig
from tenfold.bodyreshape.losses import orthogonal_loss, reshape_loss
from tenfold.bodyreshape.synthetic import make_set
from tenfold.bodyreshape.training import (
    CHECKPOINT_FORMAT,
    TrainConfig,
    load_checkpoint,
    predict_flows,
    read_checkpoint_metadata,
    save_checkpoint,
    shipped_checkpoint,
    train_generator,
)
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError


def test_paper_width_has_the_official_parameter_count():
    with torch.device("meta"):
        model = FlowGenerator(GeneratorConfig(width=64))
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(67.17e6, rel=1e-3)


def test_generator_shapes_range_and_variants():
    torch.manual_seed(0)
    image, skeleton = torch.rand(2, 3, 32, 32), torch.randn(2, 13, 32, 32).sign()
    full = FlowGenerator(GeneratorConfig(width=4, input_size=32))
    assert full.encoder[0][1].in_channels == 16
    flow = full(image, skeleton)
    assert flow.shape == (2, 2, 32, 32) and not flow.any()  # zero-initialised head: the identity warp
    torch.nn.init.normal_(full.decoder_top[-1].weight)
    assert full(image, skeleton).abs().max() <= 1
    no_sp = FlowGenerator(GeneratorConfig(width=4, structure_priors=False, affinity=False))
    assert no_sp.encoder[0][1].in_channels == 3 and no_sp.attention.structure is None
    assert no_sp(image).shape == (2, 2, 32, 32)
    with pytest.raises(ValueError, match="skeleton"):
        full(image)
    with pytest.raises(ValueError, match="multiple of 16"):
        full(torch.rand(1, 3, 40, 40), torch.rand(1, 13, 40, 40))


def test_sasa_is_the_identity_at_init_and_composes_two_sigmoids():
    torch.manual_seed(0)
    block = StructureAffinityAttention(64)
    x, skeleton = torch.randn(1, 64, 4, 4), torch.randn(1, 13, 32, 32).sign()
    assert torch.equal(block(x, skeleton), x)  # gamma = 0
    block.gamma.data.fill_(1.0)
    q, k, v = block.query(x).flatten(2), block.key(x).flatten(2), block.value(x).flatten(2)
    energy = q.transpose(1, 2) @ k
    visual = torch.sigmoid(energy - energy.mean())
    m = block.structure(part_maps(skeleton, (4, 4))).flatten(2)
    structural = m.transpose(1, 2) @ m
    affinity = visual * torch.sigmoid(structural - structural.mean())
    expected = x + (v @ affinity.transpose(1, 2)).view(1, 64, 4, 4)
    torch.testing.assert_close(block(x, skeleton), expected)


def test_part_maps_cover_foreground_and_background():
    skeleton = -torch.ones(1, 13, 64, 64)
    skeleton[:, [4, 12], 30:34, 10:50] = 1  # an arm line (channel 4) and the union channel
    maps = part_maps(skeleton, (8, 8))
    assert maps.shape == (1, 5, 8, 8)
    torch.testing.assert_close(maps[:, 3] + maps[:, 4], torch.ones(1, 8, 8))
    assert maps[:, 0].max() > 0 and maps[:, 1].max() == 0  # arms present, torso absent


def test_orthogonal_loss_by_hand():
    paf = torch.zeros(1, 2, 1, 3)
    paf[:, 0] = 1.0  # limbs along +x
    flow = torch.tensor([[[[1.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]]])  # parallel, orthogonal, 45°
    expected = (1.0 + 0.0 + np.cos(np.pi / 4)) / 3
    assert orthogonal_loss(flow, paf, floor=0.0).item() == pytest.approx(expected, rel=1e-4)
    assert orthogonal_loss(flow, torch.zeros_like(paf)).item() == 0.0


def test_reshape_loss_is_zero_for_the_true_flow_of_a_constant_image():
    image = torch.full((1, 3, 32, 32), 0.5)
    flow = torch.zeros(1, 2, 32, 32)
    assert reshape_loss(flow, image, image, flow, torch.zeros_like(flow)).item() == 0.0


@pytest.fixture(scope="module")
def tiny_set():
    return make_set(8, 0, size=64, net_size=32)


def test_train_save_load_round_trip(tiny_set, tmp_path):
    model, losses = train_generator(tiny_set, TrainConfig(width=2, steps=2, batch_size=4))
    assert len(losses) == 1 and np.isfinite(losses).all() and not model.training
    flows = predict_flows(model, tiny_set.images, tiny_set.skeletons)
    assert flows.shape == (8, 32, 32, 2) and np.abs(flows).max() > 0
    path = save_checkpoint(model, tmp_path / "model.safetensors", extra={"recipe": {"steps": 2}})
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    assert read_checkpoint_metadata(path)["extra"] == {"recipe": {"steps": 2}}
    loaded = load_checkpoint(path, expect=model.config)
    np.testing.assert_allclose(predict_flows(loaded, tiny_set.images, tiny_set.skeletons), flows, atol=1e-6)
    half = load_checkpoint(save_checkpoint(model, tmp_path / "half.safetensors", dtype="float16"))
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * path.stat().st_size
    for key, value in half.state_dict().items():  # kernels rounded to float16, everything else exact
        original = model.state_dict()[key]
        assert value.dtype == original.dtype
        expected = original.half().to(original.dtype) if original.dim() > 1 else original
        assert torch.equal(value, expected), key
    again, _ = train_generator(tiny_set, TrainConfig(width=2, steps=2, batch_size=4))
    np.testing.assert_allclose(predict_flows(again, tiny_set.images, tiny_set.skeletons), flows, atol=1e-6)


def test_bad_checkpoints_name_the_problem(tiny_set, tmp_path):
    from safetensors.torch import save_file

    model = FlowGenerator(GeneratorConfig(width=2, input_size=32))
    path = save_checkpoint(model, tmp_path / "model.safetensors")
    with pytest.raises(BadInputError, match="expected"):
        load_checkpoint(path, expect=GeneratorConfig(width=4, input_size=32))
    metadata = {"format": CHECKPOINT_FORMAT, "config": json.dumps({**model.config.to_dict(), "width": 4})}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "wrong.safetensors"),
              metadata=metadata)
    with pytest.raises(BadInputError, match="mis-shaped"):
        load_checkpoint(tmp_path / "wrong.safetensors")
    save_file({"Encoder.0.conv.1.weight": torch.zeros(1)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(BadInputError, match="not written by `tenfold bodyreshape train`"):
        load_checkpoint(tmp_path / "foreign.safetensors")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(MissingDataError):
        load_checkpoint(tmp_path / "absent.safetensors")
    with pytest.raises(BadConfigError, match="variant"):
        train_generator(tiny_set, TrainConfig(variant="nope", width=2))


def test_the_shipped_checkpoint_loads_and_records_its_recipe():
    path = shipped_checkpoint()
    assert path.stat().st_size < 3 * 2**20
    recipe = read_checkpoint_metadata(path)["extra"]["recipe"]
    assert recipe["command"].startswith("tenfold bodyreshape train ") and recipe["seed"] >= 0
    beside = json.loads((path.parent / "flow_generator.recipe.json").read_text())
    assert beside["command"] == recipe["command"]
    model = load_checkpoint(path)
    assert model.config.structure_priors and model.config.affinity
