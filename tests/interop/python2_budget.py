"""The budget confirmation through the official Python MCP SDK 2.x, in both of
its modes: "legacy" (the server asks with elicitation/create) and "2026-07-28"
(no server requests: the call's first answer is an input-required result,
which the SDK answers through the same elicitation callback and sends again).
Accepted, the call goes out with the higher budget; declined, nothing is sent.

Usage: python2_budget.py BINARY BASE_URL
Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import asyncio
import json
import os
import sys

import mcp_types
from mcp import Client, StdioServerParameters


async def call(binary: str, base_url: str, mode: str, action: str):
    params = StdioServerParameters(
        command=binary,
        args=[],
        env={
            "HANDINGER_BASE_URL": base_url,
            "HANDINGER_API_KEY": "hdg_live_python2_budget",
            "HANDINGER_STATE_DIR": os.environ["HANDINGER_STATE_DIR"],
            "HANDINGER_LOG": "warn",
        },
    )
    asked = []

    async def on_elicitation(context, request):
        asked.append(request.message)
        if action == "accept":
            return mcp_types.ElicitResult(action="accept", content={"confirm": True})
        return mcp_types.ElicitResult(action=action)

    async with Client(params, mode=mode, elicitation_callback=on_elicitation) as client:
        result = await client.call_tool(
            "create_task", {"input": f"{mode} {action}", "budget": "unlimited"}
        )
    assert len(asked) == 1 and "unlimited" in asked[0], (mode, asked)
    return result


async def main(binary: str, base_url: str) -> None:
    seen = {}
    for mode in ["legacy", "2026-07-28"]:
        accepted = await call(binary, base_url, mode, "accept")
        assert not accepted.is_error, accepted
        declined = await call(binary, base_url, mode, "decline")
        assert declined.is_error, declined
        assert "declined" in declined.content[0].text, declined
        seen[mode] = accepted.structured_content["taskId"]
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
