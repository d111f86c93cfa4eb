"""``deepdojo tune``: hyperparameter search on Optuna."""

from __future__ import annotations

from pathlib import Path

import typer

from deepdojo.cli.app import UsageError, app, handles_errors, out


@app.command("tune")
@handles_errors
def tune_cmd(
    model: str = typer.Option("mlp", "--model", help="Registered model (mlp, cnn, resnet, ...)."),
    data: str = typer.Option("digits", "--data", help="digits | mnist1d | breast_cancer"),
    trials: int = typer.Option(30, "--trials", help="Finished trials the study should hold."),
    workers: int = typer.Option(1, "--workers", help="Worker processes sharing the storage."),
    storage: str = typer.Option(
        "sqlite:///runs/search.db", "--storage", help="Optuna storage URL (sqlite, postgresql)."
    ),
    study: str = typer.Option("", "--study", help="Study name (default: MODEL-DATA)."),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe | random | cmaes"),
    pruner: str = typer.Option("median", "--pruner", help="median | hyperband | none"),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs per trial."),
    seed: int = typer.Option(0, "--seed", help="Training seed: keep it the same on every machine."),
    sampler_seed: int = typer.Option(
        -1, "--sampler-seed", help="Sampler seed (default: --seed); differ it per machine."
    ),
    out_dir: Path = typer.Option(
        Path("runs/search"), "--out", help="Folder for the summary and plots."
    ),
) -> None:
    """Search hyperparameters on Optuna (resumable; several workers share one storage)."""
    import json

    from deepdojo.search import ModelObjective, tune

    for flag, value in (("--trials", trials), ("--workers", workers), ("--epochs", epochs)):
        if value < 1:
            raise UsageError(f"{flag} must be a positive integer, got {value}")
    objective = ModelObjective(model, data, epochs=epochs, seed=seed)
    name = study or f"{model}-{data}"
    result = tune(
        objective,
        n_trials=trials,
        storage=storage,
        study_name=name,
        sampler=sampler,
        pruner=None if pruner.lower() == "none" else pruner,
        workers=workers,
        seed=seed if sampler_seed < 0 else sampler_seed,
        progress="auto",
    )
    result.save(out_dir / name)
    out.print_json(json.dumps(result.summary()))
    out.print(f"summary and plots: {(out_dir / name).resolve()}")
