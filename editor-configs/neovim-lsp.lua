-- handinger-mcp as an LSP-style server in Neovim 0.11+, with user commands that run
-- its tools. Put this in init.lua; the key comes from the environment Neovim was
-- started in (HANDINGER_API_KEY), or set HANDINGER_API_KEY_FILE there.
--   :HandingerTask <brief>          start a task, show the answer in a new window
--   :HandingerTaskFile <brief>      the same, attaching the current file
--   :HandingerFollowUp <message>    continue the last task
--   :HandingerGet [taskId]          fetch a task that was still running

local function client()
  local id = vim.lsp.start({
    name = 'handinger',
    cmd = { 'handinger-mcp', '--lsp' },
    root_dir = vim.fs.root(0, { '.git' }) or vim.fn.getcwd(),
  })
  return vim.lsp.get_client_by_id(id)
end

local function show(result)
  vim.g.handinger_last_task = result.taskId
  local text = result.outputText ~= '' and result.outputText or result.nextStep
  vim.cmd('new')
  vim.api.nvim_buf_set_lines(0, 0, -1, false, vim.split(text, '\n'))
  vim.bo.buftype = 'nofile'
  vim.bo.filetype = 'markdown'
end

local function run(command, argument)
  client():request('workspace/executeCommand', { command = command, arguments = { argument } },
    function(err, result)
      if err then
        vim.notify('Handinger: ' .. err.message, vim.log.levels.ERROR)
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
