// "Show" beside every password field: the diner can check what they typed (ASVS 2.1.12).
// Progressive: without JavaScript the fields work as plain password inputs.
(function () {
  "use strict";

  function addToggle(input) {
    if (input.dataset.showPassword) return;
    input.dataset.showPassword = "1";
    var wrap = document.createElement("span");
    wrap.className = "password-wrap";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "password-toggle";
    button.textContent = "Show";
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", "Show password");
    button.addEventListener("click", function () {
      var showing = input.type === "text";
      input.type = showing ? "password" : "text";
      button.textContent = showing ? "Show" : "Hide";
      button.setAttribute("aria-pressed", showing ? "false" : "true");
      button.setAttribute("aria-label", showing ? "Show password" : "Hide password");
      input.focus();
    });
    // Never submit a shown password as a text field's autofill candidate: hide it again.
    if (input.form) {
      input.form.addEventListener("submit", function () { input.type = "password"; });
    }
    wrap.appendChild(button);
  }

  function addAll(root) {
    root.querySelectorAll('input[type="password"]').forEach(addToggle);
  }

  document.addEventListener("DOMContentLoaded", function () { addAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { addAll(event.target); });
})();
