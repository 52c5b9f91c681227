"""`asynccopy iam-policy`: print the IAM policy the producer's role needs in the source account."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("iam-policy")
    def iam_policy(
        table_arn: str = typer.Option(..., "--table-arn", help="ARN of the source table."),
        queue_url: str = typer.Option(..., "--queue-url", help="URL of the destination queue."),
        queue_region: str | None = typer.Option(
            None, "--queue-region", help="The queue's region if its URL does not say."
        ),
        index: str | None = typer.Option(
            None, "--index", metavar="NAME", help="The index copy --index reads through."
        ),
        skip_expired: bool = typer.Option(
            False,
            "--skip-expired",
            help="For copy --skip-expired: allow DescribeTimeToLive on the table.",
        ),
    ) -> None:
        """Print the least-privilege IAM policy for the producer (source account side)."""
        from asynccopy.policy import ProducerGrant, producer_policy, render

        grant = ProducerGrant(
            table_arn=table_arn,
            queue_url=queue_url,
            queue_region=queue_region,
            index_name=index,
            skip_expired=skip_expired,
        )
        typer.echo(render(producer_policy(grant)))
