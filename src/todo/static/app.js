// The todo page: talks to the JSON API with fetch, no build step, and
// follows /api/events so that changes made elsewhere show up at once.
"use strict";

const list = document.getElementById("todos");
const form = document.getElementById("new-todo");
const input = document.getElementById("title");
const status = document.getElementById("status");
const count = document.getElementById("count");
const live = document.getElementById("live");

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch("/api" + path, options);
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try {
      const problem = await response.json();
      if (problem.error) message = problem.error;
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response.status === 204 ? null : response.json();
}

function render(todos) {
  list.replaceChildren(...todos.map(item));
  const open = todos.filter((t) => !t.done).length;
  count.textContent = `${todos.length} todo${todos.length === 1 ? "" : "s"}, ${open} open`;
}

function item(todo) {
  const li = document.createElement("li");
  li.dataset.id = todo.id;
  li.classList.toggle("done", todo.done);

  const toggle = document.createElement("input");
  toggle.type = "checkbox";
  toggle.className = "toggle";
  toggle.checked = todo.done;
  toggle.setAttribute("aria-label", "done");
  toggle.addEventListener("change", () =>
    run(() => api("PATCH", `/todos/${todo.id}`, { done: toggle.checked })));

  const title = document.createElement("span");
  title.className = "title";
  title.textContent = todo.title;

  const remove = document.createElement("button");
  remove.className = "delete";
  remove.type = "button";
  remove.textContent = "Delete";
  remove.addEventListener("click", () => run(() => api("DELETE", `/todos/${todo.id}`)));

  li.append(toggle, title, remove);
  return li;
}

// One fetch at a time; changes that arrive meanwhile ask for one more.
let fetching = null;
let again = false;

async function refresh() {
  if (fetching) {
    again = true;
    return fetching;
  }
  fetching = (async () => {
    do {
      again = false;
      render(await api("GET", "/todos?limit=500"));
    } while (again);
  })();
  try {
    await fetching;
  } finally {
    fetching = null;
  }
}

// The browser reconnects by itself after a network error (the server
// restarting), waiting the `retry` the stream set; a stream refused
// outright (a proxy's error page) is closed for good, so start anew.
function follow() {
  const events = new EventSource("/api/events");
  events.addEventListener("hello", () => {
    live.textContent = "live";
    live.className = "on";
    // Whatever changed while we were away.
    refresh().catch((error) => { status.textContent = error.message; });
  });
  events.addEventListener("change", () => {
    refresh().catch((error) => { status.textContent = error.message; });
  });
  events.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.className = "off";
    if (events.readyState === EventSource.CLOSED) {
      setTimeout(follow, 2000);
    }
  });
}

async function run(action) {
  status.textContent = "";
  try {
    await action();
  } catch (error) {
    status.textContent = error.message;
  }
  await refresh().catch((error) => { status.textContent = error.message; });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const title = input.value;
  run(async () => {
    await api("POST", "/todos", { title });
    input.value = "";
  });
});

run(async () => {});
follow();
