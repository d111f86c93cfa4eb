""""In deepdojo" links: every link resolves now or is honestly marked as coming."""

from __future__ import annotations

import importlib

import pytest

import deepdojo.nn
from deepdojo.answers import PLANNED, QUESTIONS, ApiLink, api_status, bank, resolve_api

ALL_LINKS = sorted({name for q in QUESTIONS.values() for name in q.api})


@pytest.mark.parametrize("name", ALL_LINKS)
def test_every_link_resolves_or_is_coming(name):
    status = api_status(name)
    assert status != "missing", f"{name} does not resolve and is not under a PLANNED module"
    if status == "available":
        assert resolve_api(name) is not None


def test_planned_modules_are_not_built_yet_and_are_linked():
    """A planned module that lands must be struck from PLANNED (the list stays honest), and a
    planned module nobody links to does not belong there either."""
    assert bank.stale_planned() == [], "these exist now: strike them from answers.bank.PLANNED"
    for module in sorted(PLANNED):
        assert any(n == module or n.startswith(module + ".") for n in ALL_LINKS), module


def test_stale_planned_names_a_module_that_has_landed(monkeypatch):
    monkeypatch.setattr(bank, "PLANNED", frozenset({"deepdojo.nn", "deepdojo.nowhere"}))
    assert bank.stale_planned() == ["deepdojo.nn"]


def test_coming_links_are_exactly_the_unresolved_planned_ones():
    coming = {n for n in ALL_LINKS if api_status(n) == "coming"}
    under_planned = {n for n in ALL_LINKS if any(n == p or n.startswith(p + ".") for p in PLANNED)}
    assert coming == under_planned  # nothing under a planned module resolves yet


def test_links_new_in_issue_22_resolve():
    for name in (
        "deepdojo.nn.losses.LogitAdjustedLoss",
        "deepdojo.nn.regularization.prox_l1_",
        "deepdojo.anomaly.AutoEncoderDetector",
        "deepdojo.impute.AutoEncoderImputer",
        "deepdojo.models.autoencoder.VAE",
        "deepdojo.train.tasks.ReconstructionTask",
        "deepdojo.data.episodes.EpisodeSampler",
        "deepdojo.nn.init.zero_residual_branches",
        "deepdojo.answers.frameworks.FRAMEWORKS",
    ):
        assert name in ALL_LINKS, name
        assert api_status(name) == "available", name


def test_question_links_carry_status():
    q = QUESTIONS["Q19"]
    assert q.links == tuple(ApiLink(n, "available") for n in q.api)
    assert all(link.available for link in q.links)
    assert not ApiLink("deepdojo.x", "coming").available


def test_resolve_api_returns_the_object_and_rejects_non_deepdojo_names():
    assert resolve_api("deepdojo.nn.GRU") is deepdojo.nn.GRU
    assert resolve_api("deepdojo.nn") is deepdojo.nn
    for bad in ("torch.nn", "deepdojo", "deepdojo..nn", "deepdojo.nn.", 3):
        with pytest.raises(ValueError, match="dotted deepdojo name"):
            resolve_api(bad)


def test_api_status_three_outcomes(monkeypatch):
    monkeypatch.setattr(bank, "PLANNED", frozenset({"deepdojo.nowhere"}))
    assert api_status("deepdojo.nn.GRU") == "available"
    assert api_status("deepdojo.nowhere") == "coming"
    assert api_status("deepdojo.nowhere.Thing") == "coming"
    assert api_status("deepdojo.nowhereelse") == "missing"  # a prefix of a word is not a module
    assert api_status("deepdojo.nn.NoSuchBlock") == "missing"
    with pytest.raises(LookupError, match="deepdojo.nn has no attribute 'NoSuchBlock'"):
        resolve_api("deepdojo.nn.NoSuchBlock")


def test_a_module_that_fails_to_import_is_not_available(monkeypatch):
    real = importlib.import_module

    def broken(name, *args):
        if name == "deepdojo.nn.gru":
            raise ModuleNotFoundError("No module named 'somedep'", name="somedep")
        if name == "deepdojo.nn.attention":
            raise RuntimeError("boom at import")
        return real(name, *args)

    monkeypatch.setattr(bank.importlib, "import_module", broken)
    with pytest.raises(LookupError, match="deepdojo.nn.gru fails to import"):
        resolve_api("deepdojo.nn.gru.GRU")
    with pytest.raises(LookupError, match="boom at import"):
        resolve_api("deepdojo.nn.attention")
    assert api_status("deepdojo.nn.gru.GRU") == "missing"
