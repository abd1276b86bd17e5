"""Feature maps: public-only fitting is enforced; HOG is per-sample."""

import numpy as np
import pytest

from tenfold.core.errors import BadInputError
from tenfold.dpfmix.features import HOGFeatures, PixelFeatures, PrivateFitError, PublicPCA


def _images(n, seed):
    return np.random.default_rng(seed).random((n, 8, 8))


def test_pca_fitted_on_public_transforms_private():
    public, private = _images(60, 0), _images(30, 1)
    pca = PublicPCA(4).fit(public, public=True)
    features = pca.transform_private(private)
    assert features.shape == (30, 4)
    assert np.mean(np.linalg.norm(pca.transform(public), axis=1)) == pytest.approx(1.0)


def test_map_fitted_on_private_rows_is_refused():
    data = _images(60, 0)
    pca = PublicPCA(4).fit(data[:40], public=True)
    with pytest.raises(PrivateFitError, match="fitted on 5 of the private records"):
        pca.transform_private(data[35:60])
    with pytest.raises(PrivateFitError, match="public"):
        PixelFeatures().fit(data)  # public=True not asserted


def test_pixel_features_and_hog():
    data = _images(20, 0)
    raw = PixelFeatures().fit(data, public=True).transform(data)
    assert raw.shape == (20, 64)
    centred = PixelFeatures(center=True).fit(data, public=True).transform(data)
    assert np.allclose(centred.mean(axis=0), 0, atol=1e-12)
    hog = HOGFeatures(pixels_per_cell=4).transform(data)
    assert hog.shape[0] == 20 and np.all(np.isfinite(hog))
    with pytest.raises(BadInputError):
        HOGFeatures().transform(data.reshape(20, -1))
    bad = data.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(BadInputError):
        PublicPCA(2).fit(bad, public=True)
