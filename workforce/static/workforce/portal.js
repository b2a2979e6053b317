// Courier portal: say the chosen file's size before it is sent, and refuse an oversize file
// on the phone instead of after a long upload. The server checks everything again.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var info = document.getElementById(input.id + "_fileinfo");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file || !info) { return; }
      var max = parseInt(input.dataset.maxBytes, 10);
      var mb = (file.size / 1048576).toFixed(1);
      if (file.size > max) {
        input.setCustomValidity("The file is " + mb + " MB; the limit is " + (max / 1048576) + " MB.");
        info.textContent = input.validationMessage;
      } else {
        input.setCustomValidity("");
        info.textContent = file.name + " · " + mb + " MB";
      }
    });
  });
  // One submit per form: a second tap on a slow connection would post twice.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function () {
      // After the event: a button disabled now would drop out of the data being sent.
      window.setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
