// Document library: changing a filter runs the search again (the form works without this script too).
(function () {
  "use strict";
  var form = document.querySelector(".gp-library-search");
  if (!form) { return; }
  form.querySelectorAll("select").forEach(function (select) {
    select.addEventListener("change", function () { form.submit(); });
  });
}());
