// llm-twin web page: plain DOM, no framework. Every text that comes from the API is written with
// textContent (never innerHTML), links are http(s) only and open with rel="noopener noreferrer".
"use strict";

(() => {
  const KEY_ITEM = "llm-twin.apiKey";
  const BASE_ITEM = "llm-twin.apiBase";
  const POLL_MS = 1000;
  // GET /collections/{id} returns links a page at a time (at most 1000). A run started here holds one
  // author's links (at most 100), so one page of the maximum size is the whole report.
  const RUN_PAGE_LINKS = 1000;
  const FINISHED = new Set(["succeeded", "partial", "failed"]);

  const $ = (id) => document.getElementById(id);
  const state = { authors: [], selected: null, configBase: "", polling: null };

  // --- API ---------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message, details, transient = false) {
      super(message);
      this.status = status;
      this.details = details || [];
      this.transient = transient || status >= 500; // worth retrying while polling
    }
  }

  function apiBase() {
    const stored = sessionStorage.getItem(BASE_ITEM);
    const base = stored !== null ? stored : state.configBase;
    return (base || "").trim().replace(/\/+$/, "");
  }

  async function api(method, path, body) {
    const key = sessionStorage.getItem(KEY_ITEM);
    if (!key) throw new ApiError(0, "Enter the API key in “API settings” first.");
    const headers = { "x-api-key": key, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(apiBase() + path, init);
    } catch (error) {
      const where = apiBase() || location.origin;
      throw new ApiError(0, `Could not reach the API at ${where} (${error.message}).`, null, true);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const message = data && typeof data.message === "string" ? data.message : response.statusText;
      throw new ApiError(response.status, message || "request failed", data && data.details);
    }
    return data;
  }

  // --- small DOM helpers -------------------------------------------------------------------------
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function say(id, message, kind) {
    const node = $(id);
    node.textContent = message;
    node.classList.toggle("error", kind === "error");
    node.classList.toggle("ok", kind === "ok");
  }

  function sayError(id, error) {
    const node = $(id);
    const status = error.status ? `Error ${error.status}: ` : "Error: ";
    say(id, status + error.message, "error");
    if (error.details && error.details.length) {
      const list = el("ul", null, "details");
      for (const d of error.details) {
        const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
        list.append(el("li", where ? `${where}: ${d.msg}` : d.msg));
      }
      node.append(list);
    }
  }

  async function busy(button, work) {
    const form = button.form;
    button.disabled = true;
    if (form) form.setAttribute("aria-busy", "true");
    try {
      return await work();
    } finally {
      button.disabled = false;
      if (form) form.removeAttribute("aria-busy");
    }
  }

  function safeHref(link) {
    try {
      const url = new URL(link);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function externalLink(link, text) {
    const href = safeHref(link);
    if (!href) return el("span", text || link);
    const a = el("a", text || link);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function lines(text) {
    return text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  }

  // --- settings ----------------------------------------------------------------------------------
  async function loadDeployedConfig() {
    // On AWS the deployment writes config.json next to the page: {"apiBaseUrl": "https://..."}.
    try {
      const response = await fetch("config.json", { cache: "no-store", credentials: "omit" });
      const ct = response.headers.get("Content-Type") || "";
      if (response.ok && ct.includes("json")) {
        const config = await response.json();
        if (config && typeof config.apiBaseUrl === "string") state.configBase = config.apiBaseUrl;
      }
    } catch {
      /* no config: same origin */
    }
  }

  function showSettings() {
    $("api-base").value = apiBase();
    $("api-key").value = sessionStorage.getItem(KEY_ITEM) || "";
  }

  async function saveSettings(event) {
    event.preventDefault();
    const base = $("api-base").value.trim();
    const key = $("api-key").value.trim();
    if (base && !safeHref(base)) {
      say("settings-status", "The API base URL must be an http(s) URL, or empty.", "error");
      $("api-base").focus();
      return;
    }
    if (!key) {
      say("settings-status", "Enter the API key.", "error");
      $("api-key").focus();
      return;
    }
    sessionStorage.setItem(BASE_ITEM, base);
    sessionStorage.setItem(KEY_ITEM, key);
    const button = event.submitter || event.target.querySelector("button[type=submit]");
    await busy(button, async () => {
      say("settings-status", "Connecting…");
      try {
        await refreshAuthors();
        say("settings-status", `Connected to ${apiBase() || location.origin}.`, "ok");
      } catch (error) {
        sayError("settings-status", error);
      }
    });
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY_ITEM);
    $("api-key").value = "";
    say("settings-status", "The API key was removed from this tab.", "ok");
  }

  // --- authors -----------------------------------------------------------------------------------
  function fillSelect(select, withAny) {
    const previous = select.value;
    select.replaceChildren();
    if (withAny) select.append(new Option("Any author", ""));
    for (const author of state.authors) select.append(new Option(author.full_name, author.author_id));
    const wanted = state.selected || previous;
    if (wanted && state.authors.some((a) => a.author_id === wanted)) select.value = wanted;
  }

  function renderAuthors() {
    const list = $("authors");
    list.replaceChildren();
    if (!state.authors.length) list.append(el("li", "No author yet.", "empty"));
    for (const author of state.authors) {
      const item = el("li");
      const name = el("span", author.full_name, "author-name");
      const count = author.links.length;
      const meta = el("span", ` · ${count} link${count === 1 ? "" : "s"}`, "meta");
      const edit = el("button", "Edit", "secondary small");
      edit.type = "button";
      edit.setAttribute("aria-label", `Edit ${author.full_name}`);
      edit.addEventListener("click", () => selectAuthor(author, true));
      item.append(name, meta, " ", edit);
      list.append(item);
    }
    fillSelect($("collection-author"), false);
    fillSelect($("ask-author"), true);
  }

  function selectAuthor(author, focus) {
    state.selected = author.author_id;
    $("author-name").value = author.full_name;
    $("author-links").value = author.links.join("\n");
    $("collection-author").value = author.author_id;
    $("ask-author").value = author.author_id;
    if (focus) $("author-links").focus();
  }

  async function refreshAuthors() {
    const data = await api("GET", "/authors");
    state.authors = data.authors || [];
    renderAuthors();
  }

  function authorById(id) {
    return state.authors.find((a) => a.author_id === id) || null;
  }

  async function saveAuthor(event) {
    event.preventDefault();
    const fullName = $("author-name").value.trim();
    if (!fullName) {
      say("author-status", "Enter the author's full name.", "error");
      $("author-name").focus();
      return;
    }
    const button = $("author-save");
    await busy(button, async () => {
      say("author-status", "Saving…");
      try {
        const author = await api("POST", "/authors", { full_name: fullName, links: lines($("author-links").value) });
        await refreshAuthors();
        selectAuthor(author, false);
        say("author-status", `Saved ${author.full_name} (${author.links.length} links).`, "ok");
      } catch (error) {
        sayError("author-status", error);
      }
    });
  }

  async function replaceLinks() {
    const fullName = $("author-name").value.trim();
    const author = state.authors.find((a) => a.full_name === fullName) || authorById(state.selected);
    if (!author) {
      say("author-status", "Add the author first (or pick one with “Edit”), then replace their links.", "error");
      return;
    }
    await busy($("author-replace"), async () => {
      say("author-status", "Replacing links…");
      try {
        const links = lines($("author-links").value);
        const updated = await api("PUT", `/authors/${encodeURIComponent(author.author_id)}`, { links });
        await refreshAuthors();
        selectAuthor(updated, false);
        say("author-status", `${updated.full_name} now has ${updated.links.length} links.`, "ok");
      } catch (error) {
        sayError("author-status", error);
      }
    });
  }

  // --- collection --------------------------------------------------------------------------------
  function documents(link) {
    const parts = [];
    for (const key of ["new", "updated", "unchanged", "failed_items"]) {
      if (link[key]) parts.push(`${link[key]} ${key === "failed_items" ? "failed" : key}`);
    }
    return parts.join(", ") || "–";
  }

  function renderRun(report) {
    const rows = $("collection-rows");
    rows.replaceChildren();
    for (const link of report.links || []) {
      const tr = el("tr");
      const cell = el("td");
      cell.append(externalLink(link.link));
      const status = el("td");
      status.append(el("span", link.status, `badge ${link.status}`));
      tr.append(cell, status, el("td", documents(link)), el("td", link.reason || ""));
      rows.append(tr);
    }
    $("collection-table").hidden = !(report.links && report.links.length);
    const counts = report.counts
      ? Object.entries(report.counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k.replaceAll("_", " ")}`).join(", ")
      : "";
    const done = FINISHED.has(report.status);
    const text = `Run ${report.run_id}: ${report.status}${counts ? ` (${counts})` : ""}${done ? "." : "…"}`;
    say("collection-status", text, report.status === "failed" ? "error" : done ? "ok" : undefined);
    $("collection-form").dataset.runStatus = report.status;
  }

  function stopPolling() {
    if (state.polling) clearTimeout(state.polling);
    state.polling = null;
  }

  async function poll(runId) {
    try {
      const report = await api("GET", `/collections/${encodeURIComponent(runId)}?limit=${RUN_PAGE_LINKS}`);
      renderRun(report);
      if (FINISHED.has(report.status)) {
        stopPolling();
        $("collection-start").disabled = false;
        refreshAuthors().catch(() => {});
        return;
      }
    } catch (error) {
      if (!error.transient) {
        stopPolling();
        $("collection-start").disabled = false;
        sayError("collection-status", error);
        return;
      }
      say("collection-status", `${error.message} Retrying…`, "error"); // transient: keep polling
    }
    state.polling = setTimeout(() => poll(runId), POLL_MS);
  }

  async function startCollection(event) {
    event.preventDefault();
    const author = authorById($("collection-author").value);
    if (!author) {
      say("collection-status", "Add an author first.", "error");
      return;
    }
    if (!author.links.length) {
      say("collection-status", `${author.full_name} has no links to collect.`, "error");
      return;
    }
    stopPolling();
    const button = $("collection-start");
    button.disabled = true;
    say("collection-status", "Starting…");
    try {
      const accepted = await api("POST", "/collections", { author: author.full_name, links: author.links });
      $("collection-form").dataset.runStatus = accepted.status;
      renderRun({ run_id: accepted.run_id, status: accepted.status, links: [] });
      state.polling = setTimeout(() => poll(accepted.run_id), POLL_MS);
    } catch (error) {
      button.disabled = false;
      sayError("collection-status", error);
    }
  }

  // --- ask / draft -------------------------------------------------------------------------------
  function mode() {
    return document.querySelector("input[name=mode]:checked").value;
  }

  function showMode() {
    const draft = mode() === "draft";
    $("draft-fields").hidden = !draft;
    $("ask-text-label").textContent = draft ? "What to write about" : "Question";
    $("ask-submit").textContent = draft ? "Draft" : "Ask";
  }

  function groupSources(sources) {
    // Chunks of one document share its [n]: one list item per number, in the answer's order.
    const groups = new Map();
    sources.forEach((source, index) => {
      const number = Number.isInteger(source.number) ? source.number : index + 1;
      if (!groups.has(number)) groups.set(number, { number, first: source, cited: false, excerpts: [] });
      const group = groups.get(number);
      group.cited = group.cited || source.cited === true;
      if (source.excerpt) group.excerpts.push(source.excerpt);
    });
    return [...groups.values()].sort((a, b) => a.number - b.number);
  }

  function renderAnswer(answer) {
    $("answer").hidden = false;
    $("answer-text").textContent = answer.answer;
    const note = $("answer-note");
    note.hidden = answer.grounded;
    note.textContent = answer.grounded ? "" : "Nothing relevant was found in the author's writing.";
    const list = $("sources");
    list.replaceChildren();
    for (const group of groupSources(answer.sources || [])) {
      const source = group.first;
      const item = el("li");
      item.value = group.number; // the [n] the answer cites
      item.append(externalLink(source.link, source.title || source.link));
      item.append(el("span", ` — ${source.platform}, ${source.category}`, "meta"));
      if (group.cited) item.append(" ", el("span", "cited", "badge ok"));
      for (const excerpt of group.excerpts) item.append(el("p", excerpt, "excerpt"));
      list.append(item);
    }
    if (!list.children.length) list.append(el("li", "No sources.", "empty"));
  }

  async function ask(event) {
    event.preventDefault();
    const text = $("ask-text").value.trim();
    if (!text) {
      say("ask-status", mode() === "draft" ? "Say what to write about." : "Enter a question.", "error");
      $("ask-text").focus();
      return;
    }
    const author = authorById($("ask-author").value);
    const button = $("ask-submit");
    await busy(button, async () => {
      const started = performance.now();
      say("ask-status", mode() === "draft" ? "Drafting… (the model may take a while)" : "Thinking…");
      try {
        let answer;
        if (mode() === "draft") {
          const body = { kind: $("draft-kind").value, prompt: text };
          const link = $("draft-link").value.trim();
          if (link) body.link = link;
          if (author) body.author = author.full_name;
          answer = await api("POST", "/generate", body);
        } else {
          const body = { query: text };
          if (author) body.author = author.full_name;
          answer = await api("POST", "/rag", body);
        }
        renderAnswer(answer);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const documents = groupSources(answer.sources || []).length;
        say("ask-status", `Done in ${seconds} s, ${documents} source document(s).`, "ok");
      } catch (error) {
        sayError("ask-status", error);
      }
    });
  }

  // --- start -------------------------------------------------------------------------------------
  async function start() {
    $("settings-form").addEventListener("submit", saveSettings);
    $("forget-key").addEventListener("click", forgetKey);
    $("author-form").addEventListener("submit", saveAuthor);
    $("author-replace").addEventListener("click", replaceLinks);
    $("authors-refresh").addEventListener("click", () =>
      refreshAuthors().then(
        () => say("author-status", "List refreshed.", "ok"),
        (error) => sayError("author-status", error),
      ),
    );
    $("collection-form").addEventListener("submit", startCollection);
    $("ask-form").addEventListener("submit", ask);
    for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", showMode);
    renderAuthors();
    await loadDeployedConfig();
    showSettings();
    if (sessionStorage.getItem(KEY_ITEM)) {
      refreshAuthors().catch((error) => sayError("settings-status", error));
    } else {
      say("settings-status", "Enter the API key to start.");
    }
    document.body.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
