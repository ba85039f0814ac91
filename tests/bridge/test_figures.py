"""Tests of pmtheory.bridge.figures: each bridge figure is made from the studies' numbers."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("matplotlib")

from pmtheory.bridge import figures  # noqa: E402
from pmtheory.bridge.studies import BridgeSetup, use_setup  # noqa: E402
from pmtheory.bridge.tiny import tiny_model_paths  # noqa: E402
from pmtheory.figures import figure_names, figure_spec  # noqa: E402


@pytest.fixture()
def opt_only():
    paths = tiny_model_paths()
    with use_setup(BridgeSetup(policies=(("opt", str(paths.opt)),), reward_model=str(paths.reward), threads=1)):
        yield


def test_registered_with_their_claims():
    names = set(figure_names())
    assert {"bridge-len", "bridge-cpm", "bridge-mod"} <= names
    assert figure_spec("bridge-len").claims == ("BRG-LEN",)
    assert figure_spec("bridge-mod").claims == ("BRG-MOD",)


@pytest.mark.parametrize("make, stem", [(figures.length_figure, "bridge-len"), (figures.training_figure, "bridge-cpm"),
                                        (figures.mod_figure, "bridge-mod")])
def test_figure_files(opt_only, tmp_path, make, stem):
    paths = make(tmp_path, quick=True)
    assert sorted(p.name for p in paths) == [f"{stem}.pdf", f"{stem}.png"]
    for path in paths:
        assert path.stat().st_size > 5_000


def test_without_torch_a_bridge_figure_is_skipped_with_a_note(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert figures.length_figure(tmp_path, quick=True) == []
    assert "skipping bridge-len" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
