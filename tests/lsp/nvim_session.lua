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
local id = vim.lsp.start_client({ cmd = { bin, "lsp", "--stdio" }, root_dir = root, name = "dagproc" })
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
if vim.wait(15000, function() return diags("W002") == 0 end, 50) then
  say("ok the W002 diagnostic cleared after the edit (didChange)")
else
  say("FAIL W002 still reported after the edit")
end
vim.lsp.stop_client(id)
finish()
