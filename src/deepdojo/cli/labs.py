"""``deepdojo labs``: the registered labs."""

from __future__ import annotations

from rich.table import Table

from deepdojo.cli.app import app, handles_errors, out


@app.command("labs")
@handles_errors
def labs_cmd() -> None:
    """List the registered labs with their question ids and one line each."""
    from deepdojo.labs import load_all

    table = Table(show_header=True)
    table.add_column("lab", style="bold")
    table.add_column("questions")
    table.add_column("what it measures")
    for name, spec in sorted(load_all().items()):
        table.add_row(name, ", ".join(spec.questions), spec.summary)
    out.print(table)
