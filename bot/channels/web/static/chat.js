/* Kefu web chat: one <script src="https://kefu.example/chat/widget.js"></script> on a page.
   Vanilla JS, no build, no CDN. Messages go up by POST and come down by server-sent events. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script.src, location.href).origin;
  var mount = document.getElementById("kefu-chat");
  var standalone = !!(mount && mount.getAttribute("data-standalone"));
  var texts = {}, shown = {}, lastId = 0, source = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function api(path, options) {
    options = options || {};
    options.credentials = "include";
    return fetch(base + "/chat/api/" + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw body;
        return body;
      });
    });
  }
  function postJSON(path, data) {
    return api(path, { method: "POST", headers: { "content-type": "application/json" },
                       body: JSON.stringify(data) });
  }
  function clientId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var css = el("link");
  css.rel = "stylesheet";
  css.href = base + "/chat/widget.css";
  document.head.appendChild(css);

  var box = el("div", "kefu-chat " + (standalone ? "kefu-standalone" : "kefu-floating kefu-hidden"));
  box.id = "kefu-box";
  var head = el("div", "kefu-head");
  var title = el("strong");
  var close = el("button");
  close.type = "button";
  head.appendChild(title);
  if (!standalone) head.appendChild(close);
  var log = el("div", "kefu-log");
  log.id = "kefu-log";
  log.setAttribute("aria-live", "polite");

  var verify = el("div", "kefu-verify");
  var verifyOpen = el("button", "kefu-link");
  verifyOpen.type = "button";
  verifyOpen.id = "kefu-verify";
  var address = el("input");
  address.id = "kefu-address";
  var addressSend = el("button");
  addressSend.type = "button";
  addressSend.id = "kefu-address-send";
  var code = el("input");
  code.id = "kefu-code";
  code.inputMode = "numeric";
  code.autocomplete = "one-time-code";
  var codeSend = el("button");
  codeSend.type = "button";
  codeSend.id = "kefu-code-send";
  [address, addressSend, code, codeSend].forEach(function (n) { n.classList.add("kefu-hidden"); verify.appendChild(n); });
  verify.insertBefore(verifyOpen, address);

  var composer = el("form", "kefu-composer");
  var input = el("input");
  input.type = "text";
  input.id = "kefu-text";
  input.autocomplete = "off";
  var fileLabel = el("label", "kefu-file-label");
  var fileText = el("span");
  var file = el("input");
  file.type = "file";
  file.id = "kefu-file";
  file.accept = "image/*";
  fileLabel.appendChild(fileText);
  fileLabel.appendChild(file);
  var send = el("button");
  send.type = "submit";
  send.id = "kefu-send";
  composer.appendChild(input);
  composer.appendChild(fileLabel);
  composer.appendChild(send);

  box.appendChild(head);
  box.appendChild(log);
  box.appendChild(verify);
  box.appendChild(composer);
  var launcher = el("button", "kefu-launcher");
  launcher.type = "button";
  launcher.id = "kefu-launcher";
  if (standalone) {
    mount.appendChild(box);
  } else {
    document.body.appendChild(box);
    document.body.appendChild(launcher);
  }

  function note(text) {
    if (!text) return;
    log.appendChild(el("div", "kefu-note", text));
    log.scrollTop = log.scrollHeight;
  }
  function failed(body) { note((body && body.message) || texts.offline); }

  function disableChoices() {
    Array.prototype.forEach.call(log.querySelectorAll(".kefu-choice"), function (b) { b.disabled = true; });
  }
  function show(message) {
    if (shown[message.id]) return;
    shown[message.id] = true;
    lastId = Math.max(lastId, message.id);
    disableChoices();
    var bubble = el("div", "kefu-msg kefu-from-" + message.from, message.text || "");
    if (message.photos) bubble.textContent = (message.text ? message.text + "\n" : "") + "📷 ×" + message.photos;
    log.appendChild(bubble);
    if (message.buttons && message.buttons.length) {
      var row = el("div", "kefu-choices");
      message.buttons.forEach(function (b) {
        var button = el("button", "kefu-choice", b.title);
        button.type = "button";
        button.addEventListener("click", function () {
          disableChoices();
          postJSON("messages", { text: b.title, payload: b.payload, client_id: clientId() }).catch(failed);
        });
        row.appendChild(button);
      });
      log.appendChild(row);
    }
    log.scrollTop = log.scrollHeight;
  }

  function listen() {
    if (source) source.close();
    source = new EventSource(base + "/chat/api/stream" + (lastId ? "?after=" + lastId : ""),
                             { withCredentials: true });
    source.addEventListener("message", function (event) { show(JSON.parse(event.data)); });
    source.addEventListener("language", function (event) { label(JSON.parse(event.data)); });
    source.onopen = function () { box.classList.remove("kefu-offline"); };
    source.onerror = function () { box.classList.add("kefu-offline"); };
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    postJSON("messages", { text: text, client_id: clientId() }).catch(function (body) {
      input.value = text;
      failed(body);
    });
  });
  file.addEventListener("change", function () {
    if (!file.files.length) return;
    var form = new FormData();
    form.append("photo", file.files[0]);
    file.value = "";
    api("photos", { method: "POST", body: form }).catch(failed);
  });
  verifyOpen.addEventListener("click", function () {
    address.classList.remove("kefu-hidden");
    addressSend.classList.remove("kefu-hidden");
    address.focus();
  });
  addressSend.addEventListener("click", function () {
    postJSON("verify", { address: address.value }).then(function (body) {
      note(body.message);
      code.classList.remove("kefu-hidden");
      codeSend.classList.remove("kefu-hidden");
      code.focus();
    }).catch(failed);
  });
  codeSend.addEventListener("click", function () {
    postJSON("verify/confirm", { code: code.value }).then(function (body) {
      note(body.message);
      [address, addressSend, code, codeSend].forEach(function (n) { n.classList.add("kefu-hidden"); });
      code.value = "";
    }).catch(failed);
  });
  function toggle(open) {
    box.classList.toggle("kefu-hidden", !open);
    launcher.classList.toggle("kefu-hidden", open);
    if (open) input.focus();
  }
  launcher.addEventListener("click", function () { toggle(true); });
  close.addEventListener("click", function () { toggle(false); });

  function label(body) {
    texts = body.texts;
    box.setAttribute("lang", body.language);
    title.textContent = texts.title;
    close.textContent = texts.close;
    launcher.textContent = texts.open;
    input.placeholder = texts.placeholder;
    send.textContent = texts.send;
    fileText.textContent = texts.photo;
    verifyOpen.textContent = texts.verify;
    address.placeholder = texts.verify_prompt;
    addressSend.textContent = texts.verify_send;
    code.placeholder = texts.code_prompt;
    codeSend.textContent = texts.code_check;
  }
  api("hello?lang=" + encodeURIComponent(navigator.language || "")).then(function (body) {
    label(body);
    input.maxLength = body.max_chars;
    file.accept = body.upload_types.join(",");
    box.setAttribute("data-ready", "1");
    listen();
  }).catch(failed);
})();
