import pytest
import torch

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.core.train import FitConfig, accuracy, classification_loss, fit, latest_checkpoint


def _data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(90, 6, generator=generator)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def _model():
    torch.manual_seed(11)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 2))


def test_fit_learns_a_separable_problem():
    x, y = _data()
    model = _model()
    history = fit(model, (x, y), classification_loss, FitConfig(epochs=15, batch_size=16, lr=1e-2, progress=False))
    assert history.epoch_losses[-1] < history.epoch_losses[0]
    assert accuracy(model, x, y) > 0.9
    assert history.global_step == 15 * 6


def test_resume_mid_epoch_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    x, y = _data()
    config = dict(batch_size=16, lr=1e-2, optimizer="sgd", progress=False, seed=3)
    straight = _model()
    reference = fit(straight, (x, y), classification_loss, FitConfig(epochs=3, **config))

    interrupted = _model()
    fit(interrupted, (x, y), classification_loss,
        FitConfig(epochs=2, checkpoint_dir=tmp_path, checkpoint_every=5, **config))
    assert latest_checkpoint(tmp_path).name == "step_10"  # 6 steps an epoch: inside epoch 2
    assert (latest_checkpoint(tmp_path) / "model.safetensors").is_file()
    resumed = _model()  # a fresh process would start from a fresh model
    history = fit(resumed, (x, y), classification_loss,
                  FitConfig(epochs=3, checkpoint_dir=tmp_path, checkpoint_every=5, resume=True, **config))
    assert history.resumed_from_step == 10
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert history.epoch_losses == pytest.approx(reference.epoch_losses)
    assert len(list(tmp_path.glob("step_*"))) <= 2  # old checkpoints are pruned


def test_fit_rejects_bad_configs_and_data(tmp_path):
    x, y = _data()
    with pytest.raises(BadConfigError):
        fit(_model(), (x, y), classification_loss, FitConfig(epochs=0))
    with pytest.raises(BadConfigError):
        fit(_model(), (x, y), classification_loss, FitConfig(lr=-1))
    with pytest.raises(BadConfigError):
        fit(_model(), (x, y), classification_loss, FitConfig(resume=True))
    with pytest.raises(MissingDataError):
        fit(_model(), (x, y), classification_loss, FitConfig(resume=True, checkpoint_dir=tmp_path, progress=False))
    with pytest.raises(BadInputError, match="lengths"):
        fit(_model(), (x, y[:10]), classification_loss, FitConfig(progress=False))
    x_nan = x.clone()
    x_nan[0] = float("nan")
    with pytest.raises(BadInputError, match="NaN"):
        fit(_model(), (x_nan, y), classification_loss, FitConfig(progress=False, batch_size=90))
