/* Planners' pages: the upload shows its progress, and publishing or republishing asks for confirmation.
   Without this script the forms post as usual. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  var upload = document.getElementById("gp-upload-form");
  var status = document.getElementById("gp-upload-status");
  if (!upload || !status || !window.FormData || !window.XMLHttpRequest) { return; }
  var bar = status.querySelector("progress");
  var text = status.querySelector(".gp-upload-text");
  upload.addEventListener("submit", function (event) {
    if (!upload.checkValidity()) { return; }
    event.preventDefault();
    var button = upload.querySelector("button[type=submit]");
    button.disabled = true;
    status.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", upload.action || window.location.href);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.max = e.total;
        bar.value = e.loaded;
        text.textContent = status.getAttribute("data-sending") + " " + Math.round(100 * e.loaded / e.total) + " %";
      }
    });
    xhr.upload.addEventListener("load", function () {
      bar.removeAttribute("value");  // indeterminate: the server is checking the layer
      text.textContent = status.getAttribute("data-checking");
    });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL && xhr.responseURL !== (upload.action || window.location.href)) {
        window.location.assign(xhr.responseURL);  // the draft's report
        return;
      }
      document.open();  // the form again, with what is wrong
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      text.textContent = status.getAttribute("data-failed");
    });
    xhr.send(new FormData(upload));
  });
})();
