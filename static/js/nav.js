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

  /* A table wider than a phone scrolls sideways in its own box: such a box takes the keyboard focus, so the
     arrow keys can scroll it too (WCAG 2.1.1). */
  function focusableScrollers() {
    Array.prototype.forEach.call(document.querySelectorAll('table'), function (table) {
      if (table.scrollWidth > table.clientWidth + 1) {
        if (!table.hasAttribute('tabindex')) { table.setAttribute('tabindex', '0'); }
      } else if (table.getAttribute('tabindex') === '0') {
        table.removeAttribute('tabindex');
      }
    });
  }
  focusableScrollers();
  window.addEventListener('resize', focusableScrollers);
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

  /* File inputs in the page's language: the browser writes "Choose File" / "No file chosen" in its own language,
     not the page's. The input stays the control (focusable, labelled, announced, required), transparent over a
     button-like face with the page's words and the names of the files chosen (which describe the input). */
  var texts = document.body.dataset;
  Array.prototype.forEach.call(texts.gpFileChoose ? document.querySelectorAll('input[type=file]') : [],
    function (input, index) {
      var box = document.createElement('span');
      var face = document.createElement('span');
      var chosen = document.createElement('span');
      box.className = 'gp-file';
      face.className = 'gp-file-button';
      face.setAttribute('aria-hidden', 'true');
      face.textContent = texts.gpFileChoose;
      chosen.className = 'gp-file-name';
      chosen.id = 'gp-file-name-' + index;
      chosen.textContent = texts.gpFileNone;
      input.parentNode.insertBefore(box, input);
      box.appendChild(face);
      box.appendChild(chosen);
      box.appendChild(input);
      input.classList.add('gp-file-input');
      input.setAttribute('aria-describedby', ((input.getAttribute('aria-describedby') || '') + ' ' + chosen.id).trim());
      function show() {
        var names = Array.prototype.map.call(input.files || [], function (file) { return file.name; });
        chosen.textContent = names.length ? names.join(', ') : texts.gpFileNone;
      }
      input.addEventListener('change', show);
      if (input.form) { input.form.addEventListener('reset', function () { setTimeout(show, 0); }); }
    });
})();
