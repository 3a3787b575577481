#!/usr/bin/env bash
# Claude Code, against a shared bridge (serve --http) at bridge.example.com.
# HANDINGER_BRIDGE_TOKEN is the bridge's bearer token; HANDINGER_API_KEY is your
# own Handinger key, so your calls are billed to you.
claude mcp add --transport http handinger https://bridge.example.com/mcp --header "Authorization: Bearer $HANDINGER_BRIDGE_TOKEN" --header "Handinger-Api-Key: $HANDINGER_API_KEY"
