// Drive handinger-mcp with the official TypeScript MCP SDK (1.x), an independent
// client: list the tools, call one with progress, and let the SDK validate
// structuredContent against the declared output schema (it throws otherwise).
//
// Usage: node ts_client.mjs SDK_DIR stdio BINARY BASE_URL
//        node ts_client.mjs SDK_DIR http MCP_URL HANDINGER_KEY
// (stdio spawns the binary; http speaks Streamable HTTP to `serve --http`, with
// the key in the Handinger-Api-Key header.)
// Prints one JSON line with what it saw; exits non-zero on any mismatch.

import { createRequire } from "node:module";
import path from "node:path";

const [sdkDir, mode, target, secret] = process.argv.slice(2);
const require = createRequire(path.join(sdkDir, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");

function stdioTransport(binary, baseUrl) {
  const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
  return new StdioClientTransport({
    command: binary,
    args: [],
    env: {
      HANDINGER_BASE_URL: baseUrl,
      HANDINGER_API_KEY: "hdg_live_typescript",
      HANDINGER_LOG: "warn",
      HANDINGER_STATE_DIR: process.env.HANDINGER_STATE_DIR,
      PATH: process.env.PATH,
    },
    stderr: "ignore",
  });
}

function httpTransport(url, key) {
  const { StreamableHTTPClientTransport } = require(
    "@modelcontextprotocol/sdk/client/streamableHttp.js",
  );
  return new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { "Handinger-Api-Key": key } },
  });
}

const transport = mode === "http" ? httpTransport(target, secret) : stdioTransport(target, secret);
const client = new Client({ name: "ts-interop", version: "1.0.0" });
await client.connect(transport);

const { tools } = await client.listTools();
const names = tools.map((tool) => tool.name).sort();
if (names.join() !== process.env.EXPECTED_TOOLS.split(",").sort().join()) {
  throw new Error(`unexpected tools ${names}`);
}

const progress = [];
const result = await client.callTool(
  { name: "create_task", arguments: { input: "from typescript" } },
  undefined,
  { onprogress: (p) => progress.push(p) },
);
if (result.isError) throw new Error(`tool error: ${JSON.stringify(result)}`);
if (!result.structuredContent || result.structuredContent.outputText !== "Answer to: from typescript") {
  throw new Error(`unexpected result ${JSON.stringify(result)}`);
}
console.log(
  JSON.stringify({
    tools: names,
    taskId: result.structuredContent.taskId,
    progress: progress.map((p) => p.message),
    sessionId: transport.sessionId ?? null,
  }),
);
await client.close();
