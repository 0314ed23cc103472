// A third-party OpenID provider for Coffer's integration tests: the
// oauth2-mock-server package on one loopback port, plus a control route that
// chooses how the ID tokens it issues next are spoiled.
//
//   node server.mjs PORT [--trailing-slash]
//
// PORT 0 lets the system choose. Once listening it prints one line,
// `oidc-mock ready <issuer>`, and it exits when its stdin closes, so a test
// run that dies leaves no provider behind.
//
//   POST /__mode  {"mode": "<one of MODES>"}  → 200 {"mode": ...}, or 400
//
// What the package itself checks (and Coffer's tests may rely on): a
// `code_verifier`, when the token request carries one, must match the
// challenge sent to /authorize (S256 or plain). What it does not check: the
// client secret, the redirect URI, whether a code was ever issued, and PKCE
// when no verifier is sent.

import { generateKeyPairSync, sign } from "node:crypto";
import { createServer } from "node:http";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

/** The claims of a Cognito user in the `data-scientists` group. */
const USER_CLAIMS = {
  preferred_username: "grace",
  "cognito:groups": ["data-scientists"],
  token_use: "id",
};

/** Every way the next ID tokens can be issued, and what each one changes. */
const MODES = {
  normal: {},
  wrong_iss: { claims: (p) => (p.iss = "http://127.0.0.1:1/another-provider") },
  wrong_aud: { claims: (p) => (p.aud = "another-client") },
  missing_aud: { claims: (p) => delete p.aud },
  expired: {
    claims: (p) => {
      const now = Math.floor(Date.now() / 1000);
      Object.assign(p, { iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
    },
  },
  wrong_nonce: { claims: (p) => (p.nonce = "a-nonce-coffer-never-sent") },
  token_use_access: { claims: (p) => (p.token_use = "access") },
  alg_none: { token: unsigned },
  unknown_key: { token: (jwt) => signWithRogueKey(jwt, ROGUE_KID) },
  forged_kid: { token: (jwt) => signWithRogueKey(jwt, realKid) },
  discovery_issuer: {},
};

// The port, and whether the issuer is written with a trailing slash (as
// Auth0 writes it) or without (as Google and Okta do).
const port = Number.parseInt(process.argv[2] ?? "", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node server.mjs PORT [--trailing-slash]");
  process.exit(2);
}
const trailingSlash = process.argv.includes("--trailing-slash");

// The provider's own key, published in its JWKS, and a rogue key published
// nowhere, used under its own kid or under the kid of the real key.
const issuer = new OAuth2Issuer();
const realKid = (await issuer.keys.generate("RS256")).kid;
const ROGUE_KID = "rogue-key";
const rogueKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const service = new OAuth2Service(issuer);
let mode = "normal";

// Claim changes happen before the provider signs; the access token (the one
// carrying `scope`) is left alone.
service.on("beforeTokenSigning", (token) => {
  if ("scope" in token.payload) return;
  Object.assign(token.payload, USER_CLAIMS);
  MODES[mode].claims?.(token.payload);
});

// Signature changes replace the signed ID token with one carrying the same
// claims. The library does not await its listeners, so this one is
// synchronous.
service.on("beforeResponse", (response) => {
  const change = MODES[mode].token;
  if (change && typeof response.body.id_token === "string") {
    response.body.id_token = change(response.body.id_token);
  }
});

/** The same claims under `alg: none`, with an empty signature. */
function unsigned(jwt) {
  return `${encode({ alg: "none", typ: "JWT" })}.${jwt.split(".")[1]}.`;
}

/** The same claims signed with RS256 by the key missing from the JWKS. */
function signWithRogueKey(jwt, kid) {
  const input = `${encode({ alg: "RS256", typ: "JWT", kid })}.${jwt.split(".")[1]}`;
  const signature = sign("sha256", Buffer.from(input), rogueKey);
  return `${input}.${signature.toString("base64url")}`;
}

function encode(json) {
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

/** Answers `POST /__mode`. */
function setMode(req, res) {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    let requested;
    try {
      requested = JSON.parse(body).mode;
    } catch {
      requested = undefined;
    }
    if (!Object.hasOwn(MODES, requested)) {
      const known = Object.keys(MODES).join(", ");
      return reply(res, 400, { error: `mode must be one of ${known}` });
    }

    // Discovery names another spelling of this very provider: every
    // endpoint still works, only the issuer differs from the configured
    // one.
    mode = requested;
    issuer.url = mode === "discovery_issuer" ? issuerAt("localhost") : issuerAt("127.0.0.1");
    reply(res, 200, { mode });
  });
}

function reply(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function issuerAt(host) {
  const { port } = server.address();
  return `http://${host}:${port}${trailingSlash ? "/" : ""}`;
}

// One loopback port serves the control route and the provider.
const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/__mode") return setMode(req, res);
  service.requestHandler(req, res);
});
server.listen(port, "127.0.0.1", () => {
  issuer.url = issuerAt("127.0.0.1");
  console.log(`oidc-mock ready ${issuer.url}`);
});

// The test that started this provider is gone once stdin closes.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
