// Runs the XFrame page's script (stdin: {"script", "messages"}) with the browser objects it
// uses, delivers each message as a window "message" event, and prints what it did: the
// requests it opened and the answers it posted back (tests/api/test_xframe.py).
"use strict";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const listeners = [];
const opened = [];
const posted = [];
global.window = { addEventListener: (type, fn) => { if (type === "message") listeners.push(fn); } };
global.location = {
  href: "http://127.0.0.1:8080/Autodiscover/XFrame/XFrame.html",
  origin: "http://127.0.0.1:8080",
};
global.XMLHttpRequest = class {
  open(method, url) { opened.push([method, url]); }
  setRequestHeader() {}
  getAllResponseHeaders() { return "content-type: application/json\r\n"; }
  send() {
    this.readyState = 4; this.status = 200; this.statusText = "OK"; this.responseText = "{}";
    this.onreadystatechange();
  }
};
new Function(input.script)();
for (const m of input.messages) {
  const source = { postMessage: (data, origin) => posted.push([data, origin]) };
  for (const fn of listeners) fn({ origin: m.origin, data: m.data, source });
}
process.stdout.write(JSON.stringify({ opened, posted }));
