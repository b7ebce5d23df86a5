-- Neovim's built-in LSP client (0.7+) against `dagproc lsp`: opens a DAG file
-- with an Airflow 2 operator path, waits for the diagnostics, applies the code
-- action the server offers, and waits for the diagnostics to clear. Writes
-- one line per step to $NVIM_RESULT ("ok ..." or "FAIL ..."), then quits.
-- Run by tests/lsp_nvim_test.sh: nvim --headless --clean -u NONE -c "luafile THIS".
local bin = os.getenv("DAGPROC_BIN")
local file = os.getenv("DAG_FILE")
local out = assert(io.open(os.getenv("NVIM_RESULT"), "w"))
local function say(s)
  out:write(s .. "\n")
  out:flush()
end
local function finish()
  out:close()
  vim.cmd("qa!")
end

local root = vim.fn.fnamemodify(file, ":h")
local exit_code
local id = vim.lsp.start_client({
  cmd = { bin, "lsp", "--stdio" },
  root_dir = root,
  name = "dagproc",
  on_exit = function(code)
    exit_code = code
  end,
})
if not id then
  say("FAIL the client did not start the server")
  return finish()
end
vim.cmd("edit " .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, id)

local function diags(code)
  local n = 0
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if code == nil or d.code == code then
      n = n + 1
    end
  end
  return n
end

if not vim.wait(15000, function() return diags("W002") > 0 end, 50) then
  say("FAIL no W002 diagnostic published")
  return finish()
end
say("ok diagnostics published: " .. diags() .. ", among them W002")
-- the same as `dagproc check --format json` on the file: codes, lines, columns
local out = vim.fn.system({ bin, "check", "--format", "json", file })
local want = {}
for _, f in ipairs(vim.fn.json_decode(out).files) do
  for _, e in ipairs(f.errors) do
    table.insert(want, e.code .. ":" .. (e.line - 1) .. ":" .. (e.column - 1))
  end
  for _, w in ipairs(f.warnings) do
    table.insert(want, w.code .. ":" .. (w.line - 1) .. ":" .. (w.column - 1))
  end
end
local got = {}
for _, x in ipairs(vim.diagnostic.get(buf)) do
  table.insert(got, x.code .. ":" .. x.lnum .. ":" .. x.col)
end
table.sort(want)
table.sort(got)
if table.concat(want, " ") == table.concat(got, " ") then
  say("ok the diagnostics equal check --format json: " .. table.concat(got, " "))
else
  say("FAIL diagnostics " .. table.concat(got, " ") .. " vs check " .. table.concat(want, " "))
end
local d
for _, x in ipairs(vim.diagnostic.get(buf)) do
  if x.code == "W002" then
    d = x
  end
end
local params = {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } },
  context = { diagnostics = {} },
}
local res = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 10000)
local action
for _, r in pairs(res or {}) do
  for _, a in ipairs(r.result or {}) do
    action = action or a
  end
end
if not action or not action.edit then
  say("FAIL no code action with an edit")
  return finish()
end
say("ok code action: " .. action.title)
vim.lsp.util.apply_workspace_edit(action.edit, "utf-16")
local line = vim.api.nvim_buf_get_lines(buf, d.lnum, d.lnum + 1, false)[1]
if line:find("airflow.providers.standard.operators.bash.BashOperator", 1, true) then
  say("ok the buffer holds the Airflow 3 path: " .. vim.trim(line))
else
  say("FAIL the buffer line is: " .. line)
end
if vim.wait(15000, function() return diags() == 0 end, 50) then
  say("ok an empty publishDiagnostics after the edit (didChange)")
else
  say("FAIL diagnostics still reported after the edit: " .. diags())
end
-- shutdown, then exit: the server ends with status 0
vim.lsp.stop_client(id)
if vim.wait(10000, function() return exit_code ~= nil end, 50) and exit_code == 0 then
  say("ok shutdown and exit: the server ended with status 0")
else
  say("FAIL the server's exit status: " .. tostring(exit_code))
end
finish()
