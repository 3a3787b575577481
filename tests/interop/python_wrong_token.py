"""The official Python MCP SDK's Streamable HTTP client against a bridge that
refuses its bearer token: the error a host built on it gets.

Usage: python_wrong_token.py MCP_URL TOKEN
Prints one JSON line: {"error": "<type>: <message>"}.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


def innermost(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


async def main(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with streamablehttp_client(url, headers=headers) as (read, write, _):
            async with ClientSession(read, write) as session:
                await asyncio.wait_for(session.initialize(), timeout=10)
        found = "initialize succeeded"
    except BaseException as error:  # noqa: BLE001 - the error is what is reported
        inner = innermost(error)
        found = f"{type(inner).__name__}: {inner}"
    print(json.dumps({"error": found}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
