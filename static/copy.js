// Copy buttons for one-time secrets: a convenience only. Each button is
// `hidden` in the page and shown here, so without this script the page
// shows no button that does nothing; the secret stays selectable text.
"use strict";
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById(button.getAttribute("data-copy") + "-copied");
  if (!field) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var done = function () {
      if (status) {
        status.textContent = "Copied.";
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        field.select();
      });
    } else {
      // Plain http (a local test server): select it, and try the old way.
      field.select();
      if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    }
  });
});
