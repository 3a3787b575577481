-- Drives the Neovim snippet headless and writes what a user would have seen to
-- $HANDINGER_REPORT as JSON. Run as:
--   nvim --headless --clean -u NONE -c 'luafile SNIPPET' -c 'luafile neovim_driver.lua'
-- with HANDINGER_TEST_BIN (the binary), the mock's HANDINGER_BASE_URL and a key in
-- the environment, from a workspace folder holding notes.txt.

local report = { notifications = {}, progress = {}, status_seen = {} }

vim.notify = function(message, level)
  table.insert(report.notifications, { message = message, level = level })
end
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(event)
    local value = event.data.params.value
    table.insert(report.progress, { kind = value.kind, message = value.message })
    local status = vim.lsp.status()
    if status ~= '' then
      table.insert(report.status_seen, status)
    end
  end,
})

local function result_buffers()
  local found = {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_get_name(buf)
    if name:match('^handinger://') and vim.api.nvim_buf_is_loaded(buf) then
      local win = vim.fn.win_findbuf(buf)[1]
      table.insert(found, { name = name, lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false),
        wrap = win and vim.wo[win].wrap or nil })
    end
  end
  return found
end

-- Wait for the n-th result window (or the n-th notification), keeping the editor
-- responsive: vim.wait runs the event loop.
local function wait_for(what, count, timeout)
  return vim.wait(timeout, function()
    local seen = what == 'result' and #result_buffers() or #report.notifications
    return seen >= count
  end, 50)
end

local function scenario()
  -- 1. A task that takes longer than 10 s, with progress.
  local started = vim.uv.now()
  vim.cmd('HandingerTask slow brief')
  report.responsive = vim.wait(200, function() return false end, 10) == false -- the UI is not blocked
  report.long_done = wait_for('result', 1, 40000)
  report.long_ms = vim.uv.now() - started
  report.after_long = vim.g.handinger_last_task

  -- 2. A follow-up on that task.
  vim.cmd('HandingerFollowUp and then?')
  report.follow_up_done = wait_for('result', 2, 20000)

  -- 3. An attachment: the current buffer's file.
  vim.cmd('tabnew notes.txt') -- from a code window, as a user would
  vim.cmd('HandingerTaskFile summarise this file')
  report.attach_done = wait_for('result', 3, 20000)

  -- 4. An error that names its task: the taskId is remembered anyway.
  vim.cmd('HandingerTask fail please')
  report.error_seen = wait_for('notification', 1, 20000)
  report.after_error = vim.g.handinger_last_task

  -- 5. A missing binary: a clear message, no traceback.
  local real = vim.g.handinger_cmd
  vim.g.handinger_cmd = { '/nonexistent/handinger-mcp', '--lsp' }
  local ok = pcall(vim.cmd, 'HandingerTask anything')
  report.missing_binary_no_error = ok
  vim.g.handinger_cmd = real
end

-- Whatever happens, write the report and quit, so a failure reads as a diff.
local ok, failure = pcall(scenario)
report.driver_error = (not ok) and tostring(failure) or nil
report.results = result_buffers()
local file = io.open(os.getenv('HANDINGER_REPORT'), 'w')
file:write(vim.json.encode(report))
file:close()
vim.cmd('qa!')
