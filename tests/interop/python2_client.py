"""Drive handinger-mcp with the official Python MCP SDK 2.x, in a given protocol
mode: "legacy" (the initialize handshake) or "2026-07-28" (per-request _meta, no
handshake).

Usage: python2_client.py MODE BINARY BASE_URL [--tasks-extension]
With --tasks-extension the client advertises io.modelcontextprotocol/tasks (only
meaningful in legacy mode: there it is declared at initialize, and a plain call
must still get a normal result).
Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import os
import asyncio
import json
import sys

from mcp import Client, StdioServerParameters
from mcp.client.extension import advertise


async def main(mode: str, binary: str, base_url: str, tasks_extension: bool) -> None:
    params = StdioServerParameters(
        command=binary,
        args=[],
        env={
            "HANDINGER_BASE_URL": base_url,
            "HANDINGER_API_KEY": "hdg_live_python2",
            "HANDINGER_STATE_DIR": os.environ["HANDINGER_STATE_DIR"],
            "HANDINGER_LOG": "warn",
        },
    )
    extensions = [advertise("io.modelcontextprotocol/tasks")] if tasks_extension else []
    async with Client(params, mode=mode, extensions=extensions) as client:
        listed = await client.list_tools()
        names = sorted(tool.name for tool in listed.tools)
        assert names == sorted(os.environ["EXPECTED_TOOLS"].split(",")), names
        result = await client.call_tool("create_task", {"input": f"python 2 {mode}"})
        assert not result.is_error, result
        structured = result.structured_content
        assert structured["outputText"] == f"Answer to: python 2 {mode}", structured
        print(json.dumps({"mode": mode, "tools": names, "taskId": structured["taskId"]}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], "--tasks-extension" in sys.argv[4:]))
