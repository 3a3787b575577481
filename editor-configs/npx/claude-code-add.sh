#!/usr/bin/env bash
# Register handinger-mcp with Claude Code for every project of this user; the key is
# read from this shell's environment now and stored in Claude Code's config.
claude mcp add handinger --scope user --env HANDINGER_API_KEY="$HANDINGER_API_KEY" -- npx -y handinger-mcp --wait 50
