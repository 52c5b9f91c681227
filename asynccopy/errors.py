"""The exceptions asynccopy raises on purpose, and the exit codes they map to.

    AsyncCopyError                 message built from data, plus a hint saying how to fix it
    ├── InputError                 bad input or configuration: exit 2, nothing was sent
    │   (subclasses name the input: key file line, key schema, rate, table, queue, profile)
    │   ├── KeyLineError           a key line (or --values JSON) that cannot be a key of the table
    │   ├── SelectionError         no selection, two at once, or a flag that needs another
    │   ├── RateError              --rate is not a positive number, a percentage or `max`
    │   ├── TableNotFoundError     the source table does not exist (or is not visible)
    │   ├── QueueNotFoundError     the queue URL does not name a queue the sender can reach
    │   ├── FifoQueueError         the queue is a FIFO queue; asynccopy sends to standard queues
    │   ├── ProfileNotFoundError   --profile names no profile of the AWS config files
    │   ├── CredentialsError       no credentials, or a profile whose credentials will not load
    │   ├── AssumeRoleError        --role-arn could not be assumed
    │   └── CheckpointError        a checkpoint that is corrupt, missing, or for another selection
    ├── ReadError                  a Scan or Query page could not be read, even after retries
    └── SandboxError               the local emulator could not be installed, started or reached

Anything else escaping the CLI is a bug and is shown as such.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # every selected item that exists was sent (or, for verify: identical)
    FAILURES = 1  # some items failed (reported by key), or verify found differences
    BAD_INPUT = 2  # bad input or configuration; nothing was sent
    INTERRUPTED = 130  # Ctrl-C: reading stopped, sends in flight finished, summary printed


class AsyncCopyError(Exception):
    """Base: `str(err)` is one line, the problem followed by how to fix it."""

    exit_code: ExitCode = ExitCode.FAILURES

    def __init__(self, problem: str, *, hint: str = "") -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem} ({hint})" if hint else problem)


class InputError(AsyncCopyError):
    """Bad input or configuration, found before anything was sent."""

    exit_code = ExitCode.BAD_INPUT


class SandboxError(AsyncCopyError):
    """The local sandbox could not be installed, started or reached."""

    exit_code = ExitCode.BAD_INPUT


class KeyLineError(InputError):
    """A key line that is not a valid key of the table; `line_no` counts from 1."""

    def __init__(self, *, source: str, line_no: int, problem: str, hint: str = "") -> None:
        self.source = source
        self.line_no = line_no
        super().__init__(
            f"{source} line {line_no}: {problem}",
            hint=hint or "fix or remove the line; nothing was sent",
        )


class SelectionError(InputError):
    """The flags do not select items in exactly one way."""


class RateError(InputError):
    """`--rate` is not a positive number, a percentage of provisioned capacity, or `max`."""

    def __init__(self, *, text: str, problem: str) -> None:
        self.text = text
        super().__init__(
            f"--rate {text!r}: {problem}",
            hint="give read units per second (e.g. 200), a share of provisioned RCU (40%), or max",
        )


class TableNotFoundError(InputError):
    """`region` is the one the call went to (flag, profile or AWS_REGION), never "default"."""

    def __init__(
        self,
        *,
        table: str,
        region: str | None,
        hint: str = "check --table, --region and --profile (the source side)",
    ) -> None:
        self.table = table
        self.region = region
        where = f" in region {region}" if region else ""
        super().__init__(f"table {table!r} was not found{where}", hint=hint)


class QueueNotFoundError(InputError):
    def __init__(self, *, queue_url: str, code: str) -> None:
        self.queue_url = queue_url
        self.code = code
        super().__init__(
            f"queue {queue_url} does not exist or is not reachable ({code})",
            hint="check --queue-url and the queue side's --queue-region/--queue-profile",
        )


class FifoQueueError(InputError):
    """The queue is a FIFO queue (its name ends in .fifo, or its FifoQueue attribute is true)."""

    def __init__(self, *, queue_url: str) -> None:
        self.queue_url = queue_url
        super().__init__(
            f"queue {queue_url} is a FIFO queue; asynccopy needs a standard queue: SQS FIFO "
            "needs a MessageGroupId on every message and caps throughput",
            hint="create a standard queue, named without .fifo, and pass its URL",
        )


class ProfileNotFoundError(InputError):
    """`--profile` names a profile that no AWS config or credentials file defines."""

    def __init__(self, *, profile: str | None) -> None:
        self.profile = profile
        super().__init__(
            f"the AWS profile {profile!r} was not found",
            hint="check `aws configure list-profiles` or drop --profile",
        )


class CredentialsError(InputError):
    """No credentials, or a profile whose credentials cannot be loaded."""

    def __init__(self, *, profile: str | None, cause: str | None = None) -> None:
        self.profile = profile
        if cause is None:
            super().__init__(
                "no AWS credentials found",
                hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --profile",
            )
        else:
            super().__init__(
                f"could not load credentials for profile {profile!r}: {cause}",
                hint="fix the profile in ~/.aws/config or choose another with --profile",
            )


class AssumeRoleError(InputError):
    """`--role-arn` could not be assumed."""

    def __init__(self, *, role_arn: str, code: str) -> None:
        self.role_arn = role_arn
        self.code = code
        super().__init__(
            f"cannot assume role {role_arn}: {code}",
            hint="check the role's trust policy and that your identity may call sts:AssumeRole",
        )


class CheckpointError(InputError):
    """A checkpoint file that cannot be used: unreadable, corrupt, or for another selection."""

    def __init__(self, *, path: str, problem: str, hint: str = "") -> None:
        self.path = path
        super().__init__(
            f"checkpoint {path}: {problem}",
            hint=hint or "delete the file, or drop --resume to start from the beginning",
        )


class ReadError(AsyncCopyError):
    """Reading from the source table failed after every retry."""

    def __init__(self, *, operation: str, code: str, attempts: int) -> None:
        self.operation = operation
        self.code = code
        self.attempts = attempts
        super().__init__(
            f"{operation} failed after {attempts} attempts: {code}",
            hint="lower --rate or --concurrency, or check the source table's permissions",
        )
