#!/usr/bin/env node
// Starts the native handinger-mcp binary from the platform package that npm
// installed beside this one (an optionalDependency chosen by its "os" and "cpu"
// fields), with stdio passed straight through: the protocol never touches Node.
"use strict";

const { spawn } = require("child_process");
const os = require("os");

const platformPackage = `handinger-mcp-${process.platform}-${process.arch}`;
const exe = process.platform === "win32" ? "handinger-mcp.exe" : "handinger-mcp";

function binaryPath() {
  if (process.env.HANDINGER_MCP_BINARY) return process.env.HANDINGER_MCP_BINARY;
  try {
    return require.resolve(`${platformPackage}/bin/${exe}`);
  } catch {
    process.stderr.write(
      `handinger-mcp: no native binary for ${process.platform}-${process.arch}: ` +
        `the package ${platformPackage} is not installed.\n` +
        "If npm skipped optional dependencies (--omit=optional or --no-optional), " +
        "reinstall without that flag. Otherwise this platform has no prebuilt " +
        "binary: install with `cargo install --locked handinger-mcp`, or set " +
        "HANDINGER_MCP_BINARY to a binary's path.\n"
    );
    process.exit(1);
  }
}

const child = spawn(binaryPath(), process.argv.slice(2), { stdio: "inherit" });

// Pass termination signals on, so the server can report tasks still running.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}

child.on("error", (err) => {
  process.stderr.write(`handinger-mcp: could not start ${binaryPath()}: ${err.message}\n`);
  process.exit(1);
});

// A child killed by a signal is reported the way a shell reports it, as exit
// status 128 + the signal's number. The signal is not raised again on this
// process: Node handles some itself (SIGUSR1 starts its debugger, SIGPIPE is
// ignored), which would turn a clean report into a crash or a hang.
child.on("exit", (code, signal) => {
  if (signal) {
    const number = os.constants.signals[signal];
    process.exit(number ? 128 + number : 1);
  } else {
    process.exit(code ?? 1);
  }
});
