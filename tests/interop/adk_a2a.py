"""Google ADK's RemoteA2aAgent, as the README's snippet builds it, hands one
message to the bridge's A2A front-end and prints the text it got back (JSON).

Usage: adk_a2a.py BASE_URL BEARER_TOKEN
"""

import asyncio
import json
import sys

import httpx
from google.adk.agents.remote_a2a_agent import RemoteA2aAgent
from google.adk.runners import InMemoryRunner
from google.genai import types


async def main(base_url, token):
    handinger = RemoteA2aAgent(
        name="handinger",
        agent_card=f"{base_url}/.well-known/agent-card.json",
        httpx_client=httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60),
    )
    runner = InMemoryRunner(agent=handinger, app_name="readme")
    session = await runner.session_service.create_session(app_name="readme", user_id="u")
    message = types.Content(role="user", parts=[types.Part(text="What is A2A?")])
    texts = []
    async for event in runner.run_async(user_id="u", session_id=session.id, new_message=message):
        if event.content and event.content.parts:
            texts += [part.text for part in event.content.parts if part.text]
    print(json.dumps({"texts": texts}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
