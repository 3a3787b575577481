"""The task history, resources and prompts through the official Python MCP SDK.

Usage: python_history.py BINARY BASE_URL STATE_DIR
Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import asyncio
import json
import sys

import mcp.types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(binary: str, base_url: str, state_dir: str) -> None:
    params = StdioServerParameters(
        command=binary,
        args=[],
        env={
            "HANDINGER_BASE_URL": base_url,
            "HANDINGER_API_KEY": "hdg_live_interop",
            "HANDINGER_STATE_DIR": state_dir,
            "HANDINGER_LOG": "warn",
        },
    )
    changed = []

    async def on_message(message) -> None:
        if isinstance(message, mcp.types.ServerNotification) and isinstance(
            message.root, mcp.types.ResourceListChangedNotification
        ):
            changed.append(True)

    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, message_handler=on_message) as session:
            init = await session.initialize()
            caps = init.capabilities
            assert caps.resources and caps.resources.listChanged, caps
            assert caps.prompts is not None, caps

            made = await session.call_tool("create_task", {"input": "History check\nmore"})
            task_id = made.structuredContent["taskId"]

            listed = await session.call_tool("list_tasks", {"limit": 5})
            assert not listed.isError, listed
            tasks = listed.structuredContent["tasks"]
            assert tasks[0]["taskId"] == task_id and tasks[0]["input"] == "History check", tasks

            resources = await session.list_resources()
            uris = [str(r.uri) for r in resources.resources]
            assert f"handinger://tasks/{task_id}" in uris, uris
            first = resources.resources[0]
            assert first.mimeType == "text/markdown" and first.title == "History check", first

            templates = await session.list_resource_templates()
            assert templates.resourceTemplates[0].uriTemplate == "handinger://tasks/{taskId}"

            read = await session.read_resource(f"handinger://tasks/{task_id}")
            text = read.contents[0].text
            assert "Answer to: History check" in text and "Sources:" in text, text

            prompts = await session.list_prompts()
            names = [p.name for p in prompts.prompts]
            assert names == ["delegate", "follow_up", "review_task"], names

            delegate = await session.get_prompt(
                "delegate", {"goal": "Compare three CRMs", "deliverable": "A table"}
            )
            brief = delegate.messages[0].content.text
            assert "create_task" in brief and "## Goal\nCompare three CRMs" in brief, brief

            review = await session.get_prompt("review_task", {"taskId": task_id})
            embedded = review.messages[0].content
            assert embedded.type == "resource", embedded
            assert "Answer to: History check" in embedded.resource.text, embedded
            assert "Check it" in review.messages[1].content.text

            archived = await session.call_tool("archive_task", {"taskId": task_id})
            assert not archived.isError and archived.structuredContent["archived"], archived

            # Notifications are handled as they arrive; give the last one a moment.
            await asyncio.sleep(0.2)
            print(json.dumps({"taskId": task_id, "listChanged": len(changed)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
