// The door scanner (/scanner): admits a typed, pasted or photographed ticket code with
// POST /api/checkin, or, offline, keeps each scan in this browser with its own id and time and
// uploads them later (POST /api/checkin/uploads, 50 a request), showing the conflicts reported.
// A door device is paired by opening its pairing link (/scanner#device=<token>, from the
// manager's registration): the token is kept in this browser, out of the address bar, and
// the page opens on the device's event and gate (GET /api/checkin/device).
(() => {
  "use strict";
  const byId = (id) => document.getElementById(id);
  const form = byId("scan-form"), gate = byId("gate"), token = byId("token"), code = byId("code");
  const offline = byId("offline"), upload = byId("upload-button"), verdict = byId("verdict");
  const pairing = byId("pairing"), unpair = byId("unpair-button");
  const KEPT = "scanner.offlineScans", DEVICE = "scanner.device", RECENT = 10;
  const kept = () => JSON.parse(localStorage.getItem(KEPT) || "[]");
  const keep = (scans) => { localStorage.setItem(KEPT, JSON.stringify(scans)); showKept(); };
  const device = () => localStorage.getItem(DEVICE) || "";
  const time = (iso) => new Date(iso).toLocaleTimeString();
  for (const [input, key] of [[gate, "scanner.gate"], [token, "scanner.token"]]) {
    input.value = localStorage.getItem(key) || "";
    input.addEventListener("change", () => localStorage.setItem(key, input.value));
  }

  function item(text, kind) {
    const li = document.createElement("li");
    li.textContent = text;
    if (kind) li.dataset.kind = kind;
    return li;
  }

  function showKept() {
    const scans = kept(), count = scans.length;
    upload.textContent = `Upload ${count} scan${count === 1 ? "" : "s"}`;
    upload.disabled = count === 0;
    byId("waiting-section").hidden = count === 0;
    byId("waiting").replaceChildren(...scans.map((scan) => item(`${time(scan.scannedAt)} · …${scan.code.slice(-8)}`)));
  }

  // The answer, big: data-kind says let in or not (its colour), data-answer which answer.
  function say(text, kind, answer) {
    verdict.textContent = text;
    verdict.dataset.kind = kind;
    verdict.dataset.answer = answer;
    const recent = byId("recent");
    recent.prepend(item(`${new Date().toLocaleTimeString()} · ${text}`, kind));
    while (recent.children.length > RECENT) recent.lastElementChild.remove();
    byId("recent-section").hidden = false;
  }

  function bearer() {
    const secret = device() || token.value;
    return secret ? { Authorization: `Bearer ${secret}` } : {};
  }

  async function send(method, path, body) {
    const headers = { ...bearer(), ...(body ? { "Content-Type": "application/json" } : {}) };
    const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
    const data = await response.json().catch(() => null);
    const error = data && data.error;
    if (!response.ok) throw Object.assign(new Error((error && error.message) || `${response.status}`), { error, status: response.status });
    return data;
  }

  // A scan the server did not answer (no connection, or 429/5xx: busy, or its outcome unknown) is
  // no verdict on the ticket: it is shown as such, and the next scan of that code within a few
  // minutes is sent with the same scanId, so a check-in the server did record is answered as the
  // first time (admitted), never as "already in".
  const unanswered = new Map(), RETRY_WITHIN_MS = 5 * 60 * 1000;

  function scanIdFor(text) {
    const earlier = unanswered.get(text);
    if (earlier && Date.now() - earlier.at < RETRY_WITHIN_MS) return earlier.scanId;
    return crypto.randomUUID();
  }

  function isUnanswered(error) {
    return !error.status || error.status === 429 || error.status >= 500;
  }

  function refused(error) {
    const found = error.error || {};
    if (found.code === "DEVICE_REVOKED") showRevoked();
    if (found.code !== "ALREADY_CHECKED_IN") return say(`Refused: ${error.message}`, "refused", found.code === "DEVICE_REVOKED" ? "revoked" : "not-valid");
    const detail = Object.fromEntries((found.details || []).map((d) => [d.path, d.message]));
    say(`Already in: gate ${detail.gate}, ${time(detail.checkedInAt)}. ${error.message}`, "refused", "already-in");
  }

  async function admit(text) {
    if (offline.checked) {
      keep([...kept(), { scanId: crypto.randomUUID(), code: text, scannedAt: new Date().toISOString() }]);
      return say("Kept offline: let in, upload later.", "kept", "kept");
    }
    const scanId = scanIdFor(text);
    try {
      const admission = await send("POST", "/api/checkin", { code: text, gate: gate.value, scanId });
      unanswered.delete(text);
      say(`Admit: ${admission.tier} #${admission.seat + 1} (${admission.userId})`, "admitted", "admitted");
    } catch (error) {
      if (!isUnanswered(error)) {
        unanswered.delete(text);
        return refused(error);
      }
      unanswered.set(text, { scanId, at: Date.now() });
      say("No answer from the server: scan again.", "unanswered", "unanswered");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = code.value.trim();
    code.value = "";
    if (text) admit(text);
    code.focus();
  });

  upload.addEventListener("click", async () => {
    const conflicts = [];
    try {
      for (let scans = kept(); scans.length; scans = kept()) {
        const answer = await send("POST", "/api/checkin/uploads", { gate: gate.value, scans: scans.slice(0, 50) });
        conflicts.push(...answer.results.filter((result) => result.outcome !== "admitted"));
        keep(scans.slice(50));
      }
      say(`Uploaded. ${conflicts.length} conflict(s) or refusal(s).`, conflicts.length ? "refused" : "admitted", "uploaded");
    } catch (error) {
      refused(error);
      verdict.textContent = `Upload refused, scans kept: ${error.message}`;
    }
    byId("conflicts").replaceChildren(...conflicts.map((result) => item(result.first
      ? `${result.ticketId}: also admitted at ${result.first.gate}, ${new Date(result.first.scannedAt).toLocaleString()}`
      : `${result.scanId}: ${result.reason}`)));
  });

  // Pairing: the link's token is kept, then taken out of the address bar and its history.
  function showPaired(paired) {
    pairing.textContent = `${paired.eventName} · gate ${paired.gate} · ${paired.name}`;
    pairing.dataset.state = "paired";
    pairing.hidden = false;
    gate.value = paired.gate;
    gate.readOnly = true;
    byId("token-field").hidden = true;
    unpair.hidden = false;
  }

  function showRevoked() {
    if (!device()) return;
    pairing.textContent = "This device was revoked: it cannot scan. Keep the scans waiting here for the manager.";
    pairing.dataset.state = "revoked";
    pairing.hidden = false;
  }

  async function pair() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("device")) {
      localStorage.setItem(DEVICE, fragment.get("device"));
      history.replaceState(null, "", location.pathname);
    }
    if (!device()) return;
    try {
      showPaired(await send("GET", "/api/checkin/device"));
    } catch (error) {
      if (error.error && error.error.code === "DEVICE_REVOKED") showRevoked();
      else { pairing.textContent = `Not paired: ${error.message}`; pairing.dataset.state = "revoked"; pairing.hidden = false; }
    }
  }

  unpair.addEventListener("click", () => {
    localStorage.removeItem(DEVICE);
    location.reload();
  });

  // A picture of the QR code, where the browser can read one (BarcodeDetector).
  if ("BarcodeDetector" in window) {
    byId("image-field").hidden = false;
    byId("image").addEventListener("change", async (event) => {
      const [file] = event.target.files;
      if (!file) return;
      const found = await new BarcodeDetector({ formats: ["qr_code"] }).detect(await createImageBitmap(file));
      if (found.length) admit(found[0].rawValue); else say("No QR code in that picture.", "refused", "not-valid");
    });
  }
  showKept();
  pair();
})();
