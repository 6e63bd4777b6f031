// An MCP client as editors and agents run it: the official TypeScript SDK
// (@modelcontextprotocol/sdk) with its own OAuth support, pointed at an MCP
// server that gatehouse protects. tests/it/clients/mcp.rs starts it.
//
// Settings (environment):
//   MCP_SERVER_URL           the MCP server's endpoint
//   MCP_REDIRECT_URL         the client's redirect URI
//   MCP_CLIENT_METADATA_URL  when set, the client identifies itself by this
//                            Client ID Metadata Document; otherwise it
//                            registers dynamically (RFC 7591)
//
// It speaks one JSON object a line on stdout: {"event":"authorize","url":…}
// when a person must sign in (the test signs in through gatehouse's pages
// and answers with the code on stdin), {"event":"client",…} after it has a
// client id, {"event":"tokens",…} with what the token endpoint gave, and
// {"event":"result",…} with what the tool answered. Errors go to stderr
// and end it with a non-zero status.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { createInterface } from "node:readline";

const serverUrl = new URL(process.env.MCP_SERVER_URL);
const redirectUrl = process.env.MCP_REDIRECT_URL;
const metadataUrl = process.env.MCP_CLIENT_METADATA_URL || undefined;

const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => {
  const { value, done } = await stdin.next();
  if (done) throw new Error("stdin closed before the authorization code came");
  return value.trim();
};

// What the SDK asks of an application: where to keep the client's
// registration, its tokens and the PKCE verifier, and how to send a person
// to the authorization server. Kept in memory; a real client keeps them on
// disk.
class Provider {
  constructor() {
    this.client = undefined;
    this.saved = undefined;
    this.verifier = undefined;
  }
  get redirectUrl() {
    return redirectUrl;
  }
  get clientMetadataUrl() {
    return metadataUrl;
  }
  get clientMetadata() {
    return {
      client_name: "MCP test client",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
    say({ event: "client", client_id: info.client_id, registered: "client_id_issued_at" in info });
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
    say({
      event: "tokens",
      access_token: tokens.access_token,
      has_refresh_token: typeof tokens.refresh_token === "string",
      scope: tokens.scope,
    });
  }
  redirectToAuthorization(url) {
    say({ event: "authorize", url: url.href });
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

const provider = new Provider();
const client = new Client({ name: "gatehouse-mcp-test", version: "1.0.0" });
let transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
try {
  await client.connect(transport);
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
  // The SDK has discovered gatehouse, has a client id, and has asked for a
  // sign-in: finish with the code the browser came back with.
  await transport.finishAuth(await nextLine());
  transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  await client.connect(transport);
}
const { tools } = await client.listTools();
const result = await client.callTool({ name: "whoami", arguments: {} });
say({
  event: "result",
  tools: tools.map((t) => t.name),
  text: result.content.map((c) => c.text).join(""),
  is_error: result.isError === true,
});
await client.close();
process.exit(0);
