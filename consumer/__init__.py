"""The destination side of asynccopy: the SQS-triggered Lambda that writes the items."""
