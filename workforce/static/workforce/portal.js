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
  // Buttons that open a form in place (a stop's Delivered / Failed): the link behind each
  // still leads to the page with that form open when this script does not run. One form of a
  // group is open at a time; a second tap on the same button closes it again.
  document.querySelectorAll("[data-disclose]").forEach(function (button) {
    var target = document.getElementById(button.dataset.disclose);
    if (!target) { return; }
    button.setAttribute("role", "button");
    button.setAttribute("aria-expanded", String(!target.hidden));
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var opening = target.hidden;
      var group = button.parentElement.querySelectorAll("[data-disclose]");
      group.forEach(function (other) {
        var form = document.getElementById(other.dataset.disclose);
        if (form) { form.hidden = true; }
        other.setAttribute("aria-expanded", "false");
      });
      target.hidden = !opening;
      button.setAttribute("aria-expanded", String(opening));
      if (opening) {
        var first = target.querySelector("input:not([type=hidden]), select, textarea");
        if (first) { first.focus(); }
      }
    });
    button.addEventListener("keydown", function (event) {
      // A link answers Enter only; as a button it answers Space too.
      if (event.key === " ") { event.preventDefault(); button.click(); }
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
