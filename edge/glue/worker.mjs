// Kefu's Worker entry (make edge copies it over syumai/workers' generated
// worker.mjs; docs/edge.md, How a request runs). It starts the Go program
// (build/app.wasm) in one of two ways, chosen by the Worker var
// KEFU_EDGE_INSTANCES:
//
//   request  a new Go instance for every request, as syumai/workers' own
//            glue does: nothing survives a request.
//   reuse    (the default) up to POOL instances per isolate, kept across
//            requests. An
//            instance serves ONE request at a time: workerd ties every
//            promise, timer and stream to the request that created it,
//            and Go's scheduler runs any goroutine from any callback, so
//            two requests sharing an instance would do I/O for each other
//            (docs/decisions.md, issue 17). The next request gets the
//            instance only once the last one's response body is read and
//            its waitUntil work has ended. Busy instances and a full pool
//            leave a request to an instance of its own, as "request" does;
//            so do the long-lived event streams (GET …/events), which
//            would hold a pooled instance for minutes. An instance whose
//            program exited (a panic) or asked to be discarded is dropped.
import "./wasm_exec.js";
import { createRuntimeContext, loadModule } from "./runtime.mjs";

const POOL = 3;

globalThis.tryCatch = (fn) => {
  try {
    return { result: fn() };
  } catch (e) {
    return { error: e };
  }
};

// newInstance makes a Go instance for the runtime context rc, not yet
// started: inst.dead once its program ended, and inst.exit(), a promise
// of that end made in the CALLING request. Not go.run's own promise:
// workerd ties a promise to the request that made it, and an instance
// kept across requests would settle the first request's promise from a
// later one, whose continuations workerd then cancels ("A promise was
// resolved or rejected from a different request context…"), and the
// later request would hang. And not _resolveExitPromise: when the program
// ends inside a call from JS (a panic while serving), wasm_exec.js throws
// before it gets there.
function newInstance(rc) {
  const go = new Go();
  const inst = { rc, go, onExit: [] };
  Object.defineProperty(inst, "dead", { get: () => go.exited });
  inst.exit = () => (go.exited ? Promise.resolve() : new Promise((resolve) => inst.onExit.push(resolve)));
  // Nothing waits on go.run's promise here, and settling it from a later
  // request than the one that started the instance is what workerd warns
  // about (above).
  go._resolveExitPromise = () => {};
  // wasm_exec.js calls go.exit first thing once the program has ended.
  const logExit = go.exit;
  go.exit = (code) => {
    logExit.call(go, code);
    for (const f of inst.onExit.splice(0)) f();
    if (!inst.busy) drop(inst);
  };
  return inst;
}

// start runs inst's program until it is ready to serve.
async function start(inst) {
  const mod = await loadModule();
  let ready;
  const readyPromise = new Promise((resolve) => {
    ready = resolve;
  });
  const instance = new WebAssembly.Instance(mod, {
    ...inst.go.importObject,
    workers: { ready: () => ready() },
  });
  inst.go.run(instance, inst.rc);
  await Promise.race([
    readyPromise,
    inst.exit().then(() => {
      throw new Error("kefu-edge: the Go program ended before it was ready");
    }),
  ]);
  return inst;
}

// failed is the answer when the program died under a request.
function failed() {
  return new Response(JSON.stringify({ error: { code: "internal", message: "internal error" } }), {
    status: 500,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

// once serves req on an instance of its own (syumai/workers' way).
async function once(req, env, ctx) {
  const binding = {};
  const rc = createRuntimeContext({ env, ctx: undefined, binding });
  const inst = newInstance(rc);
  // The program's waitUntil work ends when the program does: one that
  // panicked never settles it, and workerd would call the request hung.
  const exited = inst.exit();
  rc.ctx = {
    waitUntil: (p) => ctx.waitUntil(Promise.race([p, exited])),
    passThroughOnException: () => ctx.passThroughOnException(),
  };
  inst.busy = true;
  try {
    await start(inst);
    const res = await Promise.race([binding.handleRequest(req), exited.then(() => null)]);
    return res ?? failed();
  } catch (e) {
    if (inst.dead) return failed();
    throw e;
  }
}

const idle = [];
let pooled = 0;

// longLived is a request that may hold its instance for minutes.
function longLived(req) {
  return req.method === "GET" && new URL(req.url).pathname.endsWith("/events");
}

async function reuse(req, env, ctx) {
  if (longLived(req)) return once(req, env, ctx);
  let inst = idle.pop();
  if (!inst) {
    if (pooled >= POOL) return once(req, env, ctx);
    pooled++;
    const rc = createRuntimeContext({ env, ctx: undefined, binding: {} });
    rc.reuse = true;
    try {
      inst = await start(newInstance(rc));
    } catch (e) {
      pooled--;
      throw e;
    }
    inst.pooled = true;
  }
  inst.busy = true;
  // This request's runtime context: the Go side reads env and ctx from
  // it while serving, and registers its waitUntil work through it.
  const waits = [];
  const exited = inst.exit();
  inst.rc.env = env;
  inst.rc.ctx = {
    waitUntil(p) {
      waits.push(p);
      ctx.waitUntil(Promise.race([p, exited]));
    },
    passThroughOnException() {
      ctx.passThroughOnException();
    },
  };
  let res;
  try {
    res = await Promise.race([inst.rc.binding.handleRequest(req), exited.then(() => null)]);
  } catch (e) {
    release(inst);
    // The program ended inside the call (wasm_exec.js then throws).
    if (inst.dead) return failed();
    throw e;
  }
  if (!res) {
    release(inst);
    return failed();
  }
  let body = Promise.resolve();
  if (res.body) {
    // Known when the body has been read (or the client went away).
    const { readable, writable } = new TransformStream();
    body = res.body.pipeTo(writable).catch(() => {});
    res = new Response(readable, res);
  }
  const settled = Promise.race([Promise.all([body, ...waits]), exited]).catch(() => {});
  ctx.waitUntil(settled.then(() => release(inst)));
  return res;
}

// release returns inst to the pool, unless its program ended or asked to
// be discarded.
function release(inst) {
  inst.busy = false;
  // The last request's wait for an exit ends with it.
  inst.onExit.length = 0;
  if (inst.dead || inst.rc.discard) drop(inst);
  else idle.push(inst);
}

function drop(inst) {
  if (!inst.pooled || inst.gone) return;
  inst.gone = true;
  pooled--;
  const i = idle.indexOf(inst);
  if (i >= 0) idle.splice(i, 1);
}

let warned = false;

async function fetch(req, env, ctx) {
  const mode = env.KEFU_EDGE_INSTANCES ?? "reuse";
  if (mode === "request") return once(req, env, ctx);
  if (mode !== "reuse" && !warned) {
    warned = true;
    console.error(`kefu-edge: KEFU_EDGE_INSTANCES is ${JSON.stringify(mode)}; want "reuse" or "request": keeping instances across requests`);
  }
  return reuse(req, env, ctx);
}

export default { fetch };
