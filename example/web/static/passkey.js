// The passkey buttons of the example's pages. Each runs one WebAuthn
// ceremony over the JSON routes of handlers.WithPasskeys: it asks the
// server to begin, hands the options to the browser's passkey prompt,
// sends the browser's answer to finish, and goes to the next page. A
// button says what it does by its data attributes:
//
//   data-passkey   "register" adds a passkey to the signed-in account;
//                  "login" signs in with one, or completes a sign-in
//                  waiting for its second step, or confirms a signed-in
//                  user: the server tells which by the session
//   data-next      the page to go to once done (a path of this site)
//   data-name      register: the selector of the passkey's name field
//   data-remember  login: the selector of the "remember me" checkbox
//
// Buttons stay hidden in a browser without passkeys (or without this
// script), where their [data-passkey-unsupported] text says so. Errors
// go to the [data-passkey-status] element next to the button, which is
// aria-live. The pages' Content-Security-Policy lets this file run and
// fetch from this site, and nothing else.
"use strict";

(function () {
  const supported = typeof window.PublicKeyCredential === "function" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  // What the browser's errors mean, for people.
  const browserErrors = {
    NotAllowedError: "No passkey was used: the prompt was closed or timed out, or this device has no passkey of this site. Try again.",
    InvalidStateError: "This device has a passkey for your account already.",
    AbortError: "The passkey prompt was closed.",
    SecurityError: "Passkeys do not work at this address of the site.",
  };

  // local returns path when it is a path of this site, "/" otherwise.
  function local(path) {
    return typeof path === "string" && /^\/(?![/\\])/.test(path) ? path : "/";
  }

  // post sends body (none when undefined) as JSON and returns the JSON
  // answer; a refusal throws an Error with the server's message, status
  // and code.
  async function post(url, body) {
    const init = { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    let answer = {};
    try {
      answer = await res.json();
    } catch (e) {
      // an answer with no JSON body (204)
    }
    if (!res.ok) {
      const err = new Error(answer.error || "Something went wrong. Try again.");
      err.status = res.status;
      err.code = answer.code;
      throw err;
    }
    return answer;
  }

  async function register(button) {
    let options;
    try {
      options = await post("/webauthn/register/begin");
    } catch (err) {
      if (err.status === 403 && err.code === "reauth_required") {
        // Adding a passkey needs a recent confirmation: get it, and come
        // back here.
        location.assign("/reauth?returnTo=" + encodeURIComponent(location.pathname));
        return false;
      }
      throw err;
    }
    const cred = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
    });
    const name = document.querySelector(button.dataset.name || null);
    await post("/webauthn/register/finish", { credential: cred.toJSON(), name: name ? name.value : "" });
    return true;
  }

  async function login(button) {
    const options = await post("/webauthn/login/begin");
    const cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
    });
    const remember = document.querySelector(button.dataset.remember || null);
    await post("/webauthn/login/finish", { credential: cred.toJSON(), remember: Boolean(remember && remember.checked) });
    return true;
  }

  const ceremonies = { register: register, login: login };

  function setUp(button) {
    const ceremony = ceremonies[button.dataset.passkey];
    const box = button.parentElement;
    const status = box.querySelector("[data-passkey-status]");
    const unsupported = box.querySelector("[data-passkey-unsupported]");
    if (!supported || !ceremony) {
      return;
    }
    if (unsupported) {
      unsupported.hidden = true;
    }
    button.hidden = false;
    button.addEventListener("click", async function () {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      if (status) {
        status.textContent = "";
      }
      try {
        if (await ceremony(button)) {
          location.assign(local(button.dataset.next));
          return;
        }
      } catch (err) {
        if (status) {
          status.textContent = browserErrors[err.name] || err.message || "Something went wrong. Try again.";
        }
      }
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  }

  document.querySelectorAll("button[data-passkey]").forEach(setUp);
})();
