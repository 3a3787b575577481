"""Drive `handinger-mcp serve --http` with the official Python MCP SDK's
Streamable HTTP client, an independent client.

Usage: python_http_client.py MCP_URL CLIENT_KEY
Sends CLIENT_KEY as the Handinger-Api-Key header. Prints one JSON line with what
it saw; exits non-zero on any mismatch.
"""

import os
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, client_key: str) -> None:
    headers = {"Handinger-Api-Key": client_key}
    async with streamablehttp_client(url, headers=headers) as (read, write, get_session_id):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.serverInfo.name == "handinger-mcp", init.serverInfo
            listed = await session.list_tools()
            names = sorted(tool.name for tool in listed.tools)
            assert names == sorted(os.environ["EXPECTED_TOOLS"].split(",")), names

            progress = []

            async def on_progress(done, total, message):
                progress.append(message)

            # The SDK validates structuredContent against the declared outputSchema.
            result = await session.call_tool(
                "create_task", {"input": "over streamable HTTP"}, progress_callback=on_progress
            )
            assert not result.isError, result
            assert "Answer to: over streamable HTTP" in result.content[0].text, result
            structured = result.structuredContent
            assert progress and structured["taskId"] in progress[0], progress
            print(
                json.dumps(
                    {
                        "protocolVersion": init.protocolVersion,
                        "sessionId": get_session_id(),
                        "taskId": structured["taskId"],
                        "progress": progress,
                    }
                )
            )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
