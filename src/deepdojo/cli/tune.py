"""``deepdojo tune``: hyperparameter search on Optuna."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from deepdojo.cli.app import UsageError, app, err, handles_errors, out


@app.command("tune")
@handles_errors
def tune_cmd(
    model: str = typer.Option(
        "mlp", "--model", metavar="MODEL", help="Registered model (mlp, cnn, resnet, ...)."
    ),
    data: str = typer.Option(
        "digits", "--data", metavar="DATA", help="digits | mnist1d | breast_cancer"
    ),
    trials: int = typer.Option(
        30, "--trials", metavar="N", help="Finished trials the study should hold."
    ),
    workers: int = typer.Option(
        1, "--workers", metavar="N", help="Worker processes sharing the storage."
    ),
    storage: str = typer.Option(
        "sqlite:///runs/search.db", "--storage", metavar="URL",
        help="Optuna storage URL (sqlite, postgresql).",
    ),
    study: str = typer.Option(
        "", "--study", metavar="NAME", help="Study name (default: MODEL-DATA)."
    ),
    sampler: str = typer.Option(
        "tpe", "--sampler", metavar="SAMPLER", help="tpe | random | cmaes"
    ),
    pruner: str = typer.Option(
        "median", "--pruner", metavar="PRUNER", help="median | hyperband | none"
    ),
    epochs: int = typer.Option(10, "--epochs", metavar="N", help="Training epochs per trial."),
    seed: int = typer.Option(
        0, "--seed", metavar="N", help="Training seed: keep it the same on every machine."
    ),
    sampler_seed: int | None = typer.Option(
        None, "--sampler-seed", metavar="N",
        help="Sampler seed (default: --seed); differ it per machine.",
    ),
    out_dir: Path = typer.Option(
        Path("runs/search"), "--out", metavar="DIR", help="Folder for the summary and plots."
    ),
) -> None:
    """Search hyperparameters on Optuna (resumable; several workers share one storage).

    Exit codes: 2 for bad input, including a storage that cannot be used (unreachable,
    refused login, missing driver); 1 when the database stops answering during the study
    (its finished trials are kept: run the same command again); 130 on Ctrl-C.
    """
    import json

    from deepdojo.search import ModelObjective, StorageLost, TuneInterrupted, tune

    for flag, value in (("--trials", trials), ("--workers", workers), ("--epochs", epochs)):
        if value < 1:
            raise UsageError(f"{flag} must be a positive integer, got {value}")
    objective = ModelObjective(model, data, epochs=epochs, seed=seed)
    name = study or f"{model}-{data}"
    try:
        result = tune(
            objective,
            n_trials=trials,
            storage=storage,
            study_name=name,
            sampler=sampler,
            pruner=None if pruner.lower() == "none" else pruner,
            workers=workers,
            seed=seed if sampler_seed is None else sampler_seed,
            progress="auto",
            out=out_dir,
        )
    except TuneInterrupted as e:
        err.print(str(e), highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    except StorageLost as e:  # not bad input: the run failed, the study stays resumable
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print_json(json.dumps(result.summary()))
    out.print(f"summary and plots: {(out_dir / name).resolve()}")
