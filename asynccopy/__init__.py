"""asynccopy: copy selected DynamoDB items to another account through SQS, losslessly."""

__version__ = "0.1.0"
