// The official TypeScript MCP SDK's Streamable HTTP client, with an OAuth
// provider as hosts configure one (Gemini CLI and others), against a bridge that
// refuses its bearer token: what error does the host get, and does the SDK
// start an OAuth flow?
//
// Usage: node ts_wrong_token.mjs SDK_DIR MCP_URL TOKEN
// Prints one JSON line: {"message": ..., "oauth": [urls the SDK fetched for OAuth]}.

import { createRequire } from "node:module";
import path from "node:path";

const [sdkDir, url, token] = process.argv.slice(2);
const require = createRequire(path.join(sdkDir, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require(
  "@modelcontextprotocol/sdk/client/streamableHttp.js",
);

const oauth = [];
const recordingFetch = (input, init) => {
  const target = String(input instanceof Request ? input.url : input);
  if (target.includes("/.well-known/") || target.includes("/register")) oauth.push(target);
  return fetch(input, init);
};
const authProvider = {
  get redirectUrl() {
    return "http://127.0.0.1:1/callback";
  },
  get clientMetadata() {
    return { redirect_uris: ["http://127.0.0.1:1/callback"], client_name: "wrong-token-test" };
  },
  clientInformation: () => undefined,
  tokens: () => undefined,
  saveTokens: () => {},
  redirectToAuthorization: (where) => oauth.push(`redirect ${where}`),
  saveCodeVerifier: () => {},
  codeVerifier: () => "verifier",
};
const transport = new StreamableHTTPClientTransport(new URL(url), {
  authProvider,
  fetch: recordingFetch,
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "wrong-token-test", version: "1.0.0" });
let message = null;
try {
  await client.connect(transport);
} catch (error) {
  message = String(error?.message ?? error);
}
console.log(JSON.stringify({ message, oauth }));
process.exit(0);
