"""Drive handinger-mcp with the official Python MCP SDK, an independent client.

Usage: python_client.py BINARY BASE_URL [--tasks-extension]
With --tasks-extension the client declares the io.modelcontextprotocol/tasks
extension at initialize (as a client of that extension does), and a plain
tools/call must still get a normal result.
Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import os
import asyncio
import json
import sys

import mcp.types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def declare_tasks_extension() -> None:
    """Make the SDK's initialize capabilities carry the tasks extension."""

    class WithTasksExtension(mcp.types.ClientCapabilities):
        def __init__(self, **fields):
            fields.setdefault("extensions", {"io.modelcontextprotocol/tasks": {}})
            super().__init__(**fields)

    mcp.types.ClientCapabilities = WithTasksExtension


async def main(binary: str, base_url: str) -> None:
    params = StdioServerParameters(
        command=binary,
        args=[],
        env={
            "HANDINGER_BASE_URL": base_url,
            "HANDINGER_API_KEY": "hdg_live_interop",
            "HANDINGER_STATE_DIR": os.environ["HANDINGER_STATE_DIR"],
            "HANDINGER_LOG": "warn",
        },
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.serverInfo.name == "handinger-mcp", init.serverInfo
            assert init.instructions and "create_task" in init.instructions

            listed = await session.list_tools()
            names = sorted(tool.name for tool in listed.tools)
            assert names == sorted(os.environ["EXPECTED_TOOLS"].split(",")), names

            # The SDK validates structuredContent against the declared outputSchema.
            result = await session.call_tool("create_task", {"input": "interop check"})
            assert not result.isError, result
            text = result.content[0].text
            assert "Answer to: interop check" in text, text
            structured = result.structuredContent
            assert structured["outputText"] == "Answer to: interop check", structured
            links = [c.uri for c in result.content if c.type == "resource_link"]
            assert len(links) == 2, links

            print(
                json.dumps(
                    {
                        "protocolVersion": init.protocolVersion,
                        "tools": names,
                        "taskId": structured["taskId"],
                    }
                )
            )


if __name__ == "__main__":
    if "--tasks-extension" in sys.argv[3:]:
        declare_tasks_extension()
    asyncio.run(main(sys.argv[1], sys.argv[2]))
