// The organizer dashboard (web/templates/admin.html), on the admin JSON API only.
// Staff sign in with email, password and one-time code (a session cookie the page never
// sees, and a CSRF token kept in this tab's sessionStorage for its changes); the operator
// may give the admin token instead, kept in this tab's sessionStorage, never elsewhere. Polled: /api/admin/overview every 2 s (tiers, the server's counters, the
// projection lag; rates are differences between two readings), each tier's sales per
// minute every 15 s, the audit when asked. Charts are uPlot (web/static/uPlot.iife.min.js).
// Everything the server sends is put on the page as text, never as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "ticket-ledger.adminToken";
  const CSRF_KEY = "ticket-ledger.staffCsrf"; // set while signed in as a member of staff
  const OVERVIEW_MS = 2000;
  const SALES_MS = 15000;
  const LIVE_POINTS = 150; // 5 minutes of readings, one every 2 s
  const CONFIRM_MS = 5000; // how long "Close sales" waits for its second click
  const COLORS = { sold: "#0b5fff", cancelled: "#a40e26", held: "#bf8700", batch: "#57606a" };

  const byId = (id) => document.getElementById(id);
  const page = {
    connection: byId("connection"), signOut: byId("sign-out"), login: byId("login"), loginForm: byId("login-form"),
    resetForm: byId("reset-form"), newPassword: byId("new-password"),
    token: byId("token"), email: byId("email"), password: byId("password"), code: byId("code"), loginError: byId("login-error"), board: byId("board"), notice: byId("notice"),
    error: byId("error"), tiers: byId("tiers"), audit: byId("audit"), verify: byId("verify"),
    liveChart: byId("live-chart"), bookingsRate: byId("bookings-rate"), heldNow: byId("held-now"),
    lag: byId("lag"), conflictsRate: byId("conflicts-rate"), batchSize: byId("batch-size"),
    door: byId("door"),
  };
  const cards = new Map(); // tier code -> {item, parts, chart}
  const live = { times: [], bookings: [], conflicts: [], batch: [], last: null, chart: null };
  let timers = [];
  let myTiers = new Set(); // the tiers the overview shows: those of the organizer(s) signed in for

  // --- talking to the API -------------------------------------------------------------

  class SignedOut extends Error {}

  async function api(path, body) {
    const csrf = sessionStorage.getItem(CSRF_KEY), token = sessionStorage.getItem(TOKEN_KEY);
    // Signed out while a section was still loading: it asks nothing (an empty token would be a 401).
    if (!csrf && !token) throw new SignedOut("");
    const headers = csrf ? { "X-CSRF-Token": csrf } : { Authorization: `Bearer ${token}` };
    const init = body === undefined ? { headers } : {
      method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new Error("The server cannot be reached; trying again.");
    }
    const data = await response.json().catch(() => null);
    const error = data && data.error;
    if (response.status === 401) throw new SignedOut("The server refused that token.");
    if (response.status === 404 && error && error.code === "NOT_FOUND") {
      throw new SignedOut("The admin API is off on this server (its ADMIN_TOKEN is empty).");
    }
    if (!response.ok) throw new Error(error ? error.message : `The server answered ${response.status}.`);
    return data;
  }

  function say(message, isError) {
    page.notice.textContent = isError ? "" : message;
    page.error.textContent = isError ? message : "";
  }

  function failed(error) {
    if (error instanceof SignedOut) signOut(error.message);
    else say(error.message, true);
  }

  // --- signing in and out --------------------------------------------------------------

  async function signInAsStaff(email, password, code) {
    const response = await fetch("/api/staff/sign-in", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email, password, code }),
    }).catch(() => null);
    const data = response && await response.json().catch(() => null);
    if (!response || !response.ok) {
      page.loginError.textContent = response && response.status === 429
        ? "Too many failed sign-ins: wait a minute and try again."
        : "Wrong email, password or code.";
      return;
    }
    sessionStorage.setItem(CSRF_KEY, data.csrfToken);
    page.password.value = "";
    page.code.value = "";
    signIn(null);
  }

  async function signIn(token) {
    if (token !== null) sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await refreshOverview();
    } catch (error) {
      signOut(error.message);
      return;
    }
    page.login.hidden = true;
    page.board.hidden = false;
    page.signOut.hidden = false;
    page.token.value = "";
    page.loginError.textContent = "";
    setConnection("live", "Live: figures update every 2 seconds.");
    drawLiveChart();
    refreshSales();
    refreshAudit();
    showSecondFactor();
    timers = [setInterval(() => refreshOverview().catch(failed), OVERVIEW_MS),
              setInterval(refreshSales, SALES_MS)];
    // The sections a role decides: the operator (no member: ``me`` null) sees them all.
    const me = sessionStorage.getItem(CSRF_KEY) ? await staffCall("/api/staff/me").catch(() => null) : null;
    showDevices(me).catch((error) => { devices.error.textContent = error.message; });
    showActivity(me);
  }

  function signOut(message) {
    const csrf = sessionStorage.getItem(CSRF_KEY);
    if (csrf) fetch("/api/staff/sign-out", { method: "POST", headers: { "X-CSRF-Token": csrf } }).catch(() => null);
    sessionStorage.removeItem(CSRF_KEY);
    sessionStorage.removeItem(TOKEN_KEY);
    timers.forEach(clearInterval);
    timers = [];
    page.board.hidden = true;
    enrol.section.hidden = true;
    enrol.form.hidden = true;
    devices.section.hidden = true;
    hidePairing();
    activity.section.hidden = true;
    activity.list.replaceChildren();
    page.login.hidden = false;
    page.signOut.hidden = true;
    page.loginError.textContent = message || "";
    setConnection("signed-out", "Signed out.");
    page.token.focus();
  }

  function setConnection(mode, text) {
    page.connection.dataset.mode = mode;
    page.connection.textContent = text;
  }

  // --- live figures --------------------------------------------------------------------

  async function refreshOverview() {
    const overview = await api("/api/admin/overview");
    overview.tiers.forEach(showTier);
    showDoor(overview.door);
    myTiers = new Set(overview.tiers.map((tier) => tier.tier));
    page.tiers.removeAttribute("aria-busy");
    page.heldNow.textContent = String(overview.tiers.reduce((sum, tier) => sum + tier.held, 0));
    page.lag.textContent = `${overview.projectionLag} · ${overview.projectionLagSeconds.toFixed(2)} s`;
    addReading(Date.parse(overview.at) / 1000, overview.counters);
    if (page.error.textContent.startsWith("The server cannot be reached")) say("");
  }

  // Per event and tier: sold, checked in, not (yet) in, and offline scans in conflict.
  function showDoor(rows) {
    page.door.replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.tier = row.tier;
      for (const value of [row.event, row.tier, row.sold, row.admitted, row.noShows, row.conflicts]) {
        tr.append(element("td", "", String(value)));
      }
      return tr;
    }));
  }

  // Rates from two readings of the counters; a server restart (counters going down) starts over.
  function addReading(at, counters) {
    const last = live.last;
    live.last = { at, counters };
    if (!last || at <= last.at || counters.bookings < last.counters.bookings) return;
    const seconds = at - last.at;
    const batches = counters.batches - last.counters.batches;
    const point = {
      bookings: (counters.bookings - last.counters.bookings) / seconds,
      conflicts: (counters.conflicts - last.counters.conflicts) / seconds,
      batch: batches ? (counters.batchedRequests - last.counters.batchedRequests) / batches : null,
    };
    live.times.push(at);
    for (const key of ["bookings", "conflicts", "batch"]) live[key].push(point[key]);
    if (live.times.length > LIVE_POINTS) for (const key of ["times", "bookings", "conflicts", "batch"]) live[key].shift();
    page.bookingsRate.textContent = point.bookings.toFixed(1);
    page.conflictsRate.textContent = point.conflicts.toFixed(1);
    page.batchSize.textContent = point.batch === null ? "no batches" : point.batch.toFixed(1);
    // (One point alone would give the time scale no width to go by.)
    if (live.chart && live.times.length > 1) live.chart.setData([live.times, live.bookings, live.conflicts, live.batch]);
    page.liveChart.dataset.readings = String(live.times.length);
  }

  function drawLiveChart() {
    if (live.chart) return;
    live.chart = new uPlot({
      ...chartSize(page.liveChart, 220),
      legend: { live: false },
      // The readings so far, at least a minute's worth and at most the last five minutes.
      scales: { x: { time: true, range: (u, min, max) => liveWindow(max) },
                rate: { range: (u, min, max) => [0, Math.max(1, max)] },
                batch: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{}, { scale: "rate", label: "per second" }, { scale: "batch", side: 1, label: "batch size", grid: { show: false } }],
      series: [{}, { label: "Bookings/s", scale: "rate", stroke: COLORS.sold, width: 2 },
               { label: "Conflicts/s", scale: "rate", stroke: COLORS.cancelled, width: 2 },
               { label: "Batch size", scale: "batch", stroke: COLORS.batch, dash: [4, 4], spanGaps: true }],
    }, [live.times, live.bookings, live.conflicts, live.batch], page.liveChart);
  }

  // The readings' times, or a minute from the first reading until there are more.
  function liveWindow(last) {
    const end = last == null ? Date.now() / 1000 : last;
    const start = live.times.length ? live.times[0] : end;
    return [start, Math.max(end, start + 60)];
  }

  function chartSize(element, height) {
    return { width: Math.max(240, element.clientWidth), height };
  }

  // --- tiers ---------------------------------------------------------------------------

  function showTier(tier) {
    const card = cards.get(tier.tier) || addCard(tier.tier);
    const { parts } = card;
    card.item.classList.toggle("closed", !tier.onSale);
    card.item.classList.toggle("sold-out", tier.availableQuantity === 0);
    parts.price.textContent = `$${tier.price}`;
    parts.state.textContent = tier.onSale ? "On sale" : "Sales closed";
    const capacity = Math.max(tier.capacity, 1);
    parts.sold.style.width = `${(100 * tier.sold) / capacity}%`;
    parts.held.style.width = `${(100 * tier.held) / capacity}%`;
    parts.available.style.width = `${(100 * tier.availableQuantity) / capacity}%`;
    const figures = `${tier.sold} sold · ${tier.held} held · ${tier.availableQuantity} available · capacity ${tier.capacity}`;
    parts.figures.textContent = figures;
    parts.bar.setAttribute("aria-label", figures);
    parts.close.hidden = !tier.onSale;
    parts.priceForm.hidden = !tier.onSale; // a closed tier's price no longer changes (409 SALES_CLOSED)
    parts.newPrice.placeholder = tier.price;
    // Selling out (or tickets coming back) shows at once, not at the next sales reading.
    const soldOut = tier.availableQuantity === 0;
    if (card.soldOut !== undefined && card.soldOut !== soldOut) {
      refreshTierSales(tier.tier).then(refreshAudit, failed);
    }
    card.soldOut = soldOut;
  }

  function addCard(code) {
    const item = element("li", "tier-card");
    item.dataset.tier = code;
    const head = element("div", "head");
    head.append(element("span", "name", code), element("span", "price"), element("span", "state"));
    const bar = element("div", "bar");
    bar.setAttribute("role", "img");
    const sold = element("span", "sold"), held = element("span", "held"), available = element("span", "available");
    bar.append(sold, held, available);
    const legend = element("p", "legend");
    legend.append(element("span", "key sold", "sold"), element("span", "key held", "held"),
                  element("span", "key available", "available"));
    const figures = element("p", "figures"), soldOut = element("p", "sold-out-at");
    const chartTitle = element("h3", "", "Sales per minute");
    const chartBox = element("div", "chart sales-chart");
    const form = element("form", "capacity");
    form.noValidate = true;
    const field = element("input");
    Object.assign(field, { type: "number", min: "1", value: "10", inputMode: "numeric" });
    field.setAttribute("aria-label", `Tickets to add to ${code}`);
    const add = element("button", "add", "Add capacity");
    add.type = "submit";
    const close = element("button", "close", "Close sales");
    close.type = "button";
    form.append(field, add, close);
    form.addEventListener("submit", (event) => { event.preventDefault(); addCapacity(code, field, add); });
    close.addEventListener("click", () => closeSales(code, close));
    // Beside them, a new price: sold from now on; what was sold or held keeps its own.
    const priceForm = element("form", "price");
    priceForm.noValidate = true;
    const newPrice = element("input");
    Object.assign(newPrice, { type: "text", inputMode: "decimal", autocomplete: "off" });
    newPrice.setAttribute("aria-label", `New price of ${code}`);
    const change = element("button", "change", "Change price");
    change.type = "submit";
    priceForm.append(newPrice, change);
    priceForm.addEventListener("submit", (event) => { event.preventDefault(); changePrice(code, newPrice, change); });
    item.append(head, bar, legend, figures, soldOut, chartTitle, chartBox, form, priceForm);
    insertSorted(item, code);
    const card = { item, chart: null, chartBox, parts: { price: head.children[1], state: head.children[2], bar, sold, held,
                   available, figures, soldOut, close, priceForm, newPrice } };
    cards.set(code, card);
    return card;
  }

  function insertSorted(item, code) {
    const after = [...page.tiers.children].find((other) => other.dataset.tier > code);
    page.tiers.insertBefore(item, after || null);
  }

  function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  // --- sales per minute ------------------------------------------------------------------

  async function refreshSales() {
    try {
      for (const code of cards.keys()) await refreshTierSales(code);
    } catch (error) {
      failed(error);
    }
  }

  async function refreshTierSales(code) {
    showSales(await api(`/api/admin/tiers/${encodeURIComponent(code)}/sales`));
  }

  function showSales(sales) {
    const card = cards.get(sales.tier);
    card.parts.soldOut.textContent = sales.soldOutAt ? `Sold out since ${utc(sales.soldOutAt)}` : "";
    const data = perMinute(sales.minutes);
    if (card.chart) {
      card.chart.setData(data);
      return;
    }
    const bars = uPlot.paths.bars({ size: [0.6, 40], align: 0 });
    card.chart = new uPlot({
      ...chartSize(card.chartBox, 160),
      legend: { live: false },
      scales: { x: { time: true, range: (u, min, max) => [min - 30, max + 30] },  // whole bars at the ends
                y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{}, { label: "tickets" }],
      series: [{}, { label: "Sold", fill: COLORS.sold, stroke: COLORS.sold, paths: bars, points: { show: false } },
               { label: "Held", stroke: COLORS.held, width: 2, points: { size: 5 } },
               { label: "Cancelled", stroke: COLORS.cancelled, width: 2, points: { size: 5 } }],
    }, data, card.chartBox);
  }

  // Every minute of the last ten, or since the first sale (two hours at most), with zeros
  // where the API left a minute out.
  function perMinute(minutes) {
    const byMinute = new Map(minutes.map((m) => [Date.parse(m.minute) / 1000, m]));
    const now = Math.floor(Date.now() / 60000) * 60;
    const first = minutes.length ? Date.parse(minutes[0].minute) / 1000 : now;
    const data = [[], [], [], []];
    for (let t = Math.max(Math.min(first, now - 9 * 60), now - 119 * 60); t <= now; t += 60) {
      const m = byMinute.get(t) || { sold: 0, held: 0, cancelled: 0 };
      data[0].push(t);
      data[1].push(m.sold);
      data[2].push(m.held);
      data[3].push(m.cancelled);
    }
    return data;
  }

  function utc(iso) {
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
  }

  // --- audit -----------------------------------------------------------------------------

  async function refreshAudit() {
    page.verify.disabled = true;
    page.audit.setAttribute("aria-busy", "true");
    try {
      const results = await api("/api/admin/audit");
      page.audit.replaceChildren(...results.map(auditLine));
    } catch (error) {
      failed(error);
    } finally {
      page.verify.disabled = false;
      page.audit.removeAttribute("aria-busy");
    }
  }

  function auditLine(result) {
    const item = element("li", result.ok ? "ok" : "problem");
    item.dataset.tier = result.tier;
    const verdict = result.ok
      ? `${result.tier}: verified, ${result.events} events add up`
      : `${result.tier}: ${result.problems.length} problem(s), first: ${result.problems[0].message}`;
    const link = element("a", "history", "history");
    link.href = `/api/tiers/${encodeURIComponent(result.tier)}/history?limit=1000`;
    item.append(element("span", "verdict", verdict), link);
    return item;
  }

  // --- actions ---------------------------------------------------------------------------

  async function addCapacity(code, field, button) {
    const quantity = Number(field.value);
    button.disabled = true;
    try {
      const tier = await api(`/api/admin/tiers/${encodeURIComponent(code)}/capacity`, { quantity });
      say(`Added ${quantity} tickets to ${code}: capacity ${tier.capacity}.`);
      await afterAction();
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  }

  async function changePrice(code, field, button) {
    button.disabled = true;
    try {
      const tier = await api(`/api/admin/tiers/${encodeURIComponent(code)}/price`, { price: field.value.trim() });
      say(`${code} sells at $${tier.price} from now on.`);
      field.value = "";
      await afterAction();
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  }

  async function closeSales(code, button) {
    if (!button.classList.contains("confirming")) {
      button.classList.add("confirming");
      button.textContent = `Click again to close ${code}`;
      setTimeout(() => { button.classList.remove("confirming"); button.textContent = "Close sales"; }, CONFIRM_MS);
      return;
    }
    button.disabled = true;
    try {
      await api(`/api/admin/tiers/${encodeURIComponent(code)}/close`, {});
      say(`Closed sales of ${code}.`);
      await afterAction();
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
      button.classList.remove("confirming");
      button.textContent = "Close sales";
    }
  }

  async function afterAction() {
    await refreshOverview();
    await refreshSales();
    await refreshAudit();
    if (!activity.section.hidden) await refreshActivity();
  }

  // --- the second factor (a member of staff's own) -------------------------------------------

  const enrol = {
    section: byId("second-factor"), state: byId("second-factor-state"), start: byId("second-factor-start"),
    form: byId("second-factor-form"), qr: byId("second-factor-qr"), secret: byId("second-factor-secret"),
    code: byId("second-factor-code"), error: byId("second-factor-error"), pending: "",
  };

  async function staffCall(path, body) {
    const response = await fetch(path, {
      method: body ? "POST" : "GET",
      headers: { "X-CSRF-Token": sessionStorage.getItem(CSRF_KEY) || "", ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body && JSON.stringify(body),
    }).catch(() => null);
    const data = response && await response.json().catch(() => null);
    if (!response || !response.ok) throw new Error(data && data.error ? data.error.message : "The server cannot be reached.");
    return data;
  }

  async function showSecondFactor() {
    if (!sessionStorage.getItem(CSRF_KEY)) return; // the operator's token has none
    const me = await staffCall("/api/staff/me").catch(() => null);
    if (!me) return;
    enrol.section.hidden = false;
    enrol.state.textContent = me.secondFactor
      ? "On: signing in asks for a code from your authenticator app."
      : "Off: signing in asks for your password only.";
    enrol.start.hidden = me.secondFactor;
  }

  // The QR code from its modules (rows of 0 and 1), as one SVG path: nothing from the server is markup.
  function drawQr(rows) {
    const quiet = 4, size = rows.length + 2 * quiet;
    const path = rows.flatMap((row, y) => [...row].map((dark, x) => dark === "1" ? `M${x + quiet} ${y + quiet}h1v1h-1z` : "")).join("");
    const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    enrol.qr.setAttribute("viewBox", `0 0 ${size} ${size}`);
    enrol.qr.setAttribute("shape-rendering", "crispEdges");
    enrol.qr.replaceChildren(shape);
  }

  enrol.start.addEventListener("click", async () => {
    try {
      const made = await staffCall("/api/staff/second-factor", {});
      enrol.pending = made.secret;
      drawQr(made.qr);
      enrol.secret.textContent = made.secret;
      enrol.form.hidden = false;
      enrol.start.hidden = true;
      enrol.error.textContent = "";
      enrol.code.focus();
    } catch (error) {
      enrol.error.textContent = error.message;
    }
  });

  enrol.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await staffCall("/api/staff/second-factor/confirm", { secret: enrol.pending, code: enrol.code.value.trim() });
    } catch (error) {
      enrol.error.textContent = `${error.message} Try the next code the app shows.`;
      return;
    }
    enrol.pending = "";
    enrol.code.value = "";
    enrol.form.hidden = true;
    enrol.qr.replaceChildren();
    enrol.secret.textContent = "";
    enrol.error.textContent = "";
    showSecondFactor();
  });

  // --- door devices (an event's own scanners; managers and owners) ---------------------------

  const MANAGING = new Set(["owner", "manager"]);
  const devices = {
    section: byId("devices"), event: byId("devices-event"), list: byId("devices-list"), form: byId("devices-form"),
    name: byId("device-name"), gate: byId("device-gate"), register: byId("device-register"),
    pairing: byId("device-pairing"), qr: byId("device-qr"), link: byId("device-link"),
    done: byId("device-pairing-done"), error: byId("devices-error"), notice: byId("devices-notice"),
  };

  // Shown to the operator (``me`` null) and to owners and managers; the API refuses others (403) anyway.
  async function showDevices(me) {
    if (sessionStorage.getItem(CSRF_KEY) && !(me && me.roles.some((r) => MANAGING.has(r.role)))) return;
    const events = await ownEvents();
    devices.event.replaceChildren(...events.map((event) => {
      const option = element("option", "", `${event.name} (${event.eventId})`);
      option.value = event.eventId;
      return option;
    }));
    devices.section.hidden = events.length === 0;
    if (events.length) await refreshDevices();
  }

  // The public list of events, less those with none of the tiers the overview shows (another organizer's).
  async function ownEvents() {
    const events = await publicJson("/api/events");
    const tiers = await Promise.all(events.map((event) => publicJson(`/api/events/${encodeURIComponent(event.eventId)}/tickets`)));
    return events.filter((event, i) => tiers[i].some((tier) => myTiers.has(tier.tier)));
  }

  async function publicJson(path) {
    const response = await fetch(path).catch(() => null);
    if (!response || !response.ok) throw new Error("The list of events cannot be loaded; reload the page to try again.");
    return response.json();
  }

  function devicesPath(suffix) {
    return `/api/admin/events/${encodeURIComponent(devices.event.value)}/devices${suffix || ""}`;
  }

  async function refreshDevices() {
    try {
      const rows = await api(devicesPath());
      devices.list.replaceChildren(...rows.map(deviceRow));
      devices.error.textContent = "";
    } catch (error) {
      devices.list.replaceChildren();
      devicesRefused(error);
    }
  }

  function devicesRefused(error) {
    if (error instanceof SignedOut) signOut(error.message);
    else devices.error.textContent = error.message;
  }

  function deviceRow(device) {
    const tr = document.createElement("tr");
    tr.dataset.deviceId = device.deviceId;
    const state = device.revokedAt ? `Revoked ${utc(device.revokedAt)}` : "Active";
    tr.append(element("td", "", device.name), element("td", "", device.gate || ""), element("td", "state", state));
    const cell = element("td");
    if (!device.revokedAt) {
      const revoke = element("button", "close revoke", "Revoke");
      revoke.type = "button";
      revoke.setAttribute("aria-label", `Revoke ${device.name}`);
      revoke.addEventListener("click", () => revokeDevice(device, revoke));
      cell.append(revoke);
    }
    tr.append(cell);
    return tr;
  }

  async function revokeDevice(device, button) {
    if (!window.confirm(`Revoke ${device.name}? Its scans are refused from its next one; this cannot be undone.`)) return;
    button.disabled = true;
    try {
      await api(devicesPath(`/${encodeURIComponent(device.deviceId)}/revoke`), {});
      devices.notice.textContent = `Revoked ${device.name}.`;
    } catch (error) {
      button.disabled = false;
      devicesRefused(error);
    }
    await refreshDevices();
  }

  // The pairing QR as SVG parsed as XML (never HTML), so no script or handler of it runs.
  function showPairing(registered) {
    const svg = new DOMParser().parseFromString(registered.qrSvg, "image/svg+xml").documentElement;
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "QR code of the device's pairing link");
    svg.id = "device-qr-code";
    // (segno gives a size and no viewBox: with one, the code scales to the box the page gives it.)
    svg.setAttribute("viewBox", `0 0 ${svg.getAttribute("width")} ${svg.getAttribute("height")}`);
    devices.qr.replaceChildren(document.importNode(svg, true));
    devices.link.textContent = registered.pairingUrl;
    devices.link.href = registered.pairingUrl;
    devices.pairing.hidden = false;
  }

  function hidePairing() {
    devices.pairing.hidden = true;
    devices.qr.replaceChildren();
    devices.link.textContent = "";
    devices.link.removeAttribute("href");
  }

  devices.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = devices.name.value.trim(), gate = devices.gate.value.trim();
    if (!name || !gate) {
      devices.error.textContent = "Give the device a name and a gate.";
      return;
    }
    devices.register.disabled = true;
    hidePairing();
    try {
      showPairing(await api(devicesPath(), { name, gate }));
      devices.notice.textContent = `Registered ${name} at ${gate}.`;
      devices.name.value = "";
      devices.gate.value = "";
      await refreshDevices();
    } catch (error) {
      devicesRefused(error);
    } finally {
      devices.register.disabled = false;
    }
  });
  devices.done.addEventListener("click", hidePairing);
  devices.event.addEventListener("change", () => {
    hidePairing();
    devices.notice.textContent = "";
    refreshDevices();
  });

  // --- who did what (an organizer's staff actions and its devices' scans; every role but the door) ---

  const READING = new Set(["owner", "manager", "box_office", "viewer"]);
  const ACTIVITY_PAGE = 25; // rows shown at first, and added by "Show older"
  const activity = {
    section: byId("activity"), form: byId("activity-form"), organizer: byId("activity-organizer"),
    organizers: byId("activity-organizers"), kind: byId("activity-kind"), search: byId("activity-search"),
    list: byId("activity-list"), count: byId("activity-count"), more: byId("activity-more"),
    error: byId("activity-error"), shown: ACTIVITY_PAGE,
  };
  // Each event in words; one not listed here shows its own name.
  const DONE = {
    Created: "Created the tier", CapacityAdded: "Added capacity", PriceChanged: "Changed the price",
    SalesClosed: "Closed sales",
    Assigned: "Recorded as the organizer's", Founded: "Founded the organizer", MemberEnrolled: "Added to the team",
    MemberRemoved: "Removed from the team", RoleGranted: "Gave a role", RoleRevoked: "Took the role away",
    Issued: "Issued", Revoked: "Revoked", TicketCheckedIn: "Admitted the ticket",
    ScanConflict: "Scanned it again offline: a conflict", Cancelled: "Cancelled the booking for its user",
  };

  // Shown to the operator (``me`` null: any organizer, "default" first) and to members with a
  // reading role (their organizers); a door member does not see it (the API says 403).
  function showActivity(me) {
    const member = Boolean(sessionStorage.getItem(CSRF_KEY));
    const codes = !member ? ["default"] : me ? me.roles.filter((r) => READING.has(r.role)).map((r) => r.organizer) : [];
    if (!codes.length) return;
    activity.organizers.replaceChildren(...codes.map((code) => {
      const option = element("option");
      option.value = code;
      return option;
    }));
    activity.organizer.value = codes[0];
    activity.section.hidden = false;
    refreshActivity();
  }

  function activityPath() {
    const query = new URLSearchParams({ limit: String(activity.shown + 1) }); // one more: are there older?
    if (activity.kind.value) query.set("kind", activity.kind.value);
    const search = activity.search.value.trim();
    if (search) query.set("search", search);
    return `/api/admin/organizers/${encodeURIComponent(activity.organizer.value.trim())}/activity?${query}`;
  }

  async function refreshActivity() {
    activity.list.setAttribute("aria-busy", "true");
    try {
      const rows = (await api(activityPath())).reverse(); // the newest first
      const older = rows.length > activity.shown;
      activity.list.replaceChildren(...rows.slice(0, activity.shown).map(actionRow));
      activity.more.hidden = !older;
      activity.count.textContent = rows.length === 0 ? "Nothing matches."
        : older ? `The newest ${activity.shown} shown.` : `${rows.length} shown: all there are.`;
      activity.error.textContent = "";
    } catch (error) {
      activity.list.replaceChildren();
      activity.more.hidden = true;
      activity.count.textContent = "";
      if (error instanceof SignedOut) signOut(error.message);
      else activity.error.textContent = error.message;
    } finally {
      activity.list.removeAttribute("aria-busy");
    }
  }

  // When, who (and as what), what (and what it came to), on what: each a cell with a label
  // that the phone layout shows beside it.
  function actionRow(action) {
    const tr = document.createElement("tr");
    tr.dataset.kind = action.kind;
    const [name, role] = actorOf(action);
    const subject = action.kind === "door" ? [`ticket ${action.subject}`, `booking ${action.bookingId}`] : [action.subject, ""];
    tr.append(actionCell("When", utc(action.at), ""), actionCell("Who", name, role),
              actionCell("What", DONE[action.what] || action.what, action.kind === "door" ? "" : action.detail),
              actionCell("On what", ...subject));
    return tr;
  }

  function actorOf(action) {
    const kind = (action.actor || "").split(":")[0];
    const name = action.actorName || action.actor || "nobody named";
    if (kind === "device") return [name, action.kind === "door" ? `door device at ${action.detail}` : "door device"];
    if (kind === "member") return [name, "member"];
    if (kind === "key") return [name, "API key"];
    if (kind === "operator") return ["the operator", "admin token"];
    return [name, ""];
  }

  function actionCell(label, text, more) {
    const cell = element("td", "", text);
    cell.dataset.label = label;
    if (more) cell.append(element("small", "", more));
    return cell;
  }

  function showActivityFrom(start) {
    activity.shown = start;
    refreshActivity();
  }

  activity.form.addEventListener("submit", (event) => {
    event.preventDefault();
    showActivityFrom(ACTIVITY_PAGE);
  });
  activity.kind.addEventListener("change", () => showActivityFrom(ACTIVITY_PAGE));
  activity.organizer.addEventListener("change", () => showActivityFrom(ACTIVITY_PAGE));
  activity.more.addEventListener("click", () => showActivityFrom(activity.shown + ACTIVITY_PAGE));

  // --- start -------------------------------------------------------------------------------

  page.loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const email = page.email.value.trim();
    if (email) {
      signInAsStaff(email, page.password.value, page.code.value.trim());
      return;
    }
    const token = page.token.value.trim();
    if (!token) {
      page.loginError.textContent = "Enter your email and password, or the admin token.";
      return;
    }
    signIn(token);
  });
  page.signOut.addEventListener("click", () => signOut(""));

  // A password reset's emailed link: /admin#reset=<token>. The token never leaves this page
  // but to the server (a fragment is not sent in requests or Referer).
  const resetToken = location.hash.startsWith("#reset=") ? location.hash.slice("#reset=".length) : "";
  if (resetToken) {
    page.loginForm.hidden = true;
    page.resetForm.hidden = false;
  }
  page.resetForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/api/staff/password-reset/confirm", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: resetToken, password: page.newPassword.value }),
    }).catch(() => null);
    const data = response && await response.json().catch(() => null);
    if (!response || !response.ok) {
      page.loginError.textContent = data && data.error ? data.error.message : "The server cannot be reached.";
      return;
    }
    history.replaceState(null, "", location.pathname);
    page.newPassword.value = "";
    page.resetForm.hidden = true;
    page.loginForm.hidden = false;
    page.loginError.textContent = "Password set: sign in with it.";
  });
  page.verify.addEventListener("click", refreshAudit);
  window.addEventListener("resize", () => {
    if (live.chart) live.chart.setSize(chartSize(page.liveChart, 220));
    for (const card of cards.values()) if (card.chart) card.chart.setSize(chartSize(card.chartBox, 160));
  });

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (sessionStorage.getItem(CSRF_KEY)) signIn(null);
  else if (saved) signIn(saved);
  else signOut("");
})();
