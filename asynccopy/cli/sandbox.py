"""`asynccopy sandbox ...`: the local two-account AWS emulator."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from asynccopy.sandbox import DEST_ACCOUNT, SOURCE_ACCOUNT, SandboxServer, ServerConfig, account_env
from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE, write_profiles
from asynccopy.sandbox.server import DEFAULT_PORT

app = typer.Typer(
    help="Run a local AWS emulator with a source account (111111111111) and a destination"
    " account (222222222222).",
    no_args_is_help=True,
)

PortOption = typer.Option(
    int(os.environ.get("ASYNCCOPY_SANDBOX_PORT", DEFAULT_PORT)),
    "--port",
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
    port: int = PortOption,
) -> None:
    """Fill the source table `users`; create the destination table, queue and DLQ."""
    from asynccopy.sandbox.seed import SeedConfig
    from asynccopy.sandbox.seed import seed as run_seed

    server = _running_server(port)
    endpoint = server.config.endpoint_url
    result = run_seed(
        SeedConfig(items=items, item_bytes=item_bytes, keys_out=keys_out), endpoint_url=endpoint
    )
    typer.echo(
        f"seeded {result.items_written} items into table {result.table_name!r} of the source"
        f" account; keys in {result.keys_out}"
    )
    typer.echo(f"queue:      {result.queue_url}")
    typer.echo(f"dead-letter queue: {result.dlq_url}")
    for label, account in (("source", SOURCE_ACCOUNT), ("destination", DEST_ACCOUNT)):
        env = " ".join(f"{k}={v}" for k, v in account_env(account, endpoint).items())
        typer.echo(f"{label} account env: {env}")
    files = write_profiles(server.config.sandbox_dir / "aws", endpoint_url=endpoint)
    typer.echo(
        f"profiles {SOURCE_PROFILE} and {DEST_PROFILE}: "
        + " ".join(f"{k}={v}" for k, v in files.env().items())
    )


@app.command("deploy-consumer")
def deploy_consumer(
    mode: str = typer.Option(
        "overwrite", "--mode", help="overwrite | skip-existing | newer-wins:<attribute>."
    ),
    batch_size: int = typer.Option(
        10, "--batch-size", min=1, max=10_000, help="Mapping BatchSize."
    ),
    max_concurrency: int = typer.Option(
        5, "--max-concurrency", min=2, max=1000, help="ScalingConfig.MaximumConcurrency."
    ),
    port: int = PortOption,
) -> None:
    """Run the consumer as a Lambda in the destination account, triggered by asynccopy-users."""
    from asynccopy.sandbox.deploy import DeployConfig
    from asynccopy.sandbox.deploy import deploy_consumer as run_deploy

    server = _running_server(port)
    result = run_deploy(
        DeployConfig(write_mode=mode, batch_size=batch_size, max_concurrency=max_concurrency),
        endpoint_url=server.config.endpoint_url,
    )
    typer.echo(
        f"deployed {result.function_arn} ({result.package_bytes} bytes, WRITE_MODE="
        f"{result.write_mode}); mapping {result.mapping_uuid} from {result.queue_arn}"
    )
