// A small browser client of the gradcam-server HTTP API: what the page uses, and an
// example of calling the API from any page (another origin needs GRADCAM_CORS_ORIGINS).
//
//   import { ApiClient } from "./api.js";
//   const api = new ApiClient("http://127.0.0.1:8000");
//   const { models } = await api.listModels();
//   const result = await api.explain("shapes", { image: file, overlay: "layer" });

/** An error answer of the API (application/problem+json), or a failed connection. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status; // 0: no answer (network error)
    this.problem = problem; // {type, title, status, detail, errors?: [{field, message}]}
    this.retryAfter = retryAfter; // seconds, from the Retry-After header (503), or null
  }
}

export class ApiClient {
  /** @param {string} base "" for the page's own origin, else e.g. "http://host:8000" */
  constructor(base = "", apiKey = "") {
    this.base = base.replace(/\/$/, "");
    this.apiKey = apiKey;
  }

  listModels() {
    return this.request("GET", "/v1/models");
  }

  getModel(modelId) {
    return this.request("GET", `/v1/models/${encodeURIComponent(modelId)}`);
  }

  /**
   * POST /v1/models/{id}:explain as multipart/form-data, as an HTML form would.
   * `fields`: {image: File} or {text: string}, plus parameters (targets, layer,
   * colormap, overlay, method...) as strings; empty values are left out.
   */
  explain(modelId, fields) {
    const form = new FormData();
    for (const [name, value] of formEntries(fields)) form.append(name, value);
    return this.request("POST", explainPath(modelId), form);
  }

  async request(method, path, body = undefined) {
    const headers = { Accept: "application/json" };
    if (this.apiKey) headers["X-API-Key"] = this.apiKey;
    let response;
    try {
      response = await fetch(this.base + path, { method, headers, body });
    } catch (error) {
      throw new ApiError(0, { title: "No answer", detail: `the service did not answer (${error.message})` }, null);
    }
    const payload = await response.json().catch(() => ({ detail: `HTTP ${response.status} without a JSON body` }));
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      throw new ApiError(response.status, payload, retry === null ? null : Number(retry));
    }
    return payload;
  }

  /** The exact curl command for an explain call with these fields (file by its name). */
  curl(modelId, fields) {
    const origin = this.base || window.location.origin;
    const parts = ["curl", "-sS", "-X", "POST", shellQuote(origin + explainPath(modelId))];
    if (this.apiKey) parts.push("-H", shellQuote(`X-API-Key: ${this.apiKey}`));
    for (const [name, value] of formEntries(fields)) {
      if (value instanceof Blob) {
        const type = value.type ? `;type=${value.type}` : "";
        parts.push("-F", shellQuote(`${name}=@${value.name || "upload"}${type}`));
      } else {
        // --form-string: a value starting with @ or < is text, not a file to read.
        parts.push("--form-string", shellQuote(`${name}=${value}`));
      }
    }
    return parts.join(" ");
  }
}

function explainPath(modelId) {
  return `/v1/models/${encodeURIComponent(modelId)}:explain`;
}

function formEntries(fields) {
  return Object.entries(fields).filter(([, value]) => value !== undefined && value !== null && value !== "");
}

/** One POSIX shell word: single quotes, each ' written as '\'' */
export function shellQuote(text) {
  return `'${String(text).replaceAll("'", "'\\''")}'`;
}
