// Behaviour every page shares, attached here rather than in inline handlers (the pages'
// Content-Security-Policy runs no inline script): a <select data-submit-on-change> submits its form
// when its value changes (the language switch; without JavaScript its <noscript> button does).
document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
