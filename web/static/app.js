// The booking page (web/templates/index.html), on the JSON API only.
// Availability arrives live from /api/tickets/stream (Server-Sent Events); when the
// browser has no EventSource or the stream keeps failing, /api/tickets is polled instead.
// Everything the server sends is put on the page as text, never as HTML. A hold (the API's
// cart pattern) shows with a countdown to its expiresAt and Confirm and Release buttons.
"use strict";

(() => {
  const USER_KEY = "ticket-ledger.userId";
  const POLL_MS = 2000;
  const MAX_STREAM_ERRORS = 3; // failures in a row, without an event between, before polling
  const COUNTDOWN_MS = 250; // redraws often enough that a countdown's second never shows late
  const EXPIRED_RELOAD_MS = 1500; // the server's expiry process ends a hold within ~1 s of expiresAt
  const MODES = {
    connecting: "Connecting…",
    live: "Live: availability updates as it changes.",
    polling: "Availability updates every 2 seconds.",
    offline: "Cannot reach the server; trying again…",
  };

  const byId = (id) => document.getElementById(id);
  const page = {
    connection: byId("connection"), tiers: byId("tiers"), form: byId("book-form"), user: byId("user-id"),
    tier: byId("tier"), quantity: byId("quantity"), button: byId("book-button"), hold: byId("hold-button"),
    notice: byId("notice"), error: byId("error"), bookings: byId("bookings"), noBookings: byId("no-bookings"),
  };
  let tiers = [];
  let tierPicked = false;
  let busy = false; // a booking or hold request is on its way
  let bookingsStale = false; // reload the bookings on the next availability change too (read tables may lag)

  // --- talking to the API -------------------------------------------------------------

  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new Error("The server cannot be reached. Check your connection and try again.");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(errorText(data) || `The server answered ${response.status}.`);
    return data;
  }

  // The API's {"error": {"code", "message", "details": [{"path", "message"}]}} as one text: the
  // message, and for a validation error (whose message is general) what is wrong with which field.
  function errorText(data) {
    const error = data && data.error;
    if (!error) return "";
    const details = error.code === "VALIDATION_ERROR" ? error.details || [] : [];
    return [error.message, ...details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message))].join(" ");
  }

  function say(message, isError) {
    page.notice.textContent = isError ? "" : message;
    page.error.textContent = isError ? message : "";
  }

  // --- the user id ----------------------------------------------------------------------

  function remembered() {
    try {
      return localStorage.getItem(USER_KEY);
    } catch {
      return null; // storage disabled: the id lasts as long as the page
    }
  }

  function remember(id) {
    try {
      localStorage.setItem(USER_KEY, id);
    } catch {
      // as above
    }
  }

  // In the API's open default the user id is all it takes to act as that user: 128 random bits.
  function newUserId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "user-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const userId = () => page.user.value.trim();

  // --- tiers ------------------------------------------------------------------------------

  const bookable = (tier) => tier.onSale && tier.availableQuantity > 0;

  function state(tier) {
    if (!tier.onSale) return "Not on sale";
    if (tier.availableQuantity <= 0) return "Sold out";
    return `${tier.availableQuantity} of ${tier.capacity} left`;
  }

  function money(tier) {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: tier.currency }).format(Number(tier.price));
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function tierItem(tier) {
    const item = element("li", bookable(tier) ? "tier" : "tier unavailable");
    item.dataset.tier = tier.tier;
    item.append(element("span", "name", tier.tier), element("span", "price", money(tier)),
                element("span", "available", state(tier)));
    return item;
  }

  // Updates the options in place, so an open drop-down is not rebuilt under the user's finger.
  function updateForm() {
    const options = new Map(Array.from(page.tier.options, (o) => [o.value, o]));
    for (const tier of tiers) {
      const option = options.get(tier.tier) || page.tier.appendChild(new Option("", tier.tier));
      option.textContent = `${tier.tier}, ${money(tier)}` + (bookable(tier) ? "" : ` (${state(tier).toLowerCase()})`);
      option.disabled = !bookable(tier);
      options.delete(tier.tier);
    }
    options.forEach((option) => option.remove());
    // Picks a tier once; never switches later (a sold-out choice stays, with Book disabled).
    if (!tierPicked || !tiers.some((t) => t.tier === page.tier.value)) {
      const first = tiers.find(bookable) || tiers[0];
      if (first) {
        page.tier.value = first.tier;
        tierPicked = true;
      }
    }
    const selected = tiers.find((t) => t.tier === page.tier.value);
    page.button.disabled = page.hold.disabled = busy || !selected || !bookable(selected);
  }

  function showTiers(list) {
    tiers = list;
    page.tiers.replaceChildren(...list.map(tierItem));
    page.tiers.removeAttribute("aria-busy");
    updateForm();
    if (bookingsStale) {
      bookingsStale = false;
      loadBookings();
    }
  }

  function setMode(mode) {
    page.connection.dataset.mode = mode;
    page.connection.textContent = MODES[mode];
  }

  function listen() {
    if (!window.EventSource) return poll();
    const source = new EventSource("/api/tickets/stream");
    let errors = 0;
    source.onmessage = (event) => {
      errors = 0;
      setMode("live");
      showTiers(JSON.parse(event.data));
    };
    // Also fires when the server ends a stream on time; the browser then reconnects by itself.
    source.onerror = () => {
      errors += 1;
      if (source.readyState === EventSource.CLOSED || errors >= MAX_STREAM_ERRORS) {
        source.close();
        poll();
      }
    };
  }

  function poll() {
    const tick = async () => {
      try {
        showTiers(await api("/api/tickets"));
        setMode("polling");
      } catch {
        setMode("offline");
      }
      setTimeout(tick, POLL_MS);
    };
    tick();
  }

  // --- bookings -------------------------------------------------------------------------

  // What each status lets its user do: the button, the request's path and what to say after.
  const ACTIONS = {
    confirmed: [{ name: "cancel", label: "Cancel", kind: "bookings", done: "Cancelled", noun: "booking" }],
    held: [{ name: "confirm", label: "Confirm", kind: "holds", done: "Confirmed", noun: "hold" },
           { name: "release", label: "Release", kind: "holds", done: "Released", noun: "hold", className: "secondary" }],
  };

  function bookingItem(booking) {
    const item = element("li", `booking ${booking.status}`);
    item.dataset.bookingId = booking.bookingId;
    item.dataset.status = booking.status;
    const when = new Date(booking.createdAt).toLocaleString();
    item.append(element("span", "what", `${booking.quantity} × ${booking.tier}`),
                element("span", "status", booking.status), element("span", "when", when));
    const actions = ACTIONS[booking.status] || [];
    if (actions.length) {
      const buttons = element("span", "buttons");
      buttons.append(...actions.map((action) => actionButton(booking, action)));
      item.append(buttons);
    }
    if (booking.status === "held") {
      const expires = element("span", "expires");
      expires.setAttribute("role", "timer"); // a timer is not read out on every tick
      item.dataset.expiresAt = booking.expiresAt;
      item.querySelector(".status").after(expires);
      if (countDown(item)) bookingsStale = true; // already up: the expiry's availability change reloads
    }
    return item;
  }

  function actionButton(booking, action) {
    const button = element("button", [action.name, action.className].filter(Boolean).join(" "), action.label);
    button.type = "button";
    button.setAttribute("aria-label", `${action.label} ${action.noun} of ${booking.quantity} × ${booking.tier}`);
    button.addEventListener("click", () => act(booking, action, button));
    return button;
  }

  // Shows a held booking's time left. Once it is up the server refuses to confirm or release it,
  // so it shows as expired at once, before the expiry process says so. Returns whether it is up.
  function countDown(item) {
    const left = Math.ceil((Date.parse(item.dataset.expiresAt) - Date.now()) / 1000);
    if (left > 0) {
      const seconds = String(left % 60).padStart(2, "0");
      item.querySelector(".expires").textContent = `expires in ${Math.floor(left / 60)}:${seconds}`;
      return false;
    }
    item.classList.replace("held", "expired"); // out of tick()'s reach from now on
    item.querySelector(".status").textContent = "expired";
    item.querySelector(".expires").textContent = "";
    item.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    return true;
  }

  // When a countdown runs out, reloads the bookings for the server's word on it: shortly after,
  // and again with the availability change that the expiry brings (read tables may lag).
  function tick() {
    const held = Array.from(page.bookings.querySelectorAll(".booking.held"));
    if (held.map(countDown).some(Boolean)) {
      bookingsStale = true;
      setTimeout(loadBookings, EXPIRED_RELOAD_MS);
    }
  }

  async function loadBookings() {
    const user = userId();
    let list = [];
    if (user) {
      try {
        list = await api(`/api/users/${encodeURIComponent(user)}/bookings`);
      } catch (error) {
        return say(error.message, true);
      }
    }
    if (user !== userId()) return; // the id changed meanwhile; its own load is on its way
    page.bookings.replaceChildren(...list.map(bookingItem));
    page.noBookings.hidden = list.length > 0;
  }

  async function act(booking, action, button) {
    button.disabled = true;
    const path = `/api/${action.kind}/${encodeURIComponent(booking.bookingId)}/${action.name}`;
    try {
      await api(path, { userId: booking.userId });
      say(`${action.done} ${booking.quantity} × ${booking.tier}.`, false);
    } catch (error) {
      button.disabled = false;
      return say(error.message, true);
    }
    bookingsStale = true;
    await loadBookings();
  }

  // Book and Hold both submit the form (Enter books); the button pressed picks the request.
  async function book(event) {
    event.preventDefault();
    const holding = event.submitter === page.hold;
    busy = true;
    updateForm();
    try {
      const receipt = await api(holding ? "/api/tickets/hold" : "/api/tickets/book", {
        userId: userId(), tier: page.tier.value, quantity: Number(page.quantity.value),
      });
      const what = holding ? `Held ${receipt.heldQuantity}` : `Booked ${receipt.bookedQuantity}`;
      say(`${what} × ${receipt.tier}. ${receipt.remainingQuantity} left.`, false);
      bookingsStale = true;
      await loadBookings();
    } catch (error) {
      say(error.message, true);
    } finally {
      busy = false;
      updateForm();
    }
  }

  // --- start ----------------------------------------------------------------------------

  page.user.value = remembered() || newUserId();
  remember(page.user.value);
  page.user.addEventListener("change", () => {
    remember(userId());
    say("", false);
    loadBookings();
  });
  page.tier.addEventListener("change", updateForm);
  page.form.addEventListener("submit", book);
  listen();
  loadBookings();
  setInterval(tick, COUNTDOWN_MS);
})();
