"""Command-line functions: ``kefu train``, ``kefu nlu parse`` and ``kefu nlu eval``.

The lead mounts ``nlu_app`` as ``kefu nlu`` and calls :func:`train_command` for ``kefu train``.
Stand-alone: ``python -m bot.nlu.cli {train,parse,eval} ...``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.config import ConfigError, Settings, load_settings

nlu_app = typer.Typer(
    help="Natural-language understanding: parse and evaluate messages.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default: $KEFU_CONFIG or config.yml)."),
]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def train_command(config: ConfigOption = None) -> None:
    """Train the NLU model from ``dialogues/`` and write it under ``models/``."""
    from bot.nlu.interpreter import ModelError, train

    settings = _settings(config)
    try:
        result = train(settings)
    except ModelError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"trained {result.model_path.name}: {result.examples} examples, "
        f"{len(result.intents)} intents, {len(result.response_keys)} FAQ answers, "
        f"{result.features} features, {result.model_bytes / 1e6:.1f} MB, {result.seconds:.1f}s"
    )


@nlu_app.command("parse")
def parse_command(config: ConfigOption = None) -> None:
    """Read one message per line on stdin; write one JSON object per line (Rasa parse format)."""
    from bot.nlu.interpreter import ModelError, load_interpreter

    settings = _settings(config)
    try:
        interpreter = load_interpreter(settings)
    except ModelError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    stdin = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
    lines = (raw.decode("utf-8", errors="replace") for raw in stdin) if stdin else iter(sys.stdin)
    for line in lines:
        result = interpreter.parse(line.rstrip("\r\n"))
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()


@nlu_app.command("eval")
def eval_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="Rasa nlu.yml or TSV text<TAB>intent; omit with --cv."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    cv: Annotated[
        int | None, typer.Option("--cv", help="Cross-validate the training data in K folds.")
    ] = None,
    negatives: Annotated[
        Path | None,
        typer.Option(
            "--negatives",
            help="Messages that must open no ticket (TSV or nlu.yml): report the false-ticket "
            "rate. A FILE whose first line is '# kefu: negatives' is reported the same way.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print accuracy, macro-F1, per-intent P/R/F1, confusions, out-of-scope recall, per script.

    With negatives, also the false-ticket rate: the share of messages whose intent would open a
    repair, complaint, order or payment ticket, overall and per script.
    """
    from bot.nlu.data import DataError, load_labelled_file
    from bot.nlu.evaluate import (
        cross_validate,
        evaluate,
        false_tickets,
        format_false_tickets,
        format_report,
        is_negatives_file,
    )
    from bot.nlu.interpreter import ModelError, _load_data, load_interpreter

    if file is None and cv is None and negatives is None:
        typer.echo("give a FILE to evaluate, --negatives FILE, or --cv K", err=True)
        raise typer.Exit(2)
    negative_files = [negatives] if negatives is not None else []
    if file is not None and is_negatives_file(file) and file not in negative_files:
        negative_files.append(file)
    settings = _settings(config)
    output: dict[str, object] = {}
    try:
        if cv is not None:
            output["cross_validation"] = cross_validate(_load_data(settings), settings, k=cv)
        if file is not None:
            examples = load_labelled_file(file)
            if not examples:
                typer.echo(f"{file}: no labelled examples", err=True)
                raise typer.Exit(2)
            interpreter = load_interpreter(settings)
            output["test"] = evaluate(
                examples, interpreter.parse, known_intents=interpreter.intents
            )
            output["model"] = interpreter.model_hash
        if negative_files:
            interpreter = load_interpreter(settings)
            output["model"] = interpreter.model_hash
            reports: dict[str, object] = {}
            for path in negative_files:
                texts = [text for text, _ in load_labelled_file(path)]
                if not texts:
                    typer.echo(f"{path}: no messages", err=True)
                    raise typer.Exit(2)
                reports[str(path)] = false_tickets(texts, interpreter.parse)
            output["false_tickets"] = reports
    except (ModelError, DataError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if json_output:
        typer.echo(json.dumps(output, ensure_ascii=False, indent=2))
        return
    if "cross_validation" in output:
        cv_report = output["cross_validation"]
        assert isinstance(cv_report, dict)
        typer.echo(format_report(cv_report, f"== {cv_report['folds']}-fold cross-validation =="))
    if "test" in output:
        test_report = output["test"]
        assert isinstance(test_report, dict)
        if "cross_validation" in output:
            typer.echo("")
        typer.echo(format_report(test_report, f"== {file} (model {output['model']}) =="))
    found = output.get("false_tickets")
    if isinstance(found, dict):
        for path, result in found.items():
            typer.echo("")
            typer.echo(
                format_false_tickets(result, f"== negatives {path} (model {output['model']}) ==")
            )


def _standalone() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)

    app.command("train")(train_command)
    app.command("parse")(parse_command)
    app.command("eval")(eval_command)
    return app


if __name__ == "__main__":
    _standalone()()
