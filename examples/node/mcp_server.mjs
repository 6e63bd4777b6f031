// An MCP server protected by gatehouse, with the official MCP TypeScript
// SDK (@modelcontextprotocol/sdk) and jose: `npm install
// @modelcontextprotocol/sdk jose`, then
//
//   GATEHOUSE_ISSUER=https://auth.example.com \
//   MCP_RESOURCE=https://mcp.example.com/mcp PORT=3000 node mcp_server.mjs
//
// MCP_RESOURCE is the server's canonical URI (what clients connect to, and
// the `resource` its tokens are for; list it in gatehouse's
// GATEHOUSE_RESOURCES). It defaults to http://127.0.0.1:PORT/mcp; with
// PORT=0 it listens on a free port and prints `listening on PORT`.
//
// It serves RFC 9728 protected-resource metadata naming gatehouse, answers
// requests without a good token with 401 and
// `WWW-Authenticate: Bearer … resource_metadata="…"` (how MCP clients find
// gatehouse), and accepts only RS256 `at+jwt` access tokens from the issuer
// whose `aud` is this server (RFC 9068, RFC 8707) and that carry MCP_SCOPE
// (default `mcp`). One tool, `whoami`, answers with the token's
// subject and scopes.

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import {
  getOAuthProtectedResourceMetadataUrl,
  mcpAuthMetadataRouter,
} from "@modelcontextprotocol/sdk/server/auth/router.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { createRemoteJWKSet, jwtVerify } from "jose";

const issuer = process.env.GATEHOUSE_ISSUER;
if (!issuer) throw new Error("set GATEHOUSE_ISSUER to gatehouse's issuer URL");
const scope = process.env.MCP_SCOPE ?? "mcp";

// Gatehouse's RFC 8414 metadata: where its keys are, and what the
// protected-resource metadata repeats for clients.
const metadata = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));

const app = createMcpExpressApp();
const listener = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const port = listener.address().port;
  const resource = new URL(process.env.MCP_RESOURCE ?? `http://127.0.0.1:${port}/mcp`);

  // RFC 9728: /.well-known/oauth-protected-resource/mcp
  app.use(
    mcpAuthMetadataRouter({
      oauthMetadata: metadata,
      resourceServerUrl: resource,
      scopesSupported: [scope],
      resourceName: "gatehouse MCP example",
    }),
  );

  const verifier = {
    async verifyAccessToken(token) {
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer,
          audience: resource.href,
          typ: "at+jwt",
          algorithms: ["RS256"],
        });
        return {
          token,
          clientId: payload.client_id,
          scopes: String(payload.scope ?? "").split(" ").filter(Boolean),
          expiresAt: payload.exp,
          resource,
          extra: { sub: payload.sub },
        };
      } catch (e) {
        throw new InvalidTokenError(`the access token is not valid here: ${e.code ?? e.message}`);
      }
    },
  };
  const auth = requireBearerAuth({
    verifier,
    requiredScopes: [scope],
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(resource),
    expectedResource: resource,
  });

  // Streamable HTTP without sessions: a server and transport per request.
  app.post(resource.pathname, auth, async (req, res) => {
    const server = new McpServer({ name: "gatehouse-mcp-example", version: "1.0.0" });
    server.registerTool(
      "whoami",
      { description: "Who the access token was issued to, and its scopes" },
      async (extra) => ({
        content: [{ type: "text", text: `${extra.authInfo.extra.sub} ${extra.authInfo.scopes.join(" ")}` }],
      }),
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  // No server-sent event stream and no sessions to end.
  app.all(resource.pathname, auth, (_req, res) => res.status(405).set("Allow", "POST").end());

  console.log(`listening on ${port}`);
});
