//! The Agent Card (`/.well-known/agent-card.json`): who this agent is, where
//! its JSON-RPC endpoint is, what it can do (skills from the tool table) and
//! how a client authenticates. It carries 0.3's fields beside 1.0's (`url`,
//! `preferredTransport`, `protocolVersion`, `security`, and the bearer
//! scheme's `type`/`scheme`), as the reference SDK serves it, so clients of
//! either version read it; a 1.0 reader ignores what it does not know.

use serde_json::{Value, json};

use super::{PROTOCOL_VERSION, v03};
use crate::tools::TOOLS;

/// The name of the bearer scheme in `securitySchemes`.
const BEARER_SCHEME: &str = "bearer";

/// The card for an agent whose JSON-RPC endpoint is `endpoint`; `tokens` says
/// whether clients must present a bearer token.
pub fn agent_card(endpoint: &str, tokens: bool) -> Value {
    let mut card = json!({
        "name": "Handinger worker (handinger-mcp)",
        "description": "Hands a subtask to a hosted Handinger worker and answers with its \
            result: the text as an artifact, the sources it cited as a data part, and the files \
            it produced as URLs. Work takes seconds to minutes. Each message is one Handinger \
            turn and one A2A task; its contextId is the Handinger task, so a message with that \
            contextId is a follow-up in the same conversation.",
        "version": env!("CARGO_PKG_VERSION"),
        "supportedInterfaces": [
            {"url": endpoint, "protocolBinding": "JSONRPC", "protocolVersion": PROTOCOL_VERSION},
            {"url": endpoint, "protocolBinding": "JSONRPC", "protocolVersion": super::VERSION_IF_MISSING},
        ],
        "url": endpoint,
        "preferredTransport": "JSONRPC",
        "protocolVersion": v03::PROTOCOL_VERSION,
        "capabilities": {
            "streaming": true,
            "pushNotifications": false,
            "extendedAgentCard": false,
        },
        "defaultInputModes": ["text/plain", "application/json"],
        "defaultOutputModes": ["text/plain", "application/json"],
        "skills": skills(),
        "documentationUrl": "https://docs.handinger.com",
    });
    if tokens {
        let description = "A token from the operator of this server (its --http-tokens-file). \
            A client's own Handinger API key goes in the Handinger-Api-Key header, never here.";
        card["securitySchemes"] = json!({
            BEARER_SCHEME: {
                "httpAuthSecurityScheme": {"scheme": "Bearer", "description": description},
                "type": "http",
                "scheme": "Bearer",
                "description": description,
            }
        });
        card["securityRequirements"] = json!([{"schemes": {BEARER_SCHEME: {"list": []}}}]);
        card["security"] = json!([{BEARER_SCHEME: []}]);
    }
    card
}

/// One skill per tool that starts work, named and described as the tool table
/// names it (its first sentence: the rest speaks of MCP tool calls).
fn skills() -> Vec<Value> {
    TOOLS
        .iter()
        .filter(|tool| !tool.hints.read_only && !tool.hints.destructive)
        .map(|tool| {
            let first_sentence = tool
                .description
                .split_inclusive(". ")
                .next()
                .unwrap_or(tool.description)
                .trim();
            json!({
                "id": tool.name,
                "name": tool.title,
                "description": first_sentence,
                "tags": ["delegation", "research", "handinger"],
                "inputModes": ["text/plain", "application/json"],
                "outputModes": ["text/plain", "application/json"],
            })
        })
        .collect()
}
