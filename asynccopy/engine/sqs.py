"""SendMessageBatch on the fast engine, with the botocore client's method name and keywords."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from asynccopy.engine.transport import JsonService, failing_as_a_call


class FastSqs:
    def __init__(self, service: JsonService) -> None:
        self._service = service

    async def send_message_batch(
        self,
        *,
        QueueUrl: str,
        Entries: Sequence[dict[str, Any]],
    ) -> dict[str, Any]:
        with failing_as_a_call("SendMessageBatch"):
            body = orjson.dumps({"QueueUrl": QueueUrl, "Entries": list(Entries)})
            return await self._service.call("SendMessageBatch", body)
