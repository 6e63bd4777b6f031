// Passkeys (WebAuthn) in the browser: adding one on /account, signing in
// with one on the sign-in page (a button, and the browser's autofill in
// the username field: conditional UI), and using one as the second step.
// Progressive: each part is `hidden` in the page and shown here only when
// the browser has WebAuthn, so without this script the password form is
// all there is. The server's answers are JSON; binary fields travel as
// base64url. Data comes from `data-` attributes (no inline script: CSP).
"use strict";
(function () {
  var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
  if (!supported) {
    return;
  }

  function toBuffer(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () {
        return {};
      }).then(function (j) {
        if (!r.ok) {
          var e = new Error(j.message || "The request failed (" + r.status + ").");
          e.name = "ServerError";
          e.code = j.error;
          throw e;
        }
        return j;
      });
    });
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: toBuffer(c.id) };
      if (c.transports) {
        d.transports = c.transports;
      }
      return d;
    });
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return pk;
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return pk;
  }

  function extensions(cred) {
    try {
      return cred.getClientExtensionResults() || {};
    } catch (e) {
      return {};
    }
  }

  function registration(cred) {
    var response = {
      attestationObject: toBase64url(cred.response.attestationObject),
      clientDataJSON: toBase64url(cred.response.clientDataJSON)
    };
    if (cred.response.getTransports) {
      response.transports = cred.response.getTransports();
    }
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response: response,
      extensions: extensions(cred)
    };
  }

  function assertion(cred) {
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toBase64url(cred.response.authenticatorData),
        clientDataJSON: toBase64url(cred.response.clientDataJSON),
        signature: toBase64url(cred.response.signature),
        userHandle: cred.response.userHandle ? toBase64url(cred.response.userHandle) : null
      },
      extensions: extensions(cred)
    };
  }

  function say(el, e) {
    if (!el) {
      return;
    }
    var words;
    if (e && e.name === "ServerError") {
      words = e.message.replace(/\)$/, ").");
    } else if (e && e.name === "NotAllowedError") {
      words = "The passkey request was cancelled or timed out. Try again.";
    } else if (e && e.name === "InvalidStateError") {
      words = "This device has a passkey for your account already.";
    } else {
      words = "Your browser could not use a passkey here" + (e && e.message ? ": " + e.message : ".");
    }
    words = words.charAt(0).toUpperCase() + words.slice(1);
    el.textContent = /[.!?)]$/.test(words) ? words : words + ".";
    el.hidden = false;
  }

  function quiet(el) {
    if (el) {
      el.hidden = true;
      el.textContent = "";
    }
  }

  // /account: add a passkey.
  var register = document.querySelector("[data-passkey-register]");
  if (register) {
    var regButton = document.getElementById("passkey-register");
    var regError = document.getElementById("passkey-register-error");
    var regName = document.getElementById("passkey-name");
    var regCsrf = register.getAttribute("data-csrf");
    register.hidden = false;
    regButton.addEventListener("click", function () {
      quiet(regError);
      regButton.disabled = true;
      post("/account/passkeys/options", { csrf_token: regCsrf })
        .then(function (j) {
          return navigator.credentials
            .create({ publicKey: creationOptions(j.options) })
            .then(function (cred) {
              return post("/account/passkeys", {
                csrf_token: regCsrf,
                ceremony: j.ceremony,
                name: regName ? regName.value : "",
                credential: registration(cred)
              });
            });
        })
        .then(function () {
          window.location.assign("/account?passkey=added#passkeys-heading");
        })
        .catch(function (e) {
          regButton.disabled = false;
          say(regError, e);
        });
    });
  }

  // The sign-in page: a password-less sign-in, by the button or by the
  // browser's autofill (conditional UI) in the username field.
  var login = document.querySelector("[data-passkey-login]");
  if (login) {
    var loginButton = document.getElementById("passkey-sign-in");
    var loginError = document.getElementById("passkey-sign-in-error");
    var loginCsrf = login.getAttribute("data-csrf");
    var next = login.getAttribute("data-next") || "/account";
    var pending = null;
    var signIn = function (mediation) {
      if (pending) {
        pending.abort();
      }
      var mine = new AbortController();
      pending = mine;
      return post("/login/passkey/options", { csrf_token: loginCsrf })
        .then(function (j) {
          var request = { publicKey: requestOptions(j.options), signal: mine.signal };
          if (mediation) {
            request.mediation = mediation;
          }
          return navigator.credentials.get(request).then(function (cred) {
            return post("/login/passkey", {
              csrf_token: loginCsrf,
              ceremony: j.ceremony,
              credential: assertion(cred),
              next: next
            });
          });
        })
        .then(function (j) {
          window.location.assign(j.next);
        });
    };
    login.hidden = false;
    loginButton.addEventListener("click", function () {
      quiet(loginError);
      loginButton.disabled = true;
      signIn(null).catch(function (e) {
        loginButton.disabled = false;
        say(loginError, e);
      });
    });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (ok) {
          signIn("conditional").catch(function (e) {
            if (e && e.name !== "AbortError") {
              say(loginError, e);
            }
          });
        }
      });
    }
  }

  // The second step: a passkey after the password.
  var factor = document.querySelector("[data-passkey-factor]");
  if (factor) {
    var factorButton = document.getElementById("passkey-factor");
    var factorError = document.getElementById("passkey-factor-error");
    var factorCsrf = factor.getAttribute("data-csrf");
    var factorNext = factor.getAttribute("data-next") || "/account";
    factor.hidden = false;
    factorButton.addEventListener("click", function () {
      quiet(factorError);
      factorButton.disabled = true;
      post("/login/factor/passkey/options", { csrf_token: factorCsrf })
        .then(function (j) {
          return navigator.credentials
            .get({ publicKey: requestOptions(j.options) })
            .then(function (cred) {
              return post("/login/factor/passkey", {
                csrf_token: factorCsrf,
                ceremony: j.ceremony,
                credential: assertion(cred),
                next: factorNext
              });
            });
        })
        .then(function (j) {
          window.location.assign(j.next);
        })
        .catch(function (e) {
          factorButton.disabled = false;
          say(factorError, e);
        });
    });
  }
})();
