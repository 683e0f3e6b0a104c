// The door scanner (/scanner): admits a typed, pasted or photographed ticket code with
// POST /api/checkin, or, offline, keeps each scan in this browser with its own id and time and
// uploads them later (POST /api/checkin/uploads, 50 a request), showing the conflicts reported.
(() => {
  "use strict";
  const byId = (id) => document.getElementById(id);
  const form = byId("scan-form"), gate = byId("gate"), token = byId("token"), code = byId("code");
  const offline = byId("offline"), upload = byId("upload-button"), verdict = byId("verdict");
  const KEPT = "scanner.offlineScans";
  const kept = () => JSON.parse(localStorage.getItem(KEPT) || "[]");
  const keep = (scans) => { localStorage.setItem(KEPT, JSON.stringify(scans)); showKept(); };
  for (const [input, key] of [[gate, "scanner.gate"], [token, "scanner.token"]]) {
    input.value = localStorage.getItem(key) || "";
    input.addEventListener("change", () => localStorage.setItem(key, input.value));
  }

  function showKept() {
    const count = kept().length;
    upload.textContent = `Upload ${count} scan${count === 1 ? "" : "s"}`;
    upload.disabled = count === 0;
  }

  function say(text, kind) {
    verdict.textContent = text;
    verdict.dataset.kind = kind;
  }

  async function post(path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token.value) headers.Authorization = `Bearer ${token.value}`;
    const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw Object.assign(new Error((data && data.error && data.error.message) || `${response.status}`), { data });
    return data;
  }

  async function admit(text) {
    if (offline.checked) {
      keep([...kept(), { scanId: crypto.randomUUID(), code: text, scannedAt: new Date().toISOString() }]);
      return say("Kept offline: let in, upload later.", "kept");
    }
    try {
      const admission = await post("/api/checkin", { code: text, gate: gate.value });
      say(`Admit: ${admission.tier} #${admission.seat + 1} (${admission.userId})`, "admitted");
    } catch (error) {
      say(`Refused: ${error.message}`, "refused");
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
        const answer = await post("/api/checkin/uploads", { gate: gate.value, scans: scans.slice(0, 50) });
        conflicts.push(...answer.results.filter((result) => result.outcome !== "admitted"));
        keep(scans.slice(50));
      }
      say(`Uploaded. ${conflicts.length} conflict(s) or refusal(s).`, conflicts.length ? "refused" : "admitted");
    } catch (error) {
      say(`Upload failed, scans kept: ${error.message}`, "refused");
    }
    byId("conflicts").replaceChildren(...conflicts.map((result) => {
      const item = document.createElement("li");
      item.textContent = result.first
        ? `${result.ticketId}: also admitted at ${result.first.gate}, ${new Date(result.first.scannedAt).toLocaleString()}`
        : `${result.scanId}: ${result.reason}`;
      return item;
    }));
  });

  // A picture of the QR code, where the browser can read one (BarcodeDetector).
  if ("BarcodeDetector" in window) {
    byId("image-field").hidden = false;
    byId("image").addEventListener("change", async (event) => {
      const [file] = event.target.files;
      if (!file) return;
      const found = await new BarcodeDetector({ formats: ["qr_code"] }).detect(await createImageBitmap(file));
      if (found.length) admit(found[0].rawValue); else say("No QR code in that picture.", "refused");
    });
  }
  showKept();
})();
