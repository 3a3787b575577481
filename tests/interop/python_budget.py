"""The spend guard and typed results through the official Python MCP SDK.

- The budget ceiling with a client that answers elicitation: accepted, the call
  goes out with the higher budget; declined, nothing is sent and the result says so.
- With a state folder (third argument): a client that cannot be asked is refused
  above the ceiling; typed results, a mismatch and a bad schema; the credit
  window; and a second process reusing the schema's template.

Usage: python_budget.py BINARY BASE_URL [STATE_DIR]
Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import asyncio
import json
import os
import sys

import mcp.types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name"],
}


def server(binary: str, base_url: str, state_dir: str, args: list[str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=binary,
        args=args,
        env={
            "HANDINGER_BASE_URL": base_url,
            "HANDINGER_API_KEY": "hdg_live_budget",
            "HANDINGER_STATE_DIR": state_dir,
            "HANDINGER_LOG": "warn",
        },
    )


async def call_with(binary: str, base_url: str, action: str) -> mcp.types.CallToolResult:
    params = server(binary, base_url, os.environ["HANDINGER_STATE_DIR"], [])
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


async def bounds(binary: str, base_url: str, state_dir: str) -> str:
    """The ceilings for a client that cannot be asked, typed results, the credit
    window, and the template reused by a second process. Returns the template."""
    limits = ["--max-budget", "standard", "--max-credits", "3"]
    async with stdio_client(server(binary, base_url, state_dir, limits)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            high = await session.call_tool("create_task", {"input": "costly", "budget": "high"})
            assert high.isError and "HANDINGER_MAX_BUDGET" in high.content[0].text, high
            typed = await session.call_tool(
                "create_task", {"input": "who", "outputSchema": PERSON}
            )
            s = typed.structuredContent
            assert not typed.isError and s["structuredOutput"]["name"] == "Ada", typed
            assert s["outputSchemaCheck"]["matches"] is True, s
            assert s["creditUse"] == {"spentLast24h": 2, "limit": 3}, s
            bad = await session.call_tool(
                "create_task", {"input": "x", "outputSchema": {"type": "strong"}}
            )
            assert bad.isError and "outputSchema" in bad.content[0].text, bad
            wrong = await session.call_tool(
                "create_task", {"input": "wrong", "outputSchema": PERSON}
            )
            assert wrong.structuredContent["outputSchemaCheck"]["matches"] is False, wrong
            past = await session.call_tool("create_task", {"input": "one more"})
            assert past.isError and "HANDINGER_MAX_CREDITS" in past.content[0].text, past
    reuse = ["--max-credits", "100"]
    async with stdio_client(server(binary, base_url, state_dir, reuse)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            again = await session.call_tool(
                "create_task", {"input": "again", "outputSchema": PERSON}
            )
            assert again.structuredContent["workerId"] == s["workerId"], again
    return s["workerId"]


async def main(binary: str, base_url: str, state_dir: str | None) -> None:
    accepted = await call_with(binary, base_url, "accept")
    assert not accepted.isError, accepted
    declined = await call_with(binary, base_url, "decline")
    assert declined.isError, declined
    assert "declined" in declined.content[0].text, declined
    seen = {"accepted": accepted.structuredContent["taskId"]}
    if state_dir:
        seen["workerId"] = await bounds(binary, base_url, state_dir)
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
