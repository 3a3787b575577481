// The task history, resources and prompts through the official TypeScript MCP
// SDK (1.x): list_tasks, resources/list and read, the template, prompts (one
// embedding a task's answer) and archive_task.
//
// Usage: node ts_history.mjs SDK_DIR BINARY BASE_URL STATE_DIR
// Prints one JSON line with what it saw; exits non-zero on any mismatch.

import { createRequire } from "node:module";
import path from "node:path";

const [sdkDir, binary, baseUrl, stateDir] = process.argv.slice(2);
const require = createRequire(path.join(sdkDir, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");

function check(condition, what) {
  if (!condition) {
    console.error(`mismatch: ${JSON.stringify(what)}`);
    process.exit(1);
  }
}

const transport = new StdioClientTransport({
  command: binary,
  args: [],
  env: {
    HANDINGER_BASE_URL: baseUrl,
    HANDINGER_API_KEY: "hdg_live_typescript",
    HANDINGER_STATE_DIR: stateDir,
    HANDINGER_LOG: "warn",
    PATH: process.env.PATH,
  },
  stderr: "ignore",
});
const client = new Client({ name: "ts-history", version: "1.0.0" });
await client.connect(transport);

const made = await client.callTool({ name: "create_task", arguments: { input: "Typed history" } });
const taskId = made.structuredContent.taskId;
const listed = await client.callTool({ name: "list_tasks", arguments: {} });
check(listed.structuredContent.tasks[0].taskId === taskId, listed.structuredContent);

const resources = await client.listResources();
const uri = `handinger://tasks/${taskId}`;
check(resources.resources.some((r) => r.uri === uri), resources);
const templates = await client.listResourceTemplates();
check(templates.resourceTemplates[0].uriTemplate === "handinger://tasks/{taskId}", templates);
const read = await client.readResource({ uri });
check(read.contents[0].text.includes("Answer to: Typed history"), read);

const prompts = await client.listPrompts();
check(prompts.prompts.map((p) => p.name).join() === "delegate,follow_up,review_task", prompts);
const followUp = await client.getPrompt({
  name: "follow_up",
  arguments: { taskId, message: "Now in French" },
});
check(followUp.messages[0].content.text.includes(`taskId "${taskId}"`), followUp);
const review = await client.getPrompt({ name: "review_task", arguments: { taskId } });
check(review.messages[0].content.type === "resource", review);

const archived = await client.callTool({ name: "archive_task", arguments: { taskId } });
check(archived.structuredContent.archived === true, archived);

await client.close();
console.log(JSON.stringify({ taskId, resources: resources.resources.length }));
