// The official A2A JavaScript SDK (npm @a2a-js/sdk 1.x) as a client of the
// bridge's A2A front-end: it resolves the Agent Card, sends a message blocking
// and streaming, follows up in the same context, gets, lists and tries to
// cancel a task. Prints one JSON object with what it saw (the same fields as
// python_a2a.py); the Rust test checks it.
//
// Usage: node ts_a2a.mjs SDK_FOLDER BASE_URL BEARER_TOKEN

import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

const [sdkFolder, baseUrl, token] = process.argv.slice(2);
const sdk = await import(pathToFileURL(`${sdkFolder}/node_modules/@a2a-js/sdk/dist/index.js`));
const client = await import(
  pathToFileURL(`${sdkFolder}/node_modules/@a2a-js/sdk/dist/client/index.js`)
);
const { Role, TaskState } = sdk;

const authenticated = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

function message(text, contextId = "") {
  return {
    messageId: randomUUID(),
    contextId,
    taskId: "",
    role: Role.ROLE_USER,
    parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "" }],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function request(msg, returnImmediately = false) {
  return {
    tenant: "",
    message: msg,
    configuration: returnImmediately
      ? { acceptedOutputModes: [], historyLength: undefined, returnImmediately: true, taskPushNotificationConfig: undefined }
      : undefined,
    metadata: undefined,
  };
}

const stateName = (state) => TaskState[state];
const answerOf = (task) => task.artifacts[0].parts[0].content.value;

const factory = new client.ClientFactory({
  transports: [new client.JsonRpcTransportFactory({ fetchImpl: authenticated })],
  cardResolver: new client.DefaultAgentCardResolver({ fetchImpl: authenticated }),
});
const a2a = await factory.createFromUrl(baseUrl);
const card = await a2a.getAgentCard();
const seen = { card_name: card.name, card_url: card.supportedInterfaces[0].url };

const first = await a2a.sendMessage(request(message("First question")));
seen.blocking_state = stateName(first.status.state);
seen.blocking_answer = answerOf(first);
seen.context_id = first.contextId;

const second = await a2a.sendMessage(request(message("Second question", first.contextId)));
seen.follow_up_context = second.contextId;
seen.follow_up_answer = answerOf(second);
seen.second_id = second.id;

const got = await a2a.getTask({ tenant: "", id: second.id, historyLength: undefined });
seen.got_state = stateName(got.status.state);

const listed = await a2a.listTasks({
  tenant: "",
  contextId: first.contextId,
  status: 0,
  pageSize: undefined,
  pageToken: "",
  historyLength: undefined,
  statusTimestampAfter: undefined,
  includeArtifacts: undefined,
});
seen.listed = listed.tasks.map((t) => t.id);

try {
  await a2a.cancelTask({ tenant: "", id: second.id, metadata: undefined });
  seen.cancel = "canceled";
} catch (error) {
  seen.cancel = `${error.name}: ${error.message}`;
}

const working = await a2a.sendMessage(request(message("Quick look"), true));
seen.immediate_state = stateName(working.status.state);

const kinds = [];
const states = [];
let streamed;
for await (const event of a2a.sendMessageStream(request(message("Stream this")))) {
  const { $case, value } = event.payload;
  kinds.push($case);
  if ($case === "task") streamed = value;
  if ($case === "statusUpdate") states.push(stateName(value.status.state));
  if ($case === "artifactUpdate") streamed.artifacts.push(value.artifact);
}
seen.stream_kinds = kinds;
seen.stream_states = states;
seen.stream_answer = answerOf(streamed);
console.log(JSON.stringify(seen));
