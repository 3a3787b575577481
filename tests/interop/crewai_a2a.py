"""CrewAI's A2A delegation, as docs/a2a.md's snippet builds it, hands a task
to the bridge's A2A front-end (over A2A 0.3: crewai[a2a] pins a2a-sdk 0.3) and
prints what the crew ended with (JSON).

The agent's model is scripted (no model service is reachable in CI): it
delegates a question, then (once CrewAI has put the remote agent's answer in
its prompt) a follow-up, and ends with the follow-up's answer as CrewAI put it
in its prompt. Everything between the
two is CrewAI's own: card resolution, transport choice, the A2A client, the
streamed task and how its result is fed back.

Usage: crewai_a2a.py BASE_URL BEARER_TOKEN
"""

import json
import os
import re
import sys
import tempfile

# CrewAI prints its progress on standard output; the JSON goes out alone.
RESULT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
# CrewAI keeps state (a key, a kickoff database) under the home folder: this
# run keeps it in a throwaway one.
HOME = tempfile.TemporaryDirectory(prefix="crewai-home-")
for variable in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
    os.environ[variable] = HOME.name
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai import Agent, Crew, Task  # noqa: E402
from crewai.a2a import A2AClientConfig  # noqa: E402
from crewai.a2a.auth.client_schemes import BearerTokenAuth  # noqa: E402
from crewai.llms.base_llm import BaseLLM  # noqa: E402


class ScriptedModel(BaseLLM):
    """Delegates once, then answers with what the remote agent said."""

    calls: int = 0
    endpoint: str = ""

    def call(self, messages, tools=None, callbacks=None, available_functions=None,
             from_task=None, from_agent=None, response_model=None):
        self.calls += 1
        prompt = messages if isinstance(messages, str) else "\n".join(
            str(m.get("content", "")) for m in messages)
        answers = set(re.findall(r"Answer to: [^\"\n]*", prompt))
        if not answers:
            reply = {"a2a_ids": [self.endpoint], "message": "What is A2A?", "is_a2a": True}
        elif len(answers) == 1:
            reply = {"a2a_ids": [self.endpoint], "message": "Who maintains it?", "is_a2a": True}
        else:
            last = "Answer to: Who maintains it?"
            reply = {"a2a_ids": [], "message": last if last in answers else "lost", "is_a2a": False}
        return json.dumps(reply)

    def supports_function_calling(self):
        return False

    def get_context_window_size(self):
        return 8192


def main(base_url, token):
    card = f"{base_url}/.well-known/agent-card.json"
    model = ScriptedModel(model="scripted", endpoint=card)
    researcher = Agent(
        role="Researcher", goal="Answer with sources", backstory="Delegates research.",
        llm=model,
        a2a=A2AClientConfig(endpoint=card, auth=BearerTokenAuth(token=token)),
    )
    task = Task(description="Find out what A2A is.", expected_output="One line",
                agent=researcher)
    output = Crew(agents=[researcher], tasks=[task]).kickoff()
    print(json.dumps({"output": str(output.raw), "model_calls": model.calls}), file=RESULT)
    RESULT.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
