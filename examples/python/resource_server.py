"""A resource server that validates gatehouse access tokens with PyJWT
(pip install 'PyJWT[crypto]>=2.15', for PyJWKClient's cooldown_duration).
GET /read needs the `read` scope, GET /write needs `write`. The README's
Python recipe is `authenticate`.

    GATEHOUSE_ISSUER=http://127.0.0.1:8080 python3 resource_server.py

Settings: GATEHOUSE_ISSUER (required), GATEHOUSE_AUDIENCE (default: the
issuer), PORT (default 0: any free port, printed on stdout as JSON),
JWKS_COOLDOWN_SECONDS (default 10: least time between JWKS refetches for
unknown key ids).
"""

import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

ISSUER = os.environ["GATEHOUSE_ISSUER"]
AUDIENCE = os.environ.get("GATEHOUSE_AUDIENCE") or ISSUER
COOLDOWN = float(os.environ.get("JWKS_COOLDOWN_SECONDS", "10"))

# RFC 8414: the metadata names the JWKS; its issuer must be ours exactly.
with urllib.request.urlopen(f"{ISSUER}/.well-known/oauth-authorization-server", timeout=5) as r:
    META = json.load(r)
if META["issuer"] != ISSUER:
    raise SystemExit(f"metadata is for {META['issuer']}")
# Caches the key set; an unknown kid refetches at most once per cooldown.
JWKS = jwt.PyJWKClient(META["jwks_uri"], cooldown_duration=COOLDOWN, timeout=5)


class Refused(Exception):
    def __init__(self, status, error=None, description=""):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def authenticate(authorization):
    """RFC 6750 §2.1 + RFC 9068 §4: the token's claims, or raises Refused."""
    parts = (authorization or "").split()
    if not parts or parts[0].lower() != "bearer":
        raise Refused(401)  # no credentials: no error code (RFC 6750 §3.1)
    if len(parts) != 2:
        raise Refused(400, "invalid_request", "malformed")
    token = parts[1]
    try:
        typ = jwt.get_unverified_header(token).get("typ", "")
        if str(typ).lower() not in ("at+jwt", "application/at+jwt"):
            raise Refused(401, "invalid_token", "typ is not at+jwt")
        key = JWKS.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],  # never what the header says
            issuer=ISSUER,
            audience=AUDIENCE,
            leeway=10,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "client_id"]},
        )
    except jwt.PyJWKClientConnectionError:
        # The issuer could not be asked for an unknown key: never accept.
        raise Refused(503, None, "issuer unavailable") from None
    except (jwt.PyJWKClientError, jwt.InvalidTokenError) as e:
        raise Refused(401, "invalid_token", type(e).__name__) from None


def require_scope(claims, scope):
    if scope not in str(claims.get("scope", "")).split():
        raise Refused(403, "insufficient_scope", f"needs {scope}")


ROUTES = {"/read": "read", "/write": "write"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        scope = ROUTES.get(self.path.split("?")[0])
        if scope is None:
            return self.answer(404, {})
        try:
            claims = authenticate(self.headers.get("Authorization"))
            require_scope(claims, scope)
        except Refused as e:
            challenge = 'Bearer realm="api"'
            if e.error:
                challenge += f', error="{e.error}", error_description="{e.description}"'
            if e.error == "insufficient_scope":
                challenge += f', scope="{scope}"'
            headers = {"Retry-After": "10"} if e.status == 503 else {"WWW-Authenticate": challenge}
            return self.answer(e.status, {"error": e.error or "unauthorized"}, headers)
        self.answer(200, {k: claims.get(k) for k in ("sub", "client_id", "scope")})

    def answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Handler)
    print(json.dumps({"listening": f"http://127.0.0.1:{server.server_port}"}), flush=True)
    server.serve_forever()
