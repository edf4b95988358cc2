"use strict";
// DOM building for the console and the knowledge pages: data only ever goes in as text, never as HTML.
// (The widget carries its own copy: it is embedded on other sites and must stand alone.)
const DOM = (() => {
  /** An element with attributes and children; "text" sets textContent, "on…" adds a listener, other values
   * become attributes; children that are not nodes become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "value") node.value = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** To the login page, coming back here afterwards. */
  function toLogin() {
    location.assign("/agent/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  return {el, toLogin};
})();
