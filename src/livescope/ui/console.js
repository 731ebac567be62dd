// The livescope web console: xterm.js on the agent's /ws terminal, speaking the frames of
// Arthas's classic web console (JSON "read" and "resize" frames out, terminal text in).
(function () {
  "use strict";

  var KEEP_ALIVE_MS = 30000; // an empty read now and then keeps proxies from dropping the socket
  var PASSED_THROUGH = ["quiet", "userId", "username", "password"]; // page query -> /ws query
  var CLOSE_SHOWN_AS_ALERT = 2000; // e.g. the tunnel server's "Can not find arthas agent by id"

  var term = new Terminal({
    convertEol: true,
    cursorBlink: true,
    scrollback: 10000,
    fontFamily: '"DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace',
    fontSize: 14,
    lineHeight: 1.15, // room below the baseline, or DejaVu's underscores are cut off
  });
  var fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById("terminal"));
  window.term = term; // for the browser's developer console and tests

  var closedBar = document.getElementById("closed");
  var closedMessage = document.getElementById("closed-message");
  var socket = null;
  var keepAlive = null;

  function socketUrl() {
    var page = new URLSearchParams(location.search);
    var query = new URLSearchParams();
    PASSED_THROUGH.forEach(function (name) {
      if (page.has(name)) query.set(name, page.get(name));
    });
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var search = query.toString();
    return scheme + "//" + location.host + "/ws" + (search ? "?" + search : "");
  }

  function send(frame) {
    if (socket !== null && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
    }
  }

  function sendSize() {
    send({ action: "resize", cols: term.cols, rows: term.rows });
  }

  function showBar(shown) {
    closedBar.hidden = !shown;
    fit.fit(); // the terminal gets the bar's rows back, or gives them up
  }

  function connect() {
    showBar(false);
    var ws = new WebSocket(socketUrl());
    socket = ws;
    ws.onopen = function () {
      fit.fit();
      sendSize();
      keepAlive = setInterval(function () {
        send({ action: "read", data: "" });
      }, KEEP_ALIVE_MS);
      term.focus();
    };
    ws.onmessage = function (event) {
      if (typeof event.data === "string") term.write(event.data);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return; // an older socket, replaced by a reconnect
      socket = null;
      clearInterval(keepAlive);
      if (event.code === CLOSE_SHOWN_AS_ALERT && event.reason) alert(event.reason);
      showClosed(event);
    };
  }

  function showClosed(event) {
    var why = event.reason ? event.reason + " (code " + event.code + ")" : "code " + event.code;
    closedMessage.textContent = "Connection to the agent closed: " + why + ".";
    showBar(true);
    term.write("\r\n\x1b[31m[connection closed: " + why + "; press Enter to reconnect]\x1b[0m\r\n");
  }

  term.onData(function (data) {
    if (socket === null) {
      if (data === "\r") connect();
      return;
    }
    send({ action: "read", data: data });
  });
  term.onResize(sendSize);
  window.addEventListener("resize", function () {
    fit.fit();
  });
  document.getElementById("reconnect").addEventListener("click", connect);

  fit.fit();
  connect();
})();
