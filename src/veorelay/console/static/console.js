// veorelay console: small progressive enhancements. Pages work without it except the create
// form (which sends the API's own multipart body) and live progress.
"use strict";

function $(selector, root) { return (root || document).querySelector(selector); }

// "Are you sure?" on destructive forms.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// Copy buttons next to secrets shown once.
document.addEventListener("click", async (event) => {
  const id = event.target.dataset && event.target.dataset.copy;
  if (!id) return;
  const text = $("#" + id).textContent;
  try {
    await navigator.clipboard.writeText(text);
    event.target.textContent = "Copied";
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents($("#" + id));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    event.target.textContent = "Selected: press Ctrl+C";
  }
});

function setupCreateForm(form) {
  const price = $("#price");
  const error = $("#create-error");
  async function refreshPrice() {
    const data = new FormData(form);
    const query = new URLSearchParams({
      model: data.get("model"), seconds: data.get("seconds"), size: data.get("size"),
    });
    const answer = await fetch("/console/quote?" + query, { credentials: "same-origin" });
    const body = await answer.json();
    price.textContent = answer.ok ? body.price : "—";
    price.title = answer.ok ? "" : body.error;
    error.hidden = answer.ok;
    if (!answer.ok) error.textContent = body.error;
  }
  for (const name of ["model", "seconds", "size"]) form.elements[name].addEventListener("change", refreshPrice);
  refreshPrice();

  const image = $("#image-input");
  const preview = $("#image-preview");
  image.addEventListener("change", () => {
    if (preview.src) URL.revokeObjectURL(preview.src);
    const file = image.files[0];
    preview.hidden = !file;
    if (file) preview.src = URL.createObjectURL(file);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const [key, value] of [...data.entries()]) {  // the API refuses empty optional fields
      if (value === "" || (value instanceof File && value.size === 0)) data.delete(key);
    }
    const button = $("#create-submit");
    button.disabled = true;
    error.hidden = true;
    try {
      const answer = await fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRF-Token": form.dataset.csrf },
      });
      const body = await answer.json();
      if (!answer.ok) throw new Error((body.error && body.error.message) || "The video could not be created.");
      window.location.assign("/console/videos/" + encodeURIComponent(body.id));
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
}

function formatSeconds(s) {
  s = Math.round(s);
  return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s";
}

function setupVideoPage(section) {
  const id = section.dataset.video;
  const done = ["completed", "failed"];
  if (done.includes(section.dataset.status)) return;
  async function poll() {
    const answer = await fetch("/console/videos/" + encodeURIComponent(id) + "/status", { credentials: "same-origin" });
    if (!answer.ok) return;
    const s = await answer.json();
    $("#progress").value = s.progress;
    const badge = document.createElement("span");
    badge.className = "badge st-" + s.status;
    badge.textContent = s.status.replace("_", " ");
    $("#status").replaceChildren(badge);
    $("#detail").textContent = s.detail || "";
    $("#timing").textContent = s.elapsed == null
      ? "waiting to start (about " + formatSeconds(s.expected) + " to render)"
      : s.status === "completed" || s.status === "failed"
        ? "took " + formatSeconds(s.elapsed)
        : formatSeconds(s.elapsed) + " of about " + formatSeconds(s.expected);
    if (s.status === "completed") {
      const video = document.createElement("video");
      video.id = "player-video";
      video.controls = true;
      video.playsInline = true;
      video.src = "/console/videos/" + encodeURIComponent(id) + "/content";
      $("#player").replaceChildren(video);
      $("#download").hidden = false;
      section.dataset.status = "completed";
      return;
    }
    if (s.status === "failed") {
      $("#error").textContent = s.error || "The video failed.";
      $("#error").hidden = false;
      section.dataset.status = "failed";
      return;
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = $("#create-form");
  if (form) setupCreateForm(form);
  const detail = $("#video-detail");
  if (detail) setupVideoPage(detail);
});
