// A strength meter under each new password (ASVS 2.1.8): advice while typing, never a rule.
// The server's checks (length, the common-password list, not your own names) stay the authority
// (2.1.9: no composition rules), so nothing here blocks typing, pasting or submitting.
// A page opts in with data-password-strength="<id of the new-password input>" on an element
// (not the confirmation field: one meter per new password), and names the diner's own words
// with data-user-fields="<ids of inputs>" and/or data-user-inputs='[JSON]' beside it.
// zxcvbn (~800 KB, static/vendor/zxcvbn) is fetched the first time such a field is used.
(function () {
  "use strict";

  // Mirrors bellyfed/accounts/forms.py (MIN_PASSWORD_LENGTH, MAX_NEW_PASSWORD_LENGTH).
  var MIN_LENGTH = 12;
  var MAX_LENGTH = 128;
  // zxcvbn's time grows fast with length (~60 ms at 64 characters, ~250 ms at 128); anything
  // that long is a passphrase whose first 64 characters tell enough.
  var SCORED_LENGTH = 64;
  var SITE_WORDS = ["bellyfed"];
  var VERDICTS = ["weak", "weak", "fair", "good", "strong"];
  var LABELS = { short: "Too short", long: "Too long", weak: "Weak", fair: "Fair", good: "Good", strong: "Strong" };
  var zxcvbnUrl = document.currentScript && document.currentScript.dataset.zxcvbn;
  var waiting = [];  // each callback at most once: one pending update per meter, not per key
  var requested = false;

  function noop() {}

  function withZxcvbn(callback) {
    if (window.zxcvbn) { callback(); return; }
    if (waiting.indexOf(callback) === -1) waiting.push(callback);
    if (requested || !zxcvbnUrl) return;
    requested = true;
    var script = document.createElement("script");
    script.src = zxcvbnUrl;
    script.addEventListener("load", function () { waiting.splice(0).forEach(function (f) { f(); }); });
    // Unreachable: the meter gives the length advice only; the next keystroke tries again.
    script.addEventListener("error", function () {
      waiting.length = 0;
      requested = false;
      script.remove();
    });
    document.head.appendChild(script);
  }

  function normalized(value) { return value.replace(/\s+/g, "").toLowerCase(); }

  // The server's accounts.passwords.is_personal: one of the diner's names, maybe plus digits.
  function isPersonal(password, names) {
    var value = normalized(password).replace(/\P{L}+$/u, "") || normalized(password);
    return names.some(function (name) {
      var own = normalized(name);
      return own && (value === own || (name.indexOf("@") !== -1 && value === own.split("@")[0]));
    });
  }

  function sentences(texts) {
    var text = texts.filter(Boolean).map(function (t) { return t.replace(/\.?$/, "."); }).join(" ");
    return text.charAt(0).toLowerCase() + text.slice(1);  // it follows "Weak: "
  }

  // zxcvbn matches each word whole: "Margaret Lee" as "margaretlee", "margaret" and "lee" too.
  function dictionaryWords(names) {
    var words = [];
    names.forEach(function (name) {
      words.push(name, normalized(name), name.split("@")[0]);
      words = words.concat(name.split(/[\s@._-]+/).filter(function (w) { return w.length >= 3; }));
    });
    return words;
  }

  // { verdict, detail } for what is typed; null while zxcvbn is still on its way.
  function assess(password, names) {
    var length = Array.from(password).length;
    if (!length) return { verdict: "", detail: "" };
    if (length < MIN_LENGTH) {
      return { verdict: "short", detail: MIN_LENGTH + " characters at least (" + length + " so far)." };
    }
    if (length > MAX_LENGTH) return { verdict: "long", detail: MAX_LENGTH + " characters at most." };
    if (isPersonal(password, names)) {
      return { verdict: "weak", detail: "don't use your username, email or name." };
    }
    if (!window.zxcvbn) return null;
    var scored = Array.from(password).slice(0, SCORED_LENGTH).join("");
    var result = window.zxcvbn(scored, dictionaryWords(names).concat(SITE_WORDS));
    var warning = result.feedback.warning;
    // zxcvbn may call "iloveyou2024!" fair; the server refuses a listed password however padded.
    var common = /common/i.test(warning);
    var verdict = VERDICTS[common ? Math.min(result.score, 1) : result.score];
    var advice = [common ? "this is a common password, or close to one" : warning];
    if (verdict === "weak" || verdict === "fair") advice = advice.concat(result.feedback.suggestions);
    return { verdict: verdict, detail: sentences(advice) };
  }

  function userFields(options) {
    return (options.dataset.userFields || "").split(/\s+/).map(function (id) {
      return id && document.getElementById(id);
    }).filter(Boolean);
  }

  function userInputs(options) {
    var names = userFields(options).map(function (input) { return input.value; });
    if (options.dataset.userInputs) {
      try { names = names.concat(JSON.parse(options.dataset.userInputs)); } catch (e) { /* advice only */ }
    }
    return names.filter(function (name) { return typeof name === "string" && name; });
  }

  function buildMeter(input) {
    var meter = document.createElement("div");
    meter.className = "password-strength";
    meter.dataset.strength = "";
    var bar = document.createElement("div");
    bar.className = "password-strength-bar";
    bar.setAttribute("aria-hidden", "true");
    for (var i = 0; i < 4; i += 1) bar.appendChild(document.createElement("span"));
    var text = document.createElement("p");
    text.className = "password-strength-text";
    text.id = input.id + "-strength";
    // What a screen reader speaks by itself: the sentence again, set only when the verdict
    // changes. The visible sentence, updated on every pause, is read with the field instead.
    var status = document.createElement("p");
    status.className = "password-strength-status visually-hidden";
    status.id = input.id + "-strength-status";
    status.setAttribute("aria-live", "polite");
    status.setAttribute("aria-atomic", "true");
    meter.appendChild(bar);
    meter.appendChild(text);
    meter.appendChild(status);
    var described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (described.indexOf(text.id) === -1) described.push(text.id);
    input.setAttribute("aria-describedby", described.join(" "));
    // After the "Show" button's wrapper when show-password.js has run (it may run later: then
    // it wraps the input where it stands, still before the meter).
    var wrap = input.parentNode.classList.contains("password-wrap") ? input.parentNode : input;
    wrap.parentNode.insertBefore(meter, wrap.nextSibling);
    return meter;
  }

  function show(meter, outcome) {
    var text = meter.querySelector(".password-strength-text");
    var changed = meter.dataset.strength !== outcome.verdict;
    meter.dataset.strength = outcome.verdict;
    text.textContent = "";
    if (outcome.verdict) {
      var label = document.createElement("strong");
      label.textContent = LABELS[outcome.verdict] + (outcome.detail ? ": " : ".");
      text.appendChild(label);
      if (outcome.detail) text.appendChild(document.createTextNode(outcome.detail));
    }
    // "(5 so far)" spoken after every pause is noise: speak when the verdict changes.
    if (changed) meter.querySelector(".password-strength-status").textContent = text.textContent;
  }

  function attach(options) {
    var input = document.getElementById(options.dataset.passwordStrength);
    if (!input || input.dataset.strengthMeter) return;
    input.dataset.strengthMeter = "1";
    var meter = buildMeter(input);
    var timer = null;

    function update() {
      var outcome = assess(input.value, userInputs(options));
      if (outcome) { show(meter, outcome); return; }
      show(meter, { verdict: "", detail: "" });  // no stale "Too short" while zxcvbn arrives
      withZxcvbn(update);
    }
    // Settle first: the bar and sentence follow each pause in typing, not each key.
    function soon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 150);
    }

    input.addEventListener("focus", function () { withZxcvbn(noop); });
    input.addEventListener("input", soon);
    input.addEventListener("change", soon);  // some password managers fill without "input"
    userFields(options).forEach(function (other) {
      other.addEventListener("input", function () { if (input.value) soon(); });
    });
    if (input.value) soon();
  }

  function attachAll(root) {
    if (root.matches && root.matches("[data-password-strength]")) attach(root);
    root.querySelectorAll("[data-password-strength]").forEach(attach);
  }

  document.addEventListener("DOMContentLoaded", function () { attachAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { attachAll(event.target); });
})();
