"""The portable training bundle: what goes in comes back (exactly, or within JPEG error), and training from it
records the same split hash as training from the dataset."""
import json

import numpy as np
import pytest

from helpers.data import bundle
from helpers import config
from helpers.cli import main
from helpers.data.arrays import load_train_val
from helpers.modeling.train import resolve_config, train

pytestmark = pytest.mark.training  # every test here fits a model


@pytest.fixture(scope="module")
def arrays(phantom_data):
    Xtr, ytr, Xva, yva, _, _ = load_train_val(resolve_config({"arch": "tiny"}), phantom_data, progress=False)
    return Xtr, ytr, Xva, yva


@pytest.mark.parametrize("quality", [0, 92])
def test_bundle_round_trip(phantom_data, arrays, tmp_path, quality):
    path = tmp_path / "b.npz"
    meta = bundle.export(path, img_size=64, quality=quality, data_dir=phantom_data)
    Xtr, ytr, Xva, yva, back = bundle.load(path)
    for got, want in zip((Xtr, ytr, Xva, yva), arrays):
        assert got.shape == want.shape
    np.testing.assert_array_equal(ytr, arrays[1])
    np.testing.assert_array_equal(yva, arrays[3])
    err = np.abs(Xtr.astype(int) - arrays[0]).mean()
    if quality:
        assert 0 < err < 3 and meta["train_mean_abs_error"] == pytest.approx(err, abs=1e-3)
    else:
        assert err == 0
    assert back["split_sha256"] == meta["split_sha256"] and back["synthetic"] is True
    assert back["classes"] == list(config.CLASSES) and path.stat().st_size == meta["bytes"]


def test_training_from_a_bundle_records_the_same_split(phantom_data, tiny_model_json, tmp_path):
    path = tmp_path / "b.npz"
    bundle.export(path, img_size=64, data_dir=phantom_data)
    out = train({"arch": "tiny", "epochs": 1, "name": "from_bundle"}, out_dir=tmp_path, verbose=0, bundle=path)
    rec, ref = json.loads(out.read_text()), json.loads(tiny_model_json.read_text())
    assert rec["data"]["split_sha256"] == ref["data"]["split_sha256"]
    assert rec["data"]["bundle"]["jpeg_quality"] == 92 and rec["data"]["n_train"] == ref["data"]["n_train"]
    assert (tmp_path / "from_bundle.keras").exists()


def test_a_mismatched_bundle_is_refused_in_one_line(phantom_data, tmp_path, capsys):
    path = tmp_path / "b.npz"
    assert main(["bundle", str(path), "--img-size", "64", "--data-dir", str(phantom_data)]) == 0
    assert "train +" in capsys.readouterr().out
    # resnet_small expects 128 px: the 64 px bundle must be refused before any training starts
    assert main(["train", "--bundle", str(path), "--epochs", "1", "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "img_size=64" in err[0] and "128" in err[0]
