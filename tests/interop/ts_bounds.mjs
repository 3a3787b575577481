// The spend guard and typed results through the official TypeScript MCP SDK
// (1.x): a budget above the ceiling refused for a client that cannot be asked,
// confirmed and declined by one that answers elicitation; typed results and a
// bad schema refused; the credit window; and the schema's template reused by a
// second process.
//
// Usage: node ts_bounds.mjs SDK_DIR BINARY BASE_URL STATE_DIR
// Prints one JSON line with what it saw; exits non-zero on any mismatch.

import { createRequire } from "node:module";
import path from "node:path";

const [sdkDir, binary, baseUrl, stateDir] = process.argv.slice(2);
const require = createRequire(path.join(sdkDir, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { ElicitRequestSchema } = require("@modelcontextprotocol/sdk/types.js");

const PERSON = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer" } },
  required: ["name"],
};

function check(condition, what) {
  if (!condition) {
    console.error(`mismatch: ${JSON.stringify(what)}`);
    process.exit(1);
  }
}

/// A connected client on a new server process; `answer`, when given, is how it
/// answers elicitation.
async function connect(args, answer) {
  const transport = new StdioClientTransport({
    command: binary,
    args,
    env: {
      HANDINGER_BASE_URL: baseUrl,
      HANDINGER_API_KEY: "hdg_live_typescript_bounds",
      HANDINGER_STATE_DIR: stateDir,
      HANDINGER_LOG: "warn",
      PATH: process.env.PATH,
    },
    stderr: "ignore",
  });
  const capabilities = answer ? { elicitation: { form: {} } } : {};
  const client = new Client({ name: "ts-bounds", version: "1.0.0" }, { capabilities });
  if (answer) {
    client.setRequestHandler(ElicitRequestSchema, async () => answer);
  }
  await client.connect(transport);
  return client;
}

const text = (result) => result.content[0].text;

// A client that cannot be asked: the ceilings refuse with the setting's name.
const plain = await connect(["--max-budget", "standard", "--max-credits", "3"]);
const high = await plain.callTool({
  name: "create_task",
  arguments: { input: "expensive", budget: "high" },
});
check(high.isError && text(high).includes("HANDINGER_MAX_BUDGET"), high);
const typed = await plain.callTool({
  name: "create_task",
  arguments: { input: "who", outputSchema: PERSON },
});
const s = typed.structuredContent;
check(!typed.isError && s.structuredOutput.name === "Ada", typed);
check(s.outputSchemaCheck.matches === true, s);
check(s.creditUse.spentLast24h === 2 && s.creditUse.limit === 3, s);
const bad = await plain.callTool({
  name: "create_task",
  arguments: { input: "x", outputSchema: { type: "strong" } },
});
check(bad.isError && text(bad).includes("outputSchema"), bad);
const wrong = await plain.callTool({
  name: "create_task",
  arguments: { input: "wrong", outputSchema: PERSON },
});
check(!wrong.isError && wrong.structuredContent.outputSchemaCheck.matches === false, wrong);
const past = await plain.callTool({ name: "create_task", arguments: { input: "one more" } });
check(past.isError && text(past).includes("HANDINGER_MAX_CREDITS"), past);
await plain.close();

// A second process with the same state folder reuses the schema's template.
const again = await connect(["--max-credits", "100"]);
const reused = await again.callTool({
  name: "create_task",
  arguments: { input: "again", outputSchema: PERSON },
});
check(reused.structuredContent.workerId === s.workerId, [reused, s.workerId]);
await again.close();

// A client that answers elicitation: confirmed is sent, declined is not.
const yes = await connect([], { action: "accept", content: { confirm: true } });
const confirmed = await yes.callTool({
  name: "create_task",
  arguments: { input: "confirmed", budget: "unlimited" },
});
check(!confirmed.isError, confirmed);
await yes.close();
const no = await connect([], { action: "decline" });
const declined = await no.callTool({
  name: "create_task",
  arguments: { input: "declined", budget: "unlimited" },
});
check(declined.isError && text(declined).includes("declined"), declined);
await no.close();

console.log(JSON.stringify({ workerId: s.workerId, confirmed: confirmed.structuredContent.taskId }));
