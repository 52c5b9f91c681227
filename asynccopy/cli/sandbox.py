"""`asynccopy sandbox ...`: the local two-account AWS emulator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from asynccopy.sandbox import DEST_ACCOUNT, SOURCE_ACCOUNT, SandboxServer, ServerConfig, account_env
from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE, write_profiles
from asynccopy.sandbox.server import DEFAULT_PORT

if TYPE_CHECKING:
    from asynccopy.sandbox.deploy import DeployResult

app = typer.Typer(
    help="Run a local AWS emulator with a source account (111111111111) and a destination"
    " account (222222222222).",
    no_args_is_help=True,
)

# Read from the environment when the command runs, not when the module is imported.
PortOption = typer.Option(
    DEFAULT_PORT,
    "--port",
    envvar="ASYNCCOPY_SANDBOX_PORT",
    show_envvar=False,
    help="Port on 127.0.0.1 (env ASYNCCOPY_SANDBOX_PORT).",
)


def _server(port: int) -> SandboxServer:
    return SandboxServer(ServerConfig(port=port), say=lambda line: typer.echo(line, err=True))


def _running_server(port: int) -> SandboxServer:
    """The server on `port`, started first if it is not running."""
    server = _server(port)
    if not server.status().running:
        server.up()
    return server


@app.command()
def install() -> None:
    """Install the emulator into its own virtual environment (done by `up` when needed)."""
    _server(DEFAULT_PORT).install()


@app.command()
def up(port: int = PortOption) -> None:
    """Start the emulator in the background and wait until it is healthy (idempotent)."""
    _server(port).up()


@app.command()
def down(port: int = PortOption) -> None:
    """Stop the emulator and every Lambda worker it started."""
    _server(port).down()


@app.command()
def status(port: int = PortOption) -> None:
    """Say whether the emulator runs, and where. Exit 0 if it runs, 1 if not."""
    current = _server(port).status()
    typer.echo(current.describe())
    raise typer.Exit(0 if current.running else 1)


@app.command()
def reset(port: int = PortOption) -> None:
    """Delete everything in both accounts."""
    _server(port).reset()
    typer.echo("sandbox: state reset", err=True)


@app.command()
def seed(
    items: int = typer.Option(10_000, "--items", min=0, help="Items to create."),
    item_bytes: int = typer.Option(1_000, "--item-bytes", min=100, help="Approximate item size."),
    keys_out: Path = typer.Option(Path("keys.txt"), "--keys-out", help="Key list to write."),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Drop the tables even when they hold items the seed did not write.",
    ),
    port: int = PortOption,
) -> None:
    """Fill the source table `users`; create the destination table, queue and DLQ. Tables that
    exist are dropped first (refused without --replace if they hold anyone else's items)."""
    from asynccopy.sandbox.seed import SeedConfig
    from asynccopy.sandbox.seed import seed as run_seed

    server = _running_server(port)
    endpoint = server.config.endpoint_url
    result = run_seed(
        SeedConfig(items=items, item_bytes=item_bytes, keys_out=keys_out, replace=replace),
        endpoint_url=endpoint,
        say=lambda line: typer.echo(line, err=True),
    )
    typer.echo(
        f"seeded {result.items_written} items into table {result.table_name!r} of the source"
        f" account; keys in {result.keys_out}"
    )
    # The consumer Lambda's own queue comes from `sandbox deploy-consumer` (the stack's outputs).
    typer.echo(f"queue for `asynccopy consume`: {result.queue_url}")
    typer.echo(f"its dead-letter queue: {result.dlq_url}")
    for label, account in (("source", SOURCE_ACCOUNT), ("destination", DEST_ACCOUNT)):
        env = " ".join(f"{k}={v}" for k, v in account_env(account, endpoint).items())
        typer.echo(f"{label} account env: {env}")
    files = write_profiles(server.config.profiles_dir, endpoint_url=endpoint)
    typer.echo(
        f"profiles {SOURCE_PROFILE} and {DEST_PROFILE}: "
        + " ".join(f"{k}={v}" for k, v in files.env().items())
    )


@app.command("deploy-consumer")
def deploy_consumer(
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="WriteMode: overwrite | skip-existing | newer-wins:<attribute>."
        " Unset flags keep the stack's value (the template's default on create).",
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, max=10_000, help="BatchSize of the mapping."
    ),
    max_concurrency: int | None = typer.Option(
        None, "--max-concurrency", min=2, max=1000, help="The mapping's MaximumConcurrency."
    ),
    parameter: list[str] | None = typer.Option(
        None,
        "--parameter",
        help="Any other template parameter as NAME=VALUE (repeatable), e.g. MaxReceiveCount=2.",
    ),
    stack_name: str = typer.Option(
        "asynccopy-users", "--stack-name", help="The CloudFormation stack."
    ),
    delete: bool = typer.Option(False, "--delete", help="Delete the stack instead."),
    port: int = PortOption,
) -> None:
    """Deploy deploy/template.yaml with CloudFormation in the destination account (the queue,
    its dead-letter queue and the consumer Lambda), as `aws cloudformation deploy` does."""
    from asynccopy.sandbox.deploy import DeployConfig, parse_parameter
    from asynccopy.sandbox.deploy import deploy_consumer as run_deploy

    if delete:
        _delete_stack(stack_name, port=port)
        return
    config = DeployConfig(
        stack_name=stack_name,
        write_mode=mode,
        batch_size=batch_size,
        max_concurrency=max_concurrency,
        overrides=tuple(parse_parameter(text) for text in parameter or ()),
    )
    server = _running_server(port)
    _print_deployment(run_deploy(config, endpoint_url=server.config.endpoint_url, say=_say))


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _delete_stack(stack_name: str, *, port: int) -> None:
    from asynccopy.sandbox.deploy import delete_consumer

    endpoint = _running_server(port).config.endpoint_url
    if delete_consumer(stack_name, endpoint_url=endpoint, say=_say):
        typer.echo(f"stack {stack_name} deleted")
    else:
        typer.echo(f"stack {stack_name} does not exist; nothing to delete")


def _print_deployment(result: DeployResult) -> None:
    """The stack's parameters and outputs, then the same deployment as `aws` commands."""
    from asynccopy.sandbox.deploy import aws_commands

    params = result.parameters
    typer.echo(
        f"stack {result.stack_name} {result.action}: WriteMode={params.get('WriteMode')}"
        f" MaximumConcurrency={params.get('MaximumConcurrency')}"
        f" BatchSize={params.get('BatchSize')}"
    )
    for key, value in sorted(result.outputs.items()):
        typer.echo(f"{key}: {value}")
    typer.echo("\nthe same deployment on AWS, in the destination account (profile dest):")
    for command in aws_commands(result):
        typer.echo(f"  {command}")
    for warning in result.warnings:
        typer.echo(f"asynccopy: warning: {warning}", err=True)
