// The chat page's script: one Socket.IO connection to this site. The browser
// sends the session cookie with the handshake, so the server knows who we are;
// we send only the text of each message.
"use strict";

// Same origin, so no URL. WebSocket only: one connection that stays with one
// worker, so `porch serve --workers N` needs no sticky sessions (docs/websockets.md).
const socket = io({ transports: ["websocket"] });
const log = document.getElementById("log");
const status = document.getElementById("status");
const form = document.getElementById("say");
const input = document.getElementById("text");

function show(node) {
  log.append(node);
  node.scrollIntoView({ block: "end" });
}

function line(className, ...parts) {
  const item = document.createElement("li");
  item.className = className;
  for (const [tag, text, extra] of parts) {
    const part = document.createElement(tag);
    part.textContent = text;  // text, never HTML: a message cannot inject markup
    if (extra) part.className = extra;
    item.append(part);
  }
  return item;
}

function setStatus(online) {
  status.textContent = online ? "online" : "offline";
  status.className = online ? "online" : "offline";
}

socket.on("connect", () => setStatus(true));
socket.on("disconnect", () => setStatus(false));
socket.on("connect_error", () => setStatus(false));

socket.on("message", (message) => {
  show(line("message", ["span", message.time, "time"], ["strong", message.name, "name"],
    ["span", message.text, "text"]));
});

socket.on("notice", (text) => show(line("notice", ["span", text, "text"])));

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  socket.emit("message", text, (sent) => {
    if (!sent) show(line("notice", ["span", "Not sent: reload the page to rejoin.", "text"]));
  });
  input.value = "";
});
