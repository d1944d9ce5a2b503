// The chat page's client. It draws what the bot sent and nothing else: message text arrives as nodes
// of a closed set of kinds (bot/web/render.py) and is built with createElement and textContent, never
// innerHTML. History comes from /api/history (so a reload keeps it); every change after that arrives
// over server-sent events (/api/events): new and edited messages, deletions, button answers, the menu.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const list = $("messages"), input = $("input"), form = $("form"), status = $("status");
  const replyKeyboard = $("reply-keyboard"), keyboardButton = $("keyboard-button");
  const menu = $("menu"), suggest = $("suggest"), toastBox = $("toast");
  const state = { rows: new Map(), maxId: 0, keyboard: null, keyboardShown: true, commands: [], loaded: false };
  const TAGS = { b: "b", i: "i", u: "u", s: "s", code: "code", pre: "pre", a: "a", blockquote: "blockquote",
                 spoiler: "span" };
  const LINK = /^(https?:|tg:)/i;

  // ---- drawing ----
  function build(nodes, parent) {
    for (const n of nodes || []) {
      if (typeof n === "string") { parent.append(document.createTextNode(n)); continue; }
      if (!n || typeof n !== "object") continue;
      const tag = Object.prototype.hasOwnProperty.call(TAGS, n.t) ? TAGS[n.t] : null;
      if (tag === null) { build(n.c, parent); continue; }
      const el = document.createElement(tag);
      if (n.t === "spoiler") {
        el.className = "spoiler";
        el.addEventListener("click", () => el.classList.add("shown"));
      }
      if (n.t === "a" && typeof n.href === "string" && LINK.test(n.href)) {
        el.href = n.href; el.target = "_blank"; el.rel = "noopener noreferrer";
      }
      build(n.c, el);
      parent.append(el);
    }
  }

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function draw(m) {
    const row = document.createElement("div");
    row.className = "row " + (m.out ? "out" : "in") + (m.photo ? " photo" : "");
    row.dataset.id = String(m.id);
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    if (m.photo) {
      const img = document.createElement("img");
      img.className = "photo-img"; img.src = m.photo.src; img.alt = "photo"; img.loading = "lazy";
      if (m.photo.w && m.photo.h) { img.width = m.photo.w; img.height = m.photo.h; }
      bubble.append(img);
    }
    if (m.document) {
      const a = document.createElement("a");
      a.href = m.document.src; a.textContent = "📄 " + m.document.name; a.download = m.document.name;
      bubble.append(a);
    }
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = (m.edited ? "edited " : "") + clock(m.date);
    const textNodes = m.body || m.caption;
    if (textNodes) {
      const text = document.createElement("div");
      text.className = m.body ? "text" : "caption";
      build(textNodes, text);
      text.append(meta);
      bubble.append(text);
    } else {
      bubble.append(meta);
    }
    const msg = document.createElement("div");  // the bubble and its buttons, one width
    msg.className = "msg";
    msg.append(bubble);
    if (m.buttons) msg.append(inlineKeyboard(m));
    row.append(msg);
    return row;
  }

  function inlineKeyboard(m) {
    const box = document.createElement("div");
    box.className = "inline-keyboard";
    for (const keys of m.buttons) {
      const krow = document.createElement("div");
      krow.className = "krow";
      for (const key of keys) {
        if (key.url !== undefined) {
          const a = document.createElement("a");
          a.textContent = key.text;
          if (LINK.test(key.url)) { a.href = key.url; a.target = "_blank"; a.rel = "noopener noreferrer"; }
          krow.append(a);
          continue;
        }
        const b = document.createElement("button");
        b.type = "button"; b.textContent = key.text; b.dataset.data = key.data || "";
        b.addEventListener("click", () => press(m.id, key.data, b));
        krow.append(b);
      }
      box.append(krow);
    }
    return box;
  }

  function nearBottom() { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }
  function toBottom() { list.scrollTop = list.scrollHeight; }

  function upsert(m) {
    const follow = nearBottom();
    const el = draw(m);
    const old = state.rows.get(m.id);
    if (old) {
      old.replaceWith(el);
    } else if (m.id > state.maxId) {
      list.append(el);  // the usual case: the newest message
    } else {
      let after = null;
      for (const [id, row] of state.rows) if (id > m.id && (after === null || id < Number(after.dataset.id))) after = row;
      list.insertBefore(el, after);
    }
    state.rows.set(m.id, el);
    state.maxId = Math.max(state.maxId, m.id);
    if (!m.out && m.keyboard !== null && m.keyboard !== undefined) {
      setKeyboard(m.keyboard === "remove" ? null : m.keyboard);
    }
    if (m.out) $("start").hidden = true;  // as in Telegram: START until the user's first message
    if (follow || m.out) toBottom();
  }

  function remove(id) {
    const row = state.rows.get(id);
    if (row) { row.remove(); state.rows.delete(id); }
  }

  function setKeyboard(rows) {
    state.keyboard = rows;
    replyKeyboard.textContent = "";
    keyboardButton.hidden = !rows;
    if (!rows) { replyKeyboard.hidden = true; return; }
    for (const keys of rows) {
      const krow = document.createElement("div");
      krow.className = "krow";
      for (const text of keys) {
        const b = document.createElement("button");
        b.type = "button"; b.textContent = text;
        b.addEventListener("click", () => send(text));
        krow.append(b);
      }
      replyKeyboard.append(krow);
    }
    replyKeyboard.hidden = !state.keyboardShown;
  }

  function setCommands(commands) {
    state.commands = Array.isArray(commands) ? commands : [];
    $("menu-button").hidden = state.commands.length === 0;
  }

  // ---- talking to the server ----
  async function post(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                  body: JSON.stringify(body), credentials: "same-origin" });
    if (!r.ok) throw new Error((await r.text()).trim() || ("HTTP " + r.status));
    return r.json();
  }

  async function send(text) {
    if (!text.trim()) return;
    try { await post("/api/send", { text }); } catch (e) { toast(String(e.message || e)); }
  }

  async function press(id, data, button) {
    button.classList.add("pending");
    try { await post("/api/press", { message_id: id, data }); } catch (e) { toast(String(e.message || e)); }
    setTimeout(() => button.classList.remove("pending"), 400);
  }

  async function loadHistory() {
    const r = await fetch("/api/history", { credentials: "same-origin" });
    if (r.status === 401 || r.status === 403) { expired(); return; }
    if (!r.ok) throw new Error("HTTP " + r.status);
    const h = await r.json();
    $("bot-name").textContent = h.bot && h.bot.name ? h.bot.name : "tradebot";
    for (const row of state.rows.values()) row.remove();
    state.rows.clear();
    state.maxId = 0;
    for (const m of h.messages) upsert(m);
    setKeyboard(h.keyboard);
    setCommands(h.commands);
    $("start").hidden = h.messages.some((m) => m.out);
    state.loaded = true;
    document.body.dataset.loaded = "1";
    toBottom();
  }

  function expired() {
    status.textContent = "link expired";
    alertBox("This link no longer works: the bot was restarted. Open the new link it printed at start.");
  }

  function connect() {
    const events = new EventSource("/api/events");
    events.addEventListener("open", () => {
      status.textContent = "online";
      loadHistory().catch(() => { status.textContent = "reconnecting…"; });
    });
    events.addEventListener("error", () => {
      status.textContent = "reconnecting…";
      fetch("/api/history", { credentials: "same-origin" }).then((r) => {
        if (r.status === 401 || r.status === 403) { events.close(); expired(); }
      }).catch(() => {});
    });
    const on = (name, fn) => events.addEventListener(name, (e) => {
      try { fn(JSON.parse(e.data)); } catch (err) { console.error(name, err); }
    });
    on("message", upsert);
    on("deleted", (d) => remove(d.id));
    on("answer", (a) => { if (a.text) (a.show_alert ? alertBox : toast)(a.text); });
    on("commands", setCommands);
    on("reset", () => loadHistory());
  }

  // ---- toasts, alerts, menus ----
  let toastTimer = 0;
  function toast(text) {
    toastBox.textContent = text; toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastBox.hidden = true; }, 2500);
  }
  function alertBox(text) { $("alert-text").textContent = text; $("alert").hidden = false; $("alert-ok").focus(); }
  $("alert-ok").addEventListener("click", () => { $("alert").hidden = true; input.focus(); });

  function commandList(box, items, onPick) {
    box.textContent = "";
    for (const c of items) {
      const b = document.createElement("button");
      b.type = "button";
      const cmd = document.createElement("span"); cmd.className = "cmd"; cmd.textContent = "/" + c.command;
      const desc = document.createElement("span"); desc.className = "desc"; desc.textContent = c.description;
      b.append(cmd, desc);
      b.addEventListener("click", () => onPick(c));
      box.append(b);
    }
    box.hidden = items.length === 0;
  }

  $("menu-button").addEventListener("click", () => {
    if (!menu.hidden) { menu.hidden = true; return; }
    commandList(menu, state.commands, (c) => { menu.hidden = true; send("/" + c.command); });
  });
  keyboardButton.addEventListener("click", () => {
    state.keyboardShown = !state.keyboardShown;
    replyKeyboard.hidden = !state.keyboardShown || !state.keyboard;
  });
  document.addEventListener("click", (e) => {
    if (!menu.contains(e.target) && e.target !== $("menu-button")) menu.hidden = true;
  });

  function updateSuggest() {
    const v = input.value;
    if (!v.startsWith("/") || /\s/.test(v)) { suggest.hidden = true; return; }
    const word = v.slice(1).toLowerCase();
    const items = state.commands.filter((c) => c.command.startsWith(word)).slice(0, 8);
    commandList(suggest, items, (c) => { input.value = "/" + c.command + " "; suggest.hidden = true; input.focus(); });
  }

  function autosize() { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, 140) + "px"; }
  input.addEventListener("input", () => { autosize(); updateSuggest(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    if (e.key === "Escape") { suggest.hidden = true; menu.hidden = true; }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    input.value = ""; autosize(); suggest.hidden = true;
    send(text);
    input.focus();
  });
  $("start-button").addEventListener("click", () => send("/start"));

  connect();
})();
