// Fees and payment pages: show the calculator's fields for the chosen service; post the sandbox's callback form.
(function () {
  'use strict';
  var select = document.getElementById('gp-fee-service');
  if (select) {
    var show = function () {
      var option = select.options[select.selectedIndex];
      var kind = option ? option.getAttribute('data-kind') : '';
      var note = select.value === 'nru_note';
      document.querySelectorAll('.gp-fee-fields').forEach(function (fieldset) {
        var on = fieldset.getAttribute('data-kind') === kind || (note && fieldset.getAttribute('data-kind') === 'note');
        fieldset.hidden = !on;
        fieldset.disabled = !on;
      });
    };
    select.addEventListener('change', show);
    show();
  }
  var callback = document.getElementById('gp-sandbox-callback');
  if (callback && callback.getAttribute('data-autosubmit') === '1') {
    window.setTimeout(function () { callback.submit(); }, 300);
  }
}());
