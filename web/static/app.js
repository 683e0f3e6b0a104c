// The booking page (web/templates/index.html), on the JSON API only.
// Availability arrives live from /api/tickets/stream (Server-Sent Events); when the
// browser has no EventSource or the stream keeps failing, /api/tickets is polled instead.
// Everything the server sends is put on the page as text, never as HTML. A hold (the API's
// cart pattern) shows with a countdown to its expiresAt and Confirm and Release buttons.
// While the sale's waiting room is on (GET /api/queue), booking its tiers needs a pass: the page
// joins the queue, follows the room's frontier (/api/queue/frontier, the same answer for every
// buyer, which an edge cache serves), asks for its own ticket only once the frontier has reached
// its number, and once admitted sends the pass with each booking and counts its time down.
// Besides the default event the page lists the others (GET /api/events). A paid event's priced
// tiers are held, never booked: the hold awaits its payment (GET /api/bookings/<id>/payment),
// shown with its amount, the time left to pay, the bank details and the creditor reference, and
// followed until it is confirmed (tickets), expires (seats back on sale) or is refunded.
// A sold-out tier can still be picked: its button joins the tier's waiting list instead, and the
// page follows the buyer's place (GET /api/users/<id>/waiting-list/<tier>) until a ticket that
// came back is offered to them, which is a hold in their bookings to confirm or pay.
"use strict";

(() => {
  const USER_KEY = "ticket-ledger.userId";
  const POLL_MS = 2000;
  const MAX_STREAM_ERRORS = 3; // failures in a row, without an event between, before polling
  const COUNTDOWN_MS = 250; // redraws often enough that a countdown's second never shows late
  const EXPIRED_RELOAD_MS = 1500; // the server's expiry process ends a hold within ~1 s of expiresAt
  const ROOM_CHECK_MS = 5000; // how often the page asks whether a waiting room is on
  const PLACE_KEY = "ticket-ledger.queueTicket."; // + user id: the place in the queue survives a reload
  const FRONTIER_MS = 1000; // the frontier's max-age: how often a waiting page looks at it
  const PAYMENT_MS = 2000; // how often a payment awaited (or a refund owed) is looked at again
  const WAITING_KEY = "ticket-ledger.waitingFor."; // + user id: the tiers whose lists they joined
  const MAIN = "main"; // the default event: GET /api/tickets and its stream
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
    queue: byId("queue"), queueMessage: byId("queue-message"), queueProgress: byId("queue-progress"),
    queueBar: byId("queue-bar"), queuePosition: byId("queue-position"), queueEta: byId("queue-eta"),
    queuePass: byId("queue-pass"), join: byId("join-button"), eventField: byId("event-field"),
    event: byId("event"), eventTerms: byId("event-terms"), holdHelp: byId("hold-help"),
    paymentNews: byId("payment-news"), places: byId("places"),
  };
  let tiers = [];
  let tierPicked = false;
  let busy = false; // a booking or hold request is on its way
  let bookingsStale = false; // reload the bookings on the next availability change too (read tables may lag)
  let events = []; // GET /api/events: the default event first
  let eventId = MAIN; // the event whose tiers are on the page
  let stopFeed = () => {}; // stops the availability feed of the event on the page
  const paidTiers = new Map(); // tier code -> its event's payment terms: the priced tiers of paid events

  // --- talking to the API -------------------------------------------------------------

  async function api(path, body, headers = {}) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body),
    };
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new Error("The server cannot be reached. Check your connection and try again.");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error(errorText(data) || `The server answered ${response.status}.`);
      error.code = data && data.error && data.error.code;
      throw error;
    }
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
  const waitable = (tier) => tier.onSale && tier.availableQuantity <= 0; // its waiting list can be joined

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
      const note = waitable(tier) ? " (sold out: waiting list)" : ` (${state(tier).toLowerCase()})`;
      option.textContent = `${tier.tier}, ${money(tier)}` + (bookable(tier) ? "" : note);
      option.disabled = !tier.onSale;
      options.delete(tier.tier);
    }
    options.forEach((option) => option.remove());
    // Picks a tier once; never switches later (a sold-out choice stays, to join its waiting list).
    if (!tierPicked || !tiers.some((t) => t.tier === page.tier.value)) {
      const first = tiers.find(bookable) || tiers[0];
      if (first) {
        page.tier.value = first.tier;
        tierPicked = true;
      }
    }
    const selected = tiers.find((t) => t.tier === page.tier.value);
    const waiting = selected && gated(selected.tier) && !passValid();
    const joining = Boolean(selected) && waitable(selected);
    page.button.disabled = busy || !selected || !selected.onSale || waiting;
    page.hold.disabled = page.button.disabled || joining;
    const paid = Boolean(selected) && paidTiers.has(selected.tier); // held while paid for, never booked outright
    page.button.textContent = joining ? "Join the waiting list" : paid ? "Hold and pay" : "Book";
    page.hold.hidden = page.holdHelp.hidden = paid || joining;
  }

  function showTiers(list) {
    tiers = list;
    noteTiers(events.find((e) => e.eventId === eventId), list);
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

  // Follows the availability of the event on the page: the default one live from its stream,
  // any other by polling its tiers (the stream is the default event's).
  function watch(id) {
    stopFeed();
    stopFeed = id === MAIN && window.EventSource ? listen() : poll(id);
  }

  // Returns what stops it.
  function listen() {
    const source = new EventSource("/api/tickets/stream");
    let stopPolling = () => {};
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
        stopPolling = poll(MAIN);
      }
    };
    return () => {
      source.close();
      stopPolling();
    };
  }

  // Returns what stops it.
  function poll(id) {
    const path = id === MAIN ? "/api/tickets" : `/api/events/${encodeURIComponent(id)}/tickets`;
    let stopped = false;
    let timer = null;
    const tick = async () => {
      try {
        const list = await api(path);
        if (stopped) return;
        showTiers(list);
        setMode("polling");
      } catch {
        if (stopped) return;
        setMode("offline");
      }
      timer = setTimeout(tick, POLL_MS);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  // --- events and their payment terms ---------------------------------------------------

  function noteTiers(event, list) {
    if (!event || !event.payment) return;
    for (const tier of list) if (Number(tier.price) > 0) paidTiers.set(tier.tier, event.payment);
  }

  // The events, and the tiers of the paid ones (so that their bookings show their payment
  // whichever event is on the page). The picker shows only when there is more than one event.
  async function loadEvents() {
    try {
      events = await api("/api/events");
    } catch {
      loadBookings(); // the default event's tiers stay on the page
      return;
    }
    await Promise.all(events.filter((e) => e.payment).map(async (e) => {
      try {
        noteTiers(e, await api(`/api/events/${encodeURIComponent(e.eventId)}/tickets`));
      } catch {
        // its bookings show as free ones until its tiers are read
      }
    }));
    const wanted = new URLSearchParams(location.search).get("event");
    page.event.replaceChildren(...events.map((e) => new Option(e.name, e.eventId)));
    page.eventField.hidden = events.length < 2;
    if (wanted && wanted !== eventId && events.some((e) => e.eventId === wanted)) pickEvent(wanted);
    page.event.value = eventId;
    showTerms();
    lastDrawn = null;
    loadBookings();
  }

  function pickEvent(id) {
    eventId = id;
    const url = new URL(location.href);
    url.searchParams.set("event", id);
    history.replaceState(null, "", url);
    tiers = [];
    tierPicked = false;
    page.tier.replaceChildren();
    page.tiers.replaceChildren();
    page.tiers.setAttribute("aria-busy", "true");
    showTerms();
    watch(id);
  }

  function showTerms() {
    const terms = (events.find((e) => e.eventId === eventId) || {}).payment;
    page.eventTerms.hidden = !terms;
    if (terms) {
      page.eventTerms.textContent = `Tickets are paid in ${terms.currency}. A booking is held for ` +
        `${minutes(terms.secondsToPay)} while you pay by bank transfer; it is yours once the money arrives.`;
    }
    updateForm();
  }

  function minutes(seconds) {
    if (seconds < 120) return `${seconds} seconds`;
    return seconds < 7200 ? `${Math.round(seconds / 60)} minutes` : `${Math.round(seconds / 3600)} hours`;
  }

  // --- the waiting room ------------------------------------------------------------------

  let room = null; // the room that is on, or null
  let place = null; // this user's queue place, as the server last described it
  let firstPosition = null; // the first place seen: the progress bar's start
  let following = null; // the timer of the next look at the frontier

  const gated = (tier) => Boolean(room) && (room.tiers === null || room.tiers.includes(tier));
  const passValid = () => Boolean(place && place.state === "admitted" && Date.parse(place.passExpiresAt) > Date.now());
  // The ticket kept as "<room id> <ticket>" (the ticket is signed: its room is not readable at a glance).
  const storage = {
    get: () => { try { return localStorage.getItem(PLACE_KEY + userId()); } catch { return null; } },
    set: (id) => {
      try { localStorage.setItem(PLACE_KEY + userId(), `${room.roomId} ${id}`); } catch { /* the page's life only */ }
    },
  };

  async function loadRoom() {
    let answer;
    try {
      answer = await api("/api/queue");
    } catch {
      return; // the queue's store is not answering: leave things as they are
    }
    const before = room && room.roomId;
    room = answer.active ? answer : null;
    if (!room) {
      stopFollowing();
      place = null;
    } else if (room.roomId !== before) {
      const stored = storage.get();
      if (stored && stored.startsWith(room.roomId + " ")) follow(stored.slice(room.roomId.length + 1));
    }
    showQueue();
    updateForm();
  }

  async function join() {
    page.join.disabled = true;
    try {
      firstPosition = null; // a new place (after a lapsed pass) starts a new bar
      showPlace(await api("/api/queue", { userId: userId() }));
      storage.set(place.ticketId);
      if (place.state === "waiting") follow(place.ticketId);
    } catch (error) {
      say(error.message, true);
      if (error.code === "WAITING_ROOM_OFF") loadRoom();
    } finally {
      page.join.disabled = false;
    }
  }

  function stopFollowing() {
    clearTimeout(following);
    following = null;
  }

  // The page waits on the room's frontier, the same for every buyer (an edge answers it from its
  // cache), and asks for its own ticket only when that may have changed: the frontier reached its
  // number, its number was drawn at the opening, the sale sold out, or the page has not seen it yet.
  function follow(ticketId) {
    stopFollowing();
    following = setTimeout(() => lookAtFrontier(ticketId), 0);
  }

  async function lookAtFrontier(ticketId) {
    let frontier;
    try {
      frontier = await api("/api/queue/frontier");
    } catch {
      following = setTimeout(() => lookAtFrontier(ticketId), 2 * FRONTIER_MS);
      return;
    }
    if (!frontier.active || !room || frontier.roomId !== room.roomId) return loadRoom();
    const mine = place && place.ticketId === ticketId ? place : null;
    const turn = mine && mine.number !== null && frontier.admitted >= mine.number;
    const drawn = mine && mine.number === null && Date.now() >= Date.parse(frontier.opensAt);
    if (!mine || turn || drawn || frontier.soldOut) {
      try {
        showPlace(await api(`/api/queue/${encodeURIComponent(ticketId)}`));
      } catch {
        following = setTimeout(() => lookAtFrontier(ticketId), 2 * FRONTIER_MS);
        return;
      }
      if (!place) return;
      ticketId = place.ticketId; // signed again once its number is final: keep the latest
      storage.set(ticketId);
    } else if (mine.number !== null) {
      const position = mine.number - frontier.admitted;
      const wait = frontier.rate > 0 ? position / frontier.rate : null;
      showPlace({ ...mine, position, admitted: frontier.admitted, estimatedWaitSeconds: wait,
        message: `You are number ${position} in the queue.` });
    }
    if (place && place.state === "waiting") following = setTimeout(() => lookAtFrontier(ticketId), FRONTIER_MS);
  }

  function showPlace(next) {
    if (next.state === "closed") {
      place = null;
      loadRoom();
      return;
    }
    place = next;
    if (place.position && (firstPosition === null || place.position > firstPosition)) firstPosition = place.position;
    showQueue();
    updateForm();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "waiting for admissions to resume";
    if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s`;
    return `about ${Math.round(seconds / 60)} min`;
  }

  // Puts the room and the place on the page; the form stays for tiers outside the room.
  function showQueue() {
    page.queue.hidden = !room;
    if (!room) return;
    const state = place ? place.state : "none";
    page.queue.dataset.state = state;
    page.join.hidden = !(state === "none" || state === "expired");
    page.queueProgress.hidden = state !== "waiting";
    page.queuePass.hidden = state !== "admitted";
    const what = room.tiers === null ? "this sale" : room.tiers.join(", ");
    page.queueMessage.textContent = place ? place.message : `A waiting room is on for ${what}: join the queue to book.`;
    if (state === "waiting" && place.position === null) {
      const opens = new Date(place.opensAt).toLocaleTimeString();
      page.queueMessage.textContent = `The sale opens at ${opens}. Everyone who joins before then gets a place ` +
        "drawn at random at the opening: arriving early gives no edge.";
    }
    if (state === "admitted") page.queueMessage.textContent = "Your turn: book now, with the form below.";
    if (state === "waiting") {
      if (place.position === null) {
        page.queueBar.removeAttribute("value"); // before the opening: no place yet
        page.queuePosition.textContent = "Places are drawn at the opening.";
      } else {
        page.queueBar.value = firstPosition > 0 ? (firstPosition - place.position + 1) / (firstPosition + 1) : 0;
        page.queuePosition.textContent = `Number ${place.position} in the queue`;
      }
      page.queueEta.textContent = `· ${duration(place.estimatedWaitSeconds)}`;
    }
    if (state === "admitted") countDownPass();
  }

  // The pass's time left; when it is up the page says so (the server would refuse it now).
  function countDownPass() {
    if (!place || place.state !== "admitted") return;
    const left = Math.ceil((Date.parse(place.passExpiresAt) - Date.now()) / 1000);
    if (left > 0) {
      const seconds = String(left % 60).padStart(2, "0");
      page.queuePass.textContent = `Your pass: book within ${Math.floor(left / 60)}:${seconds}`;
      return;
    }
    place = { ...place, state: "expired", message: "Your pass has expired: join again for a new place at the back." };
    showQueue();
    updateForm();
  }

  // --- bookings -------------------------------------------------------------------------

  // What each status lets its user do: the button, the request's path and what to say after.
  const ACTIONS = {
    confirmed: [{ name: "cancel", label: "Cancel", kind: "bookings", done: "Cancelled", noun: "booking" }],
    held: [{ name: "confirm", label: "Confirm", kind: "holds", done: "Confirmed", noun: "hold" },
           { name: "release", label: "Release", kind: "holds", done: "Released", noun: "hold", className: "secondary" }],
  };

  function bookingItem(booking) {
    const payment = payments.get(booking.bookingId);
    if (payment) return paidBookingItem(booking, payment);
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
    if (booking.status === "confirmed") item.append(ticketsDetails(booking));
    if (booking.status === "held") {
      startCountDown(item, booking.expiresAt, "expires in");
    }
    return item;
  }

  function startCountDown(item, until, words) {
    const expires = element("span", "expires");
    expires.setAttribute("role", "timer"); // a timer is not read out on every tick
    item.dataset.expiresAt = until;
    item.dataset.countdown = words;
    item.querySelector(".status").after(expires);
    if (countDown(item)) bookingsStale = true; // already up: the expiry's availability change reloads
  }

  // --- paying for a booking of a paid tier ----------------------------------------------

  const payments = new Map(); // booking id -> its payment as last read
  const paymentStates = new Map(); // booking id -> the state last shown, to announce a change

  // What a paid booking's money says, in the buyer's words: one of awaiting, confirmed,
  // expired, released, refund-owed, refunded, cancelled.
  function paymentState(booking, payment) {
    if (payment.refundRequested > 0) return payment.refunded >= payment.refundRequested ? "refunded" : "refund-owed";
    if (booking.status === "held") return "awaiting";
    return booking.status;
  }

  const STATE_WORDS = {
    awaiting: "Awaiting payment", confirmed: "Confirmed", expired: "Expired", released: "Released",
    "refund-owed": "Refund on its way", refunded: "Refunded", cancelled: "Cancelled",
  };

  function amount(minor, currency) {
    const format = new Intl.NumberFormat("en-US", { style: "currency", currency });
    return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
  }

  // A reference or an IBAN as it is printed for people to type: in groups of four.
  const grouped = (text) => text.replace(/(.{4})(?!$)/g, "$1 ");

  function paidBookingItem(booking, payment) {
    const state = paymentState(booking, payment);
    const item = element("li", `booking paid ${booking.status}`);
    item.dataset.bookingId = booking.bookingId;
    item.dataset.status = booking.status;
    item.dataset.payment = state;
    const when = new Date(booking.createdAt).toLocaleString();
    item.append(element("span", "what", `${booking.quantity} × ${booking.tier}`),
                element("span", "status", STATE_WORDS[state]), element("span", "when", when));
    const buttons = element("span", "buttons");
    if (state === "awaiting") {
      buttons.append(actionButton(booking, ACTIONS.held.find((a) => a.name === "release")));
      startCountDown(item, payment.dueAt, "pay within");
    }
    if (state === "confirmed") buttons.append(actionButton(booking, ACTIONS.confirmed[0]));
    if (state === "expired" || state === "released") buttons.append(tryAgainButton(booking));
    if (buttons.childElementCount) item.append(buttons);
    item.append(paymentPanel(booking, payment, state));
    if (state === "confirmed") item.append(ticketsDetails(booking));
    return item;
  }

  function paymentPanel(booking, payment, state) {
    const panel = element("div", "payment");
    const total = amount(payment.amountDue, payment.currency);
    const line = (text) => panel.append(element("p", "payment-state", text));
    if (state === "awaiting") {
      const by = new Date(payment.dueAt).toLocaleTimeString();
      line(`Pay ${total} by ${by}. The tickets are yours once the money arrives; unpaid by then, the hold ends.`);
      if (payment.card) {
        panel.append(cardButton(booking, total));
        line("Or by bank transfer:");
      }
      panel.append(bankDetails(payment, total));
    } else if (state === "confirmed") {
      line(`Paid ${amount(payment.received, payment.currency)}. Your tickets are below.`);
    } else if (state === "expired" || state === "released") {
      const why = state === "expired" ? "Not paid in time: the hold expired" : "Released";
      line(`${why}, and its seats are back on sale.`);
    } else if (state === "refund-owed") {
      const owed = amount(payment.refundRequested - payment.refunded, payment.currency);
      line(`${lateOrCancelled(booking)} A refund of ${owed} is on its way to you.`);
    } else if (state === "refunded") {
      line(`${lateOrCancelled(booking)} Refunded ${amount(payment.refunded, payment.currency)}.`);
    } else {
      line("Cancelled. This event's terms give nothing back on cancellation.");
    }
    return panel;
  }

  function lateOrCancelled(booking) {
    return booking.status === "cancelled" ? "Cancelled." : "Your payment came after the hold had ended.";
  }

  // The account to transfer to and the reference to give with it, each with a copy button.
  function bankDetails(payment, total) {
    const list = element("dl", "bank");
    const row = (label, value, copy) => {
      const data = element("dd", "", "");
      data.append(element("span", "value", value));
      if (copy) data.append(copyButton(label, copy));
      list.append(element("dt", "", label), data);
    };
    row("Amount", total);
    const { accountHolder, iban } = payment.bank;
    if (accountHolder) row("Account holder", accountHolder);
    if (iban) row("IBAN", grouped(iban), iban);
    row("Reference", grouped(payment.reference), payment.reference);
    list.querySelector("dd:last-child .value").classList.add("reference");
    if (!iban) list.append(element("p", "no-bank", "Pay at the box office, giving this reference."));
    return list;
  }

  function copyButton(label, text) {
    const button = element("button", "copy secondary", "Copy");
    button.type = "button";
    button.setAttribute("aria-label", `Copy the ${label === "IBAN" ? label : label.toLowerCase()}`);
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text);
        page.paymentNews.textContent = `${label} copied: ${text}`;
      } catch {
        page.paymentNews.textContent = `Copying is not allowed here: select the ${label} and copy it.`;
      }
    });
    return button;
  }

  // Card payments go through Stripe Checkout: the page loads no Stripe script (its CSP allows
  // this origin only); it sends the buyer to Stripe's page, which sends them back here, and the
  // booking is confirmed by Stripe's webhook, which this page then sees as for any payment.
  function cardButton(booking, total) {
    const button = element("button", "card", `Pay ${total} by card`);
    button.type = "button";
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const session = await api(`/api/bookings/${encodeURIComponent(booking.bookingId)}/payment/checkout`, {});
        location.assign(session.url);
      } catch (error) {
        button.disabled = false;
        say(error.message, true);
      }
    });
    return button;
  }

  function tryAgainButton(booking) {
    const button = element("button", "again", "Try again");
    button.type = "button";
    button.setAttribute("aria-label", `Hold ${booking.quantity} × ${booking.tier} again`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const receipt = await api("/api/tickets/hold", { userId: booking.userId, tier: booking.tier, quantity: booking.quantity });
        say(`Held ${receipt.heldQuantity} × ${receipt.tier} again: pay below to get the tickets.`, false);
      } catch (error) {
        button.disabled = false;
        return say(error.message, true);
      }
      bookingsStale = true;
      await loadBookings();
    });
    return button;
  }

  // Reads the payments of the paid bookings that have one (a held one's is opened here, the
  // first time): a payment is opened only for a hold, so an ended hold's is read only if the
  // page has seen it.
  async function readPayments(list) {
    const paid = list.filter((b) => paidTiers.has(b.tier) &&
      (["held", "confirmed", "cancelled"].includes(b.status) || payments.has(b.bookingId)));
    await Promise.all(paid.map(async (booking) => {
      try {
        payments.set(booking.bookingId, await api(`/api/bookings/${encodeURIComponent(booking.bookingId)}/payment`));
      } catch {
        // shown as before (or, never read, as a plain booking) until the next look
      }
    }));
  }

  // Says in the live region what changed about a payment since it was last shown.
  function announce(list) {
    for (const booking of list) {
      const payment = payments.get(booking.bookingId);
      if (!payment) continue;
      const state = paymentState(booking, payment);
      const before = paymentStates.get(booking.bookingId);
      paymentStates.set(booking.bookingId, state);
      if (before === undefined || before === state) continue;
      const what = `${booking.quantity} × ${booking.tier}`;
      page.paymentNews.textContent = {
        confirmed: `Payment received: ${what} is confirmed. Your tickets are below.`,
        expired: `Not paid in time: the hold of ${what} expired.`,
        "refund-owed": `A refund for ${what} is on its way.`,
        refunded: `${what} refunded.`,
      }[state] || `${what}: ${STATE_WORDS[state].toLowerCase()}.`;
    }
  }

  // While a payment is awaited or a refund owed, the page looks again: the money arrives
  // elsewhere (the bank, the box office, the card's webhook), with no change of availability.
  function followPayments() {
    const waiting = page.bookings.querySelector('[data-payment="awaiting"], [data-payment="refund-owed"]');
    if (waiting && !document.hidden) loadBookings();
  }

  // A confirmed booking's tickets, loaded when opened: each seat's QR code (an SVG element made
  // by the server, parsed as SVG, never as HTML) and its code as text, to show at the door.
  // The list is drawn again on every change of availability; what was open stays open.
  // A booking's tickets are loaded once (a code never changes) and drawn again from memory.
  const openTickets = new Set();
  const loadedTickets = new Map(); // booking id -> its tickets
  function ticketsDetails(booking) {
    const details = element("details", "tickets");
    details.append(element("summary", "", `Tickets (${booking.quantity})`));
    details.addEventListener("toggle", async () => {
      (details.open ? openTickets.add : openTickets.delete).call(openTickets, booking.bookingId);
      if (!details.open || details.dataset.loaded) return;
      details.dataset.loaded = "yes";
      try {
        if (!loadedTickets.has(booking.bookingId)) {
          loadedTickets.set(booking.bookingId, await api(`/api/bookings/${booking.bookingId}/tickets`));
        }
        details.append(...loadedTickets.get(booking.bookingId).map(ticketItem));
      } catch (error) {
        delete details.dataset.loaded;
        say(error.message, true);
      }
    });
    details.open = openTickets.has(booking.bookingId);
    return details;
  }

  function ticketItem(ticket) {
    const figure = element("figure", "ticket");
    figure.dataset.ticketId = ticket.ticketId;
    const svg = new DOMParser().parseFromString(ticket.qrSvg, "image/svg+xml").documentElement;
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `QR code of ${ticket.tier} ticket ${ticket.seat + 1}`);
    const used = ticket.checkedInAt ? ` · checked in ${new Date(ticket.checkedInAt).toLocaleString()}` : "";
    const caption = element("figcaption", "", `${ticket.tier} #${ticket.seat + 1}${used}`);
    caption.append(element("code", "ticket-code", ticket.code));
    figure.append(document.importNode(svg, true), caption);
    return figure;
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
      item.querySelector(".expires").textContent = `${item.dataset.countdown} ${Math.floor(left / 60)}:${seconds}`;
      return false;
    }
    item.classList.replace("held", "expired"); // out of tick()'s reach from now on
    item.querySelector(".status").textContent = item.dataset.payment ? STATE_WORDS.expired : "expired";
    if (item.dataset.payment) item.dataset.payment = "expired";
    item.querySelector(".expires").textContent = "";
    item.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    return true;
  }

  // When a countdown runs out, reloads the bookings for the server's word on it: shortly after,
  // and again with the availability change that the expiry brings (read tables may lag).
  function tick() {
    countDownPass();
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
    await readPayments(list);
    if (user !== userId()) return; // the id changed meanwhile; its own load is on its way
    announce(list);
    // Drawn again only when something changed, so that a focused button keeps its focus.
    const drawing = JSON.stringify([list, list.map((b) => payments.get(b.bookingId) || null)]);
    if (drawing === lastDrawn) return;
    lastDrawn = drawing;
    page.bookings.replaceChildren(...list.map(bookingItem));
    page.noBookings.hidden = list.length > 0;
  }
  let lastDrawn = null;

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
    const selected = tiers.find((t) => t.tier === page.tier.value);
    if (selected && waitable(selected)) return joinWaitingList(selected.tier);
    const holding = event.submitter === page.hold || paidTiers.has(page.tier.value);
    busy = true;
    updateForm();
    try {
      const headers = gated(page.tier.value) && passValid() ? { "Queue-Pass": place.queuePass } : {};
      const receipt = await api(holding ? "/api/tickets/hold" : "/api/tickets/book", {
        userId: userId(), tier: page.tier.value, quantity: Number(page.quantity.value),
      }, headers);
      const what = holding ? `Held ${receipt.heldQuantity}` : `Booked ${receipt.bookedQuantity}`;
      const paying = paidTiers.has(receipt.tier) ? " Pay below to get the tickets." : "";
      say(`${what} × ${receipt.tier}. ${receipt.remainingQuantity} left.${paying}`, false);
      bookingsStale = true;
      await loadBookings();
    } catch (error) {
      if (error.code === "PAYMENT_REQUIRED") {
        say("This tier is sold through a payment: hold it, then pay.", false); // the tier was not known as paid yet
        loadEvents();
        return;
      }
      say(error.message, true);
      if (error.code === "QUEUE_PASS_REQUIRED" || error.code === "QUEUE_PASS_EXPIRED") loadRoom();
    } finally {
      busy = false;
      updateForm();
    }
  }

  // --- waiting lists ----------------------------------------------------------------------

  let places = new Map(); // tier -> the user's place on its list, as last read

  function waitingFor() {
    try {
      return JSON.parse(localStorage.getItem(WAITING_KEY + userId()) || "[]");
    } catch {
      return []; // storage disabled or spoilt: the places are followed while the page lasts
    }
  }

  function rememberWaiting(tiersJoined) {
    try {
      localStorage.setItem(WAITING_KEY + userId(), JSON.stringify(tiersJoined));
    } catch {
      // as above
    }
  }

  async function joinWaitingList(tier) {
    busy = true;
    updateForm();
    try {
      const entry = await api("/api/tickets/waiting-list", {
        userId: userId(), tier, quantity: Number(page.quantity.value),
      }, gated(tier) && passValid() ? { "Queue-Pass": place.queuePass } : {});
      rememberWaiting([...new Set([...waitingFor(), tier])]);
      say(`You are on the waiting list for ${entry.quantity} × ${tier}: number ${entry.position} in line.`, false);
      await followPlaces();
    } catch (error) {
      say(error.message, true);
    } finally {
      busy = false;
      updateForm();
    }
  }

  async function leaveWaitingList(tier, button) {
    button.disabled = true;
    try {
      await api("/api/tickets/waiting-list/leave", { userId: userId(), tier });
      say(`You left the waiting list for ${tier}.`, false);
    } catch (error) {
      button.disabled = false;
      return say(error.message, true);
    }
    await followPlaces();
  }

  function placeItem(place) {
    const item = element("li", `booking place ${place.status}`);
    item.dataset.tier = place.tier;
    item.dataset.status = place.status;
    const what = element("span", "what", `${place.quantity} × ${place.tier}`);
    if (place.status === "offered") {
      const until = new Date(place.offer.expiresAt).toLocaleTimeString();
      item.append(what, element("span", "status", `Came back for you: held below until ${until}`));
      return item;
    }
    const leave = element("button", "secondary leave", "Leave");
    leave.type = "button";
    leave.setAttribute("aria-label", `Leave the waiting list for ${place.tier}`);
    leave.addEventListener("click", () => leaveWaitingList(place.tier, leave));
    const buttons = element("span", "buttons");
    buttons.append(leave);
    item.append(what, element("span", "status", `Waiting list: number ${place.position} of ${place.waiting}`), buttons);
    return item;
  }

  // Reads the user's place on each list they joined. A place no longer there (its offer was
  // confirmed, released or lapsed, or the user left) is forgotten; an offer or an ended place
  // changes the bookings, so those are read again.
  async function followPlaces() {
    const user = userId();
    const joined = waitingFor();
    const read = await Promise.all(joined.map(async (tier) => {
      try {
        return await api(`/api/users/${encodeURIComponent(user)}/waiting-list/${encodeURIComponent(tier)}`);
      } catch (error) {
        return error.code === "NOT_ON_WAITING_LIST" ? null : places.get(tier) || undefined; // undefined: not known yet
      }
    }));
    if (user !== userId()) return;
    const now = new Map(joined.map((tier, i) => [tier, read[i]]).filter(([, place]) => place !== null));
    const changed = joined.some((tier) => (places.get(tier) || {}).status !== (now.get(tier) || {}).status);
    rememberWaiting([...now.keys()]);
    places = new Map([...now].filter(([, place]) => place));
    page.places.replaceChildren(...[...places.values()].map(placeItem));
    if (changed) {
      bookingsStale = true;
      loadBookings();
    }
  }

  // --- start ----------------------------------------------------------------------------

  page.user.value = remembered() || newUserId();
  remember(page.user.value);
  page.user.addEventListener("change", () => {
    remember(userId());
    say("", false);
    loadBookings();
    stopFollowing(); // another user: another place in the queue
    place = null;
    places = new Map();
    followPlaces();
    room = null;
    loadRoom();
  });
  page.join.addEventListener("click", join);
  page.tier.addEventListener("change", updateForm);
  page.event.addEventListener("change", () => pickEvent(page.event.value));
  page.form.addEventListener("submit", book);
  watch(eventId);
  loadEvents(); // then the bookings, with their payments
  loadRoom();
  setInterval(followPayments, PAYMENT_MS);
  followPlaces();
  setInterval(followPlaces, PAYMENT_MS);
  setInterval(loadRoom, ROOM_CHECK_MS);
  setInterval(tick, COUNTDOWN_MS);
})();
