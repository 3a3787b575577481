"""The budget ceiling through the official Python MCP SDK, which answers
elicitation: accepted, the call goes out with the higher budget; declined,
nothing is sent and the result says so.

Usage: python_budget.py BINARY BASE_URL
Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import asyncio
import json
import os
import sys

import mcp.types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def call_with(binary: str, base_url: str, action: str) -> mcp.types.CallToolResult:
    params = StdioServerParameters(
        command=binary,
        args=[],
        env={
            "HANDINGER_BASE_URL": base_url,
            "HANDINGER_API_KEY": "hdg_live_budget",
            "HANDINGER_STATE_DIR": os.environ["HANDINGER_STATE_DIR"],
            "HANDINGER_LOG": "warn",
        },
    )
    asked = []

    async def on_elicitation(context, request):
        asked.append(request.message)
        if action == "accept":
            return mcp.types.ElicitResult(action="accept", content={"confirm": True})
        return mcp.types.ElicitResult(action=action)

    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, elicitation_callback=on_elicitation) as session:
            await session.initialize()
            result = await session.call_tool(
                "create_task", {"input": f"budget {action}", "budget": "unlimited"}
            )
    assert len(asked) == 1 and "unlimited" in asked[0], asked
    return result


async def main(binary: str, base_url: str) -> None:
    accepted = await call_with(binary, base_url, "accept")
    assert not accepted.isError, accepted
    declined = await call_with(binary, base_url, "decline")
    assert declined.isError, declined
    assert "declined" in declined.content[0].text, declined
    print(json.dumps({"accepted": accepted.structuredContent["taskId"]}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
