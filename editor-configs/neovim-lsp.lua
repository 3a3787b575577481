-- handinger-mcp as an LSP-style server in Neovim 0.11+, with user commands that run
-- its tools. Put this in init.lua (or a file it requires). The key comes from the
-- environment Neovim was started in (HANDINGER_API_KEY), or set
-- HANDINGER_API_KEY_FILE there.
--   :HandingerTask <brief>          start a task; the answer opens in a result window
--   :HandingerTaskFile <brief>      the same, attaching the current file
--   :HandingerFollowUp <message>    continue the last task
--   :HandingerGet [taskId]          fetch a task that was still running
-- Tasks run in the background (no freeze, no timeout). Progress goes through LSP
-- work-done progress: vim.lsp.status(), the LspProgress event and fidget.nvim show
-- it. The last taskId is remembered even when a call fails.
-- vim.g.handinger_cmd overrides the command, e.g. { '/path/to/handinger-mcp', '--lsp' }.

local requests = 0

local function command()
  return vim.g.handinger_cmd or { 'handinger-mcp', '--lsp' }
end

local function client()
  local cmd = command()
  if vim.fn.executable(cmd[1]) ~= 1 then
    vim.notify(
      'Handinger: ' .. cmd[1] .. ' was not found. Install handinger-mcp (npx -y handinger-mcp, '
        .. 'or cargo install), or set vim.g.handinger_cmd to its path.',
      vim.log.levels.ERROR
    )
    return nil
  end
  local id = vim.lsp.start({
    name = 'handinger',
    cmd = cmd,
    root_dir = vim.fs.root(0, { '.git' }) or vim.fn.getcwd(),
  })
  return id and vim.lsp.get_client_by_id(id)
end

local function remember(task_id)
  if task_id and task_id ~= '' then
    vim.g.handinger_last_task = task_id
  end
end

-- The whole result, as the server's structured result gives it.
local function lines_of(result)
  local lines = vim.split(result.outputText ~= '' and result.outputText or '(no answer yet)', '\n')
  local cut = result.truncated
  if cut and cut.shownChars < cut.totalChars then
    table.insert(lines, '')
    table.insert(lines, string.format('[Answer cut: %d of %d characters shown. The whole answer: %s]',
      cut.shownChars, cut.totalChars, cut.fullAnswerUrl or result.url or 'the Handinger dashboard'))
  end
  if #result.sources > 0 then
    vim.list_extend(lines, { '', 'Sources:' })
    for n, source in ipairs(result.sources) do
      table.insert(lines, string.format('%d. %s %s', n, source.title or '', source.url))
    end
  end
  if #result.files > 0 then
    vim.list_extend(lines, { '', 'Files produced:' })
    for _, file in ipairs(result.files) do
      table.insert(lines, string.format('- %s (%s) %s', file.filename or '(unnamed)',
        file.mediaType or 'unknown type', file.url))
    end
  end
  vim.list_extend(lines, {
    '',
    string.format('taskId: %s | status: %s%s', result.taskId, result.status,
      result.url and (' | dashboard: ' .. result.url) or ''),
    result.nextStep,
  })
  return lines
end

local function show(result)
  remember(result.taskId)
  vim.cmd('botright new')
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines_of(result))
  pcall(vim.api.nvim_buf_set_name, buf, 'handinger://' .. result.taskId .. '/' .. requests)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = 'markdown'
  vim.wo.wrap = true
  vim.wo.linebreak = true
end

local function run(name, argument)
  local lsp = client()
  if not lsp then
    return
  end
  requests = requests + 1
  local params = {
    command = name,
    arguments = { argument },
    workDoneToken = 'handinger-' .. requests,
  }
  lsp:request('workspace/executeCommand', params, function(err, result)
    if err then
      -- Errors that concern a task name it: remember it for :HandingerGet.
      remember(err.message:match('tsk_%w+'))
      vim.notify('Handinger: ' .. err.message:gsub('\n', ' '), vim.log.levels.ERROR)
    else
      show(result)
    end
  end)
end

vim.api.nvim_create_user_command('HandingerTask', function(opts)
  run('handinger.createTask', { input = opts.args })
end, { nargs = '+' })

vim.api.nvim_create_user_command('HandingerTaskFile', function(opts)
  run('handinger.createTask', { input = opts.args, files = { vim.fn.expand('%:p') } })
end, { nargs = '+' })

vim.api.nvim_create_user_command('HandingerFollowUp', function(opts)
  run('handinger.followUpTask', { taskId = vim.g.handinger_last_task, input = opts.args })
end, { nargs = '+' })

vim.api.nvim_create_user_command('HandingerGet', function(opts)
  local id = opts.args ~= '' and opts.args or vim.g.handinger_last_task
  run('handinger.getTask', { taskId = id, waitSeconds = 50 })
end, { nargs = '?' })
