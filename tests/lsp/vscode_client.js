// The client library VS Code's extensions use (vscode-languageserver-protocol,
// over vscode-jsonrpc) against `dagproc lsp`: initialize, didOpen of a broken
// file, publishDiagnostics equal to `dagproc check --format json`, the code
// action's edit applied, an empty publishDiagnostics, shutdown, exit 0.
// usage: node vscode_client.js DAGPROC_BIN DIR   (prints "N passed, N failed")
"use strict";
const cp = require("child_process");
const fs = require("fs");
const path = require("path");
const rpc = require("vscode-languageserver-protocol/node");

const [bin, dir] = process.argv.slice(2);
let passed = 0, failed = 0;
const ok = (s) => { passed++; console.log("ok   vscode-jsonrpc: " + s); };
const bad = (s) => { failed++; console.log("FAIL vscode-jsonrpc: " + s); };

const file = path.join(dir, "etl.yml");
const text = "# caf\u00e9 \u{1D11E}\netl:\n  schedule_interval: '@daily'\n  tasks:\n" +
  "    - {task_id: \"\u00e9\u{1D11E}\", operator: airflow.operators.bash.BashOperator, bash_command: echo}\n";
fs.writeFileSync(file, text);
const uri = "file://" + file;

function applyEdit(t, e) {
  // LSP positions count UTF-16 code units: JavaScript string indexes
  const lines = t.split("\n");
  const off = (p) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  return t.slice(0, off(e.range.start)) + e.newText + t.slice(off(e.range.end));
}

async function main() {
  const proc = cp.spawn(bin, ["lsp", "--stdio"], { cwd: dir, stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((res) => proc.on("exit", (code) => res(code)));
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(proc.stdout),
    new rpc.StreamMessageWriter(proc.stdin));
  const published = [];
  let wake = null;
  conn.onNotification(rpc.PublishDiagnosticsNotification.type, (p) => {
    published.push(p);
    if (wake) wake();
  });
  conn.listen();
  const next = (version) => new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error("no publishDiagnostics for version " + version)), 15000);
    const look = () => {
      const i = published.findIndex((p) => p.uri === uri && p.version === version);
      if (i >= 0) { clearTimeout(t); wake = null; res(published.splice(i, 1)[0]); }
    };
    wake = look;
    look();
  });
  const init = await conn.sendRequest(rpc.InitializeRequest.type,
    { processId: process.pid, rootUri: "file://" + dir, capabilities: {}, workspaceFolders: null });
  init.capabilities.codeActionProvider ? ok("initialize") : bad("initialize: " + JSON.stringify(init));
  conn.sendNotification(rpc.InitializedNotification.type, {});
  conn.sendNotification(rpc.DidOpenTextDocumentNotification.type,
    { textDocument: { uri, languageId: "yaml", version: 1, text } });
  const pd = await next(1);
  // check exits 1 when it reports errors: its output is what counts
  const check = JSON.parse(cp.spawnSync(bin, ["check", "--format", "json", file],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).stdout || "{}");
  const lines = text.split("\n");
  const utf16 = (line, cps) => Array.from(lines[line]).slice(0, cps).join("").length;
  const want = [];
  for (const f of check.files) {
    for (const e of f.errors) want.push([e.code, e.line - 1, utf16(e.line - 1, e.column - 1), e.message]);
    for (const w of f.warnings) want.push([w.code, w.line - 1, utf16(w.line - 1, w.column - 1), w.message]);
  }
  const got = pd.diagnostics.map((d) => [d.code, d.range.start.line, d.range.start.character, d.message]);
  const key = (a) => JSON.stringify(a.slice().sort());
  if (want.length && key(want) === key(got)) ok("publishDiagnostics equals check --format json (" + got.length + ")");
  else bad("diagnostics " + JSON.stringify(got) + " vs check " + JSON.stringify(want));
  let cur = text;
  let version = 1;
  for (const d of pd.diagnostics) {
    const actions = await conn.sendRequest(rpc.CodeActionRequest.type,
      { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
    if (!actions || !actions.length) { bad("no code action for " + d.code); continue; }
    const edits = actions[0].edit.changes[uri];
    for (const e of edits) cur = applyEdit(cur, e);
    version++;
    conn.sendNotification(rpc.DidChangeTextDocumentNotification.type,
      { textDocument: { uri, version }, contentChanges: [{ text: cur }] });
    await next(version);
    ok("code action applied: " + actions[0].title);
    break; /* the positions of the others moved: asked again below */
  }
  // the rest, one at a time, until nothing is left
  for (let round = 0; round < 5; round++) {
    version++;
    conn.sendNotification(rpc.DidChangeTextDocumentNotification.type,
      { textDocument: { uri, version }, contentChanges: [{ text: cur }] });
    const pdn = await next(version);
    if (!pdn.diagnostics.length) break;
    const d = pdn.diagnostics[0];
    const actions = await conn.sendRequest(rpc.CodeActionRequest.type,
      { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
    if (!actions || !actions.length) break;
    for (const e of actions[0].edit.changes[uri]) cur = applyEdit(cur, e);
  }
  version++;
  conn.sendNotification(rpc.DidChangeTextDocumentNotification.type,
    { textDocument: { uri, version }, contentChanges: [{ text: cur }] });
  const last = await next(version);
  if (last.diagnostics.length === 0 && cur.includes("schedule: '@daily'") &&
    cur.includes("airflow.providers.standard.operators.bash.BashOperator") && cur.startsWith("# caf\u00e9"))
    ok("every fix applied: an empty publishDiagnostics, the comment kept");
  else bad("after the fixes: " + JSON.stringify(last.diagnostics) + " text " + JSON.stringify(cur));
  await conn.sendRequest(rpc.ShutdownRequest.type);
  conn.sendNotification(rpc.ExitNotification.type);
  const code = await exited;
  code === 0 ? ok("shutdown, exit: status 0") : bad("exit status " + code);
  conn.dispose();
}

main().catch((e) => bad(String(e && e.stack || e))).finally(() => {
  console.log(passed + " passed, " + failed + " failed");
  process.exit(failed ? 1 : 0);
});
