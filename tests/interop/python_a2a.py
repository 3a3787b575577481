"""The official A2A Python SDK (PyPI a2a-sdk 1.x) as a client of the bridge's A2A
front-end: it resolves the Agent Card, sends a message blocking and streaming,
follows up in the same context, gets, lists and tries to cancel a task. Prints
one JSON object with what it saw; the Rust test checks it.

Usage: python_a2a.py BASE_URL BEARER_TOKEN
"""

import asyncio
import json
import sys
import uuid

import httpx
from a2a.client import ClientConfig, ClientFactory
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    TaskState,
)


def message(text, context_id=None):
    msg = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    if context_id:
        msg.context_id = context_id
    return msg


async def last_task(client, request):
    """Send and return the task as the last event left it, with every event's kind."""
    task, kinds, states = None, [], []
    async for event in client.send_message(request):
        kind = event.WhichOneof("payload")
        kinds.append(kind)
        if kind == "task":
            task = event.task
        elif kind == "status_update":
            states.append(TaskState.Name(event.status_update.status.state))
            task.status.CopyFrom(event.status_update.status)
        elif kind == "artifact_update":
            task.artifacts.append(event.artifact_update.artifact)
    return task, kinds, states


async def main(base_url, token):
    headers = {"Authorization": f"Bearer {token}"}
    seen = {}
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        blocking = ClientFactory(ClientConfig(streaming=False, httpx_client=http))
        client = await blocking.create_from_url(base_url)
        seen["card_name"] = client._card.name
        seen["card_url"] = client._card.supported_interfaces[0].url

        task, _, _ = await last_task(client, SendMessageRequest(message=message("First question")))
        seen["blocking_state"] = TaskState.Name(task.status.state)
        seen["blocking_answer"] = task.artifacts[0].parts[0].text
        seen["context_id"] = task.context_id

        follow = SendMessageRequest(message=message("Second question", task.context_id))
        second, _, _ = await last_task(client, follow)
        seen["follow_up_context"] = second.context_id
        seen["follow_up_answer"] = second.artifacts[0].parts[0].text

        got = await client.get_task(GetTaskRequest(id=second.id))
        seen["got_state"] = TaskState.Name(got.status.state)

        listed = await client.list_tasks(ListTasksRequest(context_id=task.context_id))
        seen["listed"] = [t.id for t in listed.tasks]
        seen["second_id"] = second.id

        try:
            await client.cancel_task(CancelTaskRequest(id=second.id))
            seen["cancel"] = "canceled"
        except Exception as error:  # noqa: BLE001 (the SDK raises its A2A error types)
            seen["cancel"] = type(error).__name__ + ": " + str(error)

        immediate = SendMessageRequest(
            message=message("Quick look"),
            configuration=SendMessageConfiguration(return_immediately=True),
        )
        working, _, _ = await last_task(client, immediate)
        seen["immediate_state"] = TaskState.Name(working.status.state)
        await client.close()

        streaming = ClientFactory(ClientConfig(streaming=True, httpx_client=http))
        client = await streaming.create_from_url(base_url)
        streamed, kinds, states = await last_task(
            client, SendMessageRequest(message=message("Stream this"))
        )
        seen["stream_kinds"] = kinds
        seen["stream_states"] = states
        seen["stream_answer"] = streamed.artifacts[0].parts[0].text
        await client.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
