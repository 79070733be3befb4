/* The header's menus (templates/_nav.html) are native <details>: they open, close and are announced with no
   script. This only closes them the way people expect: Escape (the focus goes back to the menu's button), a
   click or a tap elsewhere, the focus moving out of the menu, and one menu open at a time (for browsers that
   do not know the <details name> grouping). */
(function () {
  'use strict';
  var menus = Array.prototype.slice.call(document.querySelectorAll('.gp-nav details.gp-menu'));

  function closeOthers(keep) {
    menus.forEach(function (menu) {
      if (menu !== keep && menu.open) { menu.open = false; }
    });
  }

  menus.forEach(function (menu) {
    var button = menu.querySelector('summary');
    menu.addEventListener('toggle', function () {
      if (menu.open) { closeOthers(menu); }
    });
    menu.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && menu.open) {
        event.preventDefault();
        menu.open = false;
        button.focus();
      }
    });
    menu.addEventListener('focusout', function (event) {
      if (menu.open && event.relatedTarget && !menu.contains(event.relatedTarget)) { menu.open = false; }
    });
  });

  document.addEventListener('click', function (event) {
    menus.forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) { menu.open = false; }
    });
  });
})();

/* Behaviours written as data attributes, not inline handlers (the Content-Security-Policy allows no inline
   script without the response's nonce): a print button, a form the page's script handles, a form that goes to
   a path built from its "code" field. */
(function () {
  'use strict';
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('[data-gp-print]');
    if (button) { window.print(); }
  });
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.hasAttribute('data-gp-nosubmit')) { event.preventDefault(); }
    var base = form.getAttribute('data-gp-goto');
    if (base !== null) {
      event.preventDefault();
      location.href = base + encodeURIComponent(form.elements.code.value);
    }
  });
})();
